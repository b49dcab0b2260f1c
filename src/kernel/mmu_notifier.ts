// MMU notifiers (mm/mmu_notifier.c) by API generation. A secondary MMU registers callbacks; which of
// them the kernel calls, and where, is the profile's:
//   - up to 4.12: invalidate_page(mm, address) after a single PTE is cleared (the ptl already dropped),
//     invalidate_range_start/end around range operations;
//   - 4.13 (369ea8242c0f, 5f32b265400d) to 6.5: start/end bracket every change, invalidate_range(start,
//     end) runs right after the CPU flush under the ptl, and range_end calls it again;
//   - 6.6 on (6bbd42e2df8f): the secondary TLB is invalidated from the x86 flush itself
//     (arch_invalidate_secondary_tlbs), no longer from range_end.
import type { FixSet } from './fixes.ts';
import type { MmStruct, MmuNotifier } from './mm_types.ts';

export type { MmuNotifier } from './mm_types.ts';

export interface NotifierStats {
  invalidatePage: number;
  rangeStart: number;
  rangeEnd: number;
  invalidateRange: number;
  archInvalidateSecondaryTlbs: number;
}

/** A notifier call as a timeline draws it: which callback, to whom, for what range. */
export type NotifierCall = 'invalidate_page' | 'invalidate_range_start' | 'invalidate_range_end' | 'invalidate_range' | 'arch_invalidate_secondary_tlbs';

export class MmuNotifiers {
  /** Told of each call to a registered notifier (a report's timeline); none by default. */
  observe: ((call: NotifierCall, mm: MmStruct, n: MmuNotifier, start: bigint, end: bigint) => void) | undefined;
  readonly stats: NotifierStats = { invalidatePage: 0, rangeStart: 0, rangeEnd: 0, invalidateRange: 0, archInvalidateSecondaryTlbs: 0 };
  constructor(private readonly fixes: FixSet) {}

  register(mm: MmStruct, n: MmuNotifier): void {
    mm.notifiers.push(n);
  }

  /** mmu_notifier_invalidate_page: gone with 5f32b265400d. */
  invalidatePage(mm: MmStruct, address: bigint): void {
    if (this.fixes.has('5f32b265400d')) throw new Error('internal: invalidate_page called by a kernel that no longer has it');
    for (const n of mm.notifiers) {
      this.stats.invalidatePage++;
      this.observe?.('invalidate_page', mm, n, address, address + 4096n);
      n.invalidatePage?.(mm, address);
    }
  }

  invalidateRangeStart(mm: MmStruct, start: bigint, end: bigint): void {
    for (const n of mm.notifiers) {
      this.stats.rangeStart++;
      this.observe?.('invalidate_range_start', mm, n, start, end);
      n.invalidateRangeStart?.(mm, start, end);
    }
  }

  /** mmu_notifier_invalidate_range_end; before 6bbd42e2df8f it calls ->invalidate_range as well. */
  invalidateRangeEnd(mm: MmStruct, start: bigint, end: bigint, onlyEnd = false): void {
    for (const n of mm.notifiers) {
      if (!onlyEnd && !this.fixes.has('6bbd42e2df8f')) {
        this.stats.invalidateRange++;
        this.observe?.('invalidate_range', mm, n, start, end);
        n.invalidateSecondaryTlbs?.(mm, start, end);
      }
      this.stats.rangeEnd++;
      this.observe?.('invalidate_range_end', mm, n, start, end);
      n.invalidateRangeEnd?.(mm, start, end);
    }
  }

  /** mmu_notifier_invalidate_range: under the ptl, right after the CPU flush (until 6.6). */
  invalidateRange(mm: MmStruct, start: bigint, end: bigint): void {
    if (this.fixes.has('6bbd42e2df8f')) return; // the arch flush did it
    for (const n of mm.notifiers) {
      this.stats.invalidateRange++;
      this.observe?.('invalidate_range', mm, n, start, end);
      n.invalidateSecondaryTlbs?.(mm, start, end);
    }
  }

  /** mmu_notifier_arch_invalidate_secondary_tlbs, from flush_tlb_mm_range (6bbd42e2df8f). */
  archInvalidateSecondaryTlbs(mm: MmStruct, start: bigint, end: bigint): void {
    for (const n of mm.notifiers) {
      this.stats.archInvalidateSecondaryTlbs++;
      this.observe?.('arch_invalidate_secondary_tlbs', mm, n, start, end);
      n.invalidateSecondaryTlbs?.(mm, start, end);
    }
  }

  /** The API generation's notifier calls for one cleared PTE (try_to_unmap_one and friends). */
  get hasRangeSemantics(): boolean {
    return this.fixes.has('369ea8242c0f');
  }
}
