// The test harness: builds page tables on a WebAssembly Machine with PageTables, then runs the same
// scenario on either implementation of MmuModel: the Machine itself ('wasm'), or a ReferenceMachine
// started from a copy of the Machine's table pool and generations ('reference').
//
//   forEachModel('4 KiB pages', (model) => {
//     it('translates', async () => {
//       const t = await setup(model, { build: (b) => b.map(0x1000n, 0x5000n) });
//       expect(t.m.access(0, 0x1000n, R)).toEqual(ok(0x5000n));
//     });
//   });
//
// Host-side edits after setup (PageTables, PhysicalMemory) act on the Machine's memory; `sync()`
// carries them to the reference (the entries and generation slots written since the last sync).
// Edits through `t.m.writeEntry` / `t.m.writeGeneration` act on the model under test directly.
// Counters: `delta()` is what the CPU counted since setup (or `mark()`), `counts({...})` a full set
// with every counter not named at 0, for exact comparisons.
import { describe } from 'vitest';
import * as L from '../../assembly/layout.ts';
import { Machine } from '../../src/mmu/machine.ts';
import { PageTables, type MapFlags } from '../../src/mmu/builder.ts';
import { PhysicalMemory } from '../../src/mmu/physmem.ts';
import { ReferenceMachine } from '../../src/mmu/reference.ts';
import { COUNTER_NAMES, KIND, type AccessResult, type Counters, type MachineConfig, type MmuModel, type PageSize } from '../../src/mmu/model.ts';

/**
 * A small machine for tests that do not look at set indexes or slots above 4 GiB: small arrays
 * (retentive mode, no STLB) and 8 GiB of physical memory make setup cheap on both models.
 */
export const SMALL: Partial<MachineConfig> = {
  physmem: 8n << 30n,
  zone4k: 4n << 30n,
  geometry: {
    dtlb4k: { sets: 16, ways: 4 }, dtlb2m: { sets: 8, ways: 4 }, dtlb1g: { sets: 4, ways: 4 },
    pml5: { sets: 1, ways: 4 }, pml4: { sets: 4, ways: 4 }, pdpte: { sets: 8, ways: 4 }, pde: { sets: 16, ways: 4 },
  },
};

export type ModelName = 'wasm' | 'reference';
export const MODEL_NAMES: readonly ModelName[] = ['wasm', 'reference'];

/** One describe block per implementation: `fn` declares the tests, `model` says which one. */
export function forEachModel(title: string, fn: (model: ModelName) => void): void {
  for (const model of MODEL_NAMES) describe(`${title} [${model}]`, () => fn(model));
}

// ---- Bits (SDM vol. 3A §4.5, §2.5) ----
export const P = 1n, RW = 2n, US = 4n, A = 0x20n, D = 0x40n, PS = 0x80n, XD = 1n << 63n;
export const CR0_WP = 1n << 16n;
export const CR4_PGE = 1n << 7n, CR4_LA57 = 1n << 12n, CR4_PCIDE = 1n << 17n;
export const CR4_SMEP = 1n << 20n, CR4_SMAP = 1n << 21n, CR4_PKE = 1n << 22n;
export const EFER_NXE = 1n << 11n;
export const RFLAGS_AC = 1n << 18n;
export const CR3_NOFLUSH = 1n << 63n;
export const ADDR = 0x000f_ffff_ffff_f000n; // bits 51:12 of an entry

export const R = KIND.read, W = KIND.write, X = KIND.fetch, S = KIND.supervisor;

export const ok = (pa: bigint): AccessResult => ({ status: 'ok', pa });
export const pf = (errorCode: number, cr2: bigint): AccessResult => ({ status: 'page-fault', errorCode, cr2 });
export const gp: AccessResult = { status: 'general-protection' };

/** The entries of a walk, by name; PageTables numbers them 4 (PML5E) down to 0 (PTE). */
export type Level = 'pml5e' | 'pml4e' | 'pdpte' | 'pde' | 'pte';
const LEVEL_NUMBER: Record<Level, number> = { pml5e: 4, pml4e: 3, pdpte: 2, pde: 1, pte: 0 };

/** What a build function gets: the Machine the tables are built on, and a root table for CR3. */
export interface Build {
  machine: Machine;
  tables: PageTables;
  phys: PhysicalMemory;
  levels: 4 | 5;
  root: bigint;
  /** Maps in `root` (PageTables.map with this scenario's levels). Returns the leaf entry's address. */
  map(va: bigint, pa: bigint, size?: PageSize, flags?: MapFlags): bigint;
  /** Physical address of the entry for `va` at `level` under `root` (it must exist). */
  entry(va: bigint, level: Level, root?: bigint): bigint;
  /** Read-modify-write of that entry in the Machine's memory. */
  edit(va: bigint, level: Level, set: bigint, clear?: bigint, root?: bigint): void;
}

export interface Regs {
  cr0?: bigint;
  cr3?: bigint;
  cr4?: bigint;
  efer?: bigint;
  rflags?: bigint;
  pkru?: number;
}

export interface Scenario<T> {
  config?: Partial<MachineConfig>; // ncpus defaults to 1
  levels?: 4 | 5; // default 4
  build?: (b: Build) => T;
  /** Loaded on every CPU after the build (CR4 first, then CR3; CR3 defaults to the root). */
  regs?: Regs | ((data: T, b: Build) => Regs);
}

export interface Pair<T> extends Build {
  wasm: Machine;
  ref: ReferenceMachine | undefined;
  data: T;
  config: MachineConfig;
  /**
   * Carries the entries and generations the host wrote on the Machine since the last sync to the
   * reference (a no-op without one). The reference's pool is a copy made at creation: tables in a
   * part of the pool grown later cannot be carried, so grow the pool in build().
   */
  sync(): void;
}

export interface Ctx<T> extends Pair<T> {
  name: ModelName;
  /** The implementation under test. */
  m: MmuModel;
  /** Counters of `cpu` since the end of setup (register loads excluded), or since the last mark(). */
  delta(cpu?: number): Counters;
  /** Makes delta() count from now on. */
  mark(): void;
}

/** Builds the scenario's tables on a fresh Machine and, unless told not to, a reference from a copy of its pool. */
export async function createPair<T = undefined>(scenario: Scenario<T> = {}, withReference = true): Promise<Pair<T>> {
  // A small pool keeps copies of it (poolBytes) cheap; scenarios that need more say so.
  const config: MachineConfig = { ncpus: 1, poolFrames: 64, ...scenario.config };
  const levels = scenario.levels ?? 4;
  const machine = await Machine.create(config);
  // Record what the host writes (PageTables, PhysicalMemory and the tests all go through these two),
  // so that sync() can carry exactly that to the reference without copying the whole memory.
  const touchedEntries = new Set<bigint>();
  const touchedSlots = new Set<number>();
  const writeEntry = machine.writeEntry.bind(machine);
  const writeGeneration = machine.writeGeneration.bind(machine);
  machine.writeEntry = (pa, value) => {
    writeEntry(pa, value);
    touchedEntries.add(pa);
  };
  const zeroTable = machine.zeroTable.bind(machine);
  machine.zeroTable = (pa) => {
    zeroTable(pa);
    for (let i = 0n; i < 512n; i++) touchedEntries.add(pa + 8n * i);
  };
  machine.writeGeneration = (slot, value) => {
    writeGeneration(slot, value);
    touchedSlots.add(slot);
  };
  const tables = new PageTables(machine);
  const phys = new PhysicalMemory(machine);
  const root = tables.newRoot();
  const entry = (va: bigint, level: Level, r = root) => {
    const ea = tables.entryAddress(r, va, LEVEL_NUMBER[level], levels, false);
    if (ea === undefined) throw new Error(`no ${level} for 0x${va.toString(16)}`);
    return ea;
  };
  const b: Build = {
    machine, tables, phys, levels, root,
    map: (va, pa, size = '4K', flags = {}) => tables.map(root, va, pa, size, flags, levels),
    entry,
    edit: (va, level, set, clear = 0n, r = root) => {
      const ea = entry(va, level, r);
      machine.writeEntry(ea, (machine.readEntry(ea) & ~clear) | set);
    },
  };
  const data = scenario.build ? scenario.build(b) : (undefined as T);

  let ref: ReferenceMachine | undefined;
  if (withReference) {
    const pool = machine.poolBytes();
    ref = new ReferenceMachine(config, { base: Number(machine.pool.base), bytes: pool });
    // The reference starts with every generation 0: carry over those the build wrote.
    const gens = new Uint32Array(machine.memory.buffer, machine.layout.genBase, machine.layout.genSlots);
    for (const slot of touchedSlots) if (gens[slot] !== 0) ref.writeGeneration(slot, gens[slot]);
  }
  touchedEntries.clear();
  touchedSlots.clear();
  const sync = () => {
    if (!ref) return;
    for (const pa of touchedEntries) ref.writeEntry(pa, machine.readEntry(pa));
    for (const slot of touchedSlots) ref.writeGeneration(slot, machine.readGeneration(slot));
    touchedEntries.clear();
    touchedSlots.clear();
  };
  return { ...b, wasm: machine, ref, data, config, sync };
}

/** A scenario ready to run on `name`: paging levels and registers loaded on every CPU. */
export async function setup<T = undefined>(name: ModelName, scenario: Scenario<T> = {}): Promise<Ctx<T>> {
  const pair = await createPair(scenario, name === 'reference');
  const m: MmuModel = name === 'wasm' ? pair.wasm : pair.ref!;
  const regs = typeof scenario.regs === 'function' ? scenario.regs(pair.data, pair) : (scenario.regs ?? {});
  const levels = pair.levels;
  for (let cpu = 0; cpu < m.ncpus; cpu++) {
    if (levels === 5) m.setPagingLevels(cpu, 5);
    const must = (what: string, done: boolean) => {
      if (!done) throw new Error(`setup: ${what} raised #GP`);
    };
    if (regs.cr0 !== undefined) must('CR0', m.writeCr0(cpu, regs.cr0));
    if (regs.efer !== undefined) must('EFER', m.writeEfer(cpu, regs.efer));
    if (regs.rflags !== undefined) must('RFLAGS', m.writeRflags(cpu, regs.rflags));
    if (regs.pkru !== undefined) must('PKRU', m.writePkru(cpu, regs.pkru));
    if (regs.cr4 !== undefined) must('CR4', m.writeCr4(cpu, regs.cr4 | (levels === 5 ? CR4_LA57 : 0n)));
    must('CR3', m.writeCr3(cpu, regs.cr3 ?? pair.root));
  }
  let base = Array.from({ length: m.ncpus }, (_, cpu) => m.counters(cpu));
  const mark = () => {
    base = Array.from({ length: m.ncpus }, (_, cpu) => m.counters(cpu));
  };
  const delta = (cpu = 0) => {
    const now = m.counters(cpu);
    const out = {} as Counters;
    for (const k of COUNTER_NAMES) out[k] = now[k] - base[cpu][k];
    return out;
  };
  return { ...pair, name, m, delta, mark };
}

/** A full set of counters: the given ones, every other one 0 (for exact comparisons of delta()). */
export function counts(partial: Partial<Counters>): Counters {
  const out = {} as Counters;
  for (const k of COUNTER_NAMES) out[k] = partial[k] ?? 0n;
  return out;
}

/** The CPU's victim generator (docs/hardware.md, "Fill"), written out again for expectations. */
export function xorshift32(seed = 0x9e3779b9): () => number {
  let x = seed >>> 0;
  return () => {
    x = (x ^ (x << 13)) >>> 0;
    x = (x ^ (x >>> 17)) >>> 0;
    x = (x ^ (x << 5)) >>> 0;
    return x;
  };
}

/** Entries in a compact, order-independent form: "dtlb4k 0x1 p1", "dtlb2m 0x0 g", "pde 0x0 p1". */
export function tlbKeys(m: MmuModel, cpu = 0): string[] {
  return m.tlbEntries(cpu).map((e) => `${e.array} 0x${e.page.toString(16)} ${e.global ? 'g' : `p${e.pcid}`}`).sort();
}
export function pscKeys(m: MmuModel, cpu = 0): string[] {
  return m.pscEntries(cpu).map((e) => `${e.array} 0x${e.page.toString(16)} p${e.pcid}`).sort();
}

export { L };
