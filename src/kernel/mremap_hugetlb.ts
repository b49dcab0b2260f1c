// mremap of a hugetlb mapping (550a7d60bd5e, v5.16): move_hugetlb_page_tables moves each huge entry
// to the new address under the hugetlb VMA lock and i_mmap_rwsem; an entry in a shared PMD page is
// not moved but unshared (the new mapping faults it in from the page cache), and the flush then has
// to cover the whole PUD range (3d0b95cd87b2, v5.19). It flushes before it unlocks, so the trace's
// `unlock` and `flush` steps come after both. Before 550a7d60bd5e vma_to_resize refuses a hugetlb
// VMA with EINVAL (v4.4 mm/mremap.c l.355-356).
import type { Kernel } from './kernel.ts';
import { VmArea, type MmStruct } from './mm_types.ts';
import type { Op, OpGen } from './ops.ts';
import { hugePteOffset, pteNone, readEntry, setEntry } from './pgtable.ts';
import { adjustRangeIfPmdSharingPossible, hugePmdUnshare, hugePteAlloc, PUD_MASK, PUD_SIZE } from './hugetlb.ts';
import { KernelRefusal, vmasExactly } from './mmap.ts';

/** Whether the hugetlb mremap could be done; the caller holds mmap_lock for write. */
export function* mremapHugetlb(k: Kernel, op: Op, mm: MmStruct, vma: VmArea, oldAddr: bigint, len: bigint, newAddr: bigint, newLen: bigint): OpGen {
  const file = vma.file!;
  if (!k.fixes.has('550a7d60bd5e')) {
    k.observer.refused(op, { call: 'mremap', error: 'EINVAL', why: `[0x${oldAddr.toString(16)}, +0x${len.toString(16)}) is a hugetlb mapping, which vma_to_resize refuses before 550a7d60bd5e (v5.16)` });
    return;
  }
  const sz = file.hpageBytes;
  // align_hugetlb (v6.18 mm/mremap.c l.1482-1500): addresses and lengths in huge pages, no growth.
  if (oldAddr % sz !== 0n || newAddr % sz !== 0n || len % sz !== 0n || newLen % sz !== 0n || newLen > len) {
    k.observer.refused(op, { call: 'mremap', error: 'EINVAL', why: `a hugetlb mremap moves whole ${file.pagesize} pages and cannot grow the mapping` });
    return;
  }
  if (newLen !== len) throw new KernelRefusal('a hugetlb mremap that shrinks the mapping is not modelled (only moves at the same size)');
  yield { step: 'move' };
  k.flushTlbBatchedPendingOnce(op.cpu, mm);
  // copy_vma: the new VMA maps the same file pages, right after the old one in i_mmap.
  const nv = new VmArea(mm, newAddr, newAddr + len, { ...vma.prot }, vma.shared, file, vma.pgoff + ((oldAddr - vma.start) >> 12n));
  nv.resvMap = vma.resvMap;
  mm.insertVma(nv);
  file.iMmap.splice(file.iMmap.indexOf(vma) + 1, 0, nv);
  yield* moveHugetlbPageTables(k, op, vma, nv, oldAddr, newAddr, len);
  // move_vma's do_munmap of the old range: its entries are gone already.
  for (const v of vmasExactly(mm, oldAddr, oldAddr + len)) {
    mm.removeVma(v);
    file.iMmap.splice(file.iMmap.indexOf(v), 1);
  }
  yield { step: 'unlock' };
  yield { step: 'flush' };
}

/** move_hugetlb_page_tables (v6.18 mm/hugetlb.c l.5787-5849). */
function* moveHugetlbPageTables(k: Kernel, op: Op, vma: VmArea, nv: VmArea, oldAddr: bigint, newAddr: bigint, len: bigint): OpGen {
  const mm = vma.mm;
  const file = vma.file!;
  const sz = file.hpageBytes;
  const oldEnd = oldAddr + len;
  const [rStart, rEnd] = adjustRangeIfPmdSharingPossible(k, vma, oldAddr, oldEnd);
  k.notifiers.invalidateRangeStart(mm, rStart, rEnd);
  const vmaLocked = vma.shared && k.fixes.has('40549ba8f8e0');
  if (vmaLocked) yield* vma.vmaLock.downWrite(op);
  yield* file.iMmapRwsem.downWrite(op);
  let sharedPmd = false;
  const level = file.pagesize === '2M' ? 'pmd' : 'pud';
  for (let o = oldAddr, n = newAddr; o < oldEnd; o += sz, n += sz) {
    const src = hugePteOffset(k, mm, o, file.pagesize);
    if (src === undefined) continue;
    const e = readEntry(k, src);
    if (pteNone(e)) continue;
    if (yield* hugePmdUnshare(k, op, mm, vma, o, src)) {
      sharedPmd = true;
      const skip = ((o & PUD_MASK) + PUD_SIZE) - sz - o;
      o += skip;
      n += skip;
      continue;
    }
    const dst = yield* hugePteAlloc(k, op, mm, nv, n);
    // move_huge_pte: clear the old entry, set the new one (the flush comes once, after the loop).
    setEntry(k, mm, o, level, src, 0n, 'move_huge_pte');
    setEntry(k, mm, n, level, dst, e, 'move_huge_pte');
  }
  let [fStart, fEnd] = [oldAddr, oldEnd];
  if (sharedPmd && k.fixes.has('3d0b95cd87b2')) [fStart, fEnd] = [rStart, rEnd];
  else if (sharedPmd && (rStart < oldAddr || rEnd > oldEnd)) {
    k.observer.missedFix('3d0b95cd87b2', {
      mms: [mm], start: rStart, end: rEnd,
      text: `mremap unshared ${mm.name}'s PMD page, so [0x${rStart.toString(16)}, 0x${rEnd.toString(16)}) left ${mm.name}'s tables, but it flushed only the moved range [0x${oldAddr.toString(16)}, 0x${oldEnd.toString(16)}); fix 3d0b95cd87b2 flushes the PUD-wide range when a PMD page was unshared`,
    });
  }
  // flush_hugetlb_tlb_range (its invalidate_range included), then range_end, then the unlocks.
  k.flushTlbRangeOf(op.cpu, vma, fStart, fEnd);
  k.notifiers.invalidateRange(mm, fStart, fEnd);
  k.notifiers.invalidateRangeEnd(mm, rStart, rEnd, true);
  file.iMmapRwsem.upWrite(op);
  if (vmaLocked) vma.vmaLock.upWrite(op);
  k.observer.opReturned(op, [mm], rStart, rEnd);
}
