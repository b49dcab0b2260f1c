// Simulated physical memory for data pages: frames are numbers with a generation, never contents.
// 4 KiB frames come from [4 GiB, zone4k) (below 4 GiB the physical addresses are the memory itself,
// where the table pool lives); 2 MiB and 1 GiB frames from [zone4k, physmem). Allocation is
// deterministic: the same sequence of calls gives the same frames.
import type { Machine } from './machine.ts';
import { ArgumentError, OutOfMemoryError } from './errors.ts';
import type { PageSize } from './model.ts';
import { GEN_COPY_WINDOW } from '../../assembly/layout.ts';

const FOUR_GIB = 1n << 32n;
const M2 = 1n << 21n;
const G1 = 1n << 30n;
const CHUNKS_PER_GB = 512;
const hex = (v: bigint) => `0x${v.toString(16)}`;

/** Cleared maps of recycled PhysicalMemory objects, by number of chunks. */
const spareMaps = new Map<number, { chunkUsed: Uint8Array; blockUsed: Uint16Array }[]>();

export class PhysicalMemory {
  private small = { next: FOUR_GIB, free: [] as bigint[], inUse: new Set<bigint>() };
  private readonly hugeBase: bigint;
  private readonly chunkUsed: Uint8Array; // per 2 MiB chunk of the huge zone: 0 free, 1 a 2M page, 2 part of a 1G page
  private readonly blockUsed: Uint16Array; // chunks in use per 1 GiB block
  private cursor2m = 0;
  private readonly huge = new Map<bigint, PageSize>();

  constructor(readonly machine: Machine) {
    const { zone4k, physmem } = machine.layout;
    this.hugeBase = zone4k;
    const chunks = Number((physmem - zone4k) / M2);
    const spare = spareMaps.get(chunks)?.pop();
    this.chunkUsed = spare?.chunkUsed ?? new Uint8Array(chunks);
    this.blockUsed = spare?.blockUsed ?? new Uint16Array(Math.ceil(chunks / CHUNKS_PER_GB));
  }

  /**
   * This memory's kernel is gone (the explorer runs thousands of short replays): its maps of the huge
   * zone, cleared, serve the next PhysicalMemory of the same size. Clearing costs what was allocated;
   * allocating and zeroing the maps of 64 GiB cost a twentieth of an explored schedule.
   */
  recycle(): void {
    for (const [pa, size] of this.huge) {
      const c = Number((pa - this.hugeBase) / M2);
      this.chunkUsed.fill(0, c, c + (size === '2M' ? 1 : CHUNKS_PER_GB));
    }
    this.huge.clear();
    this.blockUsed.fill(0);
    const list = spareMaps.get(this.chunkUsed.length) ?? [];
    if (list.length < 4) list.push({ chunkUsed: this.chunkUsed, blockUsed: this.blockUsed });
    spareMaps.set(this.chunkUsed.length, list);
  }

  get bytesInUse(): bigint {
    let n = BigInt(this.small.inUse.size) * 4096n;
    for (const size of this.huge.values()) n += size === '2M' ? M2 : G1;
    return n;
  }

  alloc(size: PageSize): bigint {
    if (size === '4K') return this.alloc4k();
    if (size === '2M') return this.alloc2m();
    if (size === '1G') return this.alloc1g();
    throw new ArgumentError(`page size must be 4K, 2M or 1G (got ${String(size)})`);
  }

  private alloc4k(): bigint {
    let pa = this.small.free.pop();
    if (pa === undefined) {
      if (this.small.next >= this.machine.layout.zone4k) throw new OutOfMemoryError('no free 4 KiB frame left below zone4k');
      pa = this.small.next;
      this.small.next += 4096n;
    }
    this.small.inUse.add(pa);
    return pa;
  }

  private alloc2m(): bigint {
    const n = this.chunkUsed.length;
    for (let k = 0; k < n; k++) {
      const c = (this.cursor2m + k) % n;
      if (this.chunkUsed[c] !== 0) continue;
      this.chunkUsed[c] = 1;
      this.blockUsed[Math.floor(c / CHUNKS_PER_GB)]++;
      this.cursor2m = c + 1;
      const pa = this.hugeBase + BigInt(c) * M2;
      this.huge.set(pa, '2M');
      return pa;
    }
    throw new OutOfMemoryError('no free 2 MiB frame left in simulated physical memory');
  }

  private alloc1g(): bigint {
    // Whole free blocks only, from the top, so 2 MiB pages (from the bottom) leave them alone.
    for (let b = this.blockUsed.length - 1; b >= 0; b--) {
      if (this.blockUsed[b] !== 0 || (b + 1) * CHUNKS_PER_GB > this.chunkUsed.length) continue;
      this.chunkUsed.fill(2, b * CHUNKS_PER_GB, (b + 1) * CHUNKS_PER_GB);
      this.blockUsed[b] = CHUNKS_PER_GB;
      const pa = this.hugeBase + BigInt(b) * G1;
      this.huge.set(pa, '1G');
      return pa;
    }
    throw new OutOfMemoryError('no free 1 GiB frame left in simulated physical memory');
  }

  /** Frees a frame; its generation moves, so translations cached before are seen as stale. */
  free(pa: bigint): void {
    if (this.small.inUse.delete(pa)) {
      this.small.free.push(pa);
    } else {
      const size = this.huge.get(pa);
      if (size === undefined) throw new ArgumentError(`${hex(pa)} is not an allocated frame`);
      this.huge.delete(pa);
      const c = Number((pa - this.hugeBase) / M2);
      const chunks = size === '2M' ? 1 : CHUNKS_PER_GB;
      this.chunkUsed.fill(0, c, c + chunks);
      this.blockUsed[Math.floor(c / CHUNKS_PER_GB)] -= chunks;
    }
    const slot = this.machine.slotOf(pa);
    this.machine.writeGeneration(slot, (this.machine.readGeneration(slot) + 1) & 0x7fffffff);
  }

  sizeOf(pa: bigint): PageSize | undefined {
    return this.small.inUse.has(pa) ? '4K' : this.huge.get(pa);
  }

  /** Marks the frame as being copied (migration): writes to it from now on are lost writes. */
  beginCopy(pa: bigint): void {
    this.checkAllocated(pa);
    const slot = this.machine.slotOf(pa);
    this.machine.writeGeneration(slot, (this.machine.readGeneration(slot) | GEN_COPY_WINDOW) >>> 0);
  }

  endCopy(pa: bigint): void {
    this.checkAllocated(pa);
    const slot = this.machine.slotOf(pa);
    this.machine.writeGeneration(slot, (this.machine.readGeneration(slot) & ~GEN_COPY_WINDOW) >>> 0);
  }

  private checkAllocated(pa: bigint): void {
    if (this.sizeOf(pa) === undefined) throw new ArgumentError(`${hex(pa)} is not an allocated frame`);
  }
}
