// fs/hugetlbfs/inode.c: punching a hole (fallocate, MADV_REMOVE) and truncating a file unmap the
// range from every mapping through i_mmap (hugetlb_vmdelete_list), each VMA with its own mmu_gather
// flushed right there, then drop the pages from the page cache. Steps `zap`, `unlock`, `flush` (done
// inside zap: skipped), `free`.
import type { Kernel } from './kernel.ts';
import type { HugetlbFile, MmStruct } from './mm_types.ts';

/** A range of an address space that a hole punch unmapped: what its return promises is coherent. */
export interface PunchedRange {
  mm: MmStruct;
  start: bigint;
  end: bigint;
}
import type { Op, OpGen } from './ops.ts';
import { unmapSingleVma } from './memory.ts';
import { tlbFinishMmuFlush, tlbFinishMmuFree, tlbGatherMmu } from './mmu_gather.ts';
import { KernelRefusal } from './mmap.ts';
import { hugetlbUnreservePages } from './hugetlb.ts';

export function* hugetlbfsPunchHole(k: Kernel, op: Op, file: HugetlbFile, offset: bigint, len: bigint): OpGen<PunchedRange[]> {
  const sz = file.hpageBytes;
  if (offset % sz !== 0n || len % sz !== 0n) throw new KernelRefusal(`the hole [0x${offset.toString(16)}, +0x${len.toString(16)}) is not aligned to the ${file.pagesize} pages of file ${file.name}`);
  const end = offset + len;
  yield { step: 'zap' };
  yield* file.iMmapRwsem.downWrite(op);
  const touched: PunchedRange[] = [];
  yield* hugetlbVmdeleteList(k, op, file, offset, end, touched);
  yield { step: 'unlock' };
  file.iMmapRwsem.upWrite(op);
  yield { step: 'flush' };
  yield { step: 'free' };
  // remove_inode_hugepages, which returns the range's unused reservations (hugetlb_unreserve_pages).
  hugetlbUnreservePages(k, file, Number(offset / sz), Number(end / sz));
  // remove_inode_hugepages: the pages of the range in index order (a page-cache range lookup: what
  // the range holds, not every page of the file).
  const first = offset / sz;
  const last = (end - 1n) / sz;
  const indexes = last - first + 1n <= BigInt(file.pages.size)
    ? Array.from({ length: Number(last - first + 1n) }, (_, i) => Number(first) + i).filter((i) => file.pages.has(i))
    : [...file.pages.keys()].filter((i) => BigInt(i) >= first && BigInt(i) <= last).sort((a, b) => a - b);
  for (const idx of indexes) {
    for (;;) {
      const page = file.pages.get(idx);
      if (!page) break;
      if (page.mapcount > 0) {
        // Faulted in again after the unmap above (the page was still in the page cache): unmap it
        // again, under i_mmap_rwsem, before it leaves the page cache.
        yield* file.iMmapRwsem.downWrite(op);
        yield* hugetlbVmdeleteList(k, op, file, BigInt(idx) * sz, BigInt(idx + 1) * sz, touched);
        file.iMmapRwsem.upWrite(op);
      }
      // lock_page: a migration holds the lock from its unmap to its remap. Once the lock is free the
      // page cache may hold the migration's new page at this index (mapped again, even): look again.
      // (The kernel's lookup reference, which can make such a migration give up with -EAGAIN and keep
      // the old page, is not counted: either way the index ends with no page and nothing mapping it.)
      if (page.lockedByOther(op)) {
        yield* page.lock(op);
        page.unlock(op);
        continue;
      }
      file.pages.delete(idx);
      page.refcount--;
      // A migration that isolated the page still holds its reference: the frame is freed when it lets go.
      k.putPageIfUnused(page, `hole punch in file ${file.name}`);
      break;
    }
  }
  return touched;
}

/** hugetlb_vmdelete_list: unmap file range [offset, end) from every VMA that maps it (i_mmap_rwsem held). */
function* hugetlbVmdeleteList(k: Kernel, op: Op, file: HugetlbFile, offset: bigint, end: bigint, touched: PunchedRange[]): OpGen {
  for (const vma of [...file.iMmap]) {
    const vStart = vma.pgoff << 12n;
    const vEnd = vStart + (vma.end - vma.start);
    if (vEnd <= offset || vStart >= end) continue;
    const s = vma.start + ((offset > vStart ? offset : vStart) - vStart);
    const e = vma.start + ((end < vEnd ? end : vEnd) - vStart);
    // From 40549ba8f8e0 the VMA lock is only tried: a VMA whose lock is busy (a fault in it holds it
    // for read) is skipped (v6.18 fs/hugetlbfs/inode.c l.478-479); its pages are unmapped when they
    // leave the page cache, below.
    const vmaLocked = vma.shared && k.fixes.has('40549ba8f8e0');
    if (vmaLocked && !vma.vmaLock.tryWrite(op)) continue;
    const tlb = tlbGatherMmu(vma.mm, s, e);
    unmapSingleVma(k, op, tlb, vma, s, e);
    tlbFinishMmuFlush(k, op, tlb);
    tlbFinishMmuFree(k, tlb, `hole punch in file ${file.name}`);
    if (vmaLocked) vma.vmaLock.upWrite(op);
    if (!touched.some((t) => t.mm === vma.mm && t.start === s && t.end === e)) touched.push({ mm: vma.mm, start: s, end: e });
  }
}

/**
 * The punch promises the file range it unmapped, in each VMA that mapped it (and any PUD range an
 * unshare took out with it, which the Op records): not the rest of those address spaces, where other
 * operations of theirs may still be in flight with their flushes pending.
 */
export function punchReturned(k: Kernel, op: Op, touched: PunchedRange[]): void {
  for (const t of touched) k.observer.opReturned(op, [t.mm], t.start, t.end);
}

export function* sysFallocatePunchHole(k: Kernel, op: Op, file: HugetlbFile, offset: bigint, len: bigint): OpGen {
  punchReturned(k, op, yield* hugetlbfsPunchHole(k, op, file, offset, len));
}

export function* sysTruncate(k: Kernel, op: Op, file: HugetlbFile, size: bigint): OpGen {
  if (size % file.hpageBytes !== 0n) throw new KernelRefusal(`truncate of ${file.name} to 0x${size.toString(16)}: not a multiple of its ${file.pagesize} pages`);
  const old = file.size;
  file.size = size;
  if (size < old) {
    punchReturned(k, op, yield* hugetlbfsPunchHole(k, op, file, size, old - size));
  }
}
