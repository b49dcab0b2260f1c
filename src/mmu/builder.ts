// Building and editing real x86-64 page tables in the machine's table pool: frames come from a free
// list (or the pool's untouched tail, which grows with the memory when exhausted), entries are
// stored atomically because CPUs in other threads may be walking them. Freeing a table moves its
// generation, so a paging-structure-cache entry still pointing at it is seen by the oracle.
import type { Machine } from './machine.ts';
import { ArgumentError, TableAddressError } from './errors.ts';
import { PAGE_SHIFT, type PageSize } from './model.ts';

export const PTE = {
  P: 1n, RW: 1n << 1n, US: 1n << 2n, PWT: 1n << 3n, PCD: 1n << 4n, A: 1n << 5n, D: 1n << 6n,
  PS: 1n << 7n, G: 1n << 8n, XD: 1n << 63n,
} as const;
const PK_SHIFT = 59n;

export interface MapFlags {
  writable?: boolean; // R/W, default true
  user?: boolean; // U/S, default true
  executable?: boolean; // XD clear, default true
  global?: boolean; // G, default false
  pk?: number; // protection key 0..15, default 0
  accessed?: boolean; // A already set, default false
  dirty?: boolean; // D already set, default false
}

export interface Translation {
  pa: bigint;
  size: PageSize;
  leaf: bigint; // the leaf entry
  leafAddress: bigint; // its physical address
}

/** Level numbers: 4 PML5, 3 PML4, 2 PDPT, 1 PD, 0 PT. The leaf level of each page size: */
const LEAF_LEVEL: Record<PageSize, number> = { '4K': 0, '2M': 1, '1G': 2 };

const hex = (v: bigint) => `0x${v.toString(16)}`;

export class PageTables {
  private readonly allocated: Uint8Array[] = []; // one byte per pool frame, in chunks of 4096 frames as the pool grows
  private readonly free: bigint[] = [];
  private next = 0n; // first frame never handed out
  private inUse = 0;

  constructor(readonly machine: Machine) {}

  /** Frames currently holding page tables. */
  get tablesInUse(): number {
    return this.inUse;
  }

  private frameIndex(pa: bigint): number {
    const { base, bytes } = this.machine.pool;
    if (typeof pa !== 'bigint') throw new TableAddressError(`a table address must be a BigInt (got ${String(pa)})`);
    if ((pa & 0xfffn) !== 0n) throw new TableAddressError(`table address ${hex(pa)} is not 4 KiB aligned`);
    if (pa < base || pa >= base + bytes) throw new TableAddressError(`table address ${hex(pa)} is outside the table pool [${hex(base)}, ${hex(base + bytes)})`);
    return Number((pa - base) >> 12n);
  }
  private isAllocated(i: number): boolean {
    return (this.allocated[i >> 12]?.[i & 0xfff] ?? 0) === 1;
  }
  private mark(i: number, v: 0 | 1): void {
    (this.allocated[i >> 12] ??= new Uint8Array(1 << 12))[i & 0xfff] = v;
  }
  private checkTable(pa: bigint): number {
    const i = this.frameIndex(pa);
    if (!this.isAllocated(i)) throw new TableAddressError(`table address ${hex(pa)} is not an allocated page table`);
    return i;
  }

  /** A zeroed 4 KiB table frame. */
  allocTable(): bigint {
    let pa = this.free.pop();
    if (pa === undefined) {
      const { base, bytes } = this.machine.pool;
      if (this.next * 4096n >= bytes) this.machine.growPool(Math.max(256, Number(bytes >> 13n)));
      pa = base + this.next * 4096n;
      this.next++;
    }
    this.machine.zeroTable(pa);
    this.mark(this.frameIndex(pa), 1);
    this.inUse++;
    return pa;
  }

  /** Returns a table frame to the pool. Its generation moves: cached pointers to it become stale. */
  freeTable(pa: bigint): void {
    const i = this.checkTable(pa);
    this.mark(i, 0);
    this.free.push(pa);
    this.inUse--;
    const slot = this.machine.slotOf(pa);
    this.machine.writeGeneration(slot, (this.machine.readGeneration(slot) + 1) & 0x7fffffff);
  }

  isTable(pa: bigint): boolean {
    try {
      return this.isAllocated(this.frameIndex(pa));
    } catch {
      return false;
    }
  }

  getEntry(table: bigint, index: number): bigint {
    this.checkTable(table);
    this.checkIndex(index);
    return this.machine.readEntry(table + BigInt(index) * 8n);
  }

  setEntry(table: bigint, index: number, value: bigint): void {
    this.checkTable(table);
    this.checkIndex(index);
    this.machine.writeEntry(table + BigInt(index) * 8n, value);
  }

  private checkIndex(index: number): void {
    if (!Number.isInteger(index) || index < 0 || index > 511) throw new ArgumentError(`entry index must be 0..511 (got ${index})`);
  }

  /** A new top-level table (PML4, or PML5 with 5-level paging). */
  newRoot(): bigint {
    return this.allocTable();
  }

  private checkVa(va: bigint, levels: 4 | 5): void {
    if (typeof va !== 'bigint' || va < 0n || va >= 1n << 64n) throw new ArgumentError(`linear address must be a BigInt in [0, 2^64) (got ${String(va)})`);
    const bits = levels === 5 ? 57n : 48n;
    const top = va >> (bits - 1n);
    if (top !== 0n && top !== (1n << (65n - bits)) - 1n) throw new ArgumentError(`linear address ${hex(va)} is not canonical for ${levels}-level paging`);
  }

  /** Physical address of the entry for `va` at `level`, creating missing tables if asked. */
  entryAddress(root: bigint, va: bigint, level: number, levels: 4 | 5 = 4, create = false): bigint | undefined {
    this.checkTable(root);
    this.checkVa(va, levels);
    let table = root;
    for (let l = levels - 1; ; l--) {
      const ea = table + ((va >> BigInt(12 + 9 * l)) & 511n) * 8n;
      if (l === level) return ea;
      const e = this.machine.readEntry(ea);
      if ((e & PTE.P) === 0n) {
        if (!create) return undefined;
        const t = this.allocTable();
        // Upper levels are permissive, as Linux makes them: rights are decided at the leaf.
        this.machine.writeEntry(ea, t | PTE.P | PTE.RW | PTE.US);
        table = t;
        continue;
      }
      if ((e & PTE.PS) !== 0n && l <= 2) throw new TableAddressError(`${hex(va)} is already mapped by a large page at level ${l}`);
      table = e & 0x000f_ffff_ffff_f000n;
      this.checkTable(table);
    }
  }

  /** Maps the page of `size` at `va` to the frame `pa`. */
  map(root: bigint, va: bigint, pa: bigint, size: PageSize, flags: MapFlags = {}, levels: 4 | 5 = 4): bigint {
    const shift = PAGE_SHIFT[size];
    if (shift === undefined) throw new ArgumentError(`page size must be 4K, 2M or 1G (got ${String(size)})`);
    const mask = (1n << shift) - 1n;
    if ((va & mask) !== 0n) throw new ArgumentError(`linear address ${hex(va)} is not aligned to ${size}`);
    if (typeof pa !== 'bigint' || (pa & mask) !== 0n || pa < 0n) throw new ArgumentError(`physical address ${String(pa)} is not aligned to ${size}`);
    if (pa >= 1n << BigInt(this.machine.layout.maxphyaddr)) throw new ArgumentError(`physical address ${hex(pa)} is beyond MAXPHYADDR ${this.machine.layout.maxphyaddr}`);
    const pk = flags.pk ?? 0;
    if (!Number.isInteger(pk) || pk < 0 || pk > 15) throw new ArgumentError(`protection key must be 0..15 (got ${pk})`);
    const ea = this.entryAddress(root, va, LEAF_LEVEL[size], levels, true)!;
    const old = this.machine.readEntry(ea);
    if ((old & PTE.P) !== 0n) throw new TableAddressError(`${hex(va)} is already mapped (entry ${hex(old)})`);
    const leaf = pa | PTE.P
      | (flags.writable ?? true ? PTE.RW : 0n)
      | (flags.user ?? true ? PTE.US : 0n)
      | (flags.executable ?? true ? 0n : PTE.XD)
      | (flags.global ? PTE.G : 0n)
      | (flags.accessed ? PTE.A : 0n)
      | (flags.dirty ? PTE.D : 0n)
      | (size === '4K' ? 0n : PTE.PS)
      | (BigInt(pk) << PK_SHIFT);
    this.machine.writeEntry(ea, leaf);
    return ea;
  }

  /** Clears the leaf entry of `size` at `va`; returns the old entry (0 if nothing was mapped). */
  unmap(root: bigint, va: bigint, size: PageSize, levels: 4 | 5 = 4): bigint {
    const ea = this.entryAddress(root, va, LEAF_LEVEL[size], levels, false);
    if (ea === undefined) return 0n;
    const old = this.machine.readEntry(ea);
    this.machine.writeEntry(ea, 0n);
    return old;
  }

  /** What the tables say for `va`, without touching A/D bits or rights (a software walk). */
  lookup(root: bigint, va: bigint, levels: 4 | 5 = 4): Translation | undefined {
    this.checkTable(root);
    this.checkVa(va, levels);
    let table = root;
    for (let l = levels - 1; l >= 0; l--) {
      const ea = table + ((va >> BigInt(12 + 9 * l)) & 511n) * 8n;
      const e = this.machine.readEntry(ea);
      if ((e & PTE.P) === 0n) return undefined;
      if (l === 0 || ((e & PTE.PS) !== 0n && l <= 2)) {
        const size: PageSize = l === 0 ? '4K' : l === 1 ? '2M' : '1G';
        const shift = PAGE_SHIFT[size];
        const frame = e & 0x000f_ffff_ffff_f000n & ~((1n << shift) - 1n);
        return { pa: frame | (va & ((1n << shift) - 1n)), size, leaf: e, leafAddress: ea };
      }
      table = e & 0x000f_ffff_ffff_f000n;
      if (!this.isTable(table)) return undefined;
    }
    return undefined;
  }
}
