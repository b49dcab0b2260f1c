// mm/memory.c and the hugetlb zap: faults on anonymous memory (do_anonymous_page, do_wp_page,
// do_swap_page), unmap_vmas with zap_pte_range and __unmap_hugepage_range, free_pgtables, and
// copy_page_range for fork.
import type { Kernel } from './kernel.ts';
import { AnonVma, Page, type MmStruct, type VmArea } from './mm_types.ts';
import type { Op, OpGen } from './ops.ts';
import {
  _PAGE_PSE, _PAGE_RW, _PAGE_DIRTY, hugePteOffset, isMigrationEntry, levelShift, mkPte, pteDirty, pteNone, ptePresent,
  pteToSwpEntry, pteWrite, readEntry, setEntry, walkTo, PTE_PFN_MASK, tableOfEntry,
} from './pgtable.ts';
import { adjustRangeIfPmdSharingPossible, hugePmdUnshare, hugePteAlloc, pmdShared, PUD_MASK, PUD_SIZE } from './hugetlb.ts';
import { tlbAdjustRange, tlbRemoveTable, tlbFlushMmuTlbonly, type MmuGather } from './mmu_gather.ts';
import { flushTlbBatchedPending, flushTlbPage } from './tlbflush.ts';
import type { FaultResult } from './hugetlb.ts';
import { doHugePmdAnonymousPage, HPAGE_PMD_MASK, HPAGE_PMD_SIZE, pmdTransHuge, thpSuitable, zapHugePmd } from './huge_memory.ts';
import { KernelRefusal } from './mmap.ts';

const PAGE = 4096n;

// ---- faults on private anonymous memory (4 KiB pages) ----

export function* handleAnonFault(k: Kernel, op: Op, mm: MmStruct, vma: VmArea, address: bigint, write: boolean): OpGen<FaultResult> {
  const va = address & ~(PAGE - 1n);
  yield { step: 'lookup' };
  // __handle_mm_fault: a none PMD of a THP-suitable block gets a huge page (create_huge_pmd); a huge
  // PMD that is there already was a spurious fault (the model writes no huge PMD read-only in a
  // writable VMA: fork and mprotect of a THP are refused).
  const pmdp = walkTo(k, mm, va, 'pmd', true)!;
  const pmd = readEntry(k, pmdp);
  if (pmdTransHuge(pmd)) {
    if (write && !pteWrite(pmd)) throw new KernelRefusal(`a write fault on the read-only huge PMD at 0x${(va & HPAGE_PMD_MASK).toString(16)} (do_huge_pmd_wp_page) is not modelled`);
    return 'done';
  }
  if (pteNone(pmd) && thpSuitable(vma, va & HPAGE_PMD_MASK)) {
    yield { step: 'install' };
    // pmd_none is checked again under the PMD lock: another fault may have filled it meanwhile.
    if (!pteNone(readEntry(k, pmdp))) return yield* handleAnonFault(k, op, mm, vma, address, write);
    if (doHugePmdAnonymousPage(k, mm, vma, va, pmdp)) return 'done';
  }
  const ptep = walkTo(k, mm, va, 'pte', true)!;
  let e = readEntry(k, ptep);
  if (isMigrationEntry(k, e)) {
    const page = k.pages.get(k.swpOffsetOf(e) << 12n);
    if (page?.migrating) yield { wait: page.migrating, reason: `the page at 0x${va.toString(16)} is being migrated` };
    return yield* handleAnonFault(k, op, mm, vma, address, write);
  }
  yield { step: 'install' };
  e = readEntry(k, ptep);
  vma.anonVma ??= k.newAnonVma(vma);
  if (pteNone(e)) {
    // do_anonymous_page: a read maps nothing shared here (no zero page in the model): a fresh page.
    const page = new Page(k.phys.alloc('4K'), '4K', vma.anonVma, Number(vma.linearPageIndex(va)));
    k.pages.set(page.pa, page);
    page.refcount = 1;
    page.mapcount = 1;
    const writable = vma.prot.w;
    setEntry(k, mm, va, 'pte', ptep, mkPte(vma, page, writable, writable && write), 'do_anonymous_page');
    k.observer.mapped(mm, va, page);
    return 'done';
  }
  const swp = pteToSwpEntry(k, e);
  if (swp) {
    // do_swap_page: the data comes back into a new frame.
    const page = new Page(k.phys.alloc('4K'), '4K', vma.anonVma, Number(vma.linearPageIndex(va)));
    k.pages.set(page.pa, page);
    page.refcount = 1;
    page.mapcount = 1;
    k.swap.delete(swp.offset);
    const writable = vma.prot.w && write;
    setEntry(k, mm, va, 'pte', ptep, mkPte(vma, page, writable, writable), 'do_swap_page');
    k.vmStats.swapIns++;
    k.observer.mapped(mm, va, page);
    return 'done';
  }
  if (write && !pteWrite(e)) {
    if (!vma.prot.w) return 'segv';
    const old = k.pages.get(e & PTE_PFN_MASK)!;
    if (old.mapcount === 1) {
      // do_wp_page reuse: the only mapper gets write access to the page it has.
      setEntry(k, mm, va, 'pte', ptep, e | _PAGE_RW | _PAGE_DIRTY, 'wp_page_reuse');
      return 'done';
    }
    // wp_page_copy: a private copy, the old entry cleared and flushed before the new one is set, all
    // inside invalidate_range_start/end of the page (v4.4 mm/memory.c l.2132-2156: ptep_clear_flush_notify
    // adds invalidate_range right after the CPU flush).
    const page = new Page(k.phys.alloc('4K'), '4K', vma.anonVma, old.index);
    k.pages.set(page.pa, page);
    page.mapcount = 1;
    k.notifiers.invalidateRangeStart(mm, va, va + PAGE);
    setEntry(k, mm, va, 'pte', ptep, 0n, 'ptep_clear_flush');
    flushTlbPage(k, op.cpu, mm, va);
    k.notifiers.invalidateRange(mm, va, va + PAGE);
    setEntry(k, mm, va, 'pte', ptep, mkPte(vma, page, true, true), 'wp_page_copy');
    k.notifiers.invalidateRangeEnd(mm, va, va + PAGE, true);
    old.mapcount--;
    k.putPage(old, 'wp_page_copy');
    k.vmStats.cowCopies++;
    k.observer.mapped(mm, va, page);
  }
  // Otherwise the fault was spurious (a stale TLB entry with fewer rights): the #PF itself dropped it.
  return 'done';
}

// ---- zap ----

/** zap_pte_range over one 4 KiB-page VMA range. */
function zapPteRange(k: Kernel, tlb: MmuGather, vma: VmArea, start: bigint, end: bigint, mode: 'zap' | 'free', why: string): void {
  const mm = vma.mm;
  for (let va = start; va < end; va += PAGE) {
    if (va === start || (va & ~HPAGE_PMD_MASK) === 0n) {
      // zap_pmd_range: a huge PMD goes whole with zap_huge_pmd; one the range covers only in part
      // would be split first (__split_huge_pmd), which the model does not have.
      const pmdp = walkTo(k, mm, va, 'pmd');
      if (pmdp !== undefined && pmdTransHuge(readEntry(k, pmdp))) {
        const haddr = va & HPAGE_PMD_MASK;
        if (haddr < start || haddr + HPAGE_PMD_SIZE > end) {
          throw new KernelRefusal(`[0x${start.toString(16)}, 0x${end.toString(16)}) covers part of the transparent huge page at 0x${haddr.toString(16)}; splitting it (__split_huge_pmd) is not modelled`);
        }
        if (mode === 'free') throw new KernelRefusal(`MADV_FREE of the transparent huge page at 0x${haddr.toString(16)} (madvise_free_huge_pmd) is not modelled`);
        zapHugePmd(k, tlb, vma, haddr, pmdp, why);
        va = haddr + HPAGE_PMD_SIZE - PAGE;
        continue;
      }
    }
    if ((va & ((1n << 21n) - 1n)) === 0n && walkTo(k, mm, va, 'pmd') !== undefined && pteNone(readEntry(k, walkTo(k, mm, va, 'pmd')!))) {
      va += (1n << 21n) - PAGE; // no page table here
      continue;
    }
    const ptep = walkTo(k, mm, va, 'pte');
    if (ptep === undefined) continue;
    const e = readEntry(k, ptep);
    if (pteNone(e)) continue;
    if (!ptePresent(e)) {
      if (mode === 'zap') {
        const swp = pteToSwpEntry(k, e);
        if (swp && !isMigrationEntry(k, e)) k.swap.delete(swp.offset);
        setEntry(k, mm, va, 'pte', ptep, 0n, 'zap_pte_range');
      }
      continue;
    }
    const page = k.pages.get(e & PTE_PFN_MASK);
    if (mode === 'free') {
      // madvise_free_pte_range: keep the page, make it clean and old so reclaim may drop it.
      if (!page || page.mapcount !== 1) continue;
      setEntry(k, mm, va, 'pte', ptep, e & ~(_PAGE_DIRTY | (1n << 5n)), 'madvise_free_pte_range');
      page.dirty = false;
      page.lazyfree = true;
      tlbAdjustRange(tlb, va, PAGE, 12n);
      continue;
    }
    setEntry(k, mm, va, 'pte', ptep, 0n, 'zap_pte_range');
    tlbAdjustRange(tlb, va, PAGE, 12n);
    if (!page) continue;
    if (pteDirty(e)) page.dirty = true;
    page.mapcount--;
    tlb.pages.push(page);
  }
}

/**
 * __unmap_hugepage_range: clears the huge entries of [start, end) in one VMA. An unshared PMD page is
 * not cleared but unlinked; without a4a118f2eead nothing about it reaches the mmu_gather.
 */
function* unmapHugepageRange(k: Kernel, op: Op, tlb: MmuGather, vma: VmArea, start: bigint, end: bigint): OpGen {
  const mm = vma.mm;
  const file = vma.file!;
  const sz = file.hpageBytes;
  let [nStart, nEnd] = [start, end];
  if (k.fixes.has('dff11abe280b')) [nStart, nEnd] = adjustRangeIfPmdSharingPossible(k, vma, start, end);
  k.notifiers.invalidateRangeStart(mm, nStart, nEnd);
  let forceFlush = false;
  for (let addr = start; addr < end; addr += sz) {
    const ptep = hugePteOffset(k, mm, addr, file.pagesize);
    if (ptep === undefined) continue;
    if (yield* hugePmdUnshare(k, op, mm, vma, addr, ptep, 'mmu_gather', k.fixes.has('a4a118f2eead'))) {
      const base = addr & PUD_MASK;
      if (k.fixes.has('a4a118f2eead')) {
        tlbAdjustRange(tlb, base, PUD_SIZE, 21n);
        forceFlush = true;
      } else {
        k.observer.missedFix('a4a118f2eead', {
          mms: [mm], start: base, end: base + PUD_SIZE,
          text: `the zap unshared ${mm.name}'s PMD page for [0x${base.toString(16)}, 0x${(base + PUD_SIZE).toString(16)}) and recorded nothing in its mmu_gather, so that range was never flushed; fix a4a118f2eead records the PUD range and flushes it before i_mmap_rwsem is released`,
        });
      }
      if (!k.fixes.has('dff11abe280b') && (nStart > base || nEnd < base + PUD_SIZE)) {
        // Recorded after the gather's: for a device, the notifier range is the cause.
        k.observer.missedFix('dff11abe280b', {
          mms: [mm], start: base, end: base + PUD_SIZE, who: 'device',
          text: `the zap unshared ${mm.name}'s PMD page for [0x${base.toString(16)}, 0x${(base + PUD_SIZE).toString(16)}) but told ${mm.name}'s secondary MMUs only of [0x${nStart.toString(16)}, 0x${nEnd.toString(16)}); fix dff11abe280b widens the notifier range to the PUD`,
        });
      }
      addr = base + PUD_SIZE - sz;
      continue;
    }
    const e = readEntry(k, ptep);
    if (pteNone(e)) continue;
    setEntry(k, mm, addr, file.pagesize === '2M' ? 'pmd' : 'pud', ptep, 0n, '__unmap_hugepage_range');
    if (!ptePresent(e)) continue; // a migration entry: the migration keeps its page
    // tlb_remove_huge_tlb_entry (b528e4b6405b, v4.10) widens the gather by the huge page; v4.4's
    // tlb_remove_tlb_entry by one 4 KiB page (include/asm-generic/tlb.h l.130-135, l.179-183; called
    // at mm/hugetlb.c l.3245), and x86's tlb_flush passes no VM_HUGETLB (arch/x86/include/asm/tlb.h
    // l.8-14): one huge page is flushed with a single INVLPG.
    if (k.fixes.has('b528e4b6405b')) tlbAdjustRange(tlb, addr, sz, file.pagesize === '2M' ? 21n : 30n);
    else tlbAdjustRange(tlb, addr, PAGE, 12n);
    const page = k.pages.get(e & PTE_PFN_MASK & ~(sz - 1n));
    if (!page) continue;
    if (pteDirty(e)) page.dirty = true;
    page.mapcount--;
    tlb.pages.push(page);
  }
  k.notifiers.invalidateRangeEnd(mm, nStart, nEnd);
  if (forceFlush) tlbFlushMmuTlbonly(k, op.cpu, tlb);
}

/** unmap_single_vma over [start, end) ∩ vma; the hugetlb side runs under i_mmap_rwsem (the caller's). */
export function* unmapSingleVma(k: Kernel, op: Op, tlb: MmuGather, vma: VmArea, start: bigint, end: bigint, mode: 'zap' | 'free' = 'zap'): OpGen {
  const s = start > vma.start ? start : vma.start;
  const e = end < vma.end ? end : vma.end;
  if (s >= e) return;
  k.flushTlbBatchedPendingOnce(op.cpu, vma.mm);
  if (vma.isHugetlb) yield* unmapHugepageRange(k, op, tlb, vma, s, e);
  else {
    k.notifiers.invalidateRangeStart(vma.mm, s, e);
    zapPteRange(k, tlb, vma, s, e, mode, op.name);
    k.notifiers.invalidateRangeEnd(vma.mm, s, e);
  }
}

/**
 * The locks a zap of hugetlb VMAs takes: i_mmap_rwsem for write (and the VMA lock from v6.1), held
 * until the trace's `unlock` step. Returns the release.
 */
export function* hugetlbZapBegin(k: Kernel, op: Op, vmas: VmArea[]): OpGen<() => void> {
  const files = [...new Set(vmas.filter((v) => v.isHugetlb).map((v) => v.file!))];
  const locked = vmas.filter((v) => v.isHugetlb && v.shared && k.fixes.has('40549ba8f8e0'));
  for (const v of locked) yield* v.vmaLock.downWrite(op);
  for (const f of files) yield* f.iMmapRwsem.downWrite(op);
  return () => {
    for (const f of files) f.iMmapRwsem.upWrite(op);
    for (const v of locked) v.vmaLock.upWrite(op);
  };
}

/**
 * free_pgtables: page tables left empty under [start, end) that no VMA still needs go to the gather.
 * A PMD page that is still shared is never freed here: only its last user frees it.
 */
export function freePgtables(k: Kernel, tlb: MmuGather, mm: MmStruct, start: bigint, end: bigint): void {
  const needed = (a: bigint, b: bigint) => mm.hasVmaIn(a, b);
  const visit = (table: bigint, level: number, base: bigint): boolean => {
    // level: 0 = pte table ... returns whether the table is now empty
    const shift = 12n + 9n * BigInt(level);
    let empty = true;
    for (let i = 0n; i < 512n; i++) {
      const ea = table + i * 8n;
      const e = readEntry(k, ea);
      if (pteNone(e)) continue;
      const a = base + (i << shift);
      const b = a + (1n << shift);
      if (level === 0 || !ptePresent(e) || (e & _PAGE_PSE) !== 0n || b <= start || a >= end) {
        empty = false;
        continue;
      }
      const child = e & PTE_PFN_MASK;
      const d = k.ptdescs.get(child);
      if (!d) {
        empty = false;
        continue;
      }
      if (d.level === 'pmd' && pmdShared(k, d)) {
        empty = false;
        continue;
      }
      const childEmpty = visit(child, level - 1, a);
      if (childEmpty && !needed(a, b)) {
        setEntry(k, mm, a, d.level === 'pte' ? 'pmd' : d.level === 'pmd' ? 'pud' : d.level === 'pud' ? (k.levels === 5 ? 'p4d' : 'pgd') : 'pgd', ea, 0n, 'free_pgtables');
        tlbRemoveTable(tlb, child, a);
      } else {
        empty = false;
      }
    }
    return empty;
  };
  visit(mm.pgd, k.levels - 1, 0n);
}

// ---- fork ----

/** copy_page_range for one VMA: COW for private memory, re-sharing for shared hugetlb. */
export function* copyPageRange(k: Kernel, op: Op, dst: VmArea, src: VmArea): OpGen {
  const sz = src.isHugetlb ? src.file!.hpageBytes : PAGE;
  const level = src.isHugetlb ? (src.file!.pagesize === '2M' ? 'pmd' : 'pud') : 'pte';
  // is_cow_mapping: a private mapping may lose write permission in the parent, so its secondary MMUs
  // hear invalidate_range_start/end around the copy (v4.4 mm/memory.c l.1087-1109; hugetlb:
  // copy_hugetlb_page_range, v4.4 mm/hugetlb.c l.3120-3175, with invalidate_range after each
  // write-protect, l.3160).
  const isCow = !src.shared && src.prot.w;
  if (isCow) k.notifiers.invalidateRangeStart(src.mm, src.start, src.end);
  for (let addr = src.start; addr < src.end; addr += sz) {
    const sptep = src.isHugetlb ? hugePteOffset(k, src.mm, addr, src.file!.pagesize) : walkTo(k, src.mm, addr, 'pte');
    if (sptep === undefined) continue;
    const e = readEntry(k, sptep);
    if (pteNone(e)) continue;
    const dptep = src.isHugetlb ? yield* hugePteAlloc(k, op, dst.mm, dst, addr) : walkTo(k, dst.mm, addr, 'pte', true)!;
    // copy_hugetlb_page_range: the child's walk may already land in the parent's shared PMD page.
    if (dptep === sptep || tableOfEntry(dptep) === tableOfEntry(sptep)) continue;
    if (!pteNone(readEntry(k, dptep))) continue; // 5e41540c8a0f: never overwrite a present child entry
    let ce = e;
    if (ptePresent(e)) {
      const page = k.pages.get(e & PTE_PFN_MASK & ~(sz - 1n));
      if (!src.shared && pteWrite(e)) {
        setEntry(k, src.mm, addr, level, sptep, e & ~_PAGE_RW, 'ptep_set_wrprotect');
        if (src.isHugetlb) k.notifiers.invalidateRange(src.mm, addr, addr + sz);
        ce = e & ~_PAGE_RW;
      }
      if (page) {
        page.mapcount++;
        page.refcount++;
      }
    }
    setEntry(k, dst.mm, addr, level, dptep, ce, 'copy_page_range');
  }
  if (isCow) k.notifiers.invalidateRangeEnd(src.mm, src.start, src.end);
  // The parent's entries lost their write permission: dup_mmap flushes its TLBs once, after every VMA.
}

export { flushTlbBatchedPending, levelShift };
