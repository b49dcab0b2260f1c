// struct hstate, one per huge page size: how many pages the pool can still give (free_huge_pages)
// and how many of those are promised to mappings (resv_huge_pages). The kernel keeps a pool per size,
// sized by nr_hugepages; the model's pool is the huge zone of simulated physical memory, which 2 MiB
// and 1 GiB pages share the way PhysicalMemory hands them out: a 2 MiB page takes any free 2 MiB chunk,
// a 1 GiB page a 1 GiB block with no chunk in use. Reservations are counted per size only, so a
// 2 MiB reservation does not hold back a 1 GiB block (nor the other way round).
import type { PageSize } from '../mmu/model.ts';

const M2 = 1n << 21n;
const CHUNKS_PER_GB = 512;

export type HugePageSize = '2M' | '1G';

export class Hstates {
  private used2m = 0;
  private used1g = 0;
  /** 2 MiB pages in use per 1 GiB block: a block with any is no longer a free 1 GiB page. */
  private readonly chunksInBlock = new Map<number, number>();
  /** resv_huge_pages per size. */
  readonly resvHugePages: Record<HugePageSize, number> = { '2M': 0, '1G': 0 };
  private readonly totalChunks: number;
  private readonly fullBlocks: number;

  constructor(private readonly hugeBase: bigint, hugeEnd: bigint) {
    this.totalChunks = hugeEnd > hugeBase ? Number((hugeEnd - hugeBase) / M2) : 0;
    this.fullBlocks = Math.floor(this.totalChunks / CHUNKS_PER_GB);
  }

  /** free_huge_pages: pages of this size the pool can still hand out. */
  freeHugePages(size: HugePageSize): number {
    if (size === '2M') return this.totalChunks - this.used2m - CHUNKS_PER_GB * this.used1g;
    let blocked = 0;
    for (const [b, n] of this.chunksInBlock) if (n > 0 && b < this.fullBlocks) blocked++;
    return this.fullBlocks - this.used1g - blocked;
  }

  /** Pages not promised to any mapping: what a fault or a migration without a reservation may take. */
  unreserved(size: HugePageSize): number {
    return this.freeHugePages(size) - this.resvHugePages[size];
  }

  noteAlloc(pa: bigint, size: PageSize): void {
    if (size === '1G') this.used1g++;
    else if (size === '2M') {
      this.used2m++;
      const b = this.blockOf(pa);
      this.chunksInBlock.set(b, (this.chunksInBlock.get(b) ?? 0) + 1);
    }
  }

  noteFree(pa: bigint, size: PageSize): void {
    if (size === '1G') this.used1g--;
    else if (size === '2M') {
      this.used2m--;
      const b = this.blockOf(pa);
      const n = (this.chunksInBlock.get(b) ?? 1) - 1;
      if (n > 0) this.chunksInBlock.set(b, n);
      else this.chunksInBlock.delete(b);
    }
  }

  private blockOf(pa: bigint): number {
    return Math.floor(Number((pa - this.hugeBase) / M2) / CHUNKS_PER_GB);
  }
}
