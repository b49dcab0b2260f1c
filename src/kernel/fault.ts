// handle_mm_fault for a user access (or a device's fault on behalf of an mm): find the VMA, check the
// access against its protection, and hand over to the hugetlb or anonymous fault path. Faults hold
// mmap_lock for read.
import type { Kernel } from './kernel.ts';
import type { MmStruct } from './mm_types.ts';
import type { Op, OpGen } from './ops.ts';
import { hugetlbFault, type FaultResult } from './hugetlb.ts';
import { handleAnonFault } from './memory.ts';

export type Access = 'r' | 'w' | 'x';

export function* handleMmFault(k: Kernel, op: Op, mm: MmStruct, address: bigint, access: Access): OpGen<FaultResult> {
  k.vmStats.faults++;
  yield* mm.mmapLock.downRead(op);
  try {
    const vma = mm.findVma(address);
    // access_error: no VMA, or one whose protection does not allow this access, is SIGSEGV.
    if (!vma) return 'segv';
    if (access === 'w' && !vma.prot.w) return 'segv';
    if (access === 'x' && !vma.prot.x) return 'segv';
    if (access === 'r' && !vma.prot.r && !vma.prot.w && !vma.prot.x) return 'segv';
    if (vma.isHugetlb) return yield* hugetlbFault(k, op, mm, vma, address, access === 'w');
    return yield* handleAnonFault(k, op, mm, vma, address, access === 'w');
  } finally {
    mm.mmapLock.upRead(op);
  }
}
