// Invalidations (SDM vol. 3A §4.10.4.1; docs/hardware.md "Register writes", "Invalidations"): the
// exact effect of INVLPG, INVPCID 0-3, MOV to CR3 (with and without the no-flush bit, PCIDE on and
// off), MOV to CR4 (PGE, PCIDE 1 → 0, SMEP 0 → 1, the rest) and of a page fault, on TLB entries of
// the current PCID, of another PCID and global ones, and on paging-structure-cache entries.
//
// The starting state, with CR4.PCIDE = 1 (user reads; "g" = global):
//   PCID 1 (root1): A1 0x1000 (read-only), B1 0x2000, G1 0x3000 (g), Z1 0x80_0000_0000  — 4 KiB
//   PCID 2 (root2): A2 0x1000, B2 0x2000                                                 — 4 KiB
//   PCID 3 (root3): H3 0x0 (g)                                                           — 2 MiB
// and the current PCID is 1 again. H3's page contains A1, B1, G1, A2 and B2.
import { describe, expect, it } from 'vitest';
import type { MachineConfig, MmuModel } from '../src/mmu/model.ts';
import {
  CR0_WP, CR3_NOFLUSH, CR4_LA57, CR4_PCIDE, CR4_PGE, CR4_PKE, CR4_SMAP, CR4_SMEP, R, W, SMALL,
  counts, forEachModel, ok, pf, pscKeys, setup, tlbKeys, L,
} from './support/harness.ts';

type Name = 'A1' | 'B1' | 'G1' | 'Z1' | 'A2' | 'B2' | 'H3';
const TLB: Record<Name, [size: '4K' | '2M', key: string]> = {
  A1: ['4K', '0x1 p1'], B1: ['4K', '0x2 p1'], G1: ['4K', '0x3 g'], Z1: ['4K', '0x8000000 p1'],
  A2: ['4K', '0x1 p2'], B2: ['4K', '0x2 p2'], H3: ['2M', '0x0 g'],
};
const ALL_TLB = Object.keys(TLB) as Name[];
const PSC = {
  X1: ['pml4 0x0 p1', 'pdpte 0x0 p1', 'pde 0x0 p1'], // the walk of A1 (B1, G1 started at the PDE cache)
  Z1: ['pml4 0x1 p1', 'pdpte 0x200 p1', 'pde 0x40000 p1'],
  X2: ['pml4 0x0 p2', 'pdpte 0x0 p2', 'pde 0x0 p2'],
  H3: ['pml4 0x0 p3', 'pdpte 0x0 p3'], // a 2 MiB leaf: no PDE-cache entry
};
type PscGroup = keyof typeof PSC;
const ALL_PSC = Object.keys(PSC) as PscGroup[];

/** The keys tlbKeys() gives for these entries: each 4K/2M entry is in its L1 array and, with an STLB, there too. */
function tlbKeysOf(names: Name[], stlb: boolean): string[] {
  return names.flatMap((n) => {
    const [size, key] = TLB[n];
    return [`${size === '4K' ? 'dtlb4k' : 'dtlb2m'} ${key}`, ...(stlb ? [`stlb ${key}`] : [])];
  }).sort();
}
const pscKeysOf = (groups: PscGroup[]) => groups.flatMap((g) => PSC[g]).sort();
const without = <T>(all: T[], gone: T[]) => all.filter((x) => !gone.includes(x));

interface Row {
  name: string;
  cr4?: bigint; // CR4 during the setup, default PGE | PCIDE
  op: (m: MmuModel, roots: { root1: bigint; root2: bigint; root3: bigint }) => void;
  gone: Name[]; // TLB entries removed
  pscGone: PscGroup[]; // PSC entries removed
  counters: Partial<Record<'invlpg' | 'invpcid0' | 'invpcid1' | 'invpcid2' | 'invpcid3' | 'cr3Flush' | 'cr3NoFlush' | 'cr4Flush', bigint>>;
}

const BASE_CR4 = CR4_PGE | CR4_PCIDE;
const same = (v: boolean) => expect(v).toBe(true);

const ROWS: Row[] = [
  { name: 'INVLPG 0x1000: A1 and the global H3 (any size); all of PCID 1\'s PSC', op: (m) => m.invlpg(0, 0x1000n), gone: ['A1', 'H3'], pscGone: ['X1', 'Z1'], counters: { invlpg: 1n } },
  { name: 'INVLPG 0x3000: the globals G1 and H3', op: (m) => m.invlpg(0, 0x3000n), gone: ['G1', 'H3'], pscGone: ['X1', 'Z1'], counters: { invlpg: 1n } },
  { name: 'INVLPG 0x80_0000_0000: Z1', op: (m) => m.invlpg(0, 0x80_0000_0000n), gone: ['Z1'], pscGone: ['X1', 'Z1'], counters: { invlpg: 1n } },
  { name: 'INVLPG 0x1_0000_0000: no entry, still all of the PCID\'s PSC', op: (m) => m.invlpg(0, 0x1_0000_0000n), gone: [], pscGone: ['X1', 'Z1'], counters: { invlpg: 1n } },
  {
    name: 'INVLPG 0x2000 under PCID 2: B2 and H3, not B1', op: (m, r) => { same(m.writeCr3(0, r.root2 | 2n | CR3_NOFLUSH)); m.invlpg(0, 0x2000n); },
    gone: ['B2', 'H3'], pscGone: ['X2'], counters: { invlpg: 1n, cr3NoFlush: 1n },
  },
  { name: 'INVLPG of a non-canonical address: nothing', op: (m) => m.invlpg(0, 0x8000_0000_1000n), gone: [], pscGone: [], counters: {} },
  { name: 'INVPCID 0 (PCID 2, 0x1000): A2 only', op: (m) => same(m.invpcid(0, 0, 2, 0x1000n)), gone: ['A2'], pscGone: ['X2'], counters: { invpcid0: 1n } },
  { name: 'INVPCID 0 (PCID 1, 0x3000): not the global G1', op: (m) => same(m.invpcid(0, 0, 1, 0x3000n)), gone: [], pscGone: ['X1', 'Z1'], counters: { invpcid0: 1n } },
  { name: 'INVPCID 0 (PCID 3, 0x0): not the global H3', op: (m) => same(m.invpcid(0, 0, 3, 0n)), gone: [], pscGone: ['H3'], counters: { invpcid0: 1n } },
  { name: 'INVPCID 1 (PCID 2): A2, B2', op: (m) => same(m.invpcid(0, 1, 2, 0n)), gone: ['A2', 'B2'], pscGone: ['X2'], counters: { invpcid1: 1n } },
  { name: 'INVPCID 1 (PCID 1): A1, B1, Z1, not G1', op: (m) => same(m.invpcid(0, 1, 1, 0n)), gone: ['A1', 'B1', 'Z1'], pscGone: ['X1', 'Z1'], counters: { invpcid1: 1n } },
  { name: 'INVPCID 2: everything', op: (m) => same(m.invpcid(0, 2, 0, 0n)), gone: ALL_TLB, pscGone: ALL_PSC, counters: { invpcid2: 1n } },
  { name: 'INVPCID 3: every non-global entry', op: (m) => same(m.invpcid(0, 3, 0, 0n)), gone: ['A1', 'B1', 'Z1', 'A2', 'B2'], pscGone: ALL_PSC, counters: { invpcid3: 1n } },
  { name: 'MOV CR3 root1|1: PCID 1\'s non-global entries', op: (m, r) => same(m.writeCr3(0, r.root1 | 1n)), gone: ['A1', 'B1', 'Z1'], pscGone: ['X1', 'Z1'], counters: { cr3Flush: 1n } },
  { name: 'MOV CR3 root2|2: PCID 2\'s, PCID 1 kept', op: (m, r) => same(m.writeCr3(0, r.root2 | 2n)), gone: ['A2', 'B2'], pscGone: ['X2'], counters: { cr3Flush: 1n } },
  { name: 'MOV CR3 root3|3: PCID 3 has no non-global entry', op: (m, r) => same(m.writeCr3(0, r.root3 | 3n)), gone: [], pscGone: ['H3'], counters: { cr3Flush: 1n } },
  { name: 'MOV CR3 root2|2 with bit 63: nothing', op: (m, r) => same(m.writeCr3(0, r.root2 | 2n | CR3_NOFLUSH)), gone: [], pscGone: [], counters: { cr3NoFlush: 1n } },
  { name: 'CR4.PGE 1 → 0: everything', op: (m) => same(m.writeCr4(0, CR4_PCIDE)), gone: ALL_TLB, pscGone: ALL_PSC, counters: { cr4Flush: 1n } },
  // (Set up with PGE = 0, G1 and H3 are not global: they are PCID 1 and PCID 3 entries.)
  { name: 'CR4.PGE 0 → 1: everything', cr4: CR4_PCIDE, op: (m) => same(m.writeCr4(0, BASE_CR4)), gone: ALL_TLB, pscGone: ALL_PSC, counters: { cr4Flush: 1n } },
  { name: 'CR4.PCIDE 1 → 0: everything', op: (m) => same(m.writeCr4(0, CR4_PGE)), gone: ALL_TLB, pscGone: ALL_PSC, counters: { cr4Flush: 1n } },
  { name: 'CR4.SMEP 0 → 1: PCID 1\'s entries, globals included', op: (m) => same(m.writeCr4(0, BASE_CR4 | CR4_SMEP)), gone: ['A1', 'B1', 'G1', 'Z1', 'H3'], pscGone: ['X1', 'Z1'], counters: { cr4Flush: 1n } },
  { name: 'CR4.SMEP 1 → 0: nothing', cr4: BASE_CR4 | CR4_SMEP, op: (m) => same(m.writeCr4(0, BASE_CR4)), gone: [], pscGone: [], counters: {} },
  { name: 'CR4.SMAP and PKE 0 → 1: nothing', op: (m) => same(m.writeCr4(0, BASE_CR4 | CR4_SMAP | CR4_PKE)), gone: [], pscGone: [], counters: {} },
  {
    name: 'CR0.WP, EFER.NXE, RFLAGS.AC, PKRU: nothing',
    op: (m) => { same(m.writeCr0(0, 0n)); same(m.writeEfer(0, 0n)); same(m.writeRflags(0, 1n << 18n)); same(m.writePkru(0, 0xffff_ffff)); same(m.writeCr0(0, CR0_WP)); },
    gone: [], pscGone: [], counters: {},
  },
];

function config(mode: 'retentive' | 'capacity'): Partial<MachineConfig> {
  return mode === 'capacity' ? { mode: 'capacity' } : SMALL;
}

async function start(model: 'wasm' | 'reference', mode: 'retentive' | 'capacity', cr4 = BASE_CR4) {
  const t = await setup(model, {
    config: config(mode),
    build: (b) => {
      const { tables } = b;
      b.map(0x1000n, 0x1_0000_1000n, '4K', { writable: false });
      b.map(0x2000n, 0x1_0000_2000n);
      b.map(0x3000n, 0x1_0000_3000n, '4K', { global: true });
      b.map(0x80_0000_0000n, 0x1_0000_4000n);
      const root2 = tables.newRoot();
      tables.map(root2, 0x1000n, 0x2_0000_1000n, '4K');
      tables.map(root2, 0x2000n, 0x2_0000_2000n, '4K');
      const root3 = tables.newRoot();
      tables.map(root3, 0n, 0x1_8000_0000n, '2M', { global: true });
      return { root2, root3 };
    },
    regs: (_d, b) => ({ cr4, cr3: b.root | 1n }),
  });
  const { m } = t;
  const roots = { root1: t.root, ...t.data };
  for (const la of [0x1000n, 0x2000n, 0x3000n, 0x80_0000_0000n]) expect(m.access(0, la, R).status).toBe('ok');
  same(m.writeCr3(0, roots.root2 | 2n | CR3_NOFLUSH));
  for (const la of [0x1000n, 0x2000n]) expect(m.access(0, la, R).status).toBe('ok');
  same(m.writeCr3(0, roots.root3 | 3n | CR3_NOFLUSH));
  expect(m.access(0, 0x1234n, R)).toEqual(ok(0x1_8000_1234n));
  same(m.writeCr3(0, roots.root1 | 1n | CR3_NOFLUSH));
  t.mark();
  return { t, m, roots };
}

for (const mode of ['retentive', 'capacity'] as const) {
  describe(`${mode} geometry`, () => {
    forEachModel('invalidations', (model) => {
      it('the starting state', async () => {
        const s = await start(model, mode);
        expect(tlbKeys(s.m)).toEqual(tlbKeysOf(ALL_TLB, mode === 'capacity'));
        expect(pscKeys(s.m)).toEqual(pscKeysOf(ALL_PSC));
        expect(s.m.readCr(0).pcid).toBe(1);
      });

      it.each(ROWS)('$name', async (row) => {
        const s = await start(model, mode, row.cr4);
        row.op(s.m, s.roots);
        expect(tlbKeys(s.m)).toEqual(tlbKeysOf(without(ALL_TLB, row.gone), mode === 'capacity'));
        expect(pscKeys(s.m)).toEqual(pscKeysOf(without(ALL_PSC, row.pscGone)));
        expect(s.t.delta()).toEqual(counts(row.counters));
      });

      it('#PF (protection) at 0x1000: A1 and H3; PCID 1\'s PSC entries on the path of 0x1000 only', async () => {
        const s = await start(model, mode);
        expect(s.m.access(0, 0x1000n, W)).toEqual(pf(L.PF_P | L.PF_WR | L.PF_US, 0x1000n));
        expect(tlbKeys(s.m)).toEqual(tlbKeysOf(without(ALL_TLB, ['A1', 'H3']), mode === 'capacity'));
        expect(pscKeys(s.m)).toEqual(pscKeysOf(['Z1', 'X2', 'H3']));
        expect(s.t.delta()).toEqual(counts({ accesses: 1n, writes: 1n, dtlb4kHits: 1n, pageFaults: 1n, pfInvalidations: 1n }));
      });

      it('#PF (not present) at 0x20_0000: no TLB entry; the PML4E and PDPTE entries of PCID 1 on its path, not the PDE one', async () => {
        const s = await start(model, mode);
        expect(s.m.access(0, 0x20_0000n, R)).toEqual(pf(L.PF_US, 0x20_0000n));
        expect(tlbKeys(s.m)).toEqual(tlbKeysOf(ALL_TLB, mode === 'capacity'));
        expect(pscKeys(s.m)).toEqual(pscKeysOf(ALL_PSC).filter((k) => k !== 'pml4 0x0 p1' && k !== 'pdpte 0x0 p1'));
        expect(s.t.delta()).toEqual(counts({
          accesses: 1n, reads: 1n, tlbMisses: 1n, walks: 1n, walkLoads: 1n, pscPdpteHits: 1n, pageFaults: 1n, pfInvalidations: 1n,
        }));
      });

      it('#GP cases change nothing: INVPCID type 4, PCID 4096, non-canonical type 0; CR3 bits 62:M; unknown CR4 bits, LA57', async () => {
        const s = await start(model, mode);
        const regs = s.m.readCr(0);
        expect(s.m.invpcid(0, 4, 0, 0n)).toBe(false);
        expect(s.m.invpcid(0, 1, 4096, 0n)).toBe(false);
        expect(s.m.invpcid(0, 0, 1, 0x8000_0000_0000n)).toBe(false);
        expect(s.m.writeCr3(0, s.roots.root2 | (1n << 62n))).toBe(false);
        expect(s.m.writeCr3(0, s.roots.root2 | (1n << 46n))).toBe(false); // M = 46
        expect(s.m.writeCr4(0, BASE_CR4 | (1n << 16n))).toBe(false);
        expect(s.m.writeCr4(0, BASE_CR4 | CR4_LA57)).toBe(false);
        expect(s.m.readCr(0)).toEqual(regs);
        expect(tlbKeys(s.m)).toEqual(tlbKeysOf(ALL_TLB, mode === 'capacity'));
        expect(pscKeys(s.m)).toEqual(pscKeysOf(ALL_PSC));
        expect(s.t.delta()).toEqual(counts({}));
      });
    });
  });
}

forEachModel('PCIDE = 0', (model) => {
  async function start0() {
    const t = await setup(model, {
      config: SMALL,
      build: (b) => {
        b.map(0x1000n, 0x1_0000_1000n);
        b.map(0x3000n, 0x1_0000_3000n, '4K', { global: true });
      },
      regs: { cr4: CR4_PGE },
    });
    expect(t.m.access(0, 0x1000n, R)).toEqual(ok(0x1_0000_1000n));
    expect(t.m.access(0, 0x3000n, R)).toEqual(ok(0x1_0000_3000n));
    expect(tlbKeys(t.m)).toEqual(['dtlb4k 0x1 p0', 'dtlb4k 0x3 g']);
    expect(pscKeys(t.m)).toEqual(['pde 0x0 p0', 'pdpte 0x0 p0', 'pml4 0x0 p0']);
    return t;
  }

  it('MOV CR3: the non-global entries and the PSC entries of PCID 0; bits 11:0 are stored, the PCID stays 0', async () => {
    const t = await start0();
    expect(t.m.writeCr3(0, t.root | 0x18n)).toBe(true);
    expect(tlbKeys(t.m)).toEqual(['dtlb4k 0x3 g']);
    expect(pscKeys(t.m)).toEqual([]);
    expect(t.m.readCr(0)).toMatchObject({ cr3: t.root | 0x18n, pcid: 0 });
    expect(t.delta().cr3Flush).toBe(1n);
  });

  it('#GP: MOV CR3 with bit 63; INVPCID 0 and 1 with a PCID other than 0; PCIDE 0 → 1 with CR3[11:0] ≠ 0', async () => {
    const t = await start0();
    expect(t.m.writeCr3(0, t.root | CR3_NOFLUSH)).toBe(false);
    expect(t.m.invpcid(0, 0, 1, 0x1000n)).toBe(false);
    expect(t.m.invpcid(0, 1, 1, 0n)).toBe(false);
    expect(tlbKeys(t.m)).toHaveLength(2);
    expect(t.m.writeCr3(0, t.root | 0x8n)).toBe(true);
    expect(t.m.writeCr4(0, CR4_PGE | CR4_PCIDE)).toBe(false);
    expect(t.m.readCr(0)).toMatchObject({ cr3: t.root | 0x8n, cr4: CR4_PGE, pcid: 0 });
    expect(t.delta()).toMatchObject({ invpcid0: 0n, invpcid1: 0n, cr3Flush: 1n, cr3NoFlush: 0n, cr4Flush: 0n });
  });

  it('INVPCID 0 and 1 with PCID 0 work; PCIDE 0 → 1 with CR3[11:0] = 0 invalidates nothing', async () => {
    const t = await start0();
    expect(t.m.invpcid(0, 0, 0, 0x3000n)).toBe(true); // global: stays
    expect(tlbKeys(t.m)).toEqual(['dtlb4k 0x1 p0', 'dtlb4k 0x3 g']);
    expect(pscKeys(t.m)).toEqual([]);
    expect(t.m.access(0, 0x1000n, R)).toEqual(ok(0x1_0000_1000n));
    expect(t.m.writeCr4(0, CR4_PGE | CR4_PCIDE)).toBe(true);
    expect(tlbKeys(t.m)).toEqual(['dtlb4k 0x1 p0', 'dtlb4k 0x3 g']);
    expect(t.m.invpcid(0, 1, 0, 0n)).toBe(true);
    expect(tlbKeys(t.m)).toEqual(['dtlb4k 0x3 g']);
    expect(t.delta()).toMatchObject({ invpcid0: 1n, invpcid1: 1n, cr4Flush: 0n });
  });
});
