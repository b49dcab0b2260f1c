// Reserved bits (SDM vol. 3A §4.5 entry formats, §4.7 RSVD; docs/hardware.md "The page walk" step 2):
// bits 51:M, XD without NXE, PS in a PML5E/PML4E, PS in a PDPTE without page1gb, bits 29:13 of a
// 1 GiB leaf and 20:13 of a 2 MiB leaf. A reserved-bit fault has P = 1 and RSVD = 1, stops the walk
// at that entry, sets no A bit and caches nothing.
import { expect, it } from 'vitest';
import type { AccessResult, PageSize } from '../src/mmu/model.ts';
import {
  CR4_PGE, CR4_SMEP, P, PS, XD, R, W, X, S, SMALL, counts, forEachModel, ok, pf, setup, L, type Level,
} from './support/harness.ts';

const LA: Record<PageSize, bigint> = { '4K': 0x8040_2000n, '2M': 0x8040_0000n, '1G': 0x8000_0000n };
const FRAME: Record<PageSize, bigint> = { '4K': 0x1_2345_6000n, '2M': 0x2_0040_0000n, '1G': 0x3_8000_0000n };
const OFFSET = 0x123n;
const PATH: Record<PageSize, Level[]> = {
  '4K': ['pml4e', 'pdpte', 'pde', 'pte'],
  '2M': ['pml4e', 'pdpte', 'pde'],
  '1G': ['pml4e', 'pdpte'],
};
const RSVD_USER_READ = L.PF_P | L.PF_RSVD | L.PF_US; // 0xd

interface Row {
  name: string;
  size: PageSize;
  level: Level; // the entry edited
  set: bigint;
  clear?: bigint;
  maxphyaddr?: number;
  page1gb?: boolean;
  levels?: 4 | 5;
  efer?: bigint;
  cr4?: bigint;
  kind?: number;
  expected: AccessResult;
  loads: number; // entries the walk reads
}

const bit = (n: number) => 1n << BigInt(n);
const la = (size: PageSize) => LA[size] + OFFSET;
const rsvd = (size: PageSize, level: Level, code = RSVD_USER_READ) => ({ expected: pf(code, la(size)), loads: PATH[size].indexOf(level) + 1 });
const fine = (size: PageSize, pa = FRAME[size] + OFFSET) => ({ expected: ok(pa), loads: PATH[size].length });

const ROWS: Row[] = [];

// Bits 51:M of every entry, for several M; bit M - 1 is an address bit.
for (const M of [36, 40, 46, 51]) {
  for (const b of M === 51 ? [51] : [M, 51]) {
    for (const level of PATH['4K']) ROWS.push({ name: `M=${M}: bit ${b} of the ${level}`, size: '4K', level, set: bit(b), maxphyaddr: M, ...rsvd('4K', level) });
    ROWS.push({ name: `M=${M}: bit ${b} of a 2 MiB PDE`, size: '2M', level: 'pde', set: bit(b), maxphyaddr: M, ...rsvd('2M', 'pde') });
    ROWS.push({ name: `M=${M}: bit ${b} of a 1 GiB PDPTE`, size: '1G', level: 'pdpte', set: bit(b), maxphyaddr: M, ...rsvd('1G', 'pdpte') });
  }
  // Bit M - 1 of a PTE is part of the frame.
  ROWS.push({ name: `M=${M}: bit ${M - 1} of the PTE is an address bit`, size: '4K', level: 'pte', set: bit(M - 1), maxphyaddr: M, ...fine('4K', FRAME['4K'] + OFFSET + bit(M - 1)) });
}
// M = 52: nothing is reserved in 51:12. In a PTE bit 51 is a frame bit; in a PDE it moves the page
// table outside the pool, which reads as not present.
ROWS.push({ name: 'M=52: bit 51 of the PTE is an address bit', size: '4K', level: 'pte', set: bit(51), maxphyaddr: 52, ...fine('4K', FRAME['4K'] + OFFSET + bit(51)) });
ROWS.push({ name: 'M=52: bit 51 of the PDE points outside the pool', size: '4K', level: 'pde', set: bit(51), maxphyaddr: 52, expected: pf(L.PF_US, la('4K')), loads: 4 });

// XD (bit 63) is reserved when EFER.NXE = 0, and means execute-disable when NXE = 1.
for (const level of PATH['4K']) {
  ROWS.push({ name: `XD in the ${level}, NXE = 0`, size: '4K', level, set: XD, efer: 0n, ...rsvd('4K', level) });
  ROWS.push({ name: `XD in the ${level}, NXE = 1: a read is fine`, size: '4K', level, set: XD, ...fine('4K') });
}
ROWS.push({ name: 'XD in a 2 MiB PDE, NXE = 0', size: '2M', level: 'pde', set: XD, efer: 0n, ...rsvd('2M', 'pde') });
ROWS.push({ name: 'XD in a 1 GiB PDPTE, NXE = 0', size: '1G', level: 'pdpte', set: XD, efer: 0n, ...rsvd('1G', 'pdpte') });
// A fetch: I/D is reported only with NXE or SMEP (§4.7), even in a reserved-bit fault.
ROWS.push({ name: 'XD in the PTE, NXE = 0: a user fetch has no I/D', size: '4K', level: 'pte', set: XD, efer: 0n, kind: X, ...rsvd('4K', 'pte') });
ROWS.push({
  name: 'XD in the PTE, NXE = 0, SMEP = 1: a supervisor fetch has I/D', size: '4K', level: 'pte', set: XD, efer: 0n, cr4: CR4_PGE | CR4_SMEP, kind: X | S,
  ...rsvd('4K', 'pte', L.PF_P | L.PF_RSVD | L.PF_ID),
});

// PS in a PML4E or PML5E.
ROWS.push({ name: 'PS in the PML4E', size: '4K', level: 'pml4e', set: PS, ...rsvd('4K', 'pml4e') });
ROWS.push({ name: 'PS in the PML5E (5-level)', size: '4K', level: 'pml5e', set: PS, levels: 5, expected: pf(RSVD_USER_READ, la('4K')), loads: 1 });
ROWS.push({ name: 'PS in the PML4E (5-level)', size: '4K', level: 'pml4e', set: PS, levels: 5, expected: pf(RSVD_USER_READ, la('4K')), loads: 2 });

// PS in a PDPTE without 1 GiB pages; a PDPTE pointing to a page directory is fine either way.
ROWS.push({ name: 'a 1 GiB PDPTE without page1gb', size: '1G', level: 'pdpte', set: 0n, page1gb: false, ...rsvd('1G', 'pdpte') });
ROWS.push({ name: 'a PDPTE with PS = 0 without page1gb', size: '4K', level: 'pdpte', set: 0n, page1gb: false, ...fine('4K') });

// Bits 29:13 of a 1 GiB leaf, 20:13 of a 2 MiB leaf; bit 12 is PAT there, not part of the frame.
for (let b = 13; b <= 29; b++) ROWS.push({ name: `bit ${b} of a 1 GiB PDPTE`, size: '1G', level: 'pdpte', set: bit(b), ...rsvd('1G', 'pdpte') });
for (let b = 13; b <= 20; b++) ROWS.push({ name: `bit ${b} of a 2 MiB PDE`, size: '2M', level: 'pde', set: bit(b), ...rsvd('2M', 'pde') });
ROWS.push({ name: 'bit 12 (PAT) of a 1 GiB PDPTE', size: '1G', level: 'pdpte', set: bit(12), ...fine('1G') });
ROWS.push({ name: 'bit 12 (PAT) of a 2 MiB PDE', size: '2M', level: 'pde', set: bit(12), ...fine('2M') });
ROWS.push({ name: 'bit 30 of a 1 GiB PDPTE is an address bit', size: '1G', level: 'pdpte', set: bit(30), ...fine('1G', FRAME['1G'] + OFFSET + bit(30)) });
ROWS.push({ name: 'bit 21 of a 2 MiB PDE is an address bit', size: '2M', level: 'pde', set: bit(21), ...fine('2M', FRAME['2M'] + OFFSET + bit(21)) });

// Not reserved: ignored bits 11:9 and 58:52, PK bits 62:59 of non-leaf entries, PAT (bit 7) of a PTE.
for (const level of PATH['4K']) {
  ROWS.push({ name: `ignored bits 11:9 and 58:52 of the ${level}`, size: '4K', level, set: 0x07f0_0000_0000_0e00n, ...fine('4K') });
}
ROWS.push({ name: 'bits 62:59 of the PDE', size: '4K', level: 'pde', set: 0x7800_0000_0000_0000n, ...fine('4K') });
ROWS.push({ name: 'PAT (bit 7) of the PTE', size: '4K', level: 'pte', set: PS, ...fine('4K') });

// Reserved bits count only in a present entry.
ROWS.push({ name: 'bit 51 of a not-present PTE', size: '4K', level: 'pte', set: bit(51), clear: P, expected: pf(L.PF_US, la('4K')), loads: 4 });
ROWS.push({ name: 'PS in a not-present PML4E', size: '4K', level: 'pml4e', set: PS, clear: P, expected: pf(L.PF_US, la('4K')), loads: 1 });

// The error code of a reserved-bit fault: RSVD implies P (§4.7), with W/R, U/S and I/D of the access.
for (const [kind, code, what] of [
  [R, 0x0d, 'user read'], [W, 0x0f, 'user write'], [X, 0x1d, 'user fetch'],
  [R | S, 0x09, 'supervisor read'], [W | S, 0x0b, 'supervisor write'], [X | S, 0x19, 'supervisor fetch'],
] as const) {
  ROWS.push({ name: `RSVD implies P: error code of a ${what} is 0x${code.toString(16)}`, size: '4K', level: 'pte', set: bit(50), kind, ...rsvd('4K', 'pte', code) });
}

forEachModel('reserved bits', (model) => {
  it.each(ROWS)('$name', async (row) => {
    const levels = row.levels ?? 4;
    const path: Level[] = levels === 5 ? ['pml5e', ...PATH[row.size]] : PATH[row.size];
    const t = await setup(model, {
      levels,
      config: { ...SMALL, maxphyaddr: row.maxphyaddr, page1gb: row.page1gb },
      build: (b) => {
        b.map(LA[row.size], FRAME[row.size], row.size);
        const entries = path.map((level) => b.entry(LA[row.size], level));
        b.edit(LA[row.size], row.level, row.set, row.clear ?? 0n);
        return entries;
      },
      regs: { efer: row.efer, cr4: row.cr4 },
    });
    const entries = t.data.map((ea) => t.m.readEntry(ea));
    const result = t.m.access(0, la(row.size), row.kind ?? R);
    expect(result).toEqual(row.expected);
    const d = t.delta();
    expect(d.walkLoads).toBe(BigInt(row.loads));
    if (result.status === 'ok') {
      expect(d.aSets).toBe(BigInt(row.loads));
      return;
    }
    // A faulting walk: no A bit anywhere, nothing cached, one fault with its invalidation.
    expect(t.data.map((ea) => t.m.readEntry(ea))).toEqual(entries);
    expect(t.m.tlbEntries(0)).toEqual([]);
    expect(t.m.pscEntries(0)).toEqual([]);
    expect(d).toMatchObject({ aSets: 0n, dSets: 0n, pageFaults: 1n, pfInvalidations: 1n });
  });

  it('entries cached in a paging-structure cache are not read again: reserved bits set in them later are not seen', async () => {
    const t = await setup(model, {
      config: SMALL,
      build: (b) => {
        for (const va of [0x1000n, 0x2000n, 0x3000n]) b.map(va, va + 0x4000n);
        return { pde: b.entry(0x1000n, 'pde'), pml4e: b.entry(0x1000n, 'pml4e'), pte3: b.entry(0x3000n, 'pte') };
      },
    });
    expect(t.m.access(0, 0x1000n, R)).toEqual(ok(0x5000n));
    t.m.writeEntry(t.data.pml4e, t.m.readEntry(t.data.pml4e) | bit(51));
    t.m.writeEntry(t.data.pde, t.m.readEntry(t.data.pde) | bit(50));
    // TLB miss, PDE-cache hit: only the PTE is read.
    expect(t.m.access(0, 0x2000n, R)).toEqual(ok(0x6000n));
    // The PTE is read, so its reserved bit is seen (the PDE's still is not).
    t.m.writeEntry(t.data.pte3, t.m.readEntry(t.data.pte3) | bit(48));
    expect(t.m.access(0, 0x3000n, W)).toEqual(pf(L.PF_P | L.PF_RSVD | L.PF_WR | L.PF_US, 0x3000n));
    // That fault dropped the PSC entries for 0x3000 (all three), not the TLB entry of 0x2000.
    expect(t.m.pscEntries(0)).toEqual([]);
    expect(t.m.access(0, 0x2000n, R)).toEqual(ok(0x6000n));
    // A write through the clean entry of 0x1000 re-walks from CR3 and now meets the PML4E.
    expect(t.m.access(0, 0x1000n, W)).toEqual(pf(L.PF_P | L.PF_RSVD | L.PF_WR | L.PF_US, 0x1000n));
    expect(t.delta()).toEqual(counts({
      accesses: 5n, reads: 3n, writes: 2n, dtlb4kHits: 2n, tlbMisses: 3n, walks: 4n, walkLoads: 7n, aSets: 5n,
      pscPdeHits: 2n, dirtyRewalks: 1n, pageFaults: 2n, pfInvalidations: 2n,
    }));
  });
});
