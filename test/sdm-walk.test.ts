// The page walk (SDM vol. 3A §4.5; docs/hardware.md "The page walk", "Linear addresses"): 4 KiB,
// 2 MiB and 1 GiB translations with 4- and 5-level paging, what they cache, canonical checks, and
// tables outside the pool. Every row runs on the WebAssembly core and on the reference model.
import { describe, expect, it } from 'vitest';
import type { PageSize, PscEntry, TlbEntry } from '../src/mmu/model.ts';
import {
  A, ADDR, P, RW, US, R, W, X, S, SMALL, counts, forEachModel, gp, ok, pf, setup, L,
  type Level,
} from './support/harness.ts';

interface WalkRow {
  name: string;
  levels: 4 | 5;
  maxphyaddr?: number;
  size: PageSize;
  la: bigint;
  frame: bigint;
  pa: bigint; // expected
  tlb: { array: 'dtlb4k' | 'dtlb2m' | 'dtlb1g'; set: number; page: bigint; slot: number };
  psc: [array: PscEntry['array'], page: bigint, set: number][]; // one per non-leaf entry read, top first
}

const ZONE4K_SLOTS = 0x400000; // 16 GiB >> 12: slots above are per 2 MiB

// Expected values worked out by hand from the contract (page = LA[56:shift], set = page mod sets with
// the retentive geometry: dtlb4k 4096, dtlb2m 512, dtlb1g 16; pml5 1, pml4 16, pdpte 64, pde 512).
const ROWS: WalkRow[] = [
  {
    name: '4-level, 4 KiB', levels: 4, size: '4K', la: 0x7f12_3456_7abcn, frame: 0x1_2345_6000n, pa: 0x1_2345_6abcn,
    tlb: { array: 'dtlb4k', set: 1383, page: 0x7f1234567n, slot: 0x123456 },
    psc: [['pml4', 0xfen, 14], ['pdpte', 0x1fc48n, 8], ['pde', 0x3f891a2n, 418]],
  },
  {
    name: '4-level, 2 MiB, upper half (sign-extended)', levels: 4, size: '2M', la: 0xffff_8000_1234_5678n, frame: 0x2_0000_0000n, pa: 0x2_0014_5678n,
    tlb: { array: 'dtlb2m', set: 145, page: 0xffc000091n, slot: 0x200000 },
    psc: [['pml4', 0x3ff00n, 0], ['pdpte', 0x7fe0000n, 0]],
  },
  {
    name: '4-level, 1 GiB', levels: 4, size: '1G', la: 0x40_8765_4321n, frame: 0x3_c000_0000n, pa: 0x3_c765_4321n,
    tlb: { array: 'dtlb1g', set: 2, page: 0x102n, slot: 0x3c0000 },
    psc: [['pml4', 0n, 0]],
  },
  {
    name: '5-level, 4 KiB', levels: 5, size: '4K', la: 0x00ab_cdef_1234_5678n, frame: 0x7_0000_1000n, pa: 0x7_0000_1678n,
    tlb: { array: 'dtlb4k', set: 837, page: 0xabcdef12345n, slot: ZONE4K_SLOTS + 0x1800 },
    psc: [['pml5', 0xabn, 0], ['pml4', 0x1579bn, 11], ['pdpte', 0x2af37bcn, 60], ['pde', 0x55e6f7891n, 145]],
  },
  {
    name: '5-level, 2 MiB, upper half', levels: 5, size: '2M', la: 0xff12_3456_789a_bcden, frame: 0x4_0020_0000n, pa: 0x4_003a_bcden,
    tlb: { array: 'dtlb2m', set: 452, page: 0x891a2b3c4n, slot: ZONE4K_SLOTS + 1 },
    psc: [['pml5', 0x112n, 0], ['pml4', 0x22468n, 8], ['pdpte', 0x448d159n, 25]],
  },
  {
    name: '5-level, 1 GiB', levels: 5, size: '1G', la: 0x00f0_0000_4000_0000n, frame: 0x8_4000_0000n, pa: 0x8_4000_0000n,
    tlb: { array: 'dtlb1g', set: 1, page: 0x3c00001n, slot: ZONE4K_SLOTS + 0x2200 },
    psc: [['pml5', 0xf0n, 0], ['pml4', 0x1e000n, 0]],
  },
  {
    name: 'MAXPHYADDR 36, the highest frame, last byte', levels: 4, maxphyaddr: 36, size: '4K', la: 0x7ff_ffff_ffffn, frame: 0xf_ffff_f000n, pa: 0xf_ffff_ffffn,
    tlb: { array: 'dtlb4k', set: 4095, page: 0x7fffffffn, slot: ZONE4K_SLOTS + 0x5fff },
    psc: [['pml4', 0xfn, 15], ['pdpte', 0x1fffn, 63], ['pde', 0x3fffffn, 511]],
  },
];

const SHIFT: Record<PageSize, bigint> = { '4K': 12n, '2M': 21n, '1G': 30n };
const LEVELS_TOP_DOWN: Record<4 | 5, Level[]> = { 4: ['pml4e', 'pdpte', 'pde', 'pte'], 5: ['pml5e', 'pml4e', 'pdpte', 'pde', 'pte'] };
const LEAF: Record<PageSize, Level> = { '4K': 'pte', '2M': 'pde', '1G': 'pdpte' };

forEachModel('translations', (model) => {
  it.each(ROWS)('$name', async (row) => {
    const t = await setup(model, {
      levels: row.levels,
      config: row.maxphyaddr ? { maxphyaddr: row.maxphyaddr } : {},
      build: (b) => b.map(row.la & ~((1n << SHIFT[row.size]) - 1n), row.frame, row.size),
    });
    const levels = LEVELS_TOP_DOWN[row.levels];
    const read = levels.slice(0, levels.indexOf(LEAF[row.size]) + 1);
    const addrs = read.map((level) => t.entry(row.la, level));
    const before = addrs.map((ea) => t.m.readEntry(ea));
    expect(before.every((e) => (e & A) === 0n)).toBe(true);

    expect(t.m.access(0, row.la, R)).toEqual(ok(row.pa));

    // A set in every entry read, nothing else changed (no D on a read).
    expect(addrs.map((ea) => t.m.readEntry(ea))).toEqual(before.map((e) => e | A));
    const n = BigInt(read.length);
    expect(t.delta()).toEqual(counts({ accesses: 1n, reads: 1n, tlbMisses: 1n, walks: 1n, walkLoads: n, aSets: n }));

    const tlb: TlbEntry = {
      array: row.tlb.array, set: row.tlb.set, way: 0, size: row.size, page: row.tlb.page, pcid: 0, global: false,
      frame: row.frame, w: true, u: true, xd: false, d: false, pk: 0, slot: row.tlb.slot, stamp: 0,
    };
    expect(t.m.tlbEntries(0)).toEqual([tlb]);
    const psc: PscEntry[] = row.psc.map(([array, page, set], i) => {
      const table = before[i] & ADDR;
      return { array, set, way: 0, page, pcid: 0, table, w: true, u: true, xd: false, src: addrs[i], slot: Number(table >> 12n), stamp: 0 };
    });
    expect(t.m.pscEntries(0)).toEqual(psc);

    // A supervisor write to the last byte of the page: an L1 hit, but the cached D is clear, so a
    // dirty re-walk, which starts at the deepest PSC hit and reads only the leaf.
    const mask = (1n << SHIFT[row.size]) - 1n;
    const last = row.la | mask;
    const lastPa = row.frame | mask;
    expect(t.m.access(0, last, W | S)).toEqual(ok(lastPa));
    const hit = { '4K': 'dtlb4kHits', '2M': 'dtlb2mHits', '1G': 'dtlb1gHits' }[row.size] as 'dtlb4kHits';
    const pscHit = ({ pml5: 'pscPml5Hits', pml4: 'pscPml4Hits', pdpte: 'pscPdpteHits', pde: 'pscPdeHits' } as const)[row.psc[row.psc.length - 1][0] as 'pde'];
    const d = t.delta();
    expect([d[hit], d.walks, d.dirtyRewalks, d.tlbMisses, d.walkLoads, d[pscHit], d.dSets]).toEqual([1n, 2n, 1n, 1n, n + 1n, 1n, 1n]);
  });
});

forEachModel('canonical addresses', (model) => {
  const CASES: { levels: 4 | 5; la: bigint; canonical: boolean }[] = [
    { levels: 4, la: 0x0000_7fff_ffff_f000n, canonical: true },
    { levels: 4, la: 0xffff_8000_0000_0000n, canonical: true },
    { levels: 4, la: 0x0000_8000_0000_0000n, canonical: false }, // bit 47 set, 63:48 clear
    { levels: 4, la: 0xffff_7fff_ffff_f000n, canonical: false }, // 63:48 set, bit 47 clear
    { levels: 4, la: 0x8000_0000_0000_1000n, canonical: false },
    { levels: 4, la: 0x0001_0000_0000_0000n, canonical: false }, // canonical only with LA57
    { levels: 5, la: 0x0001_0000_0000_0000n, canonical: true },
    { levels: 5, la: 0x0000_8000_0000_0000n, canonical: true },
    { levels: 5, la: 0xff00_0000_0000_0000n, canonical: true },
    { levels: 5, la: 0x0100_0000_0000_0000n, canonical: false }, // bit 56 set, 63:57 clear
    { levels: 5, la: 0xfeff_ffff_ffff_f000n, canonical: false },
    { levels: 5, la: 0xffff_8000_0000_0000n & 0x7fff_ffff_ffff_ffffn, canonical: false },
  ];
  const WARM = 0x1000n; // mapped, cached before the test access

  const rows = CASES.map((c) => ({ ...c, name: `${c.levels}-level 0x${c.la.toString(16)}: ${c.canonical ? 'canonical' : '#GP'}` }));
  it.each(rows)('$name', async ({ levels, la, canonical }) => {
    const t = await setup(model, {
      config: SMALL,
      levels,
      build: (b) => {
        b.map(WARM, 0x9000n);
        if (canonical) b.map(la, 0xa000n);
      },
    });
    expect(t.m.access(0, WARM, R)).toEqual(ok(0x9000n));
    const tlb = t.m.tlbEntries(0);
    const psc = t.m.pscEntries(0);
    t.mark();
    for (const kind of [R, W | S, X]) {
      const result = t.m.access(0, la, kind);
      if (canonical) expect(result).toEqual(ok(0xa000n));
      else expect(result).toEqual(gp);
    }
    if (canonical) return;
    // #GP(0): no walk, no TLB or PSC change, no page-fault invalidation.
    expect(t.delta()).toEqual(counts({ accesses: 3n, reads: 1n, writes: 1n, fetches: 1n, gpFaults: 3n }));
    expect(t.m.tlbEntries(0)).toEqual(tlb);
    expect(t.m.pscEntries(0)).toEqual(psc);
  });

  it('stops a batch at the #GP, with the accesses before it completed', async () => {
    const t = await setup(model, { config: SMALL, build: (b) => b.map(WARM, 0x9000n) });
    expect(t.m.accessBatch(0, [WARM, 0x8000_0000_0000n, WARM], [R, R, R])).toEqual({ done: 1, results: [ok(0x9000n), gp] });
    expect(t.delta()).toMatchObject({ accesses: 2n, gpFaults: 1n, walks: 1n, dtlb4kHits: 0n });
  });

  it('INVLPG of a non-canonical address changes nothing', async () => {
    const t = await setup(model, { config: SMALL, build: (b) => b.map(WARM, 0x9000n) });
    t.m.access(0, WARM, R);
    const tlb = t.m.tlbEntries(0);
    const psc = t.m.pscEntries(0);
    // 0x0000_8000_0000_1000 would drop the page 0x8000_0000_1 if the high bits were ignored; the
    // truncated form 0x1000 is the warm page itself.
    t.m.invlpg(0, 0xffff_0000_0000_1000n);
    expect(t.m.tlbEntries(0)).toEqual(tlb);
    expect(t.m.pscEntries(0)).toEqual(psc);
    // Contract: "INVLPG on a non-canonical LA does nothing" — not even count.
    expect(t.delta().invlpg).toBe(0n);
  });
});

describe('tables outside the pool read as zeros (not present)', () => {
  forEachModel('outside', (model) => {
    it('CR3 = 0 (the header holds the magic number at physical address 0)', async () => {
      const t = await setup(model, { config: SMALL, regs: { cr3: 0n } });
      // A table at 0 would read the header's first word, 0x0000_0001_554d_4d57: present, writable, user.
      expect(t.m.access(0, 0n, R)).toEqual(pf(L.PF_US, 0n));
      expect(t.m.access(0, 0x10n, W | S)).toEqual(pf(L.PF_WR, 0x10n));
      expect(t.delta()).toEqual(counts({ accesses: 2n, reads: 1n, writes: 1n, tlbMisses: 2n, walks: 2n, walkLoads: 2n, pageFaults: 2n, pfInvalidations: 2n }));
    });

    // The PML4E at index 2 points outside the pool; `la` picks the PDPTE read there.
    it.each([
      // Entry 0 of the header is 0x0000_0001_554d_4d57 (magic, version): present if read.
      ['the header (physical address 0)', 0n, 0x100_0000_0000n],
      // Entry 6 of CPU 0's block holds the xorshift state 0x9e3779b9: present, PS.
      ['the CPU blocks (CPU 0, its RNG word)', 0x1000n, 0x101_8000_0000n],
      ['beyond the memory (252 GiB)', 0x3f_0000_0000n, 0x100_0000_0000n],
    ] as const)('a PML4E pointing at %s', async (_what, target, la) => {
      const t = await setup(model, { config: SMALL, build: (b) => b.machine.writeEntry(b.root + 2n * 8n, target | P | RW | US) });
      const pml4e = t.root + 16n;
      expect(t.m.access(0, la, R)).toEqual(pf(L.PF_US, la));
      expect(t.m.access(0, la, X | S)).toEqual(pf(L.PF_ID, la));
      // Faulting walks set no A bit and cache nothing.
      expect(t.m.readEntry(pml4e)).toBe(target | P | RW | US);
      expect(t.m.tlbEntries(0)).toEqual([]);
      expect(t.m.pscEntries(0)).toEqual([]);
      expect(t.delta()).toMatchObject({ walkLoads: 4n, aSets: 0n, pageFaults: 2n });
    });

    it('a PDE pointing just past the end of the pool, and at the last pool frame', async () => {
      const t = await setup(model, {
        config: { ...SMALL, poolFrames: 8 },
        build: (b) => {
          b.map(0x1000n, 0x5000n);
          const pde = b.entry(0x1000n, 'pde');
          const end = b.machine.pool.base + b.machine.pool.bytes;
          // PD index 1 → a table just past the pool; PD index 2 → the pool's last frame, holding a PTE.
          b.machine.writeEntry(pde + 8n, end | P | RW | US);
          b.machine.writeEntry(pde + 16n, (end - 4096n) | P | RW | US);
          b.machine.writeEntry(end - 4096n, 0x6000n | P | RW | US);
          return { end };
        },
      });
      expect(t.m.access(0, 0x20_0000n, R)).toEqual(pf(L.PF_US, 0x20_0000n));
      expect(t.m.access(0, 0x40_0000n, R)).toEqual(ok(0x6000n));
      expect(t.m.readEntry(t.data.end - 4096n)).toBe(0x6000n | P | RW | US | A);
    });
  });
});
