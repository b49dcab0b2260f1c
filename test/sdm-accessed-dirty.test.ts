// Accessed and dirty flags (SDM vol. 3A §4.8; docs/hardware.md "The page walk", "Use of a hit"):
// A in every entry a successful walk read, D in the leaf on writes, nothing on faults; the dirty
// re-walk when a write finds a clean cached entry, and what happens when the PTE changed meanwhile;
// the compare-and-swap restart.
import { expect, it } from 'vitest';
import type { PageSize } from '../src/mmu/model.ts';
import {
  A, ADDR, CR4_PCIDE, CR4_PGE, CR3_NOFLUSH, D, P, RW, US, XD, R, W, X, S, SMALL,
  counts, forEachModel, ok, pf, setup, tlbKeys, L, type Level,
} from './support/harness.ts';

const LA: Record<PageSize, bigint> = { '4K': 0x8040_2000n, '2M': 0x8040_0000n, '1G': 0x8000_0000n };
const FRAME: Record<PageSize, bigint> = { '4K': 0x1_2345_6000n, '2M': 0x1_0040_0000n, '1G': 0x1_c000_0000n };
const PATH: Record<4 | 5, Record<PageSize, Level[]>> = {
  4: { '4K': ['pml4e', 'pdpte', 'pde', 'pte'], '2M': ['pml4e', 'pdpte', 'pde'], '1G': ['pml4e', 'pdpte'] },
  5: { '4K': ['pml5e', 'pml4e', 'pdpte', 'pde', 'pte'], '2M': ['pml5e', 'pml4e', 'pdpte', 'pde'], '1G': ['pml5e', 'pml4e', 'pdpte'] },
};

forEachModel('A and D on successful walks', (model) => {
  const ROWS: { size: PageSize; levels: 4 | 5; kind: number; what: string }[] = [
    { size: '4K', levels: 4, kind: R, what: 'user read' },
    { size: '4K', levels: 4, kind: W, what: 'user write' },
    { size: '4K', levels: 4, kind: X, what: 'user fetch' },
    { size: '4K', levels: 4, kind: W | S, what: 'supervisor write' },
    { size: '4K', levels: 5, kind: W, what: 'user write, 5-level' },
    { size: '2M', levels: 4, kind: R, what: 'user read' },
    { size: '2M', levels: 4, kind: W, what: 'user write' },
    { size: '1G', levels: 4, kind: X | S, what: 'supervisor fetch' },
    { size: '1G', levels: 4, kind: W, what: 'user write' },
    { size: '1G', levels: 5, kind: W | S, what: 'supervisor write, 5-level' },
  ];
  it.each(ROWS)('$size page, $what', async ({ size, levels, kind }) => {
    const t = await setup(model, {
      config: SMALL,
      levels,
      build: (b) => {
        b.map(LA[size], FRAME[size], size);
        return PATH[levels][size].map((level) => b.entry(LA[size], level));
      },
    });
    const before = t.data.map((ea) => t.m.readEntry(ea));
    expect(t.m.access(0, LA[size] + 0x10n, kind)).toEqual(ok(FRAME[size] + 0x10n));
    const write = (kind & L.K_WRITE) !== 0;
    const n = before.length;
    // A everywhere; D only in the leaf and only for a write (bit 6 of a non-leaf entry is ignored
    // and stays as it was).
    expect(t.data.map((ea) => t.m.readEntry(ea))).toEqual(before.map((e, i) => e | A | (write && i === n - 1 ? D : 0n)));
    expect(t.delta()).toMatchObject({ aSets: BigInt(n), dSets: write ? 1n : 0n });
    expect(t.m.tlbEntries(0)).toMatchObject([{ size, d: write }]);
  });

  it('counts only the bits it sets: A already set in the PML4E and the PDE, D already set in the PTE', async () => {
    const t = await setup(model, {
      config: SMALL,
      build: (b) => {
        b.map(LA['4K'], FRAME['4K'], '4K', { dirty: true });
        b.edit(LA['4K'], 'pml4e', A);
        b.edit(LA['4K'], 'pde', A);
        return PATH[4]['4K'].map((level) => b.entry(LA['4K'], level));
      },
    });
    expect(t.m.access(0, LA['4K'], W)).toEqual(ok(FRAME['4K']));
    expect(t.data.map((ea) => t.m.readEntry(ea) & (A | D))).toEqual([A, A, A, A | D]);
    expect(t.delta()).toMatchObject({ aSets: 2n, dSets: 0n });
    expect(t.m.tlbEntries(0)).toMatchObject([{ d: true }]);
  });

  it('a walk that starts at a PSC hit touches only the entries it reads; a TLB hit touches nothing', async () => {
    const t = await setup(model, {
      config: SMALL,
      build: (b) => {
        b.map(0x1000n, 0x5000n);
        b.map(0x2000n, 0x6000n);
        return [...PATH[4]['4K'].map((level) => b.entry(0x1000n, level)), b.entry(0x2000n, 'pte')];
      },
    });
    const [pml4e, pdpte, pde, pte1, pte2] = t.data;
    expect(t.m.access(0, 0x1000n, R)).toEqual(ok(0x5000n));
    // Clear A in memory everywhere, without invalidation.
    for (const ea of t.data) t.m.writeEntry(ea, t.m.readEntry(ea) & ~A);
    expect(t.m.access(0, 0x1000n, R)).toEqual(ok(0x5000n)); // TLB hit
    expect(t.m.access(0, 0x2000n, R)).toEqual(ok(0x6000n)); // PDE-cache hit: reads the PTE only
    expect([pml4e, pdpte, pde, pte1, pte2].map((ea) => t.m.readEntry(ea) & A)).toEqual([0n, 0n, 0n, 0n, A]);
    expect(t.delta()).toMatchObject({ aSets: 5n, walks: 2n, walkLoads: 5n, pscPdeHits: 1n, dtlb4kHits: 1n });
  });
});

forEachModel('no A or D on faults', (model) => {
  const CASES: { what: string; edit: [Level, bigint, bigint]; kind: number; code: number }[] = [
    { what: 'not-present PTE', edit: ['pte', 0n, P], kind: W, code: L.PF_WR | L.PF_US },
    { what: 'not-present PDE', edit: ['pde', 0n, P], kind: R, code: L.PF_US },
    { what: 'user write, R/W = 0 in the PTE', edit: ['pte', 0n, RW], kind: W, code: 0x07 },
    { what: 'user read, U/S = 0 in the PML4E', edit: ['pml4e', 0n, US], kind: R, code: 0x05 },
    { what: 'user fetch, XD in the PDPTE', edit: ['pdpte', XD, 0n], kind: X, code: 0x15 },
    { what: 'reserved bit 51 in the PTE', edit: ['pte', 1n << 51n, 0n], kind: W | S, code: 0x0b },
  ];
  it.each(CASES)('$what', async ({ edit, kind, code }) => {
    const t = await setup(model, {
      config: SMALL,
      build: (b) => {
        b.map(LA['4K'], FRAME['4K']);
        const entries = PATH[4]['4K'].map((level) => b.entry(LA['4K'], level));
        b.edit(LA['4K'], edit[0], edit[1], edit[2]);
        return entries;
      },
    });
    const before = t.data.map((ea) => t.m.readEntry(ea));
    expect(t.m.access(0, LA['4K'], kind)).toEqual(pf(code, LA['4K']));
    expect(t.data.map((ea) => t.m.readEntry(ea))).toEqual(before);
    expect(t.delta()).toMatchObject({ aSets: 0n, dSets: 0n, walkRestarts: 0n, pageFaults: 1n });
  });
});

forEachModel('the dirty re-walk', (model) => {
  /** One clean 4 KiB page at LA, read once so that the TLB holds it with D = 0. */
  const clean = () =>
    setup(model, {
      config: SMALL,
      build: (b) => {
        b.map(LA['4K'], FRAME['4K']);
        b.map(LA['4K'] + 0x1000n, FRAME['4K'] + 0x1000n);
        return { pte: b.entry(LA['4K'], 'pte') };
      },
    });

  it('a write through a clean entry walks again (from the PSC), sets D and replaces the entry', async () => {
    const t = await clean();
    expect(t.m.access(0, LA['4K'], R)).toEqual(ok(FRAME['4K']));
    const [before] = t.m.tlbEntries(0);
    expect(before).toMatchObject({ d: false, set: 2, way: 0 });
    expect(t.m.access(0, LA['4K'] + 8n, W)).toEqual(ok(FRAME['4K'] + 8n));
    expect(t.m.readEntry(t.data.pte)).toBe(FRAME['4K'] | P | RW | US | A | D);
    expect(t.m.tlbEntries(0)).toEqual([{ ...before, d: true }]);
    expect(t.delta()).toEqual(counts({
      accesses: 2n, reads: 1n, writes: 1n, dtlb4kHits: 1n, tlbMisses: 1n, walks: 2n, walkLoads: 5n,
      pscPdeHits: 1n, aSets: 4n, dSets: 1n, dirtyRewalks: 1n,
    }));
    // Now dirty: further writes are plain hits.
    expect(t.m.access(0, LA['4K'], W)).toEqual(ok(FRAME['4K']));
    expect(t.delta()).toMatchObject({ dtlb4kHits: 2n, walks: 2n, dirtyRewalks: 1n });
  });

  it('the PTE was removed meanwhile: the write faults (not present) and the entry is gone', async () => {
    const t = await clean();
    t.m.access(0, LA['4K'], R);
    t.m.writeEntry(t.data.pte, 0n);
    expect(t.m.access(0, LA['4K'], R)).toEqual(ok(FRAME['4K'])); // reads still use the cached entry
    expect(t.m.access(0, LA['4K'], W)).toEqual(pf(L.PF_WR | L.PF_US, LA['4K']));
    expect(t.m.tlbEntries(0)).toEqual([]);
    expect(t.m.access(0, LA['4K'], R)).toEqual(pf(L.PF_US, LA['4K']));
    expect(t.delta()).toMatchObject({ dirtyRewalks: 1n, walks: 3n, pageFaults: 2n, dSets: 0n });
  });

  it('the PTE became read-only meanwhile: a protection fault', async () => {
    const t = await clean();
    t.m.access(0, LA['4K'], R);
    t.m.writeEntry(t.data.pte, t.m.readEntry(t.data.pte) & ~RW);
    expect(t.m.access(0, LA['4K'], W)).toEqual(pf(L.PF_P | L.PF_WR | L.PF_US, LA['4K']));
    expect(t.m.readEntry(t.data.pte) & D).toBe(0n);
    expect(t.m.tlbEntries(0)).toEqual([]);
  });

  it('the PTE points to another frame now: the write goes there, and so do later reads', async () => {
    const t = await clean();
    t.m.access(0, LA['4K'], R);
    t.m.writeEntry(t.data.pte, 0x7_7000n | P | RW | US);
    expect(t.m.access(0, LA['4K'] + 4n, R)).toEqual(ok(FRAME['4K'] + 4n)); // stale, but cached
    expect(t.m.access(0, LA['4K'] + 4n, W)).toEqual(ok(0x7_7004n));
    expect(t.m.access(0, LA['4K'] + 4n, R)).toEqual(ok(0x7_7004n));
    expect(t.m.tlbEntries(0)).toMatchObject([{ frame: 0x7_7000n, d: true }]);
  });

  it('a dirty cached entry is written through without a walk, even if the PTE is gone', async () => {
    const t = await clean();
    t.m.access(0, LA['4K'], W);
    t.m.writeEntry(t.data.pte, 0n);
    expect(t.m.access(0, LA['4K'], W)).toEqual(ok(FRAME['4K']));
    expect(t.delta()).toMatchObject({ walks: 1n, dirtyRewalks: 0n, dtlb4kHits: 1n });
  });

  it.each(['2M', '1G'] as const)('a clean %s entry: the re-walk sets D in the large leaf', async (size) => {
    const t = await setup(model, {
      config: SMALL,
      build: (b) => {
        b.map(LA[size], FRAME[size], size);
        return b.entry(LA[size], size === '2M' ? 'pde' : 'pdpte');
      },
    });
    expect(t.m.access(0, LA[size] + 0x1234n, R)).toEqual(ok(FRAME[size] + 0x1234n));
    expect(t.m.access(0, LA[size] + 0x5678n, W)).toEqual(ok(FRAME[size] + 0x5678n));
    expect(t.m.readEntry(t.data) & (A | D)).toBe(A | D);
    expect(t.m.tlbEntries(0)).toMatchObject([{ size, d: true }]);
    const hits = size === '2M' ? 'dtlb2mHits' : 'dtlb1gHits';
    expect(t.delta()).toMatchObject({ [hits]: 1n, dirtyRewalks: 1n, walks: 2n, dSets: 1n });
  });

  it('capacity mode: the clean entry leaves both the L1 array and the STLB, and the new one fills both', async () => {
    const t = await setup(model, {
      config: { mode: 'capacity' },
      build: (b) => {
        b.map(LA['4K'], FRAME['4K']);
      },
    });
    t.m.access(0, LA['4K'], R);
    expect(t.m.tlbEntries(0).map((e) => [e.array, e.set, e.way, e.d])).toEqual([['dtlb4k', 2, 0, false], ['stlb', 2, 0, false]]);
    expect(t.m.access(0, LA['4K'], W)).toEqual(ok(FRAME['4K']));
    expect(t.m.tlbEntries(0).map((e) => [e.array, e.set, e.way, e.d])).toEqual([['dtlb4k', 2, 0, true], ['stlb', 2, 0, true]]);
  });

  it('drops the clean global entry that hit, keeps another PCID\'s entry for the page', async () => {
    const V = 0x1000n;
    const t = await setup(model, {
      config: SMALL,
      build: (b) => {
        b.map(V, 0x1_0000n); // root: PCID 1, not global
        const root2 = b.tables.newRoot();
        b.tables.map(root2, V, 0x2_0000n, '4K');
        const root3 = b.tables.newRoot();
        b.tables.map(root3, V, 0x3_0000n, '4K', { global: true });
        return { root2, root3 };
      },
      regs: (_d, b) => ({ cr4: CR4_PGE | CR4_PCIDE, cr3: b.root | 1n }),
    });
    expect(t.m.access(0, V, R)).toEqual(ok(0x1_0000n));
    expect(t.m.writeCr3(0, t.data.root3 | 3n | CR3_NOFLUSH)).toBe(true);
    expect(t.m.access(0, V, R)).toEqual(ok(0x3_0000n));
    expect(t.m.writeCr3(0, t.data.root2 | 2n | CR3_NOFLUSH)).toBe(true);
    // PCID 2: the global entry serves the read; the write re-walks PCID 2's tables.
    expect(t.m.access(0, V, R)).toEqual(ok(0x3_0000n));
    expect(t.m.access(0, V, W)).toEqual(ok(0x2_0000n));
    expect(tlbKeys(t.m)).toEqual(['dtlb4k 0x1 p1', 'dtlb4k 0x1 p2']);
    expect(t.m.tlbEntries(0).find((e) => e.pcid === 2)).toMatchObject({ frame: 0x2_0000n, d: true, global: false });
  });
});

forEachModel('compare-and-swap restarts', (model) => {
  it('a walk whose own A update changes an entry it read again later restarts once', async () => {
    // PML4[511] points to the PML4 itself (a recursive slot). LA 0xffff_ffff_c000_0000 reads
    // PML4[511] twice (as PML4E and as PDPTE), then PML4[0] as a PDE and PDPT[0] as a PTE.
    const LA_REC = 0xffff_ffff_c000_0000n;
    const t = await setup(model, {
      config: SMALL,
      build: (b) => {
        b.map(0x1000n, 0x5000n);
        b.machine.writeEntry(b.root + 511n * 8n, b.root | P | RW | US);
        const pdpt = b.machine.readEntry(b.root) & ADDR;
        const pd = b.machine.readEntry(pdpt) & ADDR;
        return { pdpt, pd };
      },
    });
    expect(t.m.access(0, LA_REC, R | S)).toEqual(ok(t.data.pd));
    // First attempt: A set in PML4[511], then the second record (the same entry, read without A)
    // fails its compare-and-swap. Second attempt: A in PML4[0] and PDPT[0].
    expect(t.delta()).toMatchObject({ walks: 1n, walkRestarts: 1n, walkLoads: 8n, aSets: 3n, dSets: 0n });
    expect(t.m.readEntry(t.root + 511n * 8n)).toBe(t.root | P | RW | US | A);
    expect(t.m.readEntry(t.root) & A).toBe(A);
    expect(t.m.readEntry(t.data.pdpt) & A).toBe(A);
    expect(t.m.tlbEntries(0)).toMatchObject([{ size: '4K', frame: t.data.pd, page: LA_REC >> 12n & ((1n << 45n) - 1n) }]);
  });
});
