// kernel/fork.c dup_mmap: the child gets a copy of every VMA, placed right after the parent's in the
// file's i_mmap (so the reverse map visits parent then child) or in the parent's anon_vma; then
// copy_page_range copies the entries.
import type { Kernel } from './kernel.ts';
import { VmArea, type MmStruct } from './mm_types.ts';
import type { Op, OpGen } from './ops.ts';
import { copyPageRange } from './memory.ts';
import { flushTlbMm } from './tlbflush.ts';
import { thpMappedIn } from './huge_memory.ts';
import { KernelRefusal } from './mmap.ts';

export function* dupMmap(k: Kernel, op: Op, parent: MmStruct, childName: string): OpGen<MmStruct> {
  yield* parent.mmapLock.downWrite(op);
  const thp = thpMappedIn(k, parent, 0n, 1n << 57n);
  if (thp !== undefined) {
    parent.mmapLock.upWrite(op);
    throw new KernelRefusal(`fork of ${parent.name}, which maps a transparent huge page at 0x${thp.toString(16)}: copy_huge_pmd is not modelled`);
  }
  const child = k.mmAlloc(childName);
  try {
    for (const v of parent.vmas) {
      const c = new VmArea(child, v.start, v.end, { ...v.prot }, v.shared, v.file, v.pgoff);
      c.hugepage = v.hugepage;
      child.insertVma(c);
      if (v.file) v.file.iMmap.splice(v.file.iMmap.indexOf(v) + 1, 0, c);
      if (v.anonVma) {
        c.anonVma = v.anonVma;
        v.anonVma.vmas.push(c);
      }
      yield* copyPageRange(k, op, c, v);
    }
    // dup_mmap ends with one flush_tlb_mm(oldmm), whatever it copied (mm/mmap.c, v6.18; kernel/fork.c
    // before): the write-protected COW entries of every VMA at once, not one flush per VMA.
    flushTlbMm(k, op.cpu, parent);
  } finally {
    parent.mmapLock.upWrite(op);
  }
  // dup_mmap returns with the parent's private entries write-protected and its TLBs flushed: its
  // CPUs and devices may hold no writable translation of them any more.
  k.observer.opReturned(op, [parent], 0n, 1n << 57n);
  return child;
}
