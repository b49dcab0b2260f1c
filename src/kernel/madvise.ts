// mm/madvise.c: MADV_DONTNEED and MADV_FREE zap (or clean) a range under mmap_lock for read, so two
// threads can do it at once — the case of 99baac21e458. MADV_REMOVE punches the range out of the file;
// MADV_SOFT_OFFLINE migrates the pages away.
import type { Kernel } from './kernel.ts';
import type { MmStruct } from './mm_types.ts';
import type { Op, OpGen } from './ops.ts';
import { hugetlbZapBegin, unmapSingleVma } from './memory.ts';
import { tlbFinishMmuFlush, tlbFinishMmuFree, tlbGatherMmu } from './mmu_gather.ts';
import { KernelRefusal } from './mmap.ts';
import { hugetlbfsPunchHole, punchReturned } from './hugetlbfs.ts';
import { migratePage } from './migrate.ts';
import { hugePteOffset, ptePresent, readEntry, walkTo, PTE_PFN_MASK } from './pgtable.ts';
import { thpMappedIn } from './huge_memory.ts';
import { vmasExactly } from './mmap.ts';

export type Advice = 'dontneed' | 'free' | 'remove' | 'soft_offline' | 'hugepage';

function coveredVmas(mm: MmStruct, start: bigint, end: bigint, what: string) {
  const vmas = mm.vmasIn(start, end);
  let at = start;
  for (const v of vmas) {
    if (v.start > at) break;
    at = v.end;
  }
  if (!vmas.length || at < end) throw new KernelRefusal(`madvise ${what} of [0x${start.toString(16)}, 0x${end.toString(16)}): not all of it is mapped (ENOMEM)`);
  return vmas;
}

export function* sysMadvise(k: Kernel, op: Op, mm: MmStruct, start: bigint, len: bigint, advice: Advice): OpGen {
  if (start % 4096n !== 0n) throw new KernelRefusal(`madvise address 0x${start.toString(16)} is not page aligned`);
  const end = start + ((len + 4095n) & ~4095n);
  if (advice === 'free' && !k.fixes.has('b0579ade7cd8')) throw new KernelRefusal('MADV_FREE does not exist in this kernel (it came with v4.5)');
  const vmas = coveredVmas(mm, start, end, advice);
  if (advice === 'free' && vmas.some((v) => v.isHugetlb || v.shared)) throw new KernelRefusal('MADV_FREE applies to private anonymous memory only (EINVAL)');
  if (advice === 'hugepage') {
    // hugepage_madvise under mmap_lock for write (v4.4 mm/huge_memory.c l.2039-2060; v6.18
    // mm/khugepaged.c l.340-362): VM_HUGEPAGE on the range, the VMAs split at its ends
    // (madvise_update_vma). v4.4 returns EINVAL for hugetlb and shared VMAs (VM_NO_THP, l.2056),
    // later releases set the flag there with no effect; the model takes private anonymous VMAs only.
    if (vmas.some((v) => v.isHugetlb || v.shared)) throw new KernelRefusal('MADV_HUGEPAGE of a hugetlb or shared mapping is not modelled (v4.4 refuses it with EINVAL, later releases set a flag that changes nothing there)');
    yield* mm.mmapLock.downWrite(op);
    try {
      for (const v of vmasExactly(mm, start, end)) v.hugepage = true;
    } finally {
      mm.mmapLock.upWrite(op);
    }
    k.observer.opReturned(op, [mm], start, end);
    return;
  }
  if (advice === 'remove') {
    for (const v of vmas) {
      if (!v.shared || !v.file || v.file.anonymous) throw new KernelRefusal('MADV_REMOVE needs a shared file mapping (EINVAL)');
    }
    const v = vmas[0];
    const off = (v.linearPageIndex(start) << 12n);
    punchReturned(k, op, yield* hugetlbfsPunchHole(k, op, v.file!, off, end - start));
    return;
  }
  if (advice === 'soft_offline') {
    const thp = thpMappedIn(k, mm, start, end);
    if (thp !== undefined) throw new KernelRefusal(`MADV_SOFT_OFFLINE of the transparent huge page at 0x${thp.toString(16)} (a THP migration or split) is not modelled`);
    for (const v of vmas) {
      const sz = v.isHugetlb ? v.file!.hpageBytes : 4096n;
      const s = start > v.start ? start : v.start;
      const e = end < v.end ? end : v.end;
      for (let a = s & ~(sz - 1n); a < e; a += sz) {
        const ea = v.isHugetlb ? hugePteOffset(k, mm, a, v.file!.pagesize) : walkTo(k, mm, a, 'pte');
        const pte = ea === undefined ? 0n : readEntry(k, ea);
        if (!ptePresent(pte)) continue;
        const page = k.pages.get(pte & PTE_PFN_MASK & ~(sz - 1n));
        // A page another migration has isolated cannot be isolated again (-EBUSY): it is skipped.
        if (page && !page.migrating) yield* migratePage(k, op, page, 'soft_offline');
      }
    }
    k.observer.opReturned(op, [mm], start, end);
    return;
  }
  let zapEnd = end;
  const huge = vmas.find((v) => v.isHugetlb);
  if (advice === 'dontneed' && huge) {
    if (!k.fixes.has('90e7e7f5ef3f')) {
      // madvise_dontneed (v4.4 mm/madvise.c l.281-282) and can_madv_dontneed_vma (v4.19 l.595, checked at
      // l.520-521): VM_HUGETLB is refused. The kernel walks the VMAs in order, so private anonymous
      // VMAs before the hugetlb one would be zapped first; the model refuses the call as a whole.
      k.observer.refused(op, { call: 'madvise(MADV_DONTNEED)', error: 'EINVAL', why: `[0x${start.toString(16)}, 0x${end.toString(16)}) covers a hugetlb mapping of ${mm.name}, and this kernel zaps no VM_HUGETLB VMA before 90e7e7f5ef3f (v5.18)` });
      return;
    }
    // madvise_dontneed_free_valid_vma (v6.18 mm/madvise.c l.891-902): the start must be huge-page
    // aligned, and the end is rounded down to a huge page.
    const sz = huge.file!.hpageBytes;
    if (start % sz !== 0n) {
      k.observer.refused(op, { call: 'madvise(MADV_DONTNEED)', error: 'EINVAL', why: `0x${start.toString(16)} is not aligned to the ${huge.file!.pagesize} pages of the hugetlb mapping` });
      return;
    }
    zapEnd = start + (((end - start) / sz) * sz);
    if (zapEnd === start) {
      k.observer.opReturned(op, [mm], start, start);
      return;
    }
  }
  yield* mm.mmapLock.downRead(op);
  try {
    yield { step: 'zap' };
    const release = yield* hugetlbZapBegin(k, op, vmas);
    const tlb = tlbGatherMmu(mm, start, zapEnd);
    for (const v of vmas) yield* unmapSingleVma(k, op, tlb, v, start, zapEnd, advice === 'free' ? 'free' : 'zap');
    yield { step: 'unlock' };
    release();
    yield { step: 'flush' };
    tlbFinishMmuFlush(k, op, tlb);
    yield { step: 'free' };
    tlbFinishMmuFree(k, tlb, `MADV_${advice.toUpperCase()} in ${mm.name}`);
  } finally {
    mm.mmapLock.upRead(op);
  }
  k.observer.opReturned(op, [mm], start, zapEnd);
}
