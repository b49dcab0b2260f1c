// Focused tests of the reference model alone (src/mmu/reference.ts) against docs/hardware.md.
// Each test builds its page tables by hand in a small pool and checks exact results.
import { describe, it, expect } from 'vitest';
import * as L from '../assembly/layout.ts';
import { KIND, type MachineConfig, type PageSize } from '../src/mmu/model.ts';
import { ReferenceMachine } from '../src/mmu/reference.ts';
import { ArgumentError, TableAddressError } from '../src/mmu/errors.ts';

// Entry flags (SDM vol. 3A §4.5).
const P = 1n, RW = 2n, US = 4n, A = 0x20n, D = 0x40n, PS = 0x80n, G = 0x100n, XD = 1n << 63n;
const pkey = (k: number) => BigInt(k) << 59n;
// Register bits.
const CR0_WP = 1n << 16n;
const CR4_PGE = 1n << 7n, CR4_PCIDE = 1n << 17n, CR4_SMEP = 1n << 20n, CR4_SMAP = 1n << 21n, CR4_PKE = 1n << 22n;
const EFER_NXE = 1n << 11n;
const RFLAGS_AC = 1n << 18n;
const NOFLUSH = 1n << 63n;

const R = KIND.read, W = KIND.write, X = KIND.fetch;
const S = KIND.supervisor;

const BASE = 0x100000n;
const FRAMES = 32;

function machine(config: Partial<MachineConfig> = {}): ReferenceMachine {
  return new ReferenceMachine({ ncpus: 1, ...config }, { base: Number(BASE), bytes: new Uint8Array(FRAMES * 4096) });
}

/** Builds 4- or 5-level tables in the machine's pool; frame 0 is the root. */
class Tables {
  private next = 0;
  readonly root: bigint;
  constructor(
    readonly m: ReferenceMachine,
    readonly levels: 4 | 5 = 4,
  ) {
    this.root = this.alloc();
  }
  alloc(): bigint {
    if (this.next >= FRAMES) throw new Error('pool exhausted');
    return BASE + BigInt(this.next++) * 4096n;
  }
  /**
   * Maps `la` to frame `pa` with a leaf of `size` carrying `leaf` flags (PS added for 2M/1G);
   * missing tables are created with `upper` flags. Returns the entry addresses, top level first.
   */
  map(la: bigint, pa: bigint, { size = '4K' as PageSize, leaf = P | RW | US, upper = P | RW | US } = {}): bigint[] {
    const shifts = (this.levels === 5 ? [48n, 39n, 30n, 21n, 12n] : [39n, 30n, 21n, 12n]);
    const leafShift = { '4K': 12n, '2M': 21n, '1G': 30n }[size];
    const entries: bigint[] = [];
    let table = this.root;
    for (const shift of shifts) {
      const entry = table + ((la >> shift) & 0x1ffn) * 8n;
      entries.push(entry);
      if (shift === leafShift) {
        this.m.writeEntry(entry, pa | leaf | (size === '4K' ? 0n : PS));
        return entries;
      }
      let value = this.m.readEntry(entry);
      if ((value & P) === 0n) {
        value = this.alloc() | upper;
        this.m.writeEntry(entry, value);
      }
      table = value & 0xffffffffff000n;
    }
    throw new Error('unreachable');
  }
}

function setup(config: Partial<MachineConfig> = {}, levels: 4 | 5 = 4) {
  const m = machine(config);
  if (levels === 5) m.setPagingLevels(0, 5);
  const t = new Tables(m, levels);
  expect(m.writeCr3(0, t.root)).toBe(true);
  return { m, t };
}

/** The CPU's xorshift32, written independently of the model. */
function xorshift(x: number): number {
  x = (x ^ (x << 13)) >>> 0;
  x = (x ^ (x >>> 17)) >>> 0;
  return (x ^ (x << 5)) >>> 0;
}

const pageFault = (errorCode: number, cr2: bigint) => ({ status: 'page-fault', errorCode, cr2 });

describe('translation', () => {
  it('translates a 4 KiB page and fills the TLB and the paging-structure caches', () => {
    const { m, t } = setup();
    const la = 0x4000_1234n; // PML4 0, PDPT 1, PD 0, PT 1
    const entries = t.map(la, 0x5555_5000n);
    expect(m.access(0, la, R)).toEqual({ status: 'ok', pa: 0x5555_5234n });
    expect(m.tlbEntries(0)).toEqual([
      { array: 'dtlb4k', set: 1, way: 0, size: '4K', page: 0x40001n, pcid: 0, global: false, frame: 0x5555_5000n,
        w: true, u: true, xd: false, d: false, pk: 0, slot: 0x55555, stamp: 0 },
    ]);
    // One entry per non-leaf entry read, with the table it points to (retentive geometry).
    expect(m.pscEntries(0)).toEqual([
      { array: 'pml4', set: 0, way: 0, page: 0n, pcid: 0, table: BASE + 0x1000n, w: true, u: true, xd: false, src: entries[0], slot: 0x101, stamp: 0 },
      { array: 'pdpte', set: 1, way: 0, page: 1n, pcid: 0, table: BASE + 0x2000n, w: true, u: true, xd: false, src: entries[1], slot: 0x102, stamp: 0 },
      { array: 'pde', set: 0, way: 0, page: 0x200n, pcid: 0, table: BASE + 0x3000n, w: true, u: true, xd: false, src: entries[2], slot: 0x103, stamp: 0 },
    ]);
    const c = m.counters(0);
    expect([c.accesses, c.reads, c.tlbMisses, c.walks, c.walkLoads, c.aSets, c.dSets]).toEqual([1n, 1n, 1n, 1n, 4n, 4n, 0n]);
    // Second access: an L1 hit, no walk.
    expect(m.access(0, la + 8n, R)).toEqual({ status: 'ok', pa: 0x5555_523cn });
    expect(m.counters(0).dtlb4kHits).toBe(1n);
    expect(m.counters(0).walks).toBe(1n);
  });

  it('translates a 2 MiB page', () => {
    const { m, t } = setup();
    const la = 0x8065_4321n; // PDPT 2, PD 3
    t.map(la, 0x4000_0000n, { size: '2M' });
    expect(m.access(0, la, W | S)).toEqual({ status: 'ok', pa: 0x4005_4321n });
    expect(m.tlbEntries(0)).toMatchObject([{ array: 'dtlb2m', set: 3, way: 0, size: '2M', page: 0x403n, frame: 0x4000_0000n, d: true }]);
    expect(m.pscEntries(0).map((e) => e.array)).toEqual(['pml4', 'pdpte']);
    expect(m.counters(0).walkLoads).toBe(3n);
  });

  it('translates a 1 GiB page', () => {
    const { m, t } = setup();
    const la = 0x80_1234_5678n; // PML4 1, PDPT 0
    t.map(la, 0x1_4000_0000n, { size: '1G' });
    expect(m.access(0, la, R)).toEqual({ status: 'ok', pa: 0x1_5234_5678n });
    expect(m.tlbEntries(0)).toMatchObject([{ array: 'dtlb1g', set: 0, way: 0, size: '1G', page: 0x200n, frame: 0x1_4000_0000n }]);
    expect(m.pscEntries(0).map((e) => e.array)).toEqual(['pml4']);
  });

  it('walks five levels with LA57', () => {
    const { m, t } = setup({}, 5);
    const la = 0x01_0000_4000_1000n; // PML5 1
    t.map(la, 0x7000n);
    expect(m.access(0, la, R)).toEqual({ status: 'ok', pa: 0x7000n });
    expect(m.counters(0).walkLoads).toBe(5n);
    expect(m.pscEntries(0).map((e) => [e.array, e.page])).toEqual([['pml5', 1n], ['pml4', 0x200n], ['pdpte', 0x40001n], ['pde', 0x8000_200n]]);
    expect(m.readCr(0).cr4 & (1n << 12n)).toBe(1n << 12n);
    expect(m.counters(0).cr4Flush).toBe(1n); // setPagingLevels flushes everything
  });

  it('keeps 4 KiB and 2 MiB STLB entries apart', () => {
    // A 2 MiB entry for page number 1 (LA 0x200000) must not serve the 4 KiB page number 1 (LA 0x1000).
    const { m, t } = setup({ mode: 'capacity', geometry: { dtlb4k: { sets: 0, ways: 0 }, dtlb2m: { sets: 0, ways: 0 } } });
    t.map(0x20_0000n, 0x4000_0000n, { size: '2M' });
    t.map(0x1000n, 0xa000n);
    m.access(0, 0x20_0000n, R);
    expect(m.access(0, 0x1000n, R)).toEqual({ status: 'ok', pa: 0xa000n });
    expect(m.counters(0).tlbMisses).toBe(2n);
    expect(m.tlbEntries(0).map((e) => [e.array, e.set, e.size, e.page])).toEqual([['stlb', 1, '2M', 1n], ['stlb', 1, '4K', 1n]]);
  });

  it('restarts a walk whose A-bit update finds the entry changed', () => {
    // PML4[5] points to the PML4 itself: one entry read at all four levels. Setting its A bit at
    // the top changes what the next level read, so the compare-and-swap there fails.
    const { m, t } = setup();
    const self = t.root + 5n * 8n;
    m.writeEntry(self, t.root | P | RW | US);
    const la = (5n << 39n) | (5n << 30n) | (5n << 21n) | (5n << 12n) | 0x28n;
    expect(m.access(0, la, R)).toEqual({ status: 'ok', pa: t.root | 0x28n });
    const c = m.counters(0);
    expect([c.walks, c.walkRestarts, c.walkLoads, c.aSets]).toEqual([1n, 1n, 8n, 1n]);
    expect(m.readEntry(self)).toBe(t.root | P | RW | US | A);
    expect(m.pscEntries(0).map((e) => [e.array, e.table, e.src])).toEqual([['pml4', t.root, self], ['pdpte', t.root, self], ['pde', t.root, self]]);
  });

  it('reads a table outside the pool as zeros', () => {
    const m = machine(); // CR3 = 0 at reset, below the pool
    expect(m.access(0, 0x1000n, R)).toEqual(pageFault(L.PF_US, 0x1000n));
    expect(m.counters(0).walkLoads).toBe(1n);
    expect(() => m.readEntry(0n)).toThrow(TableAddressError);
    expect(() => m.writeEntry(BASE + BigInt(FRAMES * 4096), 0n)).toThrow(TableAddressError);
  });

  it('copies an STLB hit into the L1 array', () => {
    const { m, t } = setup({ mode: 'capacity', geometry: { dtlb4k: { sets: 1, ways: 1 } } });
    t.map(0x1000n, 0xa000n);
    t.map(0x2000n, 0xb000n);
    m.access(0, 0x1000n, R);
    m.access(0, 0x2000n, R); // evicts 0x1000 from the 1-way L1 (victim way 0)
    expect(m.access(0, 0x1000n, R)).toEqual({ status: 'ok', pa: 0xa000n });
    const c = m.counters(0);
    expect([c.stlb4kHits, c.dtlb4kHits, c.tlbMisses]).toEqual([1n, 0n, 2n]);
    expect(m.tlbEntries(0).map((e) => [e.array, e.set, e.way, e.page])).toEqual([
      ['dtlb4k', 0, 0, 1n],
      ['stlb', 1, 0, 1n],
      ['stlb', 2, 0, 2n],
    ]);
  });
});

describe('faults', () => {
  it('reports a not-present fault with W/R, U/S and I/D', () => {
    const { m } = setup();
    expect(m.access(0, 0x1000n, W)).toEqual(pageFault(L.PF_WR | L.PF_US, 0x1000n));
    expect(m.access(0, 0x2000n, X | S)).toEqual(pageFault(L.PF_ID, 0x2000n));
    const c = m.counters(0);
    expect([c.pageFaults, c.pfInvalidations, c.walkLoads, c.aSets]).toEqual([2n, 2n, 2n, 0n]);
    expect(m.tlbEntries(0)).toEqual([]);
  });

  it('raises #GP(0) for a non-canonical address, with no walk', () => {
    const { m } = setup();
    expect(m.access(0, 0x8000_0000_0000n, R)).toEqual({ status: 'general-protection' });
    expect(m.counters(0).gpFaults).toBe(1n);
    expect(m.counters(0).walks).toBe(0n);
  });

  it('reports reserved bits: bit 51:M, and XD without NXE', () => {
    const { m, t } = setup(); // M = 46
    const entries = t.map(0x1000n, 0x5000n | (1n << 51n));
    expect(m.access(0, 0x1000n, R)).toEqual(pageFault(L.PF_P | L.PF_RSVD | L.PF_US, 0x1000n));
    // A faulting walk sets no A bit.
    expect(m.readEntry(entries[0]!) & A).toBe(0n);

    t.map(0x2000n, 0x6000n, { leaf: P | RW | XD });
    expect(m.access(0, 0x2000n, R | S)).toEqual({ status: 'ok', pa: 0x6000n }); // NXE = 1 at reset
    expect(m.writeEfer(0, 0n)).toBe(true);
    m.invlpg(0, 0x2000n);
    expect(m.access(0, 0x2000n, W | S)).toEqual(pageFault(L.PF_P | L.PF_RSVD | L.PF_WR, 0x2000n));
  });

  it('reports reserved bits in large-page entries and PS in a PML4E', () => {
    const { m, t } = setup();
    t.map(0x4020_0000n, 0x20_0000n | (1n << 13n), { size: '2M' }); // bits 20:13 of a 2 MiB PDE
    expect(m.access(0, 0x4020_0000n, R)).toEqual(pageFault(L.PF_P | L.PF_RSVD | L.PF_US, 0x4020_0000n));
    m.writeEntry(t.root + 8n * 3n, 0x1000_0000n | P | RW | US | PS); // PS in a PML4E
    expect(m.access(0, 0x180_0000_0000n, R | S)).toEqual(pageFault(L.PF_P | L.PF_RSVD, 0x180_0000_0000n));
  });

  it('rejects 1 GiB pages without page1gb', () => {
    const { m, t } = setup({ page1gb: false });
    t.map(0x4000_0000n, 0x4000_0000n, { size: '1G' });
    expect(m.access(0, 0x4000_0000n, R)).toEqual(pageFault(L.PF_P | L.PF_RSVD | L.PF_US, 0x4000_0000n));
  });

  it('checks U/S, and R/W with CR0.WP on and off', () => {
    const { m, t } = setup();
    t.map(0x1000n, 0xa000n, { leaf: P | RW }); // supervisor page
    t.map(0x2000n, 0xb000n, { leaf: P | US }); // read-only user page
    expect(m.access(0, 0x1000n, R)).toEqual(pageFault(L.PF_P | L.PF_US, 0x1000n));
    expect(m.access(0, 0x1000n, W | S)).toEqual({ status: 'ok', pa: 0xa000n });
    expect(m.access(0, 0x2000n, W)).toEqual(pageFault(L.PF_P | L.PF_WR | L.PF_US, 0x2000n));

    // Supervisor write to a read-only page: refused with WP = 1, from the cached rights too.
    expect(m.access(0, 0x2000n, R | S)).toEqual({ status: 'ok', pa: 0xb000n });
    expect(m.access(0, 0x2000n, W | S)).toEqual(pageFault(L.PF_P | L.PF_WR, 0x2000n));
    expect(m.counters(0).dtlb4kHits).toBe(1n);
    // The fault removed the entry.
    expect(m.tlbEntries(0).map((e) => e.page)).toEqual([1n]);

    expect(m.writeCr0(0, 0n)).toBe(true);
    expect(m.access(0, 0x2000n, W | S)).toEqual({ status: 'ok', pa: 0xb000n });
    expect(m.access(0, 0x2000n, W)).toEqual(pageFault(L.PF_P | L.PF_WR | L.PF_US, 0x2000n));
  });

  it('honours SMAP with RFLAGS.AC', () => {
    const { m, t } = setup();
    t.map(0x1000n, 0xa000n);
    expect(m.writeCr4(0, CR4_PGE | CR4_SMAP)).toBe(true);
    expect(m.access(0, 0x1000n, R | S)).toEqual(pageFault(L.PF_P, 0x1000n));
    expect(m.access(0, 0x1000n, W | S)).toEqual(pageFault(L.PF_P | L.PF_WR, 0x1000n));
    expect(m.access(0, 0x1000n, R)).toEqual({ status: 'ok', pa: 0xa000n }); // user access: not SMAP's business
    expect(m.writeRflags(0, RFLAGS_AC)).toBe(true);
    expect(m.access(0, 0x1000n, W | S)).toEqual({ status: 'ok', pa: 0xa000n });
  });

  it('honours SMEP and XD on fetches', () => {
    const { m, t } = setup();
    t.map(0x1000n, 0xa000n); // user page
    t.map(0x2000n, 0xb000n, { leaf: P | RW | US | XD });
    expect(m.access(0, 0x1000n, X | S)).toEqual({ status: 'ok', pa: 0xa000n });
    expect(m.writeCr4(0, CR4_PGE | CR4_SMEP)).toBe(true); // SMEP 0 → 1 flushes the current PCID
    expect(m.tlbEntries(0)).toEqual([]);
    expect(m.counters(0).cr4Flush).toBe(1n);
    expect(m.access(0, 0x1000n, X | S)).toEqual(pageFault(L.PF_P | L.PF_ID, 0x1000n));
    expect(m.access(0, 0x1000n, X)).toEqual({ status: 'ok', pa: 0xa000n });
    expect(m.access(0, 0x2000n, X)).toEqual(pageFault(L.PF_P | L.PF_US | L.PF_ID, 0x2000n));
  });

  it('checks protection keys', () => {
    const { m, t } = setup();
    t.map(0x1000n, 0xa000n, { leaf: P | RW | US | pkey(5) });
    expect(m.writeCr4(0, CR4_PGE | CR4_PKE)).toBe(true);
    expect(m.writePkru(0, 1 << 10)).toBe(true); // AD5
    expect(m.access(0, 0x1000n, R)).toEqual(pageFault(L.PF_P | L.PF_US | L.PF_PK, 0x1000n));
    expect(m.access(0, 0x1000n, R | S)).toEqual(pageFault(L.PF_P | L.PF_PK, 0x1000n));
    expect(m.access(0, 0x1000n, X)).toEqual({ status: 'ok', pa: 0xa000n }); // fetches ignore keys
    expect(m.tlbEntries(0)).toMatchObject([{ pk: 5 }]);

    m.writePkru(0, 1 << 11); // WD5
    expect(m.access(0, 0x1000n, R)).toEqual({ status: 'ok', pa: 0xa000n });
    expect(m.access(0, 0x1000n, W)).toEqual(pageFault(L.PF_P | L.PF_WR | L.PF_US | L.PF_PK, 0x1000n));
    expect(m.access(0, 0x1000n, W | S)).toEqual(pageFault(L.PF_P | L.PF_WR | L.PF_PK, 0x1000n));
    m.writeCr0(0, 0n); // WD binds supervisor writes only with WP = 1
    expect(m.access(0, 0x1000n, W | S)).toEqual({ status: 'ok', pa: 0xa000n });
  });
});

describe('accessed and dirty bits', () => {
  it('sets A at every level read, D only on a write, through a dirty re-walk', () => {
    const { m, t } = setup();
    const entries = t.map(0x1000n, 0xa000n);
    m.access(0, 0x1000n, R);
    expect(entries.map((e) => m.readEntry(e) & (A | D))).toEqual([A, A, A, A]);

    // A write through the clean entry re-walks (from the PDE cache) and sets D in the PTE only.
    expect(m.access(0, 0x1000n, W)).toEqual({ status: 'ok', pa: 0xa000n });
    expect(entries.map((e) => m.readEntry(e) & (A | D))).toEqual([A, A, A, A | D]);
    const c = m.counters(0);
    expect([c.dtlb4kHits, c.dirtyRewalks, c.walks, c.walkLoads, c.pscPdeHits, c.aSets, c.dSets]).toEqual([1n, 1n, 2n, 5n, 1n, 4n, 1n]);
    expect(m.tlbEntries(0)).toMatchObject([{ array: 'dtlb4k', set: 1, way: 0, d: true }]);

    // Now the entry is dirty: a write is a plain hit.
    m.access(0, 0x1000n, W);
    expect(m.counters(0).walks).toBe(2n);
  });

  it('does not touch the A bits of entries skipped through a PSC hit', () => {
    const { m, t } = setup();
    const first = t.map(0x1000n, 0xa000n);
    const second = t.map(0x2000n, 0xb000n);
    m.access(0, 0x1000n, R);
    m.writeEntry(first[0]!, m.readEntry(first[0]!) & ~A);
    m.access(0, 0x2000n, R);
    expect(m.readEntry(second[0]!) & A).toBe(0n);
    expect(m.readEntry(second[3]!) & A).toBe(A);
  });
});

describe('paging-structure caches', () => {
  it('counts a PDE-cache hit for a neighbouring page, a PDPTE-cache hit in another 2 MiB region', () => {
    const { m, t } = setup();
    t.map(0x4000_0000n, 0xa000n);
    t.map(0x4000_1000n, 0xb000n);
    t.map(0x4020_0000n, 0xc000n);
    m.access(0, 0x4000_0000n, R);
    expect(m.access(0, 0x4000_1000n, R)).toEqual({ status: 'ok', pa: 0xb000n });
    let c = m.counters(0);
    expect([c.tlbMisses, c.walks, c.walkLoads, c.pscPdeHits, c.pscPdpteHits]).toEqual([2n, 2n, 5n, 1n, 0n]);
    expect(m.access(0, 0x4020_0000n, R)).toEqual({ status: 'ok', pa: 0xc000n });
    c = m.counters(0);
    expect([c.walkLoads, c.pscPdeHits, c.pscPdpteHits]).toEqual([7n, 1n, 1n]);
  });
});

describe('invalidations', () => {
  it('INVLPG drops the current PCID entry and the global one, keeps another PCID', () => {
    const { m, t } = setup();
    const la = 0x1000n;
    const entries = t.map(la, 0xa000n);
    expect(m.writeCr4(0, CR4_PGE | CR4_PCIDE)).toBe(true);
    expect(m.writeCr3(0, t.root | 1n)).toBe(true);
    m.access(0, la, R); // PCID 1, non-global
    expect(m.writeCr3(0, t.root | 2n | NOFLUSH)).toBe(true);
    m.access(0, la, R); // PCID 2, non-global
    m.writeEntry(entries[3]!, m.readEntry(entries[3]!) | G);
    expect(m.writeCr3(0, t.root | 3n | NOFLUSH)).toBe(true);
    m.access(0, la, R); // global
    expect(m.tlbEntries(0).map((e) => [e.way, e.pcid, e.global])).toEqual([[0, 1, false], [1, 2, false], [2, 0, true]]);

    expect(m.writeCr3(0, t.root | 2n | NOFLUSH)).toBe(true);
    m.invlpg(0, la);
    expect(m.tlbEntries(0).map((e) => [e.way, e.pcid, e.global])).toEqual([[0, 1, false]]);
    expect([...new Set(m.pscEntries(0).map((e) => e.pcid))]).toEqual([1, 3]);
    expect(m.counters(0).invlpg).toBe(1n);
    // A non-canonical address: nothing at all.
    m.invlpg(0, 0x8000_0000_0000n);
    expect(m.counters(0).invlpg).toBe(1n);
  });

  it('MOV CR3 with bit 63 keeps entries; without it drops the PCID non-global ones', () => {
    const { m, t } = setup();
    t.map(0x1000n, 0xa000n);
    t.map(0x2000n, 0xb000n, { leaf: P | RW | US | G });
    expect(m.writeCr3(0, t.root | NOFLUSH)).toBe(false); // bit 63 needs PCIDE
    expect(m.writeCr3(0, 1n << 46n)).toBe(false); // bits 62:M
    m.writeCr4(0, CR4_PGE | CR4_PCIDE);
    m.writeCr3(0, t.root | 1n);
    m.access(0, 0x1000n, R);
    m.access(0, 0x2000n, R);
    expect(m.writeCr3(0, t.root | 1n | NOFLUSH)).toBe(true);
    expect(m.readCr(0)).toMatchObject({ cr3: t.root | 1n, pcid: 1 });
    expect(m.tlbEntries(0)).toHaveLength(2);
    expect(m.pscEntries(0)).toHaveLength(3);
    expect(m.writeCr3(0, t.root | 1n)).toBe(true);
    expect(m.tlbEntries(0).map((e) => [e.page, e.global])).toEqual([[2n, true]]);
    expect(m.pscEntries(0)).toEqual([]);
    const c = m.counters(0);
    expect([c.cr3Flush, c.cr3NoFlush]).toEqual([3n, 1n]); // setup's write, the PCID 1 write, this one
  });

  it('INVPCID: #GP conditions and the four types', () => {
    const { m, t } = setup();
    t.map(0x1000n, 0xa000n);
    expect(m.invpcid(0, 1, 1, 0n)).toBe(false); // PCIDE = 0 needs PCID 0
    expect(m.invpcid(0, 4, 0, 0n)).toBe(false);
    expect(m.invpcid(0, 0, 0, 0x8000_0000_0000n)).toBe(false);
    m.access(0, 0x1000n, R);
    expect(m.invpcid(0, 0, 0, 0x1000n)).toBe(true);
    expect(m.tlbEntries(0)).toEqual([]);
    expect(m.pscEntries(0)).toEqual([]);
    expect(m.counters(0).invpcid0).toBe(1n);
  });

  it('a page fault removes the entries for the faulting address', () => {
    const { m, t } = setup();
    const entries = t.map(0x1000n, 0xa000n, { leaf: P | US });
    m.access(0, 0x1000n, R);
    expect(m.access(0, 0x1000n, W)).toEqual(pageFault(L.PF_P | L.PF_WR | L.PF_US, 0x1000n));
    expect(m.tlbEntries(0)).toEqual([]);
    // PSC entries of the current PCID whose tag matches the address at their level: all three here.
    expect(m.pscEntries(0)).toEqual([]);
    m.writeEntry(entries[3]!, m.readEntry(entries[3]!) | RW);
    expect(m.access(0, 0x1000n, W)).toEqual({ status: 'ok', pa: 0xa000n });
  });
});

describe('replacement', () => {
  it('evicts the xorshift32 victim and counts retention overflows in retentive mode', () => {
    const { m, t } = setup({ geometry: { dtlb4k: { sets: 1, ways: 2 } } });
    for (let i = 1n; i <= 4n; i++) t.map(i << 12n, 0x20_0000n + (i << 12n));
    for (let i = 1n; i <= 4n; i++) m.access(0, i << 12n, R);
    const x1 = xorshift(0x9e3779b9);
    const x2 = xorshift(x1);
    expect([x1 % 2, x2 % 2]).toEqual([1, 0]);
    // Pages 1, 2 fill ways 0, 1; page 3 evicts way 1; page 4 evicts way 0.
    expect(m.tlbEntries(0).map((e) => [e.way, e.page])).toEqual([[0, 4n], [1, 3n]]);
    expect(m.counters(0).retentionOverflows).toBe(2n);
  });

  it('does not count retention overflows in capacity mode', () => {
    const { m, t } = setup({ mode: 'capacity', geometry: { dtlb4k: { sets: 1, ways: 2 }, stlb: { sets: 0, ways: 0 } } });
    for (let i = 1n; i <= 3n; i++) t.map(i << 12n, i << 12n);
    for (let i = 1n; i <= 3n; i++) m.access(0, i << 12n, R);
    expect(m.tlbEntries(0).map((e) => [e.way, e.page])).toEqual([[0, 1n], [1, 3n]]);
    expect(m.counters(0).retentionOverflows).toBe(0n);
  });
});

describe('oracle events', () => {
  it('reports tlb-stale after a generation change; the access still completes', () => {
    const { m, t } = setup();
    t.map(0x1000n, 0xa000n);
    m.access(0, 0x1000n, R);
    const slot = m.slotOf(0xa000n);
    m.writeGeneration(slot, 7);
    expect(m.access(0, 0x1234n, R)).toEqual({ status: 'ok', pa: 0xa234n });
    expect(m.drainEvents(0)).toEqual([{ kind: 'tlb-stale', index: 0, va: 0x1234n, pa: 0xa000n, slot, stamp: 0 }]);
    expect(m.drainEvents(0)).toEqual([]);
    expect(m.counters(0).tlbStale).toBe(1n);
  });

  it('ignores a read in a copy window and reports a write', () => {
    const { m, t } = setup();
    t.map(0x1000n, 0xa000n);
    const slot = m.slotOf(0xa000n);
    m.writeGeneration(slot, 3);
    m.access(0, 0x1000n, W); // a dirty entry stamped 3
    m.writeGeneration(slot, (3 | L.GEN_COPY_WINDOW) >>> 0);
    expect(m.access(0, 0x1000n, R)).toEqual({ status: 'ok', pa: 0xa000n });
    expect(m.drainEvents(0)).toEqual([]);
    expect(m.access(0, 0x1000n, W)).toEqual({ status: 'ok', pa: 0xa000n });
    expect(m.drainEvents(0)).toEqual([{ kind: 'tlb-stale', index: 0, va: 0x1000n, pa: 0xa000n, slot, stamp: 3 }]);
  });

  it('reports write-in-copy for a walk that translates a write', () => {
    const { m, t } = setup();
    t.map(0x1000n, 0xa000n);
    const slot = m.slotOf(0xa000n);
    m.writeGeneration(slot, (5 | L.GEN_COPY_WINDOW) >>> 0);
    expect(m.access(0, 0x1000n, R)).toEqual({ status: 'ok', pa: 0xa000n });
    expect(m.drainEvents(0)).toEqual([]);
    m.invlpg(0, 0x1000n);
    expect(m.access(0, 0x1000n, W)).toEqual({ status: 'ok', pa: 0xa000n });
    expect(m.drainEvents(0)).toEqual([{ kind: 'write-in-copy', index: 0, va: 0x1000n, pa: 0xa000n, slot, stamp: 5 }]);
    expect(m.tlbEntries(0)).toMatchObject([{ slot, stamp: 5 }]);
  });

  it('reports tlb-stale only for an access that completes through the entry', () => {
    const { m, t } = setup();
    t.map(0x1000n, 0xa000n, { leaf: P | US }); // read-only
    t.map(0x2000n, 0xb000n);
    m.access(0, 0x1000n, R);
    m.access(0, 0x2000n, R);
    m.writeGeneration(m.slotOf(0xa000n), 1);
    m.writeGeneration(m.slotOf(0xb000n), 1);
    expect(m.access(0, 0x1000n, W)).toEqual(pageFault(L.PF_P | L.PF_WR | L.PF_US, 0x1000n)); // faults on the cached rights
    expect(m.access(0, 0x2000n, W)).toEqual({ status: 'ok', pa: 0xb000n }); // dirty re-walk: a fresh translation
    expect(m.drainEvents(0)).toEqual([]);
    expect(m.tlbEntries(0)).toMatchObject([{ page: 2n, stamp: 1, d: true }]);
  });

  it('gives every frame at or above physmem one shared slot', () => {
    const m = machine({ physmem: 18n << 30n }); // zone4k 16 GiB: 4 Mi 4 KiB slots, 1024 2 MiB slots
    expect(m.slotOf(0xa000n)).toBe(0xa);
    expect(m.slotOf((16n << 30n) + (3n << 21n))).toBe((1 << 22) + 3);
    expect(m.slotOf((18n << 30n) - 1n)).toBe((1 << 22) + 1023);
    expect(m.slotOf(18n << 30n)).toBe((1 << 22) + 1024);
    expect(m.slotOf(1n << 45n)).toBe((1 << 22) + 1024);
    expect(m.readGeneration((1 << 22) + 1024)).toBe(0);
    expect(() => m.readGeneration((1 << 22) + 1025)).toThrow(ArgumentError);
  });

  it('reports psc-stale when the table a PSC entry points to changes generation', () => {
    const { m, t } = setup();
    t.map(0x1000n, 0xa000n);
    t.map(0x2000n, 0xb000n);
    m.access(0, 0x1000n, R);
    const pt = BASE + 0x3000n;
    m.writeGeneration(m.slotOf(pt), 1);
    m.access(0, 0x2000n, R);
    expect(m.drainEvents(0)).toEqual([{ kind: 'psc-stale', index: 0, va: 0x2000n, pa: pt, slot: m.slotOf(pt), stamp: 0 }]);
  });

  it('carries the batch index and stops the batch when the ring is full', () => {
    const { m, t } = setup({ eventCapacity: 2 });
    for (let i = 1n; i <= 3n; i++) t.map(i << 12n, i << 16n);
    for (let i = 1n; i <= 3n; i++) m.access(0, i << 12n, R);
    m.writeGeneration(m.slotOf(2n << 16n), 1);
    m.writeGeneration(m.slotOf(3n << 16n), 1);
    const las = [0x1000n, 0x2000n, 0x3000n, 0x1000n];
    const batch = m.accessBatch(0, las, [R, R, R, R]);
    expect(batch.done).toBe(3);
    expect(batch.results).toHaveLength(3);
    expect(m.drainEvents(0).map((e) => [e.index, e.va])).toEqual([[1, 0x2000n], [2, 0x3000n]]);
    // A fault stops the batch with the faulting access's result included.
    const faulting = m.accessBatch(0, [0x1000n, 0x9000n, 0x1000n], [R, R, R]);
    expect(faulting.done).toBe(1);
    expect(faulting.results).toEqual([{ status: 'ok', pa: 0x10000n }, pageFault(L.PF_US, 0x9000n)]);
  });
});

describe('registers', () => {
  it('resets to the Linux values and rejects bad CR4 writes', () => {
    const { m, t } = setup();
    expect(m.readCr(0)).toEqual({ cr0: CR0_WP, cr3: t.root, cr4: CR4_PGE, efer: EFER_NXE, rflags: 0n, pkru: 0, pcid: 0 });
    expect(m.writeCr4(0, 1n << 3n)).toBe(false); // DE: unknown to the model
    expect(m.writeCr4(0, CR4_PGE | (1n << 12n))).toBe(false); // LA57 change
    m.writeCr3(0, t.root | 5n);
    expect(m.writeCr4(0, CR4_PGE | CR4_PCIDE)).toBe(false); // CR3[11:0] != 0
    expect(m.readCr(0).cr4).toBe(CR4_PGE);
  });

  it('flushes globals when PGE changes', () => {
    const { m, t } = setup();
    t.map(0x1000n, 0xa000n, { leaf: P | RW | US | G });
    m.access(0, 0x1000n, R);
    m.writeCr3(0, t.root);
    expect(m.tlbEntries(0)).toMatchObject([{ global: true }]);
    expect(m.writeCr4(0, 0n)).toBe(true);
    expect(m.tlbEntries(0)).toEqual([]);
    expect(m.counters(0).cr4Flush).toBe(1n);
  });
});
