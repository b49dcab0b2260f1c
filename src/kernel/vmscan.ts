// mm/vmscan.c as kswapd does it for one page: unmap it everywhere with the flush deferred
// (TTU_BATCH_FLUSH), flush the batch, free the page. Steps `unmap`, `flush`, `free`. Between unmap and
// flush the PTEs are gone but other CPUs may still cache them: that is the window 3ea277194daa closes
// for syscalls that change the same PTEs.
import type { Kernel } from './kernel.ts';
import type { Page } from './mm_types.ts';
import type { Op, OpGen } from './ops.ts';
import { tryToUnmap } from './rmap.ts';
import { TlbflushUnmapBatch, tryToUnmapFlush } from './tlbflush.ts';

export function* shrinkPage(k: Kernel, op: Op, page: Page): OpGen<boolean> {
  if (!page.isAnon) {
    // Hugetlb pages are never reclaimed by kswapd.
    k.observer.kernelNote(op, `the page at 0x${page.pa.toString(16)} is a hugetlb page: reclaim leaves it alone`);
    return false;
  }
  yield { step: 'unmap' };
  const batch = new TlbflushUnmapBatch();
  // A clean MADV_FREE page is dropped, not written to swap.
  const discard = page.lazyfree && !page.dirty;
  const slot = discard ? 0n : k.allocSwapSlot();
  yield* tryToUnmap(k, op, page, { purpose: 'reclaim', batch, swapSlot: slot });
  yield { step: 'flush' };
  tryToUnmapFlush(k, op.cpu, batch);
  yield { step: 'free' };
  if (page.mapcount > 0) {
    k.observer.kernelNote(op, `the page at 0x${page.pa.toString(16)} is still mapped: reclaim keeps it`);
    return false;
  }
  if (!discard) k.vmStats.swapOuts++;
  page.refcount = 0;
  k.freePage(page, 'reclaim');
  return true;
}
