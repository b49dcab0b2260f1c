// Machine.tlbEntriesInRange / pscEntriesInRange, what the oracle's audit of an operation's range reads:
// exactly the entries of tlbEntries / pscEntries whose page lies in the range, in the same order, for
// ranges smaller than an array (looked up set by set) and larger (scanned slot by slot), with 4 KiB,
// 2 MiB and 1 GiB pages, in the retentive geometry and in a capacity geometry whose STLB holds two
// page sizes. And the cost: a small range examines its sets' ways only, whatever the TLB holds.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { MachineConfig, PageSize, PscEntry, TlbEntry } from '../src/mmu/model.ts';
import type { Machine } from '../src/mmu/machine.ts';
import { R, W, setup } from './support/harness.ts';

const SHIFT: Record<PageSize, bigint> = { '4K': 12n, '2M': 21n, '1G': 30n };
const PSC_SHIFT: Record<string, bigint> = { pml5: 48n, pml4: 39n, pdpte: 30n, pde: 21n };

/** Pages mapped: 4 KiB pages scattered over 64 GiB, 2 MiB pages in 1..3 GiB, 1 GiB pages at 64+ GiB. */
function layout(seed: number) {
  const pages: { va: bigint; size: PageSize }[] = [];
  let s = seed >>> 0 || 1;
  const next = () => ((s = (s * 1103515245 + 12345) >>> 0), s);
  const seen = new Set<bigint>();
  for (let i = 0; i < 600; i++) {
    const va = (BigInt(next() % (1 << 24)) << 12n) | (BigInt(next() % 16) << 36n);
    if ((va >> 30n) % 64n >= 1n && (va >> 30n) % 64n < 3n) continue; // the 2 MiB region
    if (!seen.has(va)) pages.push({ va, size: '4K' });
    seen.add(va);
  }
  for (let i = 0; i < 200; i++) pages.push({ va: (1n << 30n) + BigInt(i * 7 % 1024) * (1n << 21n), size: '2M' });
  for (let i = 0; i < 8; i++) pages.push({ va: (64n + BigInt(i)) << 30n, size: '1G' });
  const uniq = new Map<bigint, { va: bigint; size: PageSize }>();
  for (const p of pages) uniq.set(p.va, p);
  return [...uniq.values()];
}

const inRange = (va: bigint, size: bigint, start: bigint, end: bigint) => va < end && va + size > start;
const tlbIn = (m: Machine, start: bigint, end: bigint) =>
  m.tlbEntries(0).filter((e: TlbEntry) => inRange(e.page << SHIFT[e.size], 1n << SHIFT[e.size], start, end));
const pscIn = (m: Machine, start: bigint, end: bigint) =>
  m.pscEntries(0).filter((p: PscEntry) => inRange(p.page << PSC_SHIFT[p.array], 1n << PSC_SHIFT[p.array], start, end));

const CONFIGS: Record<string, Partial<MachineConfig>> = {
  retentive: { poolFrames: 2048 },
  'capacity, an STLB of 4 KiB and 2 MiB pages': {
    poolFrames: 2048,
    mode: 'capacity',
    geometry: {
      dtlb4k: { sets: 16, ways: 4 }, dtlb2m: { sets: 8, ways: 4 }, dtlb1g: { sets: 1, ways: 4 }, stlb: { sets: 128, ways: 12 }, stlb1g: { sets: 4, ways: 4 },
      pml5: { sets: 1, ways: 2 }, pml4: { sets: 1, ways: 4 }, pdpte: { sets: 4, ways: 8 }, pde: { sets: 8, ways: 4 },
    },
  },
};

describe.each(Object.keys(CONFIGS))('range scans of the TLB and PSCs (%s)', (name) => {
  it('give exactly the entries of the full scan whose page lies in the range, in its order', async () => {
    const pages = layout(42);
    const t = await setup('wasm', {
      config: CONFIGS[name],
      build: (b) => {
        // Frames: 4 KiB pages from 4 GiB, 2 MiB pages from 16 GiB, 1 GiB pages from 32 GiB (distinct).
        let small = 0n;
        for (const p of pages) {
          const pa = p.size === '4K' ? (1n << 32n) + (small++ << 12n) : p.size === '2M' ? (16n << 30n) + (p.va - (1n << 30n)) : (32n << 30n) + (p.va - (64n << 30n));
          b.map(p.va, pa, p.size);
        }
      },
    });
    for (const p of pages) t.m.access(0, p.va + 0x10n, p.va % 3n === 0n ? W : R);
    const m = t.wasm;
    expect(m.tlbEntries(0).length).toBeGreaterThan(50);
    expect(new Set(m.tlbEntries(0).map((e) => e.size))).toEqual(new Set(['4K', '2M', '1G']));
    expect(m.pscEntries(0).length).toBeGreaterThan(10);
    if (name !== 'retentive') expect(new Set(m.tlbEntries(0).filter((e) => e.array === 'stlb').map((e) => e.size))).toEqual(new Set(['4K', '2M']));
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (72n << 30n) - 1n }), fc.oneof(fc.bigInt({ min: 1n, max: 1n << 16n }), fc.bigInt({ min: 1n, max: 1n << 26n }), fc.bigInt({ min: 1n, max: 1n << 37n })), (start, len) => {
        const end = start + len;
        expect(m.tlbEntriesInRange(0, start, end)).toEqual(tlbIn(m, start, end));
        expect(m.pscEntriesInRange(0, start, end)).toEqual(pscIn(m, start, end));
      }),
      { numRuns: 300, seed: 8 },
    );
    // The whole address space, and an empty range.
    expect(m.tlbEntriesInRange(0, 0n, 1n << 57n)).toEqual(m.tlbEntries(0));
    expect(m.pscEntriesInRange(0, 0n, 1n << 57n)).toEqual(m.pscEntries(0));
    expect(m.tlbEntriesInRange(0, 0x1000n, 0x1000n)).toEqual([]);
  });
});

describe('the cost of a range scan', () => {
  it('a range of a few pages examines the ways of their sets only, however many entries the TLB holds', async () => {
    const t = await setup('wasm', {
      config: { poolFrames: 2048 },
      build: (b) => {
        for (let i = 0n; i < 4000n; i++) b.map(0x4000_0000n + i * 0x2000n, 0x1_0000_0000n + i * 0x1000n);
      },
    });
    for (let i = 0n; i < 4000n; i++) t.m.access(0, 0x4000_0000n + i * 0x2000n, R);
    const m = t.wasm;
    expect(m.tlbEntries(0).length).toBe(4000);
    const slots = m.slotsLooked;
    const decoded = m.entriesDecoded;
    const got = m.tlbEntriesInRange(0, 0x4000_0000n + 100n * 0x2000n, 0x4000_0000n + 104n * 0x2000n);
    expect(got.map((e) => e.page)).toEqual([100n, 101n, 102n, 103n].map((i) => (0x4000_0000n + i * 0x2000n) >> 12n));
    // 8 pages of 4 KiB (8 sets of 8 ways of dtlb4k), 1 page of 2 MiB and of 1 GiB (8 ways each).
    expect(m.slotsLooked - slots).toBe(8 * 8 + 8 + 8);
    expect(m.entriesDecoded - decoded).toBe(4);
  });
});
