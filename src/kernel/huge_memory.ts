// Transparent huge pages of private anonymous memory (mm/huge_memory.c, mm/khugepaged.c): a 2 MiB
// page mapped by one PMD entry, with a PTE table deposited beside it for a later split. The fault that
// maps one (do_huge_pmd_anonymous_page), khugepaged's collapse of a PTE-mapped range into one
// (collapse_huge_page with pmdp_collapse_flush), and the zap that unmaps one (zap_huge_pmd). The
// policy is THP "enabled=madvise": only VM_HUGEPAGE VMAs (madvise MADV_HUGEPAGE) get huge pages.
import type { Kernel } from './kernel.ts';
import { Page, type MmStruct, type VmArea } from './mm_types.ts';
import type { Op, OpGen } from './ops.ts';
import {
  _PAGE_PSE, allocTable, freeTable, mkPte, pteNone, ptePresent, pteWrite, pteYoung, readEntry, setEntry, tableOfEntry,
  walkTo, PTE_PFN_MASK,
} from './pgtable.ts';
import { tlbAdjustRange, type MmuGather } from './mmu_gather.ts';
import { flushTlbRange } from './tlbflush.ts';
import { ModelBugError } from '../mmu/errors.ts';

export const HPAGE_PMD_SIZE = 1n << 21n;
export const HPAGE_PMD_MASK = ~(HPAGE_PMD_SIZE - 1n);
const HPAGE_PMD_NR = 512n;
const PAGE = 4096n;
const hex = (v: bigint) => `0x${v.toString(16)}`;

/** pmd_trans_huge: a present PMD entry that maps a 2 MiB page itself. */
export const pmdTransHuge = (e: bigint) => ptePresent(e) && (e & _PAGE_PSE) !== 0n;

/**
 * hugepage_vma_check with enabled=madvise, and transhuge_vma_suitable: a VM_HUGEPAGE private anonymous
 * VMA that holds the whole 2 MiB-aligned block at haddr. v4.4 keeps VM_HUGETLB and shared VMAs out
 * with VM_NO_THP (mm/huge_memory.c l.2037, l.2534-2545); v6.18 checks the block with
 * thp_vma_suitable_order (mm/huge_memory.c l.1345).
 */
export function thpSuitable(vma: VmArea, haddr: bigint): boolean {
  return vma.hugepage && !vma.isHugetlb && !vma.shared && haddr >= vma.start && haddr + HPAGE_PMD_SIZE <= vma.end;
}

/** The first address of [start, end) in mm's anonymous VMAs that a huge PMD maps, if any. */
export function thpMappedIn(k: Kernel, mm: MmStruct, start: bigint, end: bigint): bigint | undefined {
  for (const vma of mm.vmasIn(start, end)) {
    if (vma.isHugetlb) continue;
    const s = start > vma.start ? start : vma.start;
    const e = end < vma.end ? end : vma.end;
    for (let a = s & HPAGE_PMD_MASK; a < e; a += HPAGE_PMD_SIZE) {
      const pmdp = walkTo(k, mm, a, 'pmd');
      if (pmdp !== undefined && pmdTransHuge(readEntry(k, pmdp))) return a > s ? a : s;
    }
  }
  return undefined;
}

/** pgtable_trans_huge_deposit (mm/pgtable-generic.c): the table goes on the PMD page's list. */
function pgtableTransHugeDeposit(k: Kernel, pmdp: bigint, table: bigint): void {
  k.ptdescs.get(tableOfEntry(pmdp))!.pmdHugePte.push(table);
}

/** pgtable_trans_huge_withdraw: the table deposited last on the PMD page comes off its list. */
function pgtableTransHugeWithdraw(k: Kernel, pmdp: bigint): bigint {
  const table = k.ptdescs.get(tableOfEntry(pmdp))?.pmdHugePte.pop();
  if (table === undefined) throw new ModelBugError(`no PTE table deposited for the huge PMD entry at ${hex(pmdp)}`);
  return table;
}

/**
 * A 2 MiB frame for a THP. The model's only 2 MiB-aligned frames are those of the huge zone, whose
 * accounting the hugetlb pool shares: a THP takes a frame the pool then cannot give, and never one
 * that a hugetlb mapping has reserved.
 */
function allocThp(k: Kernel): bigint | undefined {
  return k.allocHugePage('2M', false);
}

/**
 * do_huge_pmd_anonymous_page (v4.4 mm/huge_memory.c l.808-870 with __do_huge_pmd_anonymous_page
 * l.714-806; v6.18 l.1339-1394 with l.1221-1300): a fresh 2 MiB page mapped by the PMD, its PTE table
 * allocated now and deposited (pte_alloc_one, pgtable_trans_huge_deposit), dirty and writable as the
 * VMA allows (maybe_pmd_mkwrite(pmd_mkdirty)). A read fault maps a fresh page too: the model has no
 * huge zero page, as it has no 4 KiB zero page. False when no 2 MiB frame is free (VM_FAULT_FALLBACK:
 * the 4 KiB path runs).
 */
export function doHugePmdAnonymousPage(k: Kernel, mm: MmStruct, vma: VmArea, address: bigint, pmdp: bigint): boolean {
  const haddr = address & HPAGE_PMD_MASK;
  const pa = allocThp(k);
  if (pa === undefined) return false;
  const pgtable = allocTable(k, mm, 'pte');
  vma.anonVma ??= k.newAnonVma(vma);
  mapNewThp(k, mm, vma, haddr, pmdp, pa, pgtable, 'do_huge_pmd_anonymous_page');
  return true;
}

/**
 * The end both a THP fault and a collapse come to: the new 2 MiB page takes its anon_vma's reverse
 * map (its only mapping), the PTE table is deposited under the PMD (pgtable_trans_huge_deposit) and
 * the huge PMD set, dirty and writable as the VMA allows.
 */
function mapNewThp(k: Kernel, mm: MmStruct, vma: VmArea, haddr: bigint, pmdp: bigint, pa: bigint, pgtable: bigint, caller: string): void {
  const page = new Page(pa, '2M', vma.anonVma!, Number(vma.linearPageIndex(haddr)));
  k.pages.set(pa, page);
  page.refcount = 1;
  page.mapcount = 1;
  pgtableTransHugeDeposit(k, pmdp, pgtable);
  setEntry(k, mm, haddr, 'pmd', pmdp, mkPte(vma, page, vma.prot.w, true), caller);
  k.observer.mapped(mm, haddr, page);
}

/**
 * zap_huge_pmd (v4.4 mm/huge_memory.c l.1466-1504, v4.19 l.1690-1753, v6.18 l.2175-2246) for a huge
 * PMD the zap covers whole: the entry cleared, the range recorded by tlb_remove_pmd_tlb_entry, the
 * deposited PTE table freed at once with pte_free (zap_deposited_table: v4.4 l.1498, v4.19
 * l.1681-1688, v6.18 l.2166-2173) — not through the gather, since no walk can reach a table no PMD
 * links — and the page handed to the gather (tlb_remove_page).
 */
export function zapHugePmd(k: Kernel, tlb: MmuGather, vma: VmArea, haddr: bigint, pmdp: bigint, why: string): void {
  const mm = vma.mm;
  const e = readEntry(k, pmdp);
  setEntry(k, mm, haddr, 'pmd', pmdp, 0n, 'zap_huge_pmd');
  // tlb_remove_pmd_tlb_entry: v4.4 widens the range by one 4 KiB page (include/asm-generic/tlb.h
  // l.130-135, l.193-197), so the gather flushes the THP with a single INVLPG at its base (x86's
  // tlb_flush passes vmflag 0: arch/x86/include/asm/tlb.h l.8-14 in v4.4 and v4.19); b5bc66b71310
  // (v4.10, v4.19 l.239-243) widens it by HPAGE_PMD_SIZE, which v4.19's 4 KiB stride turns into a
  // full flush (512 pages > tlb_single_page_flush_ceiling, arch/x86/mm/tlb.c l.623, l.641-642);
  // v6.18 records cleared_pmds (l.606-611, l.688-692), so x86's tlb_flush strides by 2 MiB (one
  // INVLPG) with tlb_get_unmap_shift (arch/x86/include/asm/tlb.h l.13-24).
  if (k.fixes.has('b5bc66b71310')) tlbAdjustRange(tlb, haddr, HPAGE_PMD_SIZE, 21n);
  else tlbAdjustRange(tlb, haddr, PAGE, 12n);
  freeTable(k, pgtableTransHugeWithdraw(k, pmdp), `zap_deposited_table of the THP at ${hex(haddr)} (${why})`);
  const page = k.pages.get(e & PTE_PFN_MASK & HPAGE_PMD_MASK);
  if (!page) return;
  page.mapcount--;
  tlb.pages.push(page);
}

/**
 * pmdp_collapse_flush (mm/pgtable-generic.c: v4.4 l.200-218, v4.19 l.193-211, v6.18 l.216-234; x86
 * has no version of its own): the PMD that links the PTE table is cleared and the 2 MiB range flushed
 * with flush_tlb_range (arch/x86/include/asm/tlbflush.h), which from v4.20 (016c4d92cd16) until
 * 3ef938c35035 passes freed_tables=false and with it true (v6.18 l.310-314); v4.4 l.277-278 and v4.19
 * l.556-557 pass vm_flags, and every lazy CPU got every IPI then. A THP VMA is no VM_HUGETLB one: the
 * stride is 4 KiB, and 512 pages are a full flush. The table is not freed here: collapse_huge_page
 * deposits it beside the huge PMD and zap_huge_pmd frees it later, without telling any CPU.
 */
function pmdpCollapseFlush(k: Kernel, op: Op, vma: VmArea, haddr: bigint, pmdp: bigint): void {
  const mm = vma.mm;
  setEntry(k, mm, haddr, 'pmd', pmdp, 0n, 'pmdp_collapse_flush');
  if (k.fixes.has('016c4d92cd16') && !k.fixes.has('3ef938c35035')) {
    const lazy = [...mm.cpumask].filter((c) => c !== op.cpu && k.cpus[c].isLazy);
    if (lazy.length) {
      k.observer.missedFix('3ef938c35035', {
        mms: [mm], start: haddr, end: haddr + HPAGE_PMD_SIZE, who: 'cpu',
        text: `khugepaged's pmdp_collapse_flush unlinked ${mm.name}'s PTE table for [${hex(haddr)}, ${hex(haddr + HPAGE_PMD_SIZE)}) and flushed with flush_tlb_range, which said freed_tables=false, so lazy CPU ${lazy.join(', ')} got no IPI and kept its paging-structure caches pointing at that table, which stays deposited beside the THP until zap_huge_pmd frees it; fix 3ef938c35035 makes flush_tlb_range say freed_tables, so lazy CPUs are flushed too`,
      });
    }
  }
  flushTlbRange(k, op.cpu, mm, haddr, haddr + HPAGE_PMD_SIZE, 12n);
}

/**
 * khugepaged's collapse of the 2 MiB-aligned block at `address` of mm: khugepaged_scan_pmd's checks,
 * then collapse_huge_page (v4.4 mm/huge_memory.c l.2547-2681; v4.19 mm/khugepaged.c l.934-1097;
 * v6.18 mm/khugepaged.c l.1089-1250) under mmap_lock for write: invalidate_range_start,
 * pmdp_collapse_flush, invalidate_range_end, the small pages copied and released with their PTEs
 * cleared, the old PTE table deposited, the huge PMD set. A block khugepaged would skip is noted, not
 * refused: khugepaged is no system call.
 */
export function* collapseHugePage(k: Kernel, op: Op, mm: MmStruct, address: bigint): OpGen {
  const haddr = address & HPAGE_PMD_MASK;
  const skip = (why: string) => k.observer.kernelNote(op, `khugepaged: ${mm.name}'s block [${hex(haddr)}, ${hex(haddr + HPAGE_PMD_SIZE)}) is not collapsed: ${why}`);
  yield* mm.mmapLock.downWrite(op);
  try {
    // hugepage_vma_revalidate / hugepage_vma_check.
    const vma = mm.findVma(haddr);
    if (!vma || !thpSuitable(vma, haddr)) return skip('no VM_HUGEPAGE private anonymous VMA holds the whole block');
    const pmdp = walkTo(k, mm, haddr, 'pmd');
    const pmd = pmdp === undefined ? 0n : readEntry(k, pmdp);
    if (pmdp === undefined || pteNone(pmd)) return skip('no PTE table maps it (SCAN_PMD_NULL)');
    if (pmdTransHuge(pmd)) return skip('a huge PMD maps it already (SCAN_PMD_MAPPED)');
    const table = pmd & PTE_PFN_MASK;
    // khugepaged_scan_pmd and __collapse_huge_page_isolate (v4.19 mm/khugepaged.c l.520-630, v6.18
    // l.536-670): none entries are allowed (max_ptes_none defaults to HPAGE_PMD_NR - 1), each page
    // must be mapped by this PTE only and have no other reference (SCAN_PAGE_COUNT), one PTE must be
    // writable (SCAN_PAGE_RO) and one young (SCAN_LACK_REFERENCED_PAGE).
    const mapped: { ea: bigint; page: Page }[] = [];
    let writable = false;
    let referenced = false;
    for (let i = 0n; i < HPAGE_PMD_NR; i++) {
      const ea = table + i * 8n;
      const e = readEntry(k, ea);
      if (pteNone(e)) continue;
      if (!ptePresent(e)) return skip(`the PTE for ${hex(haddr + i * PAGE)} is a swap or migration entry (the model swaps nothing in for a collapse)`);
      const page = k.pages.get(e & PTE_PFN_MASK);
      if (!page || page.size !== '4K') throw new ModelBugError(`the PTE at ${hex(ea)} maps no 4 KiB page the kernel holds`);
      if (page.mapcount !== 1 || page.refcount !== 1 || page.migrating) return skip(`the page at ${hex(haddr + i * PAGE)} has other references (SCAN_PAGE_COUNT)`);
      writable ||= pteWrite(e);
      referenced ||= pteYoung(e);
      mapped.push({ ea, page });
    }
    if (!mapped.length) return skip('every PTE is none (SCAN_EXCEED_NONE_PTE)');
    if (!writable) return skip('no PTE is writable (SCAN_PAGE_RO)');
    if (!referenced) return skip('no PTE is young (SCAN_LACK_REFERENCED_PAGE)');
    const pa = allocThp(k);
    if (pa === undefined) return skip('no 2 MiB frame is free (SCAN_ALLOC_HUGE_PAGE_FAIL)');
    const end = haddr + HPAGE_PMD_SIZE;
    k.notifiers.invalidateRangeStart(mm, haddr, end);
    pmdpCollapseFlush(k, op, vma, haddr, pmdp);
    k.notifiers.invalidateRangeEnd(mm, haddr, end);
    // __collapse_huge_page_copy: each small page is copied into the huge one, its PTE cleared in the
    // table no PMD links any more (a direct write: the table is the collapse's alone), and released.
    for (const { ea, page } of mapped) {
      k.machine.writeEntry(ea, 0n);
      page.mapcount--;
      k.putPage(page, `collapse_huge_page in ${mm.name}`);
    }
    mapNewThp(k, mm, vma, haddr, pmdp, pa, table, 'collapse_huge_page');
  } finally {
    mm.mmapLock.upWrite(op);
  }
  k.observer.opReturned(op, [mm], haddr, haddr + HPAGE_PMD_SIZE);
}
