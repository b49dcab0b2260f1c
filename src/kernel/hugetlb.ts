// hugetlb page tables (mm/hugetlb.c): faults through huge_pte_alloc, PMD sharing between mappings of
// the same file (huge_pmd_share / huge_pmd_unshare) and the ranges a flush must cover because of it.
// x86-64 shares only PMD pages of 2 MiB pages in VM_MAYSHARE mappings; one PMD page maps one
// PUD-aligned 1 GiB slot.
import { ResvMap } from './resv_map.ts';
import type { Kernel } from './kernel.ts';
import type { HugetlbFile, MmStruct, PtDesc, VmArea } from './mm_types.ts';
import type { Op, OpGen } from './ops.ts';
import { Page } from './mm_types.ts';
import {
  _PAGE_DIRTY, _PAGE_RW, _PAGE_TABLE, PTE_PFN_MASK, hugePteOffset, isMigrationEntry, mkPte, pteNone, ptePresent, pteToSwpEntry, pteWrite,
  setEntry, tableOfEntry, walkTo, readEntry,
} from './pgtable.ts';
import { tlbRemoveTableSyncOne } from './tlbflush.ts';
import { fixById } from './fixes.ts';

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
 * and one share. The caller must flush mm's TLB for the whole PUD range before the page can go; the
 * operation records the range, which its return promises too. `flushBeforeUnlock`: the caller's
 * flush comes before it releases i_mmap_rwsem (the page cannot be reused by its other user before).
 */
export function* hugePmdUnshare(
  k: Kernel, op: Op, mm: MmStruct, vma: VmArea, addr: bigint, ptep: bigint, flushPath: UnshareFlushPath = 'flush_tlb_range', flushBeforeUnlock = true,
): OpGen<boolean> {
  if (vma.file?.pagesize !== '2M') return false;
  const d = k.ptdescs.get(tableOfEntry(ptep));
  if (!d || !pmdShared(k, d)) return false;
  const base = addr & PUD_MASK;
  if (!k.fixes.has('59d9094df3d7') && d.refcount - d.speculativeRefs <= 1) {
    // Before 59d9094df3d7 the share count is page_count: a reference nobody shares through (a
    // speculative folio_try_get on the page-table page, speculative_ref.ts) reads as one more sharer.
    k.observer.missedFix('59d9094df3d7', {
      mms: [mm], start: base, end: base + PUD_SIZE,
      text: `huge_pmd_unshare counted the sharers of ${mm.name}'s PMD page 0x${d.pa.toString(16)} by its page_count (${d.refcount}, ${d.speculativeRefs} of it speculative references), so ${mm.name}, its only user, unlinked it instead of clearing its entries, and the last put_page freed it with them; fix 59d9094df3d7 counts sharers in pt_share_count, apart from the page's references`,
    });
  }
  const pudEa = walkTo(k, mm, addr, 'pud')!;
  setEntry(k, mm, addr, 'pud', pudEa, 0n, 'huge_pmd_unshare');
  op.unshared.push({ mm, start: base, end: base + PUD_SIZE });
  // The flush that follows does not say a table left mm unless its path does: from 016c4d92cd16 on,
  // lazy CPUs are skipped unless it says so (v6.18 arch/x86/mm/tlb.c l.1361-1375), and keep
  // paging-structure entries into the PMD page, which its last sharer frees later without them.
  if (k.fixes.has('016c4d92cd16')) {
    const lazy = [...mm.cpumask].filter((c) => c !== op.cpu && k.cpus[c].isLazy);
    const range = `[0x${base.toString(16)}, 0x${(base + PUD_SIZE).toString(16)})`;
    if (lazy.length && flushPath === 'flush_tlb_range' && !k.fixes.has('3ef938c35035')) {
      k.observer.missedFix('3ef938c35035', {
        mms: [mm], start: base, end: base + PUD_SIZE, who: 'cpu',
        text: `huge_pmd_unshare unlinked ${mm.name}'s PMD page for ${range}, and the flush_tlb_range after it said freed_tables=false, so lazy CPU ${lazy.join(', ')} got no IPI and kept its paging-structure caches; fix 3ef938c35035 makes flush_tlb_range say freed_tables, so lazy CPUs are flushed too`,
      });
    } else if (lazy.length && flushPath === 'mmu_gather') {
      // __unmap_hugepage_range records the unshare with tlb_flush_pmd_range (cleared_pmds, not
      // freed_tables: v6.18 mm/hugetlb.c l.5888-5891, include/asm-generic/tlb.h l.606-611) and x86's
      // tlb_flush passes tlb->freed_tables (arch/x86/include/asm/tlb.h l.13-24): 3ef938c35035 changed
      // flush_tlb_range only, and no fix of the model closes this path.
      k.observer.missedFix('', {
        mms: [mm], start: base, end: base + PUD_SIZE, who: 'cpu',
        text: `huge_pmd_unshare unlinked ${mm.name}'s PMD page for ${range} during a zap, whose mmu_gather flush passes freed_tables=false (tlb_flush_pmd_range sets cleared_pmds only), so lazy CPU ${lazy.join(', ')} got no IPI and kept its paging-structure caches; 3ef938c35035 fixed flush_tlb_range, not this path, and no release up to v6.18 sets freed_tables here`,
      });
    }
  }
  // Once the caller drops i_mmap_rwsem the page may become another process's ordinary page table
  // (v6.18 mm/hugetlb.c l.7623-7631). An IPI cannot be delivered to a CPU inside a GUP-fast section
  // (interrupts off, mm/gup.c gup_fast l.3156-3168), and its sender waits: 1013af4f585f's
  // tlb_remove_table_sync_one reaches every other CPU, so the unshare waits for every walk in progress.
  const inside = [...k.gupFastSections].filter((s) => s.cpu !== op.cpu && !s.op.done);
  if (k.fixes.has('1013af4f585f')) {
    tlbRemoveTableSyncOne(k, op.cpu);
    d.unsharesInFlight++;
    for (const s of inside) {
      while (!s.op.done) yield { wait: s.op, reason: `tlb_remove_table_sync_one's IPI waits for CPU ${s.cpu} to leave its GUP-fast section (interrupts off)` };
    }
    d.unsharesInFlight--;
  } else {
    // Before it, a walk of mm inside this page is still waited for where the caller's own flush of
    // mm, before i_mmap_rwsem is released, is a native IPI to the walker's CPU (it runs mm): the
    // protection GUP-fast always relied on. A hypervisor's flush (remoteFlush "hypercall"), or no
    // flush before the unlock, leaves the walk going on after the page may have become another's.
    const walkers = inside.filter((s) => s.pmdPage === d.pa);
    const byFlush = (s: (typeof walkers)[number]) =>
      flushBeforeUnlock && k.remoteFlushByIpi && s.mm === mm && mm.cpumask.has(s.cpu) && !k.cpus[s.cpu].isLazy;
    d.unsharesInFlight++;
    for (const s of walkers.filter(byFlush)) {
      while (!s.op.done) yield { wait: s.op, reason: `the flush IPI ${mm.name}'s unshare sends before it releases i_mmap_rwsem waits for CPU ${s.cpu} to leave its GUP-fast section (interrupts off)` };
    }
    d.unsharesInFlight--;
    const open = walkers.filter((s) => !byFlush(s));
    if (open.length) {
      const why = !flushBeforeUnlock ? 'no flush of it came before i_mmap_rwsem was released' : 'the flush of it was a hypercall that does not wait for an interrupts-off CPU';
      k.observer.missedFix('1013af4f585f', {
        mms: [mm, ...open.map((s) => s.mm)], start: base, end: base + PUD_SIZE, who: 'cpu',
        text: `huge_pmd_unshare dropped ${mm.name}'s share of the PMD page 0x${d.pa.toString(16)} while GUP-fast on CPU ${open.map((s) => s.cpu).join(', ')} had read a PUD entry pointing at it and had not yet walked it, and ${why}; fix 1013af4f585f sends an IPI that waits out such interrupts-off sections before the share is dropped`,
      });
    }
  }
  pmdSharePut(k, d);
  k.hugetlbStats.pmdUnshares++;
  return true;
}

/**
 * hugetlb_split (081056dc00a2), called before a VMA is split at addr: a split inside a PUD-sized
 * region makes it unshareable for both halves, so its PMD page is unshared now (hugetlb_unshare_pmds)
 * and the whole PUD range flushed, under the VMA lock and i_mmap_rwsem. Without the fix the halves
 * keep linking the shared page, and a later unshare from one of them flushes only that half.
 */
export function* hugetlbSplit(k: Kernel, op: Op, vma: VmArea, addr: bigint, vmStart = vma.start): OpGen {
  if (!vma.shared || vma.file?.pagesize !== '2M' || (addr & ~PUD_MASK) === 0n || addr % PMD_SIZE !== 0n) return;
  const floor = addr & PUD_MASK;
  const ceil = floor + PUD_SIZE;
  // vmStart: where the VMA begins by the time of this split (a split at the range's start came first).
  if (floor < vmStart || ceil > vma.end) return;
  const mm = vma.mm;
  if (!k.fixes.has('081056dc00a2')) {
    const ptep = hugePteOffset(k, mm, floor, '2M');
    const d = ptep === undefined ? undefined : k.ptdescs.get(tableOfEntry(ptep));
    if (d && pmdShared(k, d)) {
      k.observer.missedFix('081056dc00a2', {
        mms: [mm], start: floor, end: ceil,
        text: `${mm.name}'s hugetlb VMA was split at 0x${addr.toString(16)} inside [0x${floor.toString(16)}, 0x${ceil.toString(16)}) while its PMD page there was shared; the halves kept it, so a later unshare flushed only the half it ran for; fix 081056dc00a2 unshares and flushes the whole PUD range at the split`,
      });
    }
    return;
  }
  const file = vma.file;
  k.notifiers.invalidateRangeStart(mm, floor, ceil);
  const vmaLocked = k.fixes.has('40549ba8f8e0');
  if (vmaLocked) yield* vma.vmaLock.downWrite(op);
  yield* file.iMmapRwsem.downWrite(op);
  const ptep = hugePteOffset(k, mm, floor, '2M');
  if (ptep !== undefined) yield* hugePmdUnshare(k, op, mm, vma, floor, ptep);
  // flush_hugetlb_tlb_range over the PUD range (it also reaches the secondary TLBs).
  k.flushTlbRangeOf(op.cpu, vma, floor, ceil);
  file.iMmapRwsem.upWrite(op);
  if (vmaLocked) vma.vmaLock.upWrite(op);
  k.notifiers.invalidateRangeEnd(mm, floor, ceil);
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

// ---- reservations (hugetlb_reserve_pages and what consumes and returns them) ----

/** The hugetlb page indices [from, to) of the file that vma maps. */
function hugeIndexRange(vma: VmArea): [number, number] {
  const per = vma.file!.hpageBytes >> 12n;
  const from = Number(vma.pgoff / per);
  return [from, from + Number((vma.end - vma.start) / vma.file!.hpageBytes)];
}

/**
 * hugetlb_reserve_pages at mmap: a shared mapping reserves the pages of its file range that no
 * mapping of the file reserved yet (region_chg on the inode's map), a private one all of its pages
 * (its own map, HPAGE_RESV_OWNER); too few unreserved pages is ENOMEM from mmap (v4.4 mm/hugetlb.c
 * l.4024-4100 with hugetlb_acct_memory l.2944-2946, fs/hugetlbfs/inode.c l.147-150; v6.18
 * fs/hugetlbfs/inode.c l.142-157, mm/hugetlb.c l.7261). Returns false when refused.
 */
export function hugetlbReservePages(k: Kernel, vma: VmArea): boolean {
  const file = vma.file!;
  const [from, to] = hugeIndexRange(vma);
  let chg = 0;
  if (vma.shared) chg = file.resvMap.missing(from, to);
  else chg = to - from;
  const left = k.hstates.unreserved(file.pagesize);
  if (chg > left) {
    k.observer.refused(undefined, {
      call: 'mmap', error: 'ENOMEM',
      why: `the mapping needs ${chg} more reserved ${file.pagesize} pages and the pool has ${left < 0 ? 0 : left} unreserved (hugetlb_reserve_pages)`,
    });
    return false;
  }
  if (vma.shared) file.resvMap.add(from, to);
  else {
    vma.resvMap = new ResvMap();
    vma.resvMap.add(from, to);
  }
  k.hstates.resvHugePages[file.pagesize] += chg;
  return true;
}

/** hugetlb_vm_op_close: a private mapping going away returns the reservations it did not use. */
export function hugetlbVmOpClose(k: Kernel, vma: VmArea): void {
  if (!vma.resvMap || !vma.file) return;
  const [from, to] = hugeIndexRange(vma);
  k.hstates.resvHugePages[vma.file.pagesize] -= vma.resvMap.deleteRange(from, to).length;
}

/**
 * hugetlb_unreserve_pages for a hole punch or truncate of [from, to): the file's reservations there
 * go; the ones no page consumed yet go back to the pool (region_del minus the pages freed).
 */
export function hugetlbUnreservePages(k: Kernel, file: HugetlbFile, from: number, to: number): void {
  for (const i of file.resvMap.deleteRange(from, to)) {
    if (!file.pages.has(i)) k.hstates.resvHugePages[file.pagesize]--;
  }
}

/**
 * A huge page for the fault at idx, paid by a reservation of the mapping when it has one for idx
 * (the file's for a shared mapping, its own for a private one). Undefined: the pool has none to give.
 */
function allocHugePageFor(k: Kernel, vma: VmArea, idx: number, cache: boolean): bigint | undefined {
  const file = vma.file!;
  const reserved = vma.shared ? cache && file.resvMap.has(idx) : vma.resvMap?.has(idx) === true;
  const pa = k.allocHugePage(file.pagesize, reserved);
  if (pa !== undefined && !vma.shared && reserved) vma.resvMap!.delete(idx);
  return pa;
}

/** The 2 MiB or 1 GiB page cache page of the file at hugetlb index idx, allocated if absent. */
function findOrAllocHugePage(k: Kernel, vma: VmArea, idx: number): Page | undefined {
  const file = vma.file!;
  let page = file.pages.get(idx);
  if (!page) {
    const pa = allocHugePageFor(k, vma, idx, true);
    if (pa === undefined) return undefined;
    page = new Page(pa, file.pagesize, file, idx);
    file.pages.set(idx, page);
    k.pages.set(page.pa, page);
    // vma_commit_reservation: a shared mapping's page is in the file's map from now on (a hole punch
    // had taken it out).
    if (vma.shared) file.resvMap.add(idx, idx + 1);
  }
  return page;
}

/**
 * alloc_huge_page found no page (ENOSPC), which the fault turns into SIGBUS (v4.4 mm/hugetlb.c
 * l.1888/1956 and l.3443; v6.18 vmf_error at l.6503, include/linux/mm.h l.3672-3679).
 */
function noHugePage(k: Kernel, op: Op, vma: VmArea, haddr: bigint): FaultResult {
  const size = vma.file!.pagesize;
  k.observer.refused(op, {
    call: 'fault', error: 'SIGBUS',
    why: `no ${size} hugetlb page for 0x${haddr.toString(16)} in ${vma.mm.name}: the pool has ${k.hstates.freeHugePages(size)} free, ${k.hstates.resvHugePages[size]} of them reserved, and the mapping holds no reservation for it`,
  });
  return 'segv';
}

export type FaultResult = 'done' | 'segv';

/** The flush that follows an unshare: flush_tlb_range (mprotect, rmap, hugetlb_split) or a zap's mmu_gather. */
export type UnshareFlushPath = 'flush_tlb_range' | 'mmu_gather';

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
  if (vma.shared && !vmaLock && !immap && walkTo(k, mm, haddr, level) !== ptep) {
    // B5: nothing kept huge_pmd_unshare away since the lookup, and the entry found there is in a PMD
    // page mm no longer links. Both fixes close this; name the one of the release line the replay
    // looks like (a fix from v6.1 on: the VMA lock that replaced the fault side of c0d0381ade79).
    const id = k.fixes.ids.some((f) => /^v(6\.[1-9]|[7-9]\.)/.test(fixById(f)!.release)) ? '40549ba8f8e0' : 'c0d0381ade79';
    const base = haddr & PUD_MASK;
    k.observer.missedFix(id, {
      mms: [mm], start: base, end: base + PUD_SIZE,
      text: `${mm.name}'s fault looked up its entry in a shared PMD page, then huge_pmd_unshare unlinked that page from ${mm.name} before the fault installed the entry; fix c0d0381ade79 (v5.7) holds i_mmap_rwsem for read across the fault, and fix 40549ba8f8e0 (v6.1) the hugetlb VMA lock that replaced it`,
    });
  }
  entry = readEntry(k, ptep);
  const idx = Number(vma.linearPageIndex(haddr) / (hsize >> 12n));
  if (!ptePresent(entry)) {
    // hugetlb_no_page: a page at or past the file's end (after a truncate) is SIGBUS.
    if (!file.anonymous && BigInt(idx) * hsize >= file.size) {
      unlock();
      k.observer.refused(op, { call: 'fault', error: 'SIGBUS', why: `0x${haddr.toString(16)} in ${mm.name} maps file ${file.name} at or past its end (hugetlb_no_page)` });
      return 'segv';
    }
    const cached = findOrAllocHugePage(k, vma, idx);
    if (!cached) {
      unlock();
      return noHugePage(k, op, vma, haddr);
    }
    if (cached.lockedByOther(op)) {
      // find_lock_page in hugetlb_no_page sleeps on the page lock that a migration holds from its
      // unmap to its remap (the page cache still holds the old page then); it looks again after.
      unlock();
      yield* cached.lock(op);
      cached.unlock(op);
      return yield* hugetlbFault(k, op, mm, vma, address, write);
    }
    let page = cached;
    if (!vma.shared && (write || file.anonymous)) {
      // A private mapping gets its own page on a write (hugetlb_cow of the page cache page); anonymous
      // hugetlb memory has no page cache to share.
      let pa: bigint | undefined;
      if (!file.anonymous) {
        pa = allocHugePageFor(k, vma, idx, false);
        if (pa === undefined) {
          unlock();
          return noHugePage(k, op, vma, haddr);
        }
      }
      page = file.anonymous ? cached : new Page(pa!, file.pagesize, file, idx);
      if (page !== cached) k.pages.set(page.pa, page);
      if (file.anonymous) file.pages.delete(idx);
      // Not in the page cache: the only references are the mappings' (taken below).
      page.refcount = 0;
    }
    const writable = vma.prot.w && (vma.shared || page !== cached || file.anonymous);
    setEntry(k, mm, haddr, level, ptep, mkPte(vma, page, writable, writable), 'hugetlb_fault');
    page.mapcount++;
    page.refcount++;
    k.observer.mapped(mm, haddr, page);
  } else if (write && !pteWrite(entry)) {
    if (!vma.prot.w) {
      unlock();
      return 'segv';
    }
    if (vma.shared) {
      // hugetlb_wp of a MAP_SHARED mapping (made writable again by mprotect): set_huge_ptep_writable.
      // More rights only: the stale read-only translation went with the #PF.
      setEntry(k, mm, haddr, level, ptep, entry | _PAGE_RW | _PAGE_DIRTY, 'set_huge_ptep_writable');
      unlock();
      return 'done';
    }
    // hugetlb_cow: a private copy replaces the shared page cache page.
    const old = k.pages.get(entry & PTE_PFN_MASK & ~(hsize - 1n))!;
    const pa = allocHugePageFor(k, vma, idx, false);
    if (pa === undefined) {
      unlock();
      return noHugePage(k, op, vma, haddr);
    }
    const page = new Page(pa, file.pagesize, file, idx);
    page.refcount = 0; // a private copy: only the mapping below holds it
    k.pages.set(page.pa, page);
    // Inside invalidate_range_start/end of the huge page, with invalidate_range after the CPU flush
    // (v4.4 mm/hugetlb.c l.3463-3485).
    k.notifiers.invalidateRangeStart(mm, haddr, haddr + hsize);
    setEntry(k, mm, haddr, level, ptep, 0n, 'huge_ptep_clear_flush');
    k.flushTlbRangeOf(op.cpu, vma, haddr, haddr + hsize);
    k.notifiers.invalidateRange(mm, haddr, haddr + hsize);
    old.mapcount--;
    old.refcount--;
    setEntry(k, mm, haddr, level, ptep, mkPte(vma, page, true, true), 'hugetlb_cow');
    k.notifiers.invalidateRangeEnd(mm, haddr, haddr + hsize, true);
    page.mapcount++;
    page.refcount++;
    k.putPageIfUnused(old, 'hugetlb_cow');
  }
  unlock();
  return 'done';
}
