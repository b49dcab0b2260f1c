// CPUs on worker threads over one shared memory (src/mmu/cpu-workers.ts): page-table stores and
// invalidations made by the main thread are seen by the workers' walks, racing walks on two threads
// never lose or duplicate an accessed or dirty bit, and a worker that fails says which and why.
//
// Worker threads take a few hundred milliseconds to start (tsx is registered in each), so the tests
// share two machines, each with two workers: one with one-entry TLB and caches, one with none.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { Machine } from '../src/mmu/machine.ts';
import { PageTables, PTE } from '../src/mmu/builder.ts';
import { CpuWorkers } from '../src/mmu/cpu-workers.ts';
import { WorkerError } from '../src/mmu/errors.ts';
import { KIND, type Counters, type Geometry } from '../src/mmu/model.ts';
import * as L from '../assembly/layout.ts';
import { rng } from '../src/explore/schedules.ts'; // mulberry32: the same accesses on every run

const { P, RW, US, A, D } = PTE;
const hex = (v: bigint) => `0x${v.toString(16)}`;

/** MMUWASM_RACE_REPORT=1 prints how many races the racing tests saw (it varies from run to run). */
const report = (line: string) => {
  if (process.env.MMUWASM_RACE_REPORT) console.log(line);
};

const NONE = { sets: 0, ways: 0 };
const ONE = { sets: 1, ways: 1 };
/** Every access walks all four levels and CASes whatever A/D bit it needs. */
const NO_CACHES: Geometry = {
  dtlb4k: NONE, dtlb2m: NONE, dtlb1g: NONE, stlb: NONE, stlb1g: NONE, pml5: NONE, pml4: NONE, pdpte: NONE, pde: NONE,
};
/** Reads fill the only TLB entry; a write right after hits it clean and re-walks to set D. */
const ONE_ENTRY: Geometry = { ...NO_CACHES, dtlb4k: ONE, pml4: ONE, pdpte: ONE, pde: ONE };

interface Rig {
  m: Machine;
  tables: PageTables;
  workers: CpuWorkers;
}

/** A two-CPU machine with a small simulated physical memory, and two workers on it. */
function rig(geometry: Geometry): Rig {
  const r = {} as Rig;
  beforeAll(async () => {
    r.m = await Machine.create({ ncpus: 2, mode: 'capacity', geometry, batchCapacity: 16384, poolFrames: 256, physmem: 8n << 30n, zone4k: 8n << 30n });
    r.tables = new PageTables(r.m);
    r.workers = await CpuWorkers.start(r.m, 2);
  });
  afterAll(() => r.workers?.close());
  return r;
}

/** Writes accesses into the CPU's batch area from record `start` (records: LA low, LA high, kind). */
function fill(m: Machine, cpu: number, start: number, las: readonly bigint[], kinds: readonly number[]): void {
  const { records, capacity } = m.batchArea(cpu);
  if (start + las.length > capacity) throw new Error(`${las.length} accesses do not fit the batch area`);
  las.forEach((la, i) => {
    const r = 4 * (start + i);
    records[r] = Number(la & 0xffffffffn);
    records[r + 1] = Number(la >> 32n);
    records[r + 2] = kinds[i];
    records[r + 3] = 0;
  });
}

/** One access of `cpu` run on worker `w`; returns the PA. */
async function translate(workers: CpuWorkers, w: number, cpu: number, la: bigint, kind: number): Promise<bigint> {
  fill(workers.machine, cpu, 0, [la], [kind]);
  const stop = await workers.run(w, cpu, 0, 1, true);
  expect(stop).toEqual({ done: 1, status: 'ok', errorCode: 0, cr2: 0n });
  return workers.machine.batchArea(cpu).results[0];
}

const delta = (after: Counters, before: Counters, name: keyof Counters) => after[name] - before[name];

// ---- one memory, two threads ----

describe('two workers on one memory', () => {
  const r = rig(ONE_ENTRY);

  it("see the main thread's PTE stores and invalidations; the main thread sees their A/D", async () => {
    const { m, tables, workers } = r;
    const root = tables.newRoot();
    const va = 0x7f12_3456_7000n;
    const f1 = 0x1_2345_6000n, f2 = 0x1_0bad_c000n;
    const leafAt = tables.map(root, va, f1, '4K');
    expect(m.writeCr3(0, root)).toBe(true);
    expect(m.writeCr3(1, root)).toBe(true);
    const before = m.counters(0);

    // Worker 0 runs CPU 0: it walks the main thread's tables, and its A update lands in them.
    expect(await translate(workers, 0, 0, va + 0x123n, KIND.read)).toBe(f1 + 0x123n);
    expect(m.readEntry(leafAt) & (A | D)).toBe(A);

    // The main thread moves the page. CPU 0 still holds the old translation in its TLB (which
    // lives in shared memory); CPU 1, on the other worker, walks and sees the new PTE at once.
    m.writeEntry(leafAt, f2 | P | RW | US);
    expect(await translate(workers, 0, 0, va + 0x123n, KIND.read)).toBe(f1 + 0x123n);
    expect(await translate(workers, 1, 1, va + 0x456n, KIND.read)).toBe(f2 + 0x456n);

    // INVLPG on CPU 0, executed by the main thread on CPU 0's state: the worker's next access walks.
    m.invlpg(0, va);
    expect(m.tlbEntries(0).filter((e) => e.page === va >> 12n)).toEqual([]);
    expect(await translate(workers, 0, 0, va + 0x789n, KIND.read)).toBe(f2 + 0x789n);

    // A write on worker 1 sets D by CAS; the main thread reads it.
    expect(await translate(workers, 1, 1, va, KIND.write)).toBe(f2);
    expect(m.readEntry(leafAt) & (A | D)).toBe(A | D);

    // Both threads read the same counters from the shared memory.
    const seen = await workers.counters(1, 0);
    expect(seen).toEqual(m.counters(0));
    expect(delta(seen, before, 'walks')).toBe(2n);
    expect(delta(seen, before, 'dtlb4kHits')).toBe(1n);
    expect(delta(seen, before, 'invlpg')).toBe(1n);
  });

  it('run two CPUs at once, each from any record of its batch area', async () => {
    const { m, tables, workers } = r;
    const root = tables.newRoot();
    const las = Array.from({ length: 64 }, (_, i) => 0x40_0000n + BigInt(i) * 4096n);
    const frames = las.map((_, i) => 0x1_8000_0000n + BigInt(i) * 4096n);
    las.forEach((la, i) => tables.map(root, la, frames[i], '4K'));
    for (const cpu of [0, 1]) {
      expect(m.writeCr3(cpu, root)).toBe(true);
      fill(m, cpu, 100, las, las.map(() => (cpu === 0 ? KIND.read : KIND.write)));
    }
    const stops = await Promise.all([workers.run(0, 0, 100, 64, true), workers.run(1, 1, 100, 64, true)]);
    for (const [cpu, stop] of stops.entries()) {
      expect(stop).toEqual({ done: 64, status: 'ok', errorCode: 0, cr2: 0n });
      expect([...m.batchArea(cpu).results.subarray(100, 164)]).toEqual(frames);
    }
  });

  it('report the worker and the cause when a call throws, and keep working', async () => {
    const { m, workers } = r;
    const err = await workers.run(1, 7, 0, 1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkerError);
    expect((err as WorkerError).worker).toBe(1);
    expect((err as Error).message).toBe('CPU worker 1: runBatch(cpu 7, records 0..1) failed: CpuRangeError: CPU 7 does not exist: this machine has CPUs 0..1');
    await expect(workers.run(0, 0, 16000, 400)).rejects.toThrow(
      'CPU worker 0: runBatch(cpu 0, records 16000..16400) failed: ArgumentError: batch range [16000, 16400) is outside the batch area of 16384 records',
    );
    await expect(workers.run(2, 0, 0, 1)).rejects.toThrow('CPU worker 2 does not exist: there are workers 0..1');
    // Both workers are still there (a general-protection fault is a result, not an error).
    fill(m, 0, 0, [0x8000_0000_0000n], [KIND.read]);
    expect(await workers.run(1, 0, 0, 1)).toMatchObject({ done: 0, status: 'general-protection' });
    expect(await workers.run(0, 0, 0, 1)).toMatchObject({ done: 0, status: 'general-protection' });
  });

  it('queue batches of one CPU on its worker, and refuse them on another worker meanwhile', async () => {
    const { workers } = r;
    const queued = [workers.run(0, 1, 0, 0), workers.run(0, 1, 0, 0)];
    await expect(workers.run(1, 1, 0, 0)).rejects.toThrow('CPU 1 is already running on CPU worker 0: one thread at a time may run a CPU');
    for (const stop of await Promise.all(queued)) expect(stop).toMatchObject({ done: 0, status: 'ok' });
    expect(await workers.run(1, 1, 0, 0)).toMatchObject({ done: 0, status: 'ok' });
  });

  racingTests(r, 'one-entry');
});

describe('two workers on one memory, no TLB or paging-structure cache', () => {
  racingTests(rig(NO_CACHES), 'none');
});

// ---- racing accessed/dirty updates ----


function shuffle<T>(xs: T[], random: () => number): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [xs[i], xs[j]] = [xs[j], xs[i]];
  }
  return xs;
}

// 16 page tables of 256 pages (every other PTE) under 2 PML4Es × 2 PDPTEs × 4 PDEs. The last page
// table is never touched, so some upper entries must keep A = 0.
const PAGE_TABLES = 16;
const PAGES_PER_TABLE = 256;
const PAGES = PAGE_TABLES * PAGES_PER_TABLE;
const ROUNDS = 3;
const CHUNK = 4096;

function vaOf(page: number): bigint {
  const t = page >> 8;
  const pml4 = 1 + (t & 1), pdpt = (t >> 1) & 1, pd = (t >> 2) & 3, pt = 2 * (page & 255);
  return (BigInt(pml4) << 39n) | (BigInt(pdpt) << 30n) | (BigInt(pd) << 21n) | (BigInt(pt) << 12n);
}

type Order = 'same' | 'opposite' | 'shuffled';

/** Which pages each CPU touches and writes, and the accesses it makes, in the given order. */
function workload(seed: number, order: Order) {
  const random = rng(seed);
  const touched = [new Set<number>(), new Set<number>()];
  const writeRound = [new Map<number, number>(), new Map<number, number>()];
  for (let page = 0; page < PAGES - PAGES_PER_TABLE; page++) {
    for (const cpu of [0, 1]) {
      if (random() < 0.75) touched[cpu].add(page);
      if (touched[cpu].has(page) && random() < 0.4) writeRound[cpu].set(page, Math.floor(random() * ROUNDS));
    }
  }
  const ascending = [0, 1].map((cpu) => [...touched[cpu]].sort((x, y) => x - y));
  const orders: number[][] = {
    same: () => ascending,
    opposite: () => [ascending[0], [...ascending[1]].reverse()],
    shuffled: () => ascending.map((o) => shuffle([...o], random)),
  }[order]();
  const accesses = [0, 1].map((cpu) => {
    const las: bigint[] = [];
    const kinds: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      for (const page of orders[cpu]) {
        // A read, then (in its round) a write of the same page: with a one-entry TLB the write hits a
        // clean entry and must re-walk to set D.
        las.push(vaOf(page) + BigInt(page & 0xfff));
        kinds.push(KIND.read);
        if (writeRound[cpu].get(page) === round) {
          las.push(vaOf(page) + 8n);
          kinds.push(KIND.write);
        }
      }
    }
    return { las, kinds };
  });
  return { touched, written: writeRound.map((w) => new Set(w.keys())), accesses };
}

function racingTests(r: Rig, caches: 'none' | 'one-entry'): void {
  it.each([
    { order: 'same' as Order, seed: 1 },
    { order: 'opposite' as Order, seed: 2 },
    { order: 'shuffled' as Order, seed: 3 },
  ])('never lose or repeat an A/D bit over 4096 pages ($order order)', async ({ order, seed }) => {
    const { m, tables, workers } = r;
    const { touched, written, accesses } = workload(seed, order);
    const root = tables.newRoot();
    const leaves: bigint[] = [];
    for (let page = 0; page < PAGES; page++) leaves.push(tables.map(root, vaOf(page), 0x1_0000_0000n + BigInt(page) * 4096n, '4K'));

    // What the hardware must leave behind: A on every entry a successful walk used, D on every
    // page written, nothing else.
    const touchedAny = (page: number) => touched[0].has(page) || touched[1].has(page);
    const writtenAny = (page: number) => written[0].has(page) || written[1].has(page);
    const upperA = new Map<bigint, boolean>(); // PML4E, PDPTE, PDE address → must have A
    for (let page = 0; page < PAGES; page += PAGES_PER_TABLE) {
      const any = Array.from({ length: PAGES_PER_TABLE }, (_, j) => touchedAny(page + j)).some(Boolean);
      for (const level of [3, 2, 1]) {
        const at = tables.entryAddress(root, vaOf(page), level)!;
        upperA.set(at, (upperA.get(at) ?? false) || any);
      }
    }

    const before = [m.counters(0), m.counters(1)];
    for (const cpu of [0, 1]) {
      expect(m.writeCr3(cpu, root)).toBe(true);
      fill(m, cpu, 0, accesses[cpu].las, accesses[cpu].kinds);
    }
    // Each CPU on its own worker, in chunks, with no coordination between the two.
    await Promise.all(
      [0, 1].map(async (cpu) => {
        const total = accesses[cpu].las.length;
        for (let start = 0; start < total; start += CHUNK) {
          const count = Math.min(CHUNK, total - start);
          expect(await workers.run(cpu, cpu, start, count)).toEqual({ done: count, status: 'ok', errorCode: 0, cr2: 0n });
        }
      }),
    );
    const after = [m.counters(0), m.counters(1)];

    const wrong: string[] = [];
    for (let page = 0; page < PAGES; page++) {
      const e = m.readEntry(leaves[page]);
      const want = (touchedAny(page) ? A : 0n) | (writtenAny(page) ? D : 0n);
      if ((e & (A | D)) !== want) wrong.push(`page ${page} (${hex(vaOf(page))}): PTE ${hex(e)}, want A=${want & A ? 1 : 0} D=${want & D ? 1 : 0}`);
    }
    for (const [at, want] of upperA) {
      const e = m.readEntry(at);
      if ((e & (A | D)) !== (want ? A : 0n)) wrong.push(`upper entry at ${hex(at)}: ${hex(e)}, want A=${want ? 1 : 0} D=0`);
    }
    expect(wrong).toEqual([]);

    // Every bit was set by exactly one successful CAS, on one CPU or the other.
    const sum = (name: keyof Counters) => delta(after[0], before[0], name) + delta(after[1], before[1], name);
    const pages = Array.from({ length: PAGES }, (_, p) => p);
    const upperWithA = [...upperA.values()].filter(Boolean).length;
    expect(sum('dSets')).toBe(BigInt(pages.filter(writtenAny).length));
    expect(sum('aSets')).toBe(BigInt(pages.filter(touchedAny).length + upperWithA));
    for (const cpu of [0, 1]) {
      expect(delta(after[cpu], before[cpu], 'accesses')).toBe(BigInt(accesses[cpu].las.length));
      expect(delta(after[cpu], before[cpu], 'pageFaults')).toBe(0n);
      if (caches === 'none') expect(delta(after[cpu], before[cpu], 'walks')).toBe(BigInt(accesses[cpu].las.length));
    }
    if (caches === 'one-entry') {
      // A page only one CPU writes is still clean when that CPU reads it just before the write.
      const writtenOnce = pages.filter((p) => written[0].has(p) !== written[1].has(p)).length;
      expect(sum('dirtyRewalks')).toBeGreaterThanOrEqual(BigInt(writtenOnce));
    }
    report(`caches ${caches}, ${order} order: ${accesses[0].las.length} + ${accesses[1].las.length} accesses, ${sum('walkRestarts')} walk restarts`);
  });

  // First touches of fresh pages by two unsynchronised sweeps rarely meet in time. Here the main
  // thread keeps clearing A and D on a few hot entries (as the kernel's page aging does, by CAS)
  // while both CPUs hammer them, so the two walks and the main thread's CAS race again and again.
  // A bit goes 0 → 1 only by a counted walk CAS and 1 → 0 only by a counted main-thread CAS, so
  // over all bits: sets − clears = what is set at the end.
  it('never lose or repeat an A/D bit while the main thread clears them (page aging)', async () => {
    const { m, tables, workers } = r;
    const root = tables.newRoot();
    // Two pages in each of two page tables under two PDEs: few entries, so the walks collide often.
    const hot = [0, 1, 4 * PAGES_PER_TABLE, 4 * PAGES_PER_TABLE + 1];
    const isWritten = (page: number) => (page & 1) === 0;
    const leaves = hot.map((page, i) => tables.map(root, vaOf(page), 0x1_0000_0000n + BigInt(i) * 4096n, '4K'));
    const uppers = [...new Set(hot.flatMap((page) => [3, 2, 1].map((level) => tables.entryAddress(root, vaOf(page), level)!)))];
    const entries = [...leaves, ...uppers];

    const random = rng(99);
    for (const cpu of [0, 1]) {
      const pages = Array.from({ length: 16384 }, () => hot[Math.floor(random() * hot.length)]);
      fill(m, cpu, 0, pages.map(vaOf), pages.map((page) => (isWritten(page) && random() < 0.5 ? KIND.write : KIND.read)));
      expect(m.writeCr3(cpu, root)).toBe(true);
    }
    const before = [m.counters(0), m.counters(1)];

    // The CPUs run batch after batch until the main thread has cleared enough bits or its time is
    // up: how much the threads overlap is up to the scheduler, the assertions below are not.
    let clearedA = 0n, clearedD = 0n, stop = false;
    const runs = Promise.all(
      [0, 1].map(async (cpu) => {
        while (!stop) expect(await workers.run(cpu, cpu, 0, 16384)).toMatchObject({ done: 16384, status: 'ok' });
      }),
    ).finally(() => (stop = true));
    runs.catch(() => {}); // awaited below
    for (const deadline = performance.now() + 250; !stop && clearedA < 4000n && performance.now() < deadline; ) {
      // Clear for a millisecond, then let the workers' replies in.
      for (const until = performance.now() + 1; performance.now() < until; ) {
        for (const at of entries) {
          const e = m.readEntry(at);
          if ((e & (A | D)) === 0n || m.compareExchangeEntry(at, e, e & ~(A | D)) !== e) continue;
          if (e & A) clearedA++;
          if (e & D) clearedD++;
        }
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
    stop = true;
    await runs;

    // A last pass from empty TLBs: every hot page read, every written one written.
    const last = [...hot, ...hot.filter(isWritten)];
    for (const cpu of [0, 1]) {
      expect(m.writeCr3(cpu, root)).toBe(true);
      fill(m, cpu, 0, last.map(vaOf), last.map((_, i) => (i < hot.length ? KIND.read : KIND.write)));
    }
    await Promise.all([0, 1].map((cpu) => workers.run(cpu, cpu, 0, last.length)));
    const after = [m.counters(0), m.counters(1)];

    const bits = entries.map((at) => m.readEntry(at));
    const wrong: string[] = [];
    hot.forEach((page, i) => {
      const want = A | (isWritten(page) ? D : 0n);
      if ((bits[i] & (A | D)) !== want) wrong.push(`page ${page}: PTE ${hex(bits[i])}, want A=1 D=${isWritten(page) ? 1 : 0}`);
    });
    uppers.forEach((at, i) => {
      const e = bits[leaves.length + i];
      if ((e & (A | D)) !== A) wrong.push(`upper entry at ${hex(at)}: ${hex(e)}, want A=1 D=0`);
    });
    expect(wrong).toEqual([]);

    const sum = (name: keyof Counters) => delta(after[0], before[0], name) + delta(after[1], before[1], name);
    const setNow = (bit: bigint) => BigInt(bits.filter((e) => (e & bit) !== 0n).length);
    expect(sum('aSets') - clearedA).toBe(setNow(A));
    expect(sum('dSets') - clearedD).toBe(setNow(D));
    expect(sum('pageFaults')).toBe(0n);
    report(`caches ${caches}, aging: ${clearedA} A and ${clearedD} D cleared by the main thread, ${sum('aSets')} A and ${sum('dSets')} D set, ${sum('walkRestarts')} walk restarts`);
  });
}

// ---- failures ----

describe('a worker that fails to start or dies', () => {
  let m: Machine;
  beforeAll(async () => {
    m = await Machine.create({ ncpus: 2, poolFrames: 16, physmem: 8n << 30n, zone4k: 8n << 30n });
  });

  it('is reported when its script fails to load', async () => {
    const entry = new URL('./fixtures/worker-fails-to-load.mjs', import.meta.url);
    await expect(CpuWorkers.start(m, 2, { entry })).rejects.toThrow(/^CPU worker [01] failed to start: the thread failed: this worker entry fails on purpose$/);
  });

  it('is reported when it cannot attach to the memory', async () => {
    const broken = await Machine.create({ ncpus: 1, poolFrames: 16, physmem: 8n << 30n, zone4k: 8n << 30n });
    new DataView(broken.memory.buffer).setUint32(L.HDR_MAGIC, 0, true);
    const err = await CpuWorkers.start(broken, 1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkerError);
    expect((err as Error).message).toBe('CPU worker 0 failed to start: ConfigError: memory holds no mmuwasm machine (bad magic)');
  });

  it('is reported when its thread ends under a call, instead of leaving the call pending', async () => {
    const workers = await CpuWorkers.start(m, 1, { entry: new URL('./fixtures/worker-exits.mjs', import.meta.url) });
    try {
      await expect(workers.run(0, 0, 0, 1)).rejects.toThrow('CPU worker 0: runBatch(cpu 0, records 0..1) failed: the thread exited with code 3');
      await expect(workers.counters(0, 0)).rejects.toThrow('CPU worker 0: counters(cpu 0) failed: the thread exited with code 3');
    } finally {
      await workers.close();
    }
    await expect(workers.run(0, 0, 0, 1)).rejects.toThrow('the CPU workers are closed');
  });
});
