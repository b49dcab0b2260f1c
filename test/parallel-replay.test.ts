// Parallel replay (docs/parallel-replay.md): the report is a function of the trace and the options,
// not of the threads. fast-check writes traces with several CPUs and address spaces, a hugetlb
// segment shared at a PUD-aligned address (PMD sharing), anonymous memory, streams and runs of single
// accesses, CPU switches and idling, and migrations, munmaps, mprotects and madvises between them —
// some parked while other CPUs touch what they hold; each is replayed on this thread and with 1, 2 and
// 3 workers (every phase sent to the workers), and the reports must be deep-equal. The same for every
// scenario of the library and for the generated workloads (binary access runs). Then: the streams'
// fast generator gives exactly patterns.ts's accesses; a worker that dies is an error naming the
// line; Ctrl-C stops `mmuwasm replay` with the partial report; the cost model adds up.
//
// MMUWASM_FC_RUNS=N runs N generated traces (default 12); MMUWASM_FC_SEED=S replays one seed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { spawn } from 'node:child_process';
import { replayFile } from '../src/node/replay-file.ts';
import type { Report } from '../src/replay/engine.ts';
import { listScenarios, SCENARIO_DIR } from '../src/cli/scenarios.ts';
import { Machine } from '../src/mmu/machine.ts';
import { CpuWorkers } from '../src/mmu/cpu-workers.ts';
import { PROFILE_NAMES } from '../src/kernel/profiles.ts';
import { accessStream, type StreamSpec } from '../src/trace/patterns.ts';
import { fillStream, fillStreamInto, streamStart } from '../src/replay/stream-cursor.ts';
import { COST_KEYS, CostModelError, DEFAULT_COSTS, parseCostModel } from '../src/replay/cost-model.ts';
import { writeWorkload, WORKLOAD_DEFAULTS, WORKLOAD_KINDS } from '../src/workloads/workloads.ts';
import { writerFor } from '../src/node/trace-files.ts';

const dir = mkdtempSync(join(tmpdir(), 'mmuwasm-parallel-'));
let files = 0;

// Worker threads take a few hundred milliseconds to start: three pools for the whole file.
const pools: CpuWorkers[] = [];
beforeAll(async () => {
  const m = await Machine.create({ ncpus: 1, poolFrames: 1 });
  pools.push(...(await Promise.all([1, 2, 3].map((n) => CpuWorkers.start(m, n, { kind: 'lane' })))));
});
afterAll(async () => {
  await Promise.all(pools.map((p) => p.close()));
  rmSync(dir, { recursive: true, force: true });
});

/** Phases that ran on workers in the last allWays call (a trace whose lanes end within their probe has none). */
let workerPhases = 0;

/** The same trace on this thread and on 1, 2 and 3 workers (every phase on the workers). */
async function allWays(path: string, kernel: string, ways = [0, 1, 2, 3]): Promise<Report[]> {
  const out: Report[] = [];
  workerPhases = 0;
  for (const w of ways) {
    const { report, replay } = await replayFile(path, w === 0 ? { kernel } : { kernel, pool: pools[w - 1], workerThreshold: 0 });
    if (w > 0) workerPhases += replay!.schedule().workerPhases;
    out.push(report);
  }
  return out;
}

// ---- generated traces ----

const SEG = 0x4000_0000; // the shared hugetlb segment (1 GiB, PUD-aligned)
const ANON = 0x1000_0000; // each mm's private anonymous region (256 KiB)
const ANON_PAGES = 64;
const hex = (v: number) => `0x${v.toString(16)}`;

type Cmd =
  | { k: 'stream'; cpu: number; anon: boolean; count: number; pattern: 'random' | 'sequential' | 'zipf'; write: number }
  | { k: 'singles'; cpu: number; anon: boolean; pages: number[]; writes: boolean[] }
  | { k: 'switch'; cpu: number; mm: number }
  | { k: 'idle'; cpu: number }
  | { k: 'migrate'; cpu: number; page: number; park: boolean }
  | { k: 'resume' }
  | { k: 'munmap'; cpu: number; page: number; pages: number }
  | { k: 'mprotect'; cpu: number; page: number; pages: number; prot: 'r' | 'rw' }
  | { k: 'dontneed'; cpu: number; page: number }
  | { k: 'expect' };

const cmd = (cpus: number, mms: number): fc.Arbitrary<Cmd> => {
  const cpu = fc.integer({ min: 0, max: cpus - 1 });
  return fc.oneof(
    { weight: 5, arbitrary: fc.record({ k: fc.constant('stream' as const), cpu, anon: fc.boolean(), count: fc.integer({ min: 1, max: 3000 }), pattern: fc.constantFrom('random' as const, 'sequential' as const, 'zipf' as const), write: fc.constantFrom(0, 0.3, 1) }) },
    { weight: 4, arbitrary: fc.record({ k: fc.constant('singles' as const), cpu, anon: fc.boolean(), pages: fc.array(fc.integer({ min: 0, max: 7 }), { minLength: 1, maxLength: 6 }), writes: fc.array(fc.boolean(), { minLength: 6, maxLength: 6 }) }) },
    { weight: 2, arbitrary: fc.record({ k: fc.constant('switch' as const), cpu, mm: fc.integer({ min: 0, max: mms - 1 }) }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constant('idle' as const), cpu }) },
    { weight: 3, arbitrary: fc.record({ k: fc.constant('migrate' as const), cpu, page: fc.integer({ min: 0, max: 3 }), park: fc.boolean() }) },
    { weight: 1, arbitrary: fc.constant({ k: 'resume' as const }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constant('munmap' as const), cpu, page: fc.integer({ min: 0, max: ANON_PAGES - 1 }), pages: fc.integer({ min: 1, max: 8 }) }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constant('mprotect' as const), cpu, page: fc.integer({ min: 0, max: ANON_PAGES - 1 }), pages: fc.integer({ min: 1, max: 8 }), prot: fc.constantFrom('r' as const, 'rw' as const) }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constant('dontneed' as const), cpu, page: fc.integer({ min: 0, max: ANON_PAGES - 1 }) }) },
    { weight: 1, arbitrary: fc.constant({ k: 'expect' as const }) },
  );
};

const traceArb = fc.integer({ min: 2, max: 4 }).chain((cpus) => fc.integer({ min: 2, max: 3 }).chain((mms) => fc.record({
  cpus: fc.constant(cpus),
  mms: fc.constant(mms),
  // v4.4 has the most bugs to show (violations whose order the schedule must keep).
  kernel: fc.oneof({ weight: 2, arbitrary: fc.constant('v4.4') }, { weight: 3, arbitrary: fc.constantFrom(...PROFILE_NAMES) }),
  seed: fc.integer({ min: 0, max: 1000 }),
  cmds: fc.array(cmd(cpus, mms), { minLength: 8, maxLength: 30 }),
})));

type TraceSpec = { cpus: number; mms: number; kernel: string; seed: number; cmds: Cmd[] };

/** The trace of a spec: commands that cannot apply in the state they meet are adapted or dropped. */
function writeTrace(t: TraceSpec): string {
  const ev: object[] = [{ format: 'mmuwasm-trace', version: 1, cpus: t.cpus, seed: t.seed }];
  ev.push({ op: 'hugetlbfs', file: 'F', size: '1G', pagesize: '2M' });
  const running: (number | undefined)[] = [];
  for (let m = 0; m < t.mms; m++) ev.push({ op: 'mm', mm: `M${m}` });
  for (let m = 0; m < t.mms; m++) {
    const cpu = m % t.cpus;
    ev.push({ op: 'switch', cpu, mm: `M${m}` });
    running[cpu] = m;
    ev.push({ op: 'mmap', cpu, va: hex(SEG), len: '1G', prot: 'rw', flags: 'shared', file: 'F', offset: 0 });
    ev.push({ op: 'mmap', cpu, va: hex(ANON), len: hex(ANON_PAGES * 4096), prot: 'rw', flags: 'private' });
  }
  for (let c = 0; c < t.cpus; c++) {
    if (running[c] === undefined) {
      ev.push({ op: 'switch', cpu: c, mm: `M${c % t.mms}` });
      running[c] = c % t.mms;
    }
  }
  let parked = 0;
  let open: string | undefined;
  // The anonymous pages each mm has unmapped (mprotect and madvise refuse ranges with holes).
  const holes = Array.from({ length: t.mms }, () => new Set<number>());
  const mapped = (cpu: number, page: number, pages: number) => {
    let n = 0;
    while (n < pages && page + n < ANON_PAGES && !holes[running[cpu]!].has(page + n)) n++;
    return n;
  };
  const ensureRunning = (cpu: number) => {
    if (running[cpu] === undefined) {
      ev.push({ op: 'switch', cpu, mm: `M${cpu % t.mms}` });
      running[cpu] = cpu % t.mms;
    }
  };
  for (const c of t.cmds) {
    switch (c.k) {
      case 'stream':
        ensureRunning(c.cpu);
        ev.push({ op: 'accesses', cpu: c.cpu, va: hex(c.anon ? ANON : SEG), len: c.anon ? hex(ANON_PAGES * 4096) : '16M', count: c.count, pattern: c.pattern, ...(c.pattern === 'zipf' ? { theta: 0.9 } : {}), write: c.write });
        break;
      case 'singles':
        ensureRunning(c.cpu);
        c.pages.forEach((p, i) => ev.push({ op: 'access', cpu: c.cpu, va: hex(c.anon ? ANON + p * 4096 + 8 * i : SEG + p * (1 << 21) + 64 * i), rw: c.writes[i] ? 'w' : 'r' }));
        break;
      case 'switch':
        ev.push({ op: 'switch', cpu: c.cpu, mm: `M${c.mm}` });
        running[c.cpu] = c.mm;
        break;
      case 'idle':
        ev.push({ op: 'idle', cpu: c.cpu });
        running[c.cpu] = undefined;
        break;
      case 'migrate':
        // A second migration of a page whose first is parked at `copy` breaks the kernel model
        // (physmem: "not an allocated frame", also on the serial replay): none while one is parked.
        if (open !== undefined) break;
        if (c.park) {
          open = `m${++parked}`;
          ev.push({ op: 'migrate', cpu: c.cpu, file: 'F', offset: hex(c.page * (1 << 21)), id: open, until: 'copy' });
        } else ev.push({ op: 'migrate', cpu: c.cpu, file: 'F', offset: hex(c.page * (1 << 21)) });
        break;
      case 'resume':
        if (open !== undefined) ev.push({ op: 'resume', id: open });
        open = undefined;
        break;
      case 'munmap': {
        ensureRunning(c.cpu);
        const n = Math.min(c.pages, ANON_PAGES - c.page);
        ev.push({ op: 'munmap', cpu: c.cpu, va: hex(ANON + c.page * 4096), len: hex(n * 4096) });
        for (let p = c.page; p < c.page + n; p++) holes[running[c.cpu]!].add(p);
        break;
      }
      case 'mprotect': {
        ensureRunning(c.cpu);
        const n = mapped(c.cpu, c.page, c.pages);
        if (n) ev.push({ op: 'mprotect', cpu: c.cpu, va: hex(ANON + c.page * 4096), len: hex(n * 4096), prot: c.prot });
        break;
      }
      case 'dontneed':
        ensureRunning(c.cpu);
        if (mapped(c.cpu, c.page, 1)) ev.push({ op: 'madvise', cpu: c.cpu, va: hex(ANON + c.page * 4096), len: '4K', advice: 'dontneed' });
        break;
      case 'expect':
        ev.push({ op: 'expect', violations: 0 });
        break;
    }
  }
  if (open !== undefined) ev.push({ op: 'resume', id: open });
  const path = join(dir, `g${++files}.jsonl`);
  writeFileSync(path, ev.map((e) => JSON.stringify(e)).join('\n') + '\n');
  return path;
}

describe('parallel replay is deterministic', () => {
  it('generated traces: the same report on this thread and on 1, 2 and 3 workers', async () => {
    const runs = Number(process.env.MMUWASM_FC_RUNS ?? 25);
    const seed = process.env.MMUWASM_FC_SEED ? Number(process.env.MMUWASM_FC_SEED) : undefined;
    await fc.assert(
      fc.asyncProperty(traceArb, async (spec) => {
        const path = writeTrace(spec);
        const [local, ...parallel] = await allWays(path, spec.kernel).catch((err: Error) => {
          throw new Error(`${path} (${spec.kernel}): ${err.message}`, { cause: err });
        });
        expect(local.error, `${path}: ${local.error?.message}`).toBeUndefined();
        for (const r of parallel) expect(r).toEqual(local);
      }),
      { numRuns: runs, ...(seed !== undefined ? { seed } : {}), endOnFailure: true },
    );
  });

  it('violations of several CPUs in one window, lost writes in a parked copy, waits: the same on any number of workers', async () => {
    // Three processes share the segment's PMD page; v4.4 migrates without unsharing (B1), so the
    // other CPUs keep the old frames while all three stream writes over the segment in one window.
    const ev: object[] = [{ format: 'mmuwasm-trace', version: 1, cpus: 3, seed: 9 }, { op: 'hugetlbfs', file: 'F', size: '1G', pagesize: '2M' }];
    for (let m = 0; m < 3; m++) {
      ev.push({ op: 'mm', mm: `M${m}` }, { op: 'switch', cpu: m, mm: `M${m}` });
      ev.push({ op: 'mmap', cpu: m, va: hex(SEG), len: '1G', prot: 'rw', flags: 'shared', file: 'F', offset: 0 });
    }
    const streams = (write: number) => [0, 1, 2].map((cpu) => ({ op: 'accesses', cpu, va: hex(SEG), len: '16M', count: 4000, pattern: 'random', write }));
    ev.push(...streams(0.5));
    ev.push({ op: 'migrate', cpu: 0, file: 'F', offset: '2M' }, { op: 'migrate', cpu: 0, file: 'F', offset: '6M' });
    ev.push(...streams(0.5));
    ev.push({ op: 'migrate', cpu: 0, file: 'F', offset: '4M', id: 'm', until: 'remap' });
    ev.push(...streams(1));
    ev.push({ op: 'access', cpu: 0, va: hex(SEG + (4 << 20)), rw: 'w' }, { op: 'resume', id: 'm' }, ...streams(0.5));
    const path = join(dir, 'window-violations.jsonl');
    writeFileSync(path, ev.map((e) => JSON.stringify(e)).join('\n') + '\n');
    const [local, ...parallel] = await allWays(path, 'v4.4');
    expect(local.error).toBeUndefined();
    expect(workerPhases).toBeGreaterThan(0);
    const kinds = new Set(local.violations.map((v) => `${v.kind} cpu${v.cpu}`));
    expect(kinds).toContain('use-after-free cpu1');
    expect(kinds).toContain('use-after-free cpu2');
    expect(kinds).toContain('lost-write cpu1');
    expect(local.waited.length).toBeGreaterThan(0);
    for (const r of parallel) expect(r).toEqual(local);
  });

  it.each(listScenarios())('scenario %s: --workers 1 and 2 report what this thread reports', async (file) => {
    for (const kernel of ['v4.4', 'v6.18']) {
      const [local, one, two] = await allWays(join(SCENARIO_DIR, file), kernel, [0, 1, 2]);
      expect(one).toEqual(local);
      expect(two).toEqual(local);
    }
  });

  it.each(WORKLOAD_KINDS)('generated workload %s (binary access runs): the same on 1, 2 and 3 workers', async (kind) => {
    const path = join(dir, `w-${kind}.mmtrace`);
    const w = writerFor(path);
    // random-anon over a small region, so that its pages are in after the first bursts and later
    // phases outlast the probe and run on the workers.
    const size = kind === 'random-anon' ? 2n << 20n : WORKLOAD_DEFAULTS[kind].size;
    writeWorkload(kind, { ...WORKLOAD_DEFAULTS[kind], accesses: 40_000, burst: 2500, size }, w);
    w.close();
    const [local, ...parallel] = await allWays(path, 'v4.4');
    expect(local.complete).toBe(true);
    expect(workerPhases).toBeGreaterThan(0);
    for (const r of parallel) expect(r).toEqual(local);
  });
});

describe('the streams\' generator', () => {
  const spec = fc.record({
    va: fc.bigInt({ min: 0n, max: (1n << 47n) - 1n }).map((v) => v & ~7n),
    len: fc.oneof(fc.bigInt({ min: 8n, max: 1n << 20n }), fc.bigInt({ min: 8n, max: 1n << 44n }), fc.constantFrom(1n << 21n, 1n << 30n, 4096n * 1000n + 4n)),
    count: fc.integer({ min: 0, max: 600 }),
    pattern: fc.constantFrom('random', 'sequential', 'stride', 'zipf'),
    write: fc.constantFrom(0, 0.25, 0.5, 1),
    stride: fc.bigInt({ min: 1n, max: 1n << 33n }),
    theta: fc.constantFrom(0.5, 0.99, 1.2),
    seed: fc.integer({ min: -5, max: 1 << 20 }),
  });
  it('writes exactly the accesses of patterns.ts\'s accessStream, batch after batch', () => {
    fc.assert(
      fc.property(spec, fc.integer({ min: 0, max: 99 }), fc.integer({ min: 1, max: 700 }), fc.integer({ min: 1, max: 1 << 20 }), (s, traceSeed, chunk, line) => {
        const ev = { ...s, stride: s.pattern === 'stride' ? s.stride : undefined, theta: s.pattern === 'zipf' ? s.theta : undefined } as StreamSpec;
        const want = [...accessStream(ev, traceSeed, line)];
        const { params, state } = streamStart(ev, traceSeed, line);
        const out = new Uint32Array(4 * chunk);
        const got: { va: bigint; write: boolean }[] = [];
        for (let n; (n = fillStream(params, state, out, 0, chunk)) > 0; ) {
          for (let i = 0; i < n; i++) {
            expect(out[4 * i + 3]).toBe(line);
            got.push({ va: BigInt(out[4 * i]) | (BigInt(out[4 * i + 1]) << 32n), write: out[4 * i + 2] === 1 });
          }
        }
        expect(got).toEqual(want.map((a) => ({ va: BigInt.asUintN(64, a.va), write: a.write })));
      }),
      { numRuns: 150 },
    );
  });
  it('the WebAssembly core writes the same records as the host\'s generator (addresses up to the top of the 64-bit space, ranges up to 2^52; zipf\'s draws, finished by the host)', async () => {
    const m = await Machine.create({ ncpus: 2, poolFrames: 1 });
    const { records, capacity } = m.batchArea(1);
    const wide = fc.record({
      va: fc.oneof(fc.bigInt({ min: 0n, max: (1n << 64n) - 8n }), fc.constant((1n << 64n) - 8n), fc.constant(0xffff_ffff_0000_0000n)).map((v) => v & ~7n),
      len: fc.oneof(fc.bigInt({ min: 8n, max: 4096n }), fc.bigInt({ min: 8n, max: (1n << 52n) }), fc.constantFrom(8n, 15n, 1n << 32n, (1n << 35n) + 8n, 1n << 52n)),
      count: fc.integer({ min: 0, max: 3000 }),
      pattern: fc.constantFrom('random', 'sequential', 'stride', 'zipf'),
      write: fc.constantFrom(0, 0.3, 1),
      stride: fc.bigInt({ min: 1n, max: 1n << 52n }),
      theta: fc.constantFrom(0.5, 0.99, 1.2),
      seed: fc.integer({ min: -5, max: 1 << 20 }),
    // A zipf range up to 1 GiB, odd ends included: its table (one entry per page) is built per run.
    }).map((s) => (s.pattern === 'zipf' && s.len > 1n << 30n ? { ...s, len: (s.len & ((1n << 30n) - 1n)) + 8n } : s));
    fc.assert(
      fc.property(wide, fc.integer({ min: 0, max: 99 }), fc.integer({ min: 1, max: capacity }), fc.integer({ min: 1, max: 1 << 20 }), (s, traceSeed, chunk, line) => {
        const ev = { ...s, stride: s.pattern === 'stride' ? s.stride : undefined, theta: s.pattern === 'zipf' ? s.theta : undefined } as StreamSpec;
        const host = streamStart(ev, traceSeed, line);
        const core = streamStart(ev, traceSeed, line);
        const out = new Uint32Array(4 * chunk);
        for (;;) {
          const n = fillStream(host.params, host.state, out, 0, chunk);
          const k = fillStreamInto(m.core, 1, core.params, core.state, records, chunk);
          expect(k).toBe(n);
          if (n === 0) break;
          expect(records.slice(0, 4 * n)).toEqual(out.slice(0, 4 * n));
          expect(core.state).toEqual(host.state);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('failures and interruptions', () => {
  it('a worker that dies stops the replay with an error naming the line, and a partial report', async () => {
    const m = await Machine.create({ ncpus: 1, poolFrames: 1 });
    const pool = await CpuWorkers.start(m, 2, { kind: 'lane' });
    try {
      const path = join(dir, 'dies.jsonl');
      writeFileSync(path, [
        { format: 'mmuwasm-trace', version: 1, cpus: 2 },
        { op: 'hugetlbfs', file: 'F', size: '1G', pagesize: '2M' },
        { op: 'mm', mm: 'A' },
        { op: 'switch', cpu: 0, mm: 'A' },
        { op: 'switch', cpu: 1, mm: 'A' },
        { op: 'mmap', cpu: 0, va: hex(SEG), len: '1G', prot: 'rw', flags: 'shared', file: 'F', offset: 0 },
        { op: 'accesses', cpu: 0, va: hex(SEG), len: '1G', count: 512, pattern: 'stride', stride: '2M' }, // 7: every page
        { op: 'expect', violations: 0 }, // 8
        { op: 'accesses', cpu: 1, va: hex(SEG), len: '1G', count: 5000, pattern: 'random' }, // 9: no fault, past the probe
        { op: 'expect', violations: 0 }, // 10
      ].map((e) => JSON.stringify(e)).join('\n') + '\n');
      const { report, status } = await replayFile(path, {
        pool, workerThreshold: 0,
        onEvent: (_r, line) => {
          // The pool's threads are private: reach one to kill it, as a crash would.
          if (line === 8) for (const t of (pool as unknown as { threads: { thread: { terminate(): Promise<void> } }[] }).threads) void t.thread.terminate();
        },
      });
      expect(status).toBe(2);
      expect(report.complete).toBe(false);
      expect(report.error?.line).toBe(9);
      expect(report.error?.message).toMatch(/^a replay worker failed while running the accesses of CPU 1 from line 9: CPU worker \d: runLanes\(CPUs 1\) failed: /);
      expect(report.accesses).toBeGreaterThanOrEqual(512);
      expect(report.accesses).toBeLessThan(5512);
      expect(report.expectations.map((e) => e.line)).toEqual([8]);
    } finally {
      await pool.close();
    }
  });

  it('Ctrl-C stops `mmuwasm replay` while its workers run, and the JSON report is there, incomplete', async () => {
    const path = join(dir, 'long.jsonl');
    writeFileSync(path, [
      { format: 'mmuwasm-trace', version: 1, cpus: 2 },
      { op: 'hugetlbfs', file: 'F', size: '1G', pagesize: '2M' },
      { op: 'mm', mm: 'A' },
      { op: 'switch', cpu: 0, mm: 'A' },
      { op: 'switch', cpu: 1, mm: 'A' },
      { op: 'mmap', cpu: 0, va: hex(SEG), len: '1G', prot: 'rw', flags: 'shared', file: 'F', offset: 0 },
      { op: 'accesses', cpu: 0, va: hex(SEG), len: '1G', count: 2_000_000_000, pattern: 'sequential' }, // 7
      { op: 'accesses', cpu: 1, va: hex(SEG), len: '1G', count: 2_000_000_000, pattern: 'sequential' }, // 8
      { op: 'expect', violations: 0 }, // 9
    ].map((e) => JSON.stringify(e)).join('\n') + '\n');
    const out = join(dir, 'long.json');
    const bin = join(import.meta.dirname, '..', 'bin', 'mmuwasm.mjs');
    const child = spawn(process.execPath, [bin, 'replay', path, '--workers', '2', '--json', out, '--quiet'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const started = Date.now();
    // Long enough for the workers to be running the streams (they start with the first big phase).
    await new Promise((r) => setTimeout(r, 4000));
    child.kill('SIGINT');
    const code = await new Promise<number | null>((r) => child.once('exit', r));
    expect(Date.now() - started).toBeLessThan(20_000);
    // 128 + SIGINT's number (README "Replaying traces").
    expect(code).toBe(130);
    expect(stderr).toContain('interrupted by SIGINT (Ctrl-C)');
    const report = JSON.parse(readFileSync(out, 'utf8')) as Report;
    expect(report.complete).toBe(false);
    expect(report.error?.message).toBe('interrupted by SIGINT (Ctrl-C): the report holds what was replayed before');
    expect(report.accesses).toBeGreaterThan(0);
    expect(report.accesses).toBeLessThan(4_000_000_000);
  }, 40_000);
});

describe('the cost model', () => {
  it('parses KEY=CYCLES over the defaults, and refuses what it does not know', () => {
    expect(parseCostModel('walk=30,ipi-send=3000, ipiReceive=1500')).toEqual({ ...DEFAULT_COSTS, walk: 30, ipiSend: 3000, ipiReceive: 1500 });
    expect(parseCostModel('cr3=100,level=0')).toEqual({ ...DEFAULT_COSTS, flush: 100, level: 0 });
    expect(() => parseCostModel('tlb=5')).toThrow(CostModelError);
    expect(() => parseCostModel('walk=-1')).toThrow(/≥ 0/);
    expect(() => parseCostModel('walk')).toThrow(/KEY=CYCLES/);
  });

  it('the report prices each CPU\'s counted events, and the total is their sum', async () => {
    const cost = parseCostModel('walk=11,level=7,invlpg=101,flush=251,invpcid=351,ipi-send=2003,ipi-receive=1201');
    const { report } = await replayFile(join(SCENARIO_DIR, 'clean-migration-storm.jsonl'), { kernel: 'v6.18', cost });
    const st = report.stats as {
      cycles: { total: number; byKind: Record<string, number>; model: Record<string, number> };
      perCpu: { cpu: number; walks: number; walkLoads: number; invlpg: number; cr3Flush: number; invpcid: number; ipisSent: number; ipisReceived: number; cycles: number }[];
      flush: { ipisSent: number };
    };
    expect(st.cycles.model).toEqual(cost);
    let total = 0;
    for (const c of st.perCpu) {
      const want = c.walks * 11 + c.walkLoads * 7 + c.invlpg * 101 + c.cr3Flush * 251 + c.invpcid * 351 + c.ipisSent * 2003 + c.ipisReceived * 1201;
      expect(c.cycles).toBe(want);
      total += want;
    }
    expect(st.cycles.total).toBe(total);
    expect(COST_KEYS.reduce((s, k) => s + st.cycles.byKind[k], 0)).toBe(total);
    // Every IPI sent is received once; the kernel's count and the per-CPU counts agree.
    expect(st.perCpu.reduce((s, c) => s + c.ipisSent, 0)).toBe(st.flush.ipisSent);
    expect(st.perCpu.reduce((s, c) => s + c.ipisReceived, 0)).toBe(st.flush.ipisSent);
    expect(st.flush.ipisSent).toBeGreaterThan(0);
  });
});
