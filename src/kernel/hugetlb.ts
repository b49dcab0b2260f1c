// hugetlb page tables (mm/hugetlb.c): faults through huge_pte_alloc, PMD sharing between mappings of
// the same file (huge_pmd_share / huge_pmd_unshare) and the ranges a flush must cover because of it.
// x86-64 shares only PMD pages of 2 MiB pages in VM_MAYSHARE mappings; one PMD page maps one
// PUD-aligned 1 GiB slot.
import type { Kernel } from './kernel.ts';
import type { MmStruct, PtDesc, VmArea } from './mm_types.ts';
import type { Op, OpGen } from './ops.ts';
import { Page } from './mm_types.ts';
import {
  _PAGE_TABLE, PTE_PFN_MASK, hugePteOffset, isMigrationEntry, mkPte, pteNone, ptePresent, pteToSwpEntry, pteWrite,
  setEntry, tableOfEntry, walkTo, readEntry,
} from './pgtable.ts';
import { tlbRemoveTableSyncOne } from './tlbflush.ts';

export const PMD_SIZE = 1n << 21n;
export const PUD_SIZE = 1n << 30n;
export const PUD_MASK = ~(PUD_SIZE - 1n);
const alignDown = (a: bigint, s: bigint) => a & ~(s - 1n);
const alignUp = (a: bigint, s: bigint) => (a + s - 1n) & ~(s - 1n);

/** Whether the PMD page is shared, as the profile counts it. */
export function pmdShared(k: Kernel, d: PtDesc): boolean {
  return k.fixes.has('59d9094df3d7') ? d.ptShareCount > 0 : d.refcount > 1;
}

function pmdShareGet(k: Kernel, d: PtDesc): void {
  if (k.fixes.has('59d9094df3d7')) d.ptShareCount++;
  else d.refcount++;
}

function pmdSharePut(k: Kernel, d: PtDesc): void {
  if (k.fixes.has('59d9094df3d7')) d.ptShareCount--;
  else d.refcount--;
}

/** range_in_vma(vma, addr & PUD_MASK, +PUD_SIZE) for a VM_MAYSHARE 2 MiB mapping. */
export function wantPmdShare(vma: VmArea, addr: bigint): boolean {
  if (!vma.shared || vma.file?.pagesize !== '2M') return false;
  const base = addr & PUD_MASK;
  return base >= vma.start && base + PUD_SIZE <= vma.end;
}

/** page_table_shareable: the address at which svma maps the same file offset in the same PMD slot. */
function pageTableShareable(svma: VmArea, vma: VmArea, addr: bigint, idx: bigint): bigint | undefined {
  const saddr = svma.addressOf(idx);
  if (saddr === undefined) return undefined;
  const sbase = saddr & PUD_MASK;
  if (((saddr >> 21n) & 511n) !== ((addr >> 21n) & 511n)) return undefined;
  if (svma.prot.r !== vma.prot.r || svma.prot.w !== vma.prot.w || svma.prot.x !== vma.prot.x || svma.shared !== vma.shared) return undefined;
  if (!svma.mayShare) return undefined;
  if (sbase < svma.start || sbase + PUD_SIZE > svma.end) return undefined;
  return saddr;
}

/** huge_pmd_share: link mm's PUD to a PMD page another mapping of the file already has. */
export function* hugePmdShare(k: Kernel, op: Op, mm: MmStruct, vma: VmArea, addr: bigint, pudEa: bigint): OpGen<bigint> {
  const file = vma.file!;
  const idx = vma.linearPageIndex(addr);
  // v6.1 (40549ba8f8e0) takes i_mmap_rwsem for read here; earlier kernels for write.
  const readMode = k.fixes.has('40549ba8f8e0');
  const held = file.iMmapRwsem.heldBy(op);
  if (!held) {
    if (readMode) yield* file.iMmapRwsem.downRead(op);
    else yield* file.iMmapRwsem.downWrite(op);
  }
  let shared: bigint | undefined;
  for (const svma of file.iMmap) {
    if (svma === vma) continue;
    const saddr = pageTableShareable(svma, vma, addr, idx);
    if (saddr === undefined) continue;
    const spte = hugePteOffset(k, svma.mm, saddr, '2M');
    if (spte === undefined) continue;
    shared = tableOfEntry(spte);
    pmdShareGet(k, k.ptdescs.get(shared)!);
    break;
  }
  if (shared !== undefined) {
    if (pteNone(readEntry(k, pudEa))) {
      setEntry(k, mm, addr, 'pud', pudEa, shared | _PAGE_TABLE, 'huge_pmd_share');
      k.hugetlbStats.pmdShares++;
    } else {
      pmdSharePut(k, k.ptdescs.get(shared)!);
    }
  }
  const pte = walkTo(k, mm, addr, 'pmd', true)!;
  if (!held) {
    if (readMode) file.iMmapRwsem.upRead(op);
    else file.iMmapRwsem.upWrite(op);
  }
  return pte;
}

/** huge_pte_alloc: the entry that will map the huge page at addr, sharing a PMD page where possible. */
export function* hugePteAlloc(k: Kernel, op: Op, mm: MmStruct, vma: VmArea, addr: bigint): OpGen<bigint> {
  const pudEa = walkTo(k, mm, addr, 'pud', true)!;
  if (vma.file!.pagesize === '1G') return pudEa;
  if (wantPmdShare(vma, addr) && pteNone(readEntry(k, pudEa))) return yield* hugePmdShare(k, op, mm, vma, addr, pudEa);
  return walkTo(k, mm, addr, 'pmd', true)!;
}

/**
 * huge_pmd_unshare: if the PMD page that holds ptep is shared, drop mm's link to it (its PUD entry)
 * and one share. The caller must flush mm's TLB for the whole PUD range before the page can go.
 */
export function hugePmdUnshare(k: Kernel, cpu: number, mm: MmStruct, vma: VmArea, addr: bigint, ptep: bigint): boolean {
  if (vma.file?.pagesize !== '2M') return false;
  const d = k.ptdescs.get(tableOfEntry(ptep));
  if (!d || !pmdShared(k, d)) return false;
  const pudEa = walkTo(k, mm, addr, 'pud')!;
  setEntry(k, mm, addr, 'pud', pudEa, 0n, 'huge_pmd_unshare');
  // 1013af4f585f: wait out GUP-fast walkers that may still be inside the PMD page.
  if (k.fixes.has('1013af4f585f')) tlbRemoveTableSyncOne(k, cpu);
  pmdSharePut(k, d);
  k.hugetlbStats.pmdUnshares++;
  return true;
}

/** adjust_range_if_pmd_sharing_possible (017b1660df89, rewritten by 75802ca66354). */
export function adjustRangeIfPmdSharingPossible(k: Kernel, vma: VmArea, start: bigint, end: bigint): [bigint, bigint] {
  if (!vma.shared || vma.file?.pagesize !== '2M') return [start, end];
  if (k.fixes.has('75802ca66354')) {
    const vStart = alignUp(vma.start, PUD_SIZE);
    const vEnd = alignDown(vma.end, PUD_SIZE);
    if (vEnd <= vStart || end <= vStart || start >= vEnd) return [start, end];
    return [start > vStart ? alignDown(start, PUD_SIZE) : start, end < vEnd ? alignUp(end, PUD_SIZE) : end];
  }
  // The original loop steps from the start by PUD_SIZE; once the start has been moved down, a range
  // that crosses a PUD boundary can stop one PUD short (the case 75802ca66354 describes).
  let s = start;
  let e = end;
  for (let check = start; check < e; check += PUD_SIZE) {
    const aStart = check & PUD_MASK;
    const aEnd = aStart + PUD_SIZE;
    if (aStart >= vma.start && aEnd <= vma.end) {
      if (aStart < s) s = aStart;
      if (aEnd > e) e = aEnd;
    }
  }
  return [s, e];
}

/** The 2 MiB or 1 GiB page cache page of the file at hugetlb index idx, allocated if absent. */
function findOrAllocHugePage(k: Kernel, vma: VmArea, idx: number): Page {
  const file = vma.file!;
  let page = file.pages.get(idx);
  if (!page) {
    page = new Page(k.phys.alloc(file.pagesize), file.pagesize, file, idx);
    file.pages.set(idx, page);
    k.pages.set(page.pa, page);
  }
  return page;
}

export type FaultResult = 'done' | 'segv';

/** hugetlb_fault: the fault handler for a hugetlb VMA (steps `lookup` and `install`). */
export function* hugetlbFault(k: Kernel, op: Op, mm: MmStruct, vma: VmArea, address: bigint, write: boolean): OpGen<FaultResult> {
  const file = vma.file!;
  const hsize = file.hpageBytes;
  const haddr = address & ~(hsize - 1n);
  // Faults hold the VMA lock for read from v6.1 (40549ba8f8e0), i_mmap_rwsem for read in v5.7–v6.0
  // (c0d0381ade79): either keeps a concurrent huge_pmd_unshare away from the entry found below.
  const vmaLock = vma.shared && k.fixes.has('40549ba8f8e0');
  const immap = vma.shared && !vmaLock && k.fixes.has('c0d0381ade79');
  if (vmaLock) yield* vma.vmaLock.downRead(op);
  if (immap) yield* file.iMmapRwsem.downRead(op);
  const unlock = () => {
    if (vmaLock) vma.vmaLock.upRead(op);
    if (immap) file.iMmapRwsem.upRead(op);
  };
  yield { step: 'lookup' };
  const ptep = yield* hugePteAlloc(k, op, mm, vma, haddr);
  const level = file.pagesize === '2M' ? 'pmd' : 'pud';
  let entry = readEntry(k, ptep);
  if (isMigrationEntry(k, entry)) {
    unlock();
    const page = k.pages.get(pteToSwpEntry(k, entry)!.offset << 12n);
    if (page?.migrating) yield { wait: page.migrating, reason: `the page at 0x${haddr.toString(16)} is being migrated` };
    return yield* hugetlbFault(k, op, mm, vma, address, write);
  }
  yield { step: 'install' };
  entry = readEntry(k, ptep);
  const idx = Number(vma.linearPageIndex(haddr) / (hsize >> 12n));
  if (!ptePresent(entry)) {
    const cached = findOrAllocHugePage(k, vma, idx);
    let page = cached;
    if (!vma.shared && (write || file.anonymous)) {
      // A private mapping gets its own page on a write (hugetlb_cow of the page cache page); anonymous
      // hugetlb memory has no page cache to share.
      page = file.anonymous ? cached : new Page(k.phys.alloc(file.pagesize), file.pagesize, file, idx);
      if (page !== cached) k.pages.set(page.pa, page);
      if (file.anonymous) file.pages.delete(idx);
    }
    const writable = vma.prot.w && (vma.shared || page !== cached || file.anonymous);
    setEntry(k, mm, haddr, level, ptep, mkPte(vma, page, writable, writable), 'hugetlb_fault');
    page.mapcount++;
    page.refcount++;
    k.observer.mapped(mm, haddr, page);
  } else if (write && !pteWrite(entry)) {
    if (vma.shared || !vma.prot.w) {
      unlock();
      return 'segv';
    }
    // hugetlb_cow: a private copy replaces the shared page cache page.
    const old = k.pages.get(entry & PTE_PFN_MASK & ~(hsize - 1n))!;
    const page = new Page(k.phys.alloc(file.pagesize), file.pagesize, file, idx);
    k.pages.set(page.pa, page);
    setEntry(k, mm, haddr, level, ptep, 0n, 'huge_ptep_clear_flush');
    k.flushTlbRangeOf(op.cpu, vma, haddr, haddr + hsize);
    old.mapcount--;
    old.refcount--;
    setEntry(k, mm, haddr, level, ptep, mkPte(vma, page, true, true), 'hugetlb_cow');
    page.mapcount++;
    page.refcount++;
    k.putPageIfUnused(old, 'hugetlb_cow');
  }
  unlock();
  return 'done';
}
