// TLB structure (SDM vol. 3A §4.10.2; docs/hardware.md "TLBs", "Fill", "Modes"): L1 and STLB hits
// and their counters in capacity mode, an STLB hit refilling the L1 array, the lookup order, victim
// ways from the CPU's xorshift32 generator (TLBs and PSCs alike, L1 before STLB), and
// retentionOverflows in retentive mode.
import { expect, it } from 'vitest';
import type { ArrayName, Geometry, MachineConfig, MmuModel, PageSize } from '../src/mmu/model.ts';
import {
  P, PS, RW, US, R, W, counts, forEachModel, ok, pf, setup, xorshift32, L, type Build,
} from './support/harness.ts';

const capacity = (geometry: Partial<Geometry>): Partial<MachineConfig> => ({ mode: 'capacity', geometry });
/** way → page number for one set of one array. */
function setContents(m: MmuModel, array: ArrayName, set = 0): Record<number, bigint> {
  const out: Record<number, bigint> = {};
  for (const e of m.tlbEntries(0)) if (e.array === array && e.set === set) out[e.way] = e.page;
  for (const e of m.pscEntries(0)) if (e.array === array && e.set === set) out[e.way] = e.page;
  return out;
}

forEachModel('L1 and STLB', (model) => {
  it('4 KiB: L1 hits, STLB hits after an L1 eviction, and the STLB hit refilling the L1', async () => {
    const t = await setup(model, {
      config: capacity({ dtlb4k: { sets: 1, ways: 2 } }),
      build: (b) => {
        for (const va of [0x1000n, 0x2000n, 0x3000n]) b.map(va, va + 0x10_0000n);
      },
    });
    const rng = xorshift32();
    expect(t.m.access(0, 0x1000n, R)).toEqual(ok(0x10_1000n));
    expect(t.m.access(0, 0x1008n, R)).toEqual(ok(0x10_1008n));
    expect(t.m.access(0, 0x2000n, R)).toEqual(ok(0x10_2000n));
    expect(t.delta()).toMatchObject({ dtlb4kHits: 1n, stlb4kHits: 0n, tlbMisses: 2n });
    // The L1 set is full: page 3 replaces way rng() % 2; the STLB (set 3) has room.
    const way3 = rng() % 2;
    expect(t.m.access(0, 0x3000n, R)).toEqual(ok(0x10_3000n));
    const l1 = { 0: 1n, 1: 2n } as Record<number, bigint>;
    const evicted = l1[way3];
    l1[way3] = 3n;
    expect(setContents(t.m, 'dtlb4k')).toEqual(l1);
    expect(t.m.tlbEntries(0).filter((e) => e.array === 'stlb').map((e) => [e.set, e.way, e.page])).toEqual([[1, 0, 1n], [2, 0, 2n], [3, 0, 3n]]);
    // The evicted page: an STLB hit, copied into the L1 set (full again: another victim).
    const wayBack = rng() % 2;
    expect(t.m.access(0, evicted << 12n, R)).toEqual(ok((evicted << 12n) + 0x10_0000n));
    l1[wayBack] = evicted;
    expect(setContents(t.m, 'dtlb4k')).toEqual(l1);
    expect(t.m.access(0, evicted << 12n, R)).toEqual(ok((evicted << 12n) + 0x10_0000n));
    expect(t.delta()).toEqual(counts({
      accesses: 6n, reads: 6n, dtlb4kHits: 2n, stlb4kHits: 1n, tlbMisses: 3n, walks: 3n, walkLoads: 6n, pscPdeHits: 2n, aSets: 6n,
    }));
    // The copy is the same translation.
    const copies = t.m.tlbEntries(0).filter((e) => e.page === evicted);
    expect(copies.map((e) => e.array)).toEqual(['dtlb4k', 'stlb']);
    expect({ ...copies[0], array: 'stlb', set: 0, way: 0 }).toEqual({ ...copies[1], set: 0, way: 0 });
  });

  it.each([
    ['2M', { dtlb2m: { sets: 1, ways: 1 } }, 'stlb2mHits', 'stlb', 0x4000_0000n, 0x4020_0000n],
    ['1G', { dtlb1g: { sets: 1, ways: 1 } }, 'stlb1gHits', 'stlb1g', 0x40_0000_0000n, 0x40_4000_0000n],
  ] as const)('%s pages: the STLB array of their size', async (size, geometry, counter, stlb, a, b2) => {
    const t = await setup(model, {
      config: capacity(geometry),
      build: (b) => {
        b.map(a, 0x2_0000_0000n, size as PageSize);
        b.map(b2, 0x3_0000_0000n, size as PageSize);
      },
    });
    expect(t.m.access(0, a + 5n, R)).toEqual(ok(0x2_0000_0005n));
    expect(t.m.access(0, b2 + 5n, R)).toEqual(ok(0x3_0000_0005n)); // evicts a from the 1-way L1 array
    expect(t.m.access(0, a + 6n, R)).toEqual(ok(0x2_0000_0006n));
    const d = t.delta();
    expect([d[counter], d.tlbMisses, d.walks, d.stlb4kHits]).toEqual([1n, 2n, 2n, 0n]);
    expect(t.m.tlbEntries(0).filter((e) => e.array === stlb).map((e) => e.size)).toEqual([size, size]);
  });

  it('a fault on an STLB hit counts the hit, and removes the entry from both arrays', async () => {
    const t = await setup(model, {
      config: capacity({ dtlb4k: { sets: 1, ways: 1 } }),
      build: (b) => {
        b.map(0x1000n, 0x11000n, '4K', { writable: false });
        b.map(0x2000n, 0x12000n);
      },
    });
    t.m.access(0, 0x1000n, R);
    t.m.access(0, 0x2000n, R);
    expect(t.m.access(0, 0x1000n, W)).toEqual(pf(L.PF_P | L.PF_WR | L.PF_US, 0x1000n));
    expect(t.m.tlbEntries(0).map((e) => [e.array, e.page])).toEqual([['stlb', 2n]]);
    expect(t.delta()).toMatchObject({ stlb4kHits: 1n, pageFaults: 1n, walks: 2n });
  });

  it.each([
    // A 2 MiB entry for page 0x200 and a 4 KiB probe for page 0x200 share STLB set 0 and the tag.
    ['a 4 KiB probe does not take a 2 MiB entry', 0x4000_0000n, '2M', 0x20_0000n, '4K'],
    // A 4 KiB entry for page 1 and a 2 MiB probe for page 1 share STLB set 1 and the tag.
    ['a 2 MiB probe does not take a 4 KiB entry', 0x1000n, '4K', 0x20_0000n, '2M'],
  ] as const)('one STLB for two sizes: %s with the same page number', async (_name, first, firstSize, second, secondSize) => {
    const t = await setup(model, {
      config: { mode: 'capacity' },
      build: (b) => {
        b.map(first, 0x2_0000_0000n, firstSize);
        b.map(second, 0x3_0000_0000n, secondSize);
      },
    });
    expect(t.m.access(0, first, R)).toEqual(ok(0x2_0000_0000n));
    expect(t.m.access(0, second, R)).toEqual(ok(0x3_0000_0000n));
    expect(t.delta()).toMatchObject({ tlbMisses: 2n, stlb4kHits: 0n, stlb2mHits: 0n });
  });

  it('lookup order: a 4 KiB entry is found before a 2 MiB entry for the same address', async () => {
    const t = await setup(model, {
      config: { mode: 'capacity' },
      build: (b: Build) => {
        b.map(0x1000n, 0x5_0000_1000n);
        return { pde: b.entry(0x1000n, 'pde') };
      },
    });
    expect(t.m.access(0, 0x1000n, R)).toEqual(ok(0x5_0000_1000n));
    // Replace the page table by a 2 MiB page; a fault at 0x3000 (not mapped) drops the PSC entries
    // on its path, so the next walk reads the new PDE. The 4 KiB entry for 0x1000 stays.
    t.m.writeEntry(t.data.pde, 0x6_0000_0000n | P | RW | US | PS);
    expect(t.m.access(0, 0x3000n, R)).toEqual(pf(L.PF_US, 0x3000n));
    expect(t.m.access(0, 0x5000n, R)).toEqual(ok(0x6_0000_5000n));
    expect(t.m.access(0, 0x1000n, R)).toEqual(ok(0x5_0000_1000n));
    expect(t.m.access(0, 0x2000n, R)).toEqual(ok(0x6_0000_2000n));
    expect(t.delta()).toMatchObject({ dtlb4kHits: 1n, dtlb2mHits: 1n, tlbMisses: 3n });
  });
});

forEachModel('victim ways', (model) => {
  it('a full set takes way rng() % ways, one rng() per eviction', async () => {
    const pages = Array.from({ length: 14 }, (_, i) => BigInt(i + 1));
    const t = await setup(model, {
      config: capacity({ dtlb4k: { sets: 1, ways: 4 }, stlb: { sets: 0, ways: 0 } }),
      build: (b) => {
        for (const p of pages) b.map(p << 12n, 0x10_0000n + (p << 12n));
      },
    });
    const rng = xorshift32();
    const ways: Record<number, bigint> = {};
    for (const p of pages) {
      expect(t.m.access(0, p << 12n, R)).toEqual(ok(0x10_0000n + (p << 12n)));
      const free = [0, 1, 2, 3].find((w) => ways[w] === undefined);
      ways[free ?? rng() % 4] = p;
      expect(setContents(t.m, 'dtlb4k')).toEqual(ways);
    }
    expect(t.delta()).toMatchObject({ tlbMisses: 14n, retentionOverflows: 0n });
  });

  it('L1 before STLB: each eviction draws the next number', async () => {
    const t = await setup(model, {
      config: capacity({ dtlb4k: { sets: 1, ways: 2 }, stlb: { sets: 1, ways: 2 } }),
      build: (b) => {
        for (let p = 1n; p <= 6n; p++) b.map(p << 12n, p << 20n);
      },
    });
    const rng = xorshift32();
    const l1: Record<number, bigint> = {};
    const stlb: Record<number, bigint> = {};
    for (let p = 1n; p <= 6n; p++) {
      t.m.access(0, p << 12n, R);
      if (p <= 2n) {
        l1[Number(p) - 1] = p;
        stlb[Number(p) - 1] = p;
      } else {
        l1[rng() % 2] = p;
        stlb[rng() % 2] = p;
      }
      expect([setContents(t.m, 'dtlb4k'), setContents(t.m, 'stlb')]).toEqual([l1, stlb]);
    }
  });

  it('paging-structure caches use the same rule and generator', async () => {
    // Pages in four page tables (2 MiB apart): each walk after the first starts at the PDPTE-cache
    // hit and fills one PDE-cache entry; the third and fourth evict.
    const t = await setup(model, {
      config: capacity({ pde: { sets: 1, ways: 2 } }),
      build: (b) => {
        for (let i = 0n; i < 4n; i++) b.map((i << 21n) | 0x1000n, 0x10_0000n + (i << 12n));
      },
    });
    const rng = xorshift32();
    const pde: Record<number, bigint> = {};
    for (let i = 0n; i < 4n; i++) {
      expect(t.m.access(0, (i << 21n) | 0x1000n, R)).toEqual(ok(0x10_0000n + (i << 12n)));
      pde[i < 2n ? Number(i) : rng() % 2] = i;
      expect(setContents(t.m, 'pde')).toEqual(pde);
    }
    expect(t.delta()).toMatchObject({ pscPdpteHits: 3n, walkLoads: 4n + 3n * 2n });
  });

  it('reset restarts the generator', async () => {
    const t = await setup(model, {
      config: capacity({ dtlb4k: { sets: 1, ways: 2 }, stlb: { sets: 0, ways: 0 } }),
      build: (b) => {
        for (let p = 1n; p <= 4n; p++) b.map(p << 12n, p << 20n);
      },
    });
    const run = () => {
      expect(t.m.writeCr3(0, t.root)).toBe(true);
      for (let p = 1n; p <= 4n; p++) t.m.access(0, p << 12n, R);
      return setContents(t.m, 'dtlb4k');
    };
    const first = run();
    t.m.reset(0);
    expect(run()).toEqual(first);
    const rng = xorshift32();
    const expected: Record<number, bigint> = { 0: 1n, 1: 2n };
    expected[rng() % 2] = 3n;
    expected[rng() % 2] = 4n;
    expect(first).toEqual(expected);
  });
});

forEachModel('retentionOverflows', (model) => {
  it.each([
    ['retentive', 2n],
    ['capacity', 0n],
  ] as const)('%s mode, tiny arrays: every eviction of a TLB or PSC entry counts in retentive mode only', async (mode, expected) => {
    const t = await setup(model, {
      config: {
        mode,
        geometry: { dtlb4k: { sets: 1, ways: 1 }, stlb: { sets: 0, ways: 0 }, pde: { sets: 1, ways: 1 } },
      },
      build: (b) => {
        b.map(0x1000n, 0x11000n);
        b.map(0x20_1000n, 0x12000n);
      },
    });
    // The second walk evicts the PDE-cache entry, then the dtlb4k entry.
    expect(t.m.access(0, 0x1000n, R)).toEqual(ok(0x11000n));
    expect(t.m.access(0, 0x20_1000n, R)).toEqual(ok(0x12000n));
    expect(t.delta().retentionOverflows).toBe(expected);
    expect(t.m.tlbEntries(0).map((e) => [e.array, e.page])).toEqual([['dtlb4k', 0x201n]]);
  });
});

forEachModel('per-CPU caches', (model) => {
  it('each CPU fills, uses and invalidates only its own TLBs and PSCs', async () => {
    const t = await setup(model, {
      config: { ncpus: 2, mode: 'capacity' },
      build: (b) => {
        b.map(0x1000n, 0x11000n);
        b.map(0x2000n, 0x12000n);
      },
    });
    expect(t.m.access(0, 0x1000n, R)).toEqual(ok(0x11000n));
    expect(t.m.tlbEntries(1)).toEqual([]);
    expect(t.m.pscEntries(1)).toEqual([]);
    expect(t.m.access(1, 0x2000n, R)).toEqual(ok(0x12000n));
    expect(t.delta(1)).toMatchObject({ tlbMisses: 1n, walkLoads: 4n, pscPdeHits: 0n, aSets: 1n });
    t.m.invlpg(1, 0x1000n);
    expect(t.m.tlbEntries(0).map((e) => [e.array, e.page])).toEqual([['dtlb4k', 1n], ['stlb', 1n]]);
    expect(t.m.pscEntries(0)).toHaveLength(3);
    expect(t.m.pscEntries(1)).toEqual([]);
    expect(t.delta(0)).toMatchObject({ accesses: 1n, invlpg: 0n });
  });
});
