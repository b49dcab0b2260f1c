// A secondary MMU: a device that caches translations of one address space in its own TLB, fills it
// from the CPU page tables on a miss (faulting pages in through the kernel where they are missing),
// and drops entries when the kernel's MMU notifiers tell it to. The three kinds differ only in which
// notifier calls they act on, and in whether they refuse new translations while an invalidation runs.
import type { Kernel } from '../kernel/kernel.ts';
import type { MmStruct } from '../kernel/mm_types.ts';
import type { MmuNotifier } from '../kernel/mmu_notifier.ts';
import type { Op } from '../kernel/ops.ts';
import type { PageSize } from '../mmu/model.ts';

export type DeviceKind = 'iommu' | 'kvm' | 'odp';

export interface DeviceTlbEntry {
  va: bigint; // base of the page
  size: PageSize;
  pa: bigint; // frame
  writable: boolean;
  slot: number;
  stamp: number; // frame generation when filled
  line: number; // trace line of the access that filled it
}

const SIZE_BYTES: Record<PageSize, bigint> = { '4K': 1n << 12n, '2M': 1n << 21n, '1G': 1n << 30n };

export abstract class SecondaryMmu implements MmuNotifier {
  abstract readonly kind: DeviceKind;
  readonly entries = new Map<bigint, DeviceTlbEntry>();
  readonly stats = { accesses: 0, hits: 0, fills: 0, faults: 0, invalidations: 0, entriesDropped: 0 };
  /** Invalidations in progress that forbid new translations in their range (kvm). */
  protected readonly inProgress: { start: bigint; end: bigint; op: Op | undefined }[] = [];

  constructor(readonly name: string, readonly mm: MmStruct, protected readonly k: Kernel) {}

  lookup(va: bigint): DeviceTlbEntry | undefined {
    for (const size of ['4K', '2M', '1G'] as PageSize[]) {
      const e = this.entries.get(va & ~(SIZE_BYTES[size] - 1n));
      if (e && e.size === size) return e;
    }
    return undefined;
  }

  fill(e: DeviceTlbEntry): void {
    this.entries.set(e.va, e);
    this.stats.fills++;
  }

  /** The operation whose invalidation keeps this address from being filled now, if any. */
  blockedBy(va: bigint): Op | undefined {
    return this.inProgress.find((r) => va >= r.start && va < r.end)?.op;
  }

  protected drop(start: bigint, end: bigint): void {
    this.stats.invalidations++;
    for (const [key, e] of this.entries) {
      if (e.va < end && e.va + SIZE_BYTES[e.size] > start) {
        this.entries.delete(key);
        this.stats.entriesDropped++;
      }
    }
  }

  sizeOf(e: DeviceTlbEntry): bigint {
    return SIZE_BYTES[e.size];
  }
}

/** An IOMMU with a hardware TLB (SVA/ATS): invalidated where the CPU TLB is, never at start/end. */
export class Iommu extends SecondaryMmu {
  readonly kind = 'iommu';
  invalidatePage(_mm: MmStruct, address: bigint): void {
    this.drop(address & ~0xfffn, (address & ~0xfffn) + 4096n);
  }
  invalidateSecondaryTlbs(_mm: MmStruct, start: bigint, end: bigint): void {
    this.drop(start, end === -1n ? 1n << 64n : end);
  }
}

/**
 * KVM's software MMU: range start zaps and counts an invalidation in progress; until range end, a
 * fault in the range retries (mmu_notifier_retry / mmu_invalidate_retry_gfn).
 */
export class Kvm extends SecondaryMmu {
  readonly kind = 'kvm';
  private seq = 0;
  invalidatePage(_mm: MmStruct, address: bigint): void {
    this.seq++;
    this.drop(address & ~0xfffn, (address & ~0xfffn) + 4096n);
  }
  invalidateRangeStart(_mm: MmStruct, start: bigint, end: bigint): void {
    this.inProgress.push({ start, end, op: this.k.currentOp });
    this.drop(start, end);
  }
  invalidateRangeEnd(_mm: MmStruct, start: bigint, end: bigint): void {
    this.seq++;
    const i = this.inProgress.findIndex((r) => r.start === start && r.end === end);
    if (i >= 0) this.inProgress.splice(i, 1);
  }
}

/** RDMA on-demand paging: drops its translations at range start (and on invalidate_page in v4.4). */
export class Odp extends SecondaryMmu {
  readonly kind = 'odp';
  invalidatePage(_mm: MmStruct, address: bigint): void {
    this.drop(address & ~0xfffn, (address & ~0xfffn) + 4096n);
  }
  invalidateRangeStart(_mm: MmStruct, start: bigint, end: bigint): void {
    this.drop(start, end);
  }
}

export function makeDevice(kind: DeviceKind, name: string, mm: MmStruct, k: Kernel): SecondaryMmu {
  if (kind === 'iommu') return new Iommu(name, mm, k);
  if (kind === 'kvm') return new Kvm(name, mm, k);
  return new Odp(name, mm, k);
}
