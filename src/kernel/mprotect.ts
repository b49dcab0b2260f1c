// mm/mprotect.c and hugetlb_change_protection: steps `change`, `flush`, `unlock`. Without d833352a4338
// the hugetlb flush came after i_mmap_rwsem was released, so the steps run `change`, `unlock`, `flush`.
import { thpMappedIn } from './huge_memory.ts';
import type { Kernel } from './kernel.ts';
import type { MmStruct, Prot, VmArea } from './mm_types.ts';
import type { Op, OpGen } from './ops.ts';
import { _PAGE_DIRTY, _PAGE_RW, _PAGE_NX, hugePteOffset, isMigrationEntry, ptePresent, readEntry, setEntry, swpEntryToPte, SWP_MIGRATION_READ, walkTo } from './pgtable.ts';
import { adjustRangeIfPmdSharingPossible, hugePmdUnshare, PUD_MASK, PUD_SIZE } from './hugetlb.ts';
import { KernelRefusal, vmasExactlySplitting } from './mmap.ts';
import { flushTlbMmRange } from './tlbflush.ts';

function newEntry(e: bigint, prot: Prot): bigint {
  let n = e;
  if (!prot.w) n &= ~_PAGE_RW;
  else if ((e & _PAGE_DIRTY) !== 0n) n |= _PAGE_RW; // a dirty page may be writable at once
  if (prot.x) n &= ~_PAGE_NX;
  else n |= _PAGE_NX;
  return n;
}

/**
 * change_pmd_range / change_pte_range over a 4 KiB VMA range; returns the number of entries changed
 * and widens `changed` to cover them. The secondary MMUs hear invalidate_range_start from the first
 * populated PMD to the end of the range and invalidate_range_end after it, before the CPU flush (v4.4
 * mm/mprotect.c l.156-187, v4.19 l.186-218; v6.18 brackets each populated PUD range the same way in
 * change_pud_range, l.607-635).
 */
function changePteRange(k: Kernel, op: Op, vma: VmArea, start: bigint, end: bigint, prot: Prot, changed: { lo: bigint; hi: bigint }): number {
  const mm = vma.mm;
  k.flushTlbBatchedPendingOnce(op.cpu, mm);
  let pages = 0;
  let mniStart: bigint | undefined;
  for (let va = start; va < end; va += 4096n) {
    const ptep = walkTo(k, mm, va, 'pte');
    if (ptep === undefined) continue;
    if (mniStart === undefined) {
      mniStart = va;
      k.notifiers.invalidateRangeStart(mm, mniStart, end);
    }
    const e = readEntry(k, ptep);
    if (!ptePresent(e)) continue;
    const n = newEntry(e, prot);
    if (n === e) continue;
    setEntry(k, mm, va, 'pte', ptep, n, 'change_pte_range');
    if (changed.lo < 0n || va < changed.lo) changed.lo = va;
    if (va + 4096n > changed.hi) changed.hi = va + 4096n;
    pages++;
  }
  if (mniStart !== undefined) k.notifiers.invalidateRangeEnd(mm, mniStart, end);
  return pages;
}

export function* sysMprotect(k: Kernel, op: Op, mm: MmStruct, start: bigint, len: bigint, prot: Prot): OpGen {
  const end = start + len;
  yield* mm.mmapLock.downWrite(op);
  try {
    const vmas = yield* vmasExactlySplitting(k, op, mm, start, end);
    if (!vmas.length || vmas[0].start > start || vmas[vmas.length - 1].end < end) {
      throw new KernelRefusal(`mprotect of [0x${start.toString(16)}, 0x${end.toString(16)}): not all of it is mapped`);
    }
    const thp = thpMappedIn(k, mm, start, end);
    if (thp !== undefined) throw new KernelRefusal(`mprotect of the transparent huge page at 0x${thp.toString(16)} (change_huge_pmd) is not modelled`);
    yield { step: 'change' };
    const hugetlb = vmas.filter((v) => v.isHugetlb);
    const anon = vmas.filter((v) => !v.isHugetlb);
    // change_protection_range marks a flush pending on the mm until its flush is done (v4.4
    // mm/mprotect.c l.227/239 set/clear_tlb_flush_pending; v4.19 l.278/290 inc/dec_tlb_flush_pending,
    // which a concurrent zap's tlb_finish_mmu counts as a nested gather, 99baac21e458).
    if (anon.length) mm.tlbFlushPending++;
    // 4a18419f71cd (v5.19): one mmu_gather for the whole call flushes once, the span of the entries
    // that changed (tlb_flush_pte_range), whatever VMAs they are in. Before it, change_protection_range
    // flushed each VMA's range in which an entry changed.
    const changed = { lo: -1n, hi: -1n };
    const changedVmas: VmArea[] = [];
    for (const v of anon) {
      if (changePteRange(k, op, v, v.start, v.end, prot, changed)) changedVmas.push(v);
      v.prot = { ...prot };
    }
    const flushAnon = () => {
      if (!k.fixes.has('4a18419f71cd')) for (const v of changedVmas) k.flushTlbRangeOf(op.cpu, v, v.start, v.end);
      // tlb_finish_mmu: the gather's range, no page table freed (so no IPI to a CPU on another mm).
      else if (changed.lo >= 0n) flushTlbMmRange(k, op.cpu, mm, changed.lo, changed.hi, 12n, false);
    };
    // hugetlb_change_protection, one VMA at a time.
    const flushes: (() => void)[] = [];
    const unlocks: (() => void)[] = [];
    for (const v of hugetlb) {
      const r = yield* hugetlbChangeProtection(k, op, v, prot);
      flushes.push(r.flush);
      unlocks.push(r.unlock);
      v.prot = { ...prot };
    }
    if (k.fixes.has('d833352a4338')) {
      yield { step: 'flush' };
      for (const f of flushes) f();
      flushAnon();
      if (anon.length) mm.tlbFlushPending--;
      yield { step: 'unlock' };
      for (const u of unlocks) u();
    } else {
      yield { step: 'unlock' };
      for (const u of unlocks) u();
      yield { step: 'flush' };
      for (const f of flushes) f();
      flushAnon();
      if (anon.length) mm.tlbFlushPending--;
    }
  } finally {
    mm.mmapLock.upWrite(op);
  }
  k.observer.opReturned(op, [mm], start, end);
}

/**
 * hugetlb_change_protection: the entries change under i_mmap_rwsem (and the VMA lock from v6.1); a
 * shared PMD page is unshared instead. Returns the flush (with its notifier call) and the unlock, which
 * the caller orders as its kernel does.
 */
function* hugetlbChangeProtection(k: Kernel, op: Op, vma: VmArea, prot: Prot): OpGen<{ flush: () => void; unlock: () => void }> {
  const mm = vma.mm;
  const file = vma.file!;
  const sz = file.hpageBytes;
  const { start, end } = vma;
  let [fStart, fEnd] = [start, end];
  // dff11abe280b: unsharing unmaps a whole PUD, so the flush and the notifiers must cover it.
  if (k.fixes.has('dff11abe280b')) [fStart, fEnd] = adjustRangeIfPmdSharingPossible(k, vma, start, end);
  k.notifiers.invalidateRangeStart(mm, fStart, fEnd);
  const vmaLocked = vma.shared && k.fixes.has('40549ba8f8e0');
  if (vmaLocked) yield* vma.vmaLock.downWrite(op);
  yield* file.iMmapRwsem.downWrite(op);
  let sharedPmd = false;
  for (let addr = start; addr < end; addr += sz) {
    const ptep = hugePteOffset(k, mm, addr, file.pagesize);
    if (ptep === undefined) continue;
    if (yield* hugePmdUnshare(k, op, mm, vma, addr, ptep, 'flush_tlb_range', k.fixes.has('d833352a4338'))) {
      sharedPmd = true;
      // mprotect works on a VMA split to exactly its range, so dff11abe280b's widening (to PUDs inside
      // the VMA) never reaches past it here: what a split leaves shared is 081056dc00a2's (hugetlbSplit).
      const base = addr & PUD_MASK;
      addr = base + PUD_SIZE - sz;
      continue;
    }
    const e = readEntry(k, ptep);
    const level = file.pagesize === '2M' ? 'pmd' : 'pud';
    if (isMigrationEntry(k, e)) {
      if (!prot.w) setEntry(k, mm, addr, level, ptep, swpEntryToPte(k, SWP_MIGRATION_READ, k.swpOffsetOf(e)), 'hugetlb_change_protection');
      continue;
    }
    if (!ptePresent(e)) continue;
    const n = newEntry(e, prot);
    if (n !== e) setEntry(k, mm, addr, level, ptep, n, 'hugetlb_change_protection');
  }
  if (!k.fixes.has('d833352a4338')) {
    k.observer.missedFix('d833352a4338', {
      mms: [mm], start: fStart, end: fEnd,
      text: `mprotect released i_mmap_rwsem before flushing ${mm.name}'s TLBs, so another process could free the page table or pages it still caches; fix d833352a4338 flushes first`,
    });
  }
  const flush = () => {
    // flush_hugetlb_tlb_range, then mmu_notifier_invalidate_range (under i_mmap in the fixed order).
    const [a, b] = sharedPmd ? [fStart, fEnd] : [start, end];
    k.flushTlbRangeOf(op.cpu, vma, a, b);
    k.notifiers.invalidateRange(mm, a, b);
    k.notifiers.invalidateRangeEnd(mm, fStart, fEnd, true);
  };
  const unlock = () => {
    file.iMmapRwsem.upWrite(op);
    if (vmaLocked) vma.vmaLock.upWrite(op);
  };
  return { flush, unlock };
}
