// Access rights (SDM vol. 3A §4.6, protection keys §4.6.2) and the page-fault error code (§4.7);
// docs/hardware.md "Access rights and the error code". Every row of the contract's table, with the
// restricting bit at different levels, CR0.WP, SMAP with RFLAGS.AC, SMEP, XD/NXE, and PKRU AD/WD
// for user and supervisor accesses. Each row runs twice per model: on a TLB miss (the walk decides)
// and on a TLB hit (the cached rights are checked against the current registers).
import { expect, it } from 'vitest';
import {
  CR0_WP, CR4_PGE, CR4_PKE, CR4_SMAP, CR4_SMEP, EFER_NXE, RFLAGS_AC, RW, US, XD, R, W, X, S,
  SMALL, forEachModel, ok, pf, setup, type Build, type Level, type Regs,
} from './support/harness.ts';

const LA = 0x8040_2abcn; // PML4 0, PDPT 2, PD 2, PT 2
const FRAME = 0x1_2345_6000n;
const PA = FRAME | 0xabcn;

interface Row {
  name: string;
  kind: number;
  u0?: Level; // U/S = 0 in this entry (1 everywhere else)
  w0?: Level; // R/W = 0 in this entry
  xd?: Level; // XD = 1 in this entry
  pk?: number; // the leaf's protection key, default 5
  wp?: boolean; // CR0.WP, default 1
  nxe?: boolean; // EFER.NXE, default 1
  smap?: boolean;
  ac?: boolean;
  smep?: boolean;
  pke?: boolean; // CR4.PKE, default 1 when pkru is given
  pkru?: number;
  expected: number | 'ok'; // the #PF error code
}

const AD = (k: number) => (1 << (2 * k)) >>> 0;
const WD = (k: number) => (1 << (2 * k + 1)) >>> 0;

// Error codes: P 1, W/R 2, U/S 4, I/D 0x10, PK 0x20.
const ROWS: Row[] = [
  // user read: U
  { name: 'user read, user page', kind: R, expected: 'ok' },
  { name: 'user read, U/S = 0 in the PTE', kind: R, u0: 'pte', expected: 0x05 },
  { name: 'user read, U/S = 0 in the PML4E', kind: R, u0: 'pml4e', expected: 0x05 },
  { name: 'user read, R/W = 0 and XD', kind: R, w0: 'pde', xd: 'pte', expected: 'ok' },
  // user write: U and W
  { name: 'user write, user writable page', kind: W, expected: 'ok' },
  { name: 'user write, R/W = 0 in the PDE', kind: W, w0: 'pde', expected: 0x07 },
  { name: 'user write, R/W = 0 in the PTE, CR0.WP = 0 (WP does not matter to users)', kind: W, w0: 'pte', wp: false, expected: 0x07 },
  { name: 'user write, U/S = 0 in the PDPTE', kind: W, u0: 'pdpte', expected: 0x07 },
  { name: 'user write, XD in the PDE', kind: W, xd: 'pde', expected: 'ok' },
  // user fetch: U and not XD
  { name: 'user fetch, user page', kind: X, expected: 'ok' },
  { name: 'user fetch, XD in the PML4E', kind: X, xd: 'pml4e', expected: 0x15 },
  { name: 'user fetch, XD in the PTE', kind: X, xd: 'pte', expected: 0x15 },
  { name: 'user fetch, U/S = 0 in the PTE', kind: X, u0: 'pte', expected: 0x15 },
  { name: 'user fetch, U/S = 0 in the PTE, NXE = 0 (no I/D without NXE or SMEP)', kind: X, u0: 'pte', nxe: false, expected: 0x05 },
  { name: 'user fetch, U/S = 0 in the PTE, NXE = 0, SMEP = 1 (I/D)', kind: X, u0: 'pte', nxe: false, smep: true, expected: 0x15 },
  { name: 'user fetch, R/W = 0', kind: X, w0: 'pte', expected: 'ok' },
  // supervisor read: not U; or U and (not SMAP or AC)
  { name: 'supervisor read, supervisor page', kind: R | S, u0: 'pte', expected: 'ok' },
  { name: 'supervisor read, supervisor page, SMAP = 1, AC = 0', kind: R | S, u0: 'pte', smap: true, expected: 'ok' },
  { name: 'supervisor read, user page, SMAP = 0', kind: R | S, expected: 'ok' },
  { name: 'supervisor read, user page, SMAP = 1, AC = 0', kind: R | S, smap: true, expected: 0x01 },
  { name: 'supervisor read, user page, SMAP = 1, AC = 1', kind: R | S, smap: true, ac: true, expected: 'ok' },
  { name: 'supervisor read, U/S = 0 only in the PML4E (a supervisor address), SMAP = 1', kind: R | S, u0: 'pml4e', smap: true, expected: 'ok' },
  { name: 'supervisor read, R/W = 0, XD', kind: R | S, u0: 'pte', w0: 'pte', xd: 'pte', expected: 'ok' },
  // supervisor write: (W or not WP) and (not U or not SMAP or AC)
  { name: 'supervisor write, supervisor writable page', kind: W | S, u0: 'pte', expected: 'ok' },
  { name: 'supervisor write, R/W = 0 in the PTE, WP = 1', kind: W | S, u0: 'pte', w0: 'pte', expected: 0x03 },
  { name: 'supervisor write, R/W = 0 in the PML4E, WP = 1', kind: W | S, u0: 'pte', w0: 'pml4e', expected: 0x03 },
  { name: 'supervisor write, R/W = 0 in the PDPTE, WP = 0', kind: W | S, u0: 'pdpte', w0: 'pdpte', wp: false, expected: 'ok' },
  { name: 'supervisor write, user page, SMAP = 0', kind: W | S, expected: 'ok' },
  { name: 'supervisor write, user page with R/W = 0, WP = 1', kind: W | S, w0: 'pte', expected: 0x03 },
  { name: 'supervisor write, user page with R/W = 0, WP = 0', kind: W | S, w0: 'pte', wp: false, expected: 'ok' },
  { name: 'supervisor write, user page, SMAP = 1, AC = 0', kind: W | S, smap: true, expected: 0x03 },
  { name: 'supervisor write, user page, SMAP = 1, AC = 1', kind: W | S, smap: true, ac: true, expected: 'ok' },
  { name: 'supervisor write, user page with R/W = 0, WP = 0, SMAP = 1, AC = 0', kind: W | S, w0: 'pde', wp: false, smap: true, expected: 0x03 },
  { name: 'supervisor write, user page with R/W = 0, WP = 0, SMAP = 1, AC = 1', kind: W | S, w0: 'pde', wp: false, smap: true, ac: true, expected: 'ok' },
  { name: 'supervisor write, user page with R/W = 0, WP = 1, SMAP = 1, AC = 1', kind: W | S, w0: 'pde', smap: true, ac: true, expected: 0x03 },
  // supervisor fetch: not XD and (not U or not SMEP)
  { name: 'supervisor fetch, supervisor page', kind: X | S, u0: 'pte', expected: 'ok' },
  { name: 'supervisor fetch, XD in the PDE', kind: X | S, u0: 'pte', xd: 'pde', expected: 0x11 },
  { name: 'supervisor fetch, user page, SMEP = 0', kind: X | S, expected: 'ok' },
  { name: 'supervisor fetch, user page, SMEP = 1', kind: X | S, smep: true, expected: 0x11 },
  { name: 'supervisor fetch, user page, SMEP = 1, NXE = 0', kind: X | S, smep: true, nxe: false, expected: 0x11 },
  { name: 'supervisor fetch, U/S = 0 only in the PDPTE, SMEP = 1', kind: X | S, u0: 'pdpte', smep: true, expected: 'ok' },
  { name: 'supervisor fetch, user page, SMAP = 1, AC = 0 (SMAP is for data)', kind: X | S, smap: true, expected: 'ok' },
  { name: 'supervisor fetch, user page with XD, SMEP = 1', kind: X | S, xd: 'pml4e', smep: true, expected: 0x11 },
  { name: 'supervisor fetch, supervisor page with R/W = 0, WP = 1', kind: X | S, u0: 'pte', w0: 'pte', expected: 'ok' },
  // protection keys: user-mode address, data access; AD denies; WD denies writes by users, or with WP
  { name: 'PK: user read, AD', kind: R, pkru: AD(5), expected: 0x25 },
  { name: 'PK: user write, AD', kind: W, pkru: AD(5), expected: 0x27 },
  { name: 'PK: user write, WD', kind: W, pkru: WD(5), expected: 0x27 },
  { name: 'PK: user write, WD, WP = 0 (users always obey WD)', kind: W, pkru: WD(5), wp: false, expected: 0x27 },
  { name: 'PK: user read, WD', kind: R, pkru: WD(5), expected: 'ok' },
  { name: 'PK: user fetch, AD and WD (keys are for data)', kind: X, pkru: AD(5) | WD(5), expected: 'ok' },
  { name: 'PK: supervisor read of a user page, AD', kind: R | S, pkru: AD(5), expected: 0x21 },
  { name: 'PK: supervisor write of a user page, AD, WP = 0', kind: W | S, pkru: AD(5), wp: false, expected: 0x23 },
  { name: 'PK: supervisor write of a user page, WD, WP = 1', kind: W | S, pkru: WD(5), expected: 0x23 },
  { name: 'PK: supervisor write of a user page, WD, WP = 0', kind: W | S, pkru: WD(5), wp: false, expected: 'ok' },
  { name: 'PK: supervisor read of a supervisor page, AD', kind: R | S, u0: 'pte', pkru: AD(5), expected: 'ok' },
  { name: 'PK: supervisor write of a page with U/S = 0 in the PML4E, AD', kind: W | S, u0: 'pml4e', pkru: AD(5), expected: 'ok' },
  { name: 'PK: another key\'s AD and WD', kind: W, pkru: AD(4) | WD(4) | AD(6) | WD(6), expected: 'ok' },
  { name: 'PK: key 0, AD', kind: R, pk: 0, pkru: AD(0), expected: 0x25 },
  { name: 'PK: key 15, AD (PKRU bit 30)', kind: R, pk: 15, pkru: AD(15), expected: 0x25 },
  { name: 'PK: key 15, WD (PKRU bit 31)', kind: W, pk: 15, pkru: WD(15), expected: 0x27 },
  { name: 'PK: CR4.PKE = 0 ignores PKRU', kind: W, pke: false, pkru: 0xffffffff, expected: 'ok' },
  { name: 'PK and R/W both deny a user write', kind: W, w0: 'pte', pkru: WD(5), expected: 0x27 },
  { name: 'PK denies, R/W = 0 in the PML4E denies too', kind: W, w0: 'pml4e', pkru: AD(5), expected: 0x27 },
  { name: 'PK and SMAP both deny a supervisor write', kind: W | S, smap: true, pkru: WD(5), expected: 0x23 },
  { name: 'PK allows, SMAP denies: no PK bit', kind: R | S, smap: true, pkru: WD(5), expected: 0x01 },
  { name: 'PK allows, R/W denies: no PK bit', kind: W, w0: 'pde', pkru: AD(4), expected: 0x07 },
];

function regsOf(row: Row): Regs {
  const pke = row.pke ?? row.pkru !== undefined;
  return {
    cr0: row.wp === false ? 0n : CR0_WP,
    cr4: CR4_PGE | (row.smap ? CR4_SMAP : 0n) | (row.smep ? CR4_SMEP : 0n) | (pke ? CR4_PKE : 0n),
    efer: row.nxe === false ? 0n : EFER_NXE,
    rflags: row.ac ? RFLAGS_AC : 0n,
    pkru: row.pkru ?? 0,
  };
}

function scenario(row: Row, regs: Regs) {
  return {
    config: SMALL,
    build: (b: Build) => {
      // A and D already set: a write through the cached entry needs no dirty re-walk.
      b.map(LA & ~0xfffn, FRAME, '4K', { pk: row.pk ?? 5, accessed: true, dirty: true });
      if (row.u0) b.edit(LA, row.u0, 0n, US);
      if (row.w0) b.edit(LA, row.w0, 0n, RW);
      if (row.xd) b.edit(LA, row.xd, XD);
    },
    regs,
  };
}

const expected = (row: Row) => (row.expected === 'ok' ? ok(PA) : pf(row.expected, LA));

forEachModel('access rights', (model) => {
  it.each(ROWS)('walk: $name', async (row) => {
    const regs = regsOf(row);
    const t = await setup(model, scenario(row, regs));
    expect(t.m.access(0, LA, row.kind)).toEqual(expected(row));
    const tlb = t.m.tlbEntries(0);
    if (row.expected !== 'ok') {
      expect(tlb).toEqual([]);
      expect(t.delta()).toMatchObject({ walks: 1n, pageFaults: 1n, aSets: 0n });
      return;
    }
    // The cached rights are the accumulated ones; the key is the leaf's when PKE = 1.
    const pke = ((regs.cr4 ?? 0n) & CR4_PKE) !== 0n;
    expect(tlb).toMatchObject([{ array: 'dtlb4k', frame: FRAME, u: !row.u0, w: !row.w0, xd: !!row.xd, d: true, pk: pke ? (row.pk ?? 5) : 0 }]);
  });

  it.each(ROWS)('hit: $name', async (row) => {
    const regs = regsOf(row);
    // Fill with a supervisor read, allowed whatever the page (SMAP off, PKRU 0), then load the row's
    // SMAP and PKRU: neither change invalidates anything.
    const t = await setup(model, scenario(row, { ...regs, cr4: (regs.cr4 ?? 0n) & ~CR4_SMAP, pkru: 0 }));
    expect(t.m.access(0, LA, R | S)).toEqual(ok(PA));
    expect(t.m.writeCr4(0, regs.cr4!)).toBe(true);
    expect(t.m.writePkru(0, regs.pkru!)).toBe(true);
    expect(t.m.tlbEntries(0)).toHaveLength(1);
    expect(t.m.access(0, LA, row.kind)).toEqual(expected(row));
    expect(t.delta()).toMatchObject({ walks: 1n, dtlb4kHits: 1n, pageFaults: row.expected === 'ok' ? 0n : 1n });
    // A fault removes the entry (the #PF invalidation); a use keeps it.
    expect(t.m.tlbEntries(0)).toHaveLength(row.expected === 'ok' ? 1 : 0);
  });

  it('rights are cached at fill: clearing R/W in memory does not stop writes through the TLB', async () => {
    const t = await setup(model, scenario({ name: '', kind: W, expected: 'ok' }, {}));
    expect(t.m.access(0, LA, R)).toEqual(ok(PA));
    const pte = t.entry(LA, 'pte');
    t.m.writeEntry(pte, t.m.readEntry(pte) & ~RW);
    expect(t.m.access(0, LA, W)).toEqual(ok(PA));
    // Registers are not cached: with WP = 1 a supervisor write still passes (W was 1 at fill), and
    // SMAP now denies it.
    expect(t.m.writeCr4(0, CR4_PGE | CR4_SMAP)).toBe(true);
    expect(t.m.access(0, LA, W | S)).toEqual(pf(0x03, LA));
    // The fault dropped the entry: the next walk sees R/W = 0.
    expect(t.m.access(0, LA, W)).toEqual(pf(0x07, LA));
    expect(t.delta()).toMatchObject({ walks: 2n, dtlb4kHits: 2n, pageFaults: 2n });
  });
});
