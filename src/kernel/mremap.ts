// mm/mremap.c for private anonymous memory: move_page_tables / move_ptes, in the trace's steps `move`,
// `unlock`, `flush`. move_page_tables moves the range in extents that end at the next PMD boundary of
// the old address and of the new one; move_ptes moves one extent under its page-table locks.
// Before eb66ae030829 (v4.4) the old range was flushed once, at the end of move_page_tables, after the
// locks were dropped: a CPU could keep using the old address while another path freed the page through
// the new one. From it (v4.19 on) move_ptes flushes its extent before it drops the locks, whenever it
// moved a present entry, dirty or not.
import { thpMappedIn } from './huge_memory.ts';
import type { Kernel } from './kernel.ts';
import { VmArea, type MmStruct } from './mm_types.ts';
import { runToEnd, type Op, type OpGen } from './ops.ts';
import { KernelRefusal, unmapRegion, vmasExactly } from './mmap.ts';
import { PTE_PFN_MASK, pteNone, ptePresent, readEntry, setEntry, walkTo } from './pgtable.ts';
import { freePgtables } from './memory.ts';
import { tlbFinishMmuFlush, tlbFinishMmuFree, tlbGatherMmu } from './mmu_gather.ts';
import { mremapHugetlb } from './mremap_hugetlb.ts';
import { PMD_SIZE } from './hugetlb.ts';

export function* sysMremap(k: Kernel, op: Op, mm: MmStruct, oldAddr: bigint, len: bigint, newAddr: bigint, newLen: bigint): OpGen {
  if (oldAddr % 4096n !== 0n || newAddr % 4096n !== 0n || len % 4096n !== 0n || newLen % 4096n !== 0n) {
    throw new KernelRefusal('mremap addresses and lengths must be page aligned (EINVAL)');
  }
  if (newAddr < oldAddr + len && oldAddr < newAddr + newLen) throw new KernelRefusal('mremap: the new range overlaps the old one (EINVAL)');
  yield* mm.mmapLock.downWrite(op);
  try {
    const huge = mm.findVma(oldAddr);
    if (huge?.isHugetlb && huge.end >= oldAddr + len) {
      if (mm.vmasIn(newAddr, newAddr + newLen).length) throw new KernelRefusal(`mremap: the new range at 0x${newAddr.toString(16)} is in use (MREMAP_FIXED would unmap it; the model refuses)`);
      yield* mremapHugetlb(k, op, mm, huge, oldAddr, len, newAddr, newLen);
      return;
    }
    const thp = thpMappedIn(k, mm, oldAddr, oldAddr + len);
    if (thp !== undefined) throw new KernelRefusal(`mremap of the transparent huge page at 0x${thp.toString(16)} (move_huge_pmd) is not modelled`);
    const vmas = vmasExactly(mm, oldAddr, oldAddr + len);
    if (vmas.length !== 1 || vmas[0].start !== oldAddr || vmas[0].end !== oldAddr + len) {
      throw new KernelRefusal(`mremap: [0x${oldAddr.toString(16)}, +0x${len.toString(16)}) is not one mapping (EFAULT)`);
    }
    const vma = vmas[0];
    if (vma.isHugetlb || vma.shared) throw new KernelRefusal('mremap is modelled for private anonymous memory only');
    if (mm.vmasIn(newAddr, newAddr + newLen).length) throw new KernelRefusal(`mremap: the new range at 0x${newAddr.toString(16)} is in use (MREMAP_FIXED would unmap it; the model refuses)`);
    const moveLen = newLen < len ? newLen : len;
    yield { step: 'move' };
    // mremap to a smaller size first unmaps the tail that does not move (do_munmap), as its own
    // unmap_region: flushed, and its pages freed, before the move starts.
    if (newLen < len) runToEnd(unmapRegion(k, op, mm, vmasExactly(mm, oldAddr + newLen, oldAddr + len), oldAddr + newLen, oldAddr + len, false));
    k.flushTlbBatchedPendingOnce(op.cpu, mm);
    // move_page_tables brackets the move with mmu_notifier_invalidate_range_start/end of the old range.
    k.notifiers.invalidateRangeStart(mm, oldAddr, oldAddr + moveLen);
    const nv = new VmArea(mm, newAddr, newAddr + newLen, { ...vma.prot }, false, undefined, vma.pgoff);
    nv.anonVma = vma.anonVma;
    if (nv.anonVma) nv.anonVma.vmas.push(nv);
    mm.insertVma(nv);
    const fixed = k.fixes.has('eb66ae030829');
    const movePmd = k.fixes.has('9f132f7e1455');
    // v4.4's need_flush: set by every extent whose old PMD has a page table, present entries or not.
    let needFlush = false;
    let movedPresent = false;
    for (let off = 0n; off < moveLen;) {
      const extent = moveExtent(oldAddr + off, newAddr + off, moveLen - off);
      if (walkTo(k, mm, oldAddr + off, 'pte') !== undefined) {
        if (movePmd && extent === PMD_SIZE && moveNormalPmd(k, op.cpu, mm, vma, oldAddr + off, newAddr + off)) {
          off += extent;
          continue;
        }
        // alloc_new_pmd and pte_alloc come before move_ptes, whether or not an entry moves.
        walkTo(k, mm, newAddr + off, 'pte', true);
        const present = movePtes(k, mm, oldAddr + off, newAddr + off, extent);
        movedPresent ||= present;
        if (fixed && present) k.flushTlbRangeOf(op.cpu, vma, oldAddr + off, oldAddr + off + extent);
        if (!fixed) needFlush = true;
      }
      off += extent;
    }
    if (!fixed && movedPresent) {
      k.observer.missedFix('eb66ae030829', {
        mms: [mm], start: oldAddr, end: oldAddr + moveLen,
        text: `mremap moved present entries and released the page-table locks before flushing the old range [0x${oldAddr.toString(16)}, 0x${(oldAddr + moveLen).toString(16)}); fix eb66ae030829 flushes it first`,
      });
    }
    // The old VMA goes; its range has no entries left.
    mm.removeVma(vma);
    if (vma.anonVma) vma.anonVma.vmas.splice(vma.anonVma.vmas.indexOf(vma), 1);
    yield { step: 'unlock' };
    yield { step: 'flush' };
    if (needFlush) k.flushTlbRangeOf(op.cpu, vma, oldAddr, oldAddr + moveLen);
    k.notifiers.invalidateRangeEnd(mm, oldAddr, oldAddr + moveLen);
    const tlb = tlbGatherMmu(mm, oldAddr, oldAddr + len);
    freePgtables(k, tlb, mm, oldAddr, oldAddr + len);
    tlbFinishMmuFlush(k, op, tlb);
    tlbFinishMmuFree(k, tlb, `mremap in ${mm.name}`);
  } finally {
    mm.mmapLock.upWrite(op);
  }
  k.observer.opReturned(op, [mm], oldAddr, oldAddr + len);
  k.observer.opReturned(op, [mm], newAddr, newAddr + newLen);
}

/** The bytes move_page_tables moves in one step from `oldAddr` to `newAddr`: up to the next PMD
 *  boundary of either address (v6.18 `mm/mremap.c` `get_extent` l.537-568; v4.19 l.209-245), and no
 *  more than `left`. */
function moveExtent(oldAddr: bigint, newAddr: bigint, left: bigint): bigint {
  let extent = PMD_SIZE - (oldAddr & (PMD_SIZE - 1n));
  if (extent > left) extent = left;
  const toNew = PMD_SIZE - (newAddr & (PMD_SIZE - 1n));
  return extent < toNew ? extent : toNew;
}

/**
 * move_normal_pmd (2c91bd4a4e2e, on x86 from 9f132f7e1455): the page table of a whole PMD changes place.
 * The old PMD entry is cleared, the new one points at the same table, and the old PMD's range is
 * flushed before the PMD locks are dropped, present entries or not (v6.18 `mm/mremap.c` l.346-413).
 * Only into an empty PMD entry; otherwise the entries move one by one. Nothing is left to free.
 */
function moveNormalPmd(k: Kernel, cpu: number, mm: MmStruct, vma: VmArea, from: bigint, to: bigint): boolean {
  const oldPmdp = walkTo(k, mm, from, 'pmd')!;
  const newPmdp = walkTo(k, mm, to, 'pmd', true)!; // alloc_new_pmd
  if (!pteNone(readEntry(k, newPmdp))) return false;
  const pmd = readEntry(k, oldPmdp);
  setEntry(k, mm, from, 'pmd', oldPmdp, 0n, 'move_normal_pmd');
  setEntry(k, mm, to, 'pmd', newPmdp, pmd, 'move_normal_pmd');
  k.ptdescs.get(pmd & PTE_PFN_MASK)!.base = to;
  k.flushTlbRangeOf(cpu, vma, from, from + PMD_SIZE);
  return true;
}

/** move_ptes: each entry of one extent out of the old page table into the new one (both exist).
 *  Whether a present entry moved: that is what makes v4.19's and later kernels flush the extent. */
function movePtes(k: Kernel, mm: MmStruct, oldAddr: bigint, newAddr: bigint, len: bigint): boolean {
  let present = false;
  for (let off = 0n; off < len; off += 4096n) {
    const oldPtep = walkTo(k, mm, oldAddr + off, 'pte')!;
    const e = readEntry(k, oldPtep);
    if (pteNone(e)) continue;
    setEntry(k, mm, oldAddr + off, 'pte', oldPtep, 0n, 'move_ptes');
    setEntry(k, mm, newAddr + off, 'pte', walkTo(k, mm, newAddr + off, 'pte')!, e, 'move_ptes');
    if (ptePresent(e)) present = true;
  }
  return present;
}
