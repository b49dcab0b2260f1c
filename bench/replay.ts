// The replay benchmarks: accesses per second replaying a generated trace end to end — the trace read
// from disk, the kernel model, the oracle on — on 1 and on 2 worker threads (docs/parallel-replay.md).
//
// - replay: `mmuwasm generate database` (src/workloads/workloads.ts) in the binary form, 20 M access
//   records: four processes map one 2 GiB hugetlbfs segment at the same PUD-aligned address (they
//   share its PMD pages), four CPUs switch between them and run zipf-distributed bursts of 65536
//   access records each (30% writes), and between rounds the kernel migrates pages of the segment —
//   each migration unshares the PMD page, so every process faults its way back in. The main thread
//   reads and checks every record, so this is also the reader's throughput.
// - replay-streams: the same segment, processes and CPUs, the accesses as `accesses` stream events
//   (JSON Lines): five rounds in which each CPU switches process and streams 1 M random accesses over
//   the segment (30% writes), with a migration between rounds. The workers generate the accesses, so
//   this shows how the lanes scale when the reader is not in the way.
// - replay-zipf: replay-streams with 4 M accesses in zipf streams (theta 0.99) instead: the core
//   draws them, the worker turns each draw into its page through the zipf table.
// - replay-jsonl: the database workload again, 4 M accesses written as JSON Lines, one
//   {"op":"access",…} line each (≈ 55 bytes a line): the text reader's throughput in a replay.
//
// Each trace is written into a temporary file before the clock starts, and the worker threads are
// started before it too (a replay reuses them). A sample is one whole replay (replayFile); ops are
// accesses, ops/s = accesses / seconds, from the median sample. Samples of 1 and 2 workers alternate
// so that a change of load on the machine biases neither side of their ratio. Every sample of a trace
// must give the same report (its digest is the entry's checksum): the report does not depend on the
// number of workers.
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { Machine } from '../src/mmu/machine.ts';
import { CpuWorkers } from '../src/mmu/cpu-workers.ts';
import { replayFile } from '../src/node/replay-file.ts';
import { reportJson } from '../src/replay/report.ts';
import { writeWorkload, WORKLOAD_DEFAULTS } from '../src/workloads/workloads.ts';
import type { TraceWriter } from '../src/trace/binary.ts';
import { writerFor } from '../src/node/trace-files.ts';
import { summarize, type BenchResult, type ThreadCpu } from './report.ts';
import { platform } from '../src/platform/platform.ts';
import type { LaneWorkerApi } from '../src/replay/lane-worker.ts';

export interface ReplayBenchOptions {
  quick?: boolean;
  /** Which of REPLAY_BENCH_NAMES to run (all by default). */
  names?: readonly string[];
  onProgress?: (line: string) => void;
  notes?: string[];
}

/** The worker counts measured (the targets compare 2 with 1). */
export const REPLAY_WORKERS = [1, 2] as const;
export const REPLAY_ACCESSES = 20_000_000;
export const REPLAY_JSONL_ACCESSES = 4_000_000;
export const REPLAY_ZIPF_ACCESSES = 4_000_000;
export const REPLAY_BENCH_NAMES = ['replay', 'replay-streams', 'replay-zipf', 'replay-jsonl'] as const;

interface ReplayWorkload {
  name: (typeof REPLAY_BENCH_NAMES)[number];
  file: string;
  note: string;
  write(w: TraceWriter): void;
}

const SEGMENT = 0x7f00_0000_0000;

const WORKLOADS: readonly ReplayWorkload[] = [
  {
    name: 'replay', file: 'database.mmtrace', note: 'generate database, 20 M access records (binary form), oracle on',
    write: (w) => void writeWorkload('database', { ...WORKLOAD_DEFAULTS.database, accesses: REPLAY_ACCESSES }, w),
  },
  {
    name: 'replay-streams', file: 'streams.jsonl', note: 'shared 2 GiB hugetlb segment, 4 CPUs, 20 M accesses in random streams, a migration per round, oracle on',
    write: (w) => writeStreams(w, REPLAY_ACCESSES, { pattern: 'random' }),
  },
  {
    name: 'replay-zipf', file: 'zipf.jsonl', note: 'replay-streams with 4 M accesses in zipf streams (theta 0.99), oracle on',
    write: (w) => writeStreams(w, REPLAY_ZIPF_ACCESSES, { pattern: 'zipf', theta: 0.99 }),
  },
  {
    name: 'replay-jsonl', file: 'database.jsonl', note: 'generate database, 4 M accesses as JSON Lines (one access a line), oracle on',
    write: (w) => void writeWorkload('database', { ...WORKLOAD_DEFAULTS.database, accesses: REPLAY_JSONL_ACCESSES }, w),
  },
];

/** replay-streams' trace: four processes on one hugetlb segment, five rounds of one stream per CPU. */
function writeStreams(w: TraceWriter, accesses: number, pattern: { pattern: string; theta?: number }): void {
  const j = (o: object) => w.json(JSON.stringify(o));
  const cpus = 4;
  const rounds = 5;
  j({ format: 'mmuwasm-trace', version: 1, cpus, seed: 1 });
  j({ op: 'hugetlbfs', file: 'shm', size: '2G', pagesize: '2M' });
  for (let p = 0; p < cpus; p++) {
    j({ op: 'mm', mm: `db${p}` });
    j({ op: 'switch', cpu: p, mm: `db${p}` });
    j({ op: 'mmap', cpu: p, va: `0x${SEGMENT.toString(16)}`, len: '2G', prot: 'rw', flags: 'shared', file: 'shm', offset: 0 });
  }
  // Every process touches every 2 MiB page once (the faults, and the PMD sharing, happen here).
  for (let p = 0; p < cpus; p++) j({ op: 'accesses', cpu: p, va: `0x${SEGMENT.toString(16)}`, len: '2G', count: 1024, pattern: 'stride', stride: '2M', write: 1 });
  const per = accesses / (rounds * cpus);
  for (let r = 0; r < rounds; r++) {
    for (let c = 0; c < cpus; c++) {
      j({ op: 'switch', cpu: c, mm: `db${(c + r) % cpus}` });
      j({ op: 'accesses', cpu: c, va: `0x${SEGMENT.toString(16)}`, len: '2G', count: per, ...pattern, write: 0.3 });
    }
    j({ op: 'migrate', cpu: 0, file: 'shm', offset: `0x${(((r * 37) % 1024) * (1 << 21)).toString(16)}` });
  }
  j({ op: 'expect', violations: 0, with: '017b1660df89' });
}

/** CPU time so far (ns): this thread, each worker of the pool, the whole process. */
interface CpuClock {
  main: number;
  workers: number[];
  process: number;
}

interface CpuTotals {
  main: number;
  workers: number[];
  process: number;
  accesses: number;
}

async function cpuNow(pool: CpuWorkers): Promise<CpuClock | undefined> {
  const main = platform().threadCpuNs();
  const workers = await Promise.all(Array.from({ length: pool.size }, (_, t) => pool.request<number | undefined, LaneWorkerApi>(t, 'cpuTime', (r) => r.cpuTime())));
  const usage = process.cpuUsage();
  if (main === undefined || workers.some((w) => w === undefined)) return undefined;
  return { main, workers: workers as number[], process: (usage.user + usage.system) * 1000 };
}

function addCpu(totals: Map<number, CpuTotals>, n: number, c0: CpuClock, c1: CpuClock, accesses: number): void {
  const t = totals.get(n) ?? { main: 0, workers: c0.workers.map(() => 0), process: 0, accesses: 0 };
  t.main += c1.main - c0.main;
  c1.workers.forEach((w, i) => (t.workers[i] += w - c0.workers[i]));
  t.process += c1.process - c0.process;
  t.accesses += accesses;
  totals.set(n, t);
}

function perAccess(t: CpuTotals | undefined): { cpu?: ThreadCpu } {
  if (!t || t.accesses === 0) return {};
  const workers = t.workers.reduce((a, b) => a + b, 0);
  const round = (x: number) => Math.round((x / t.accesses) * 100) / 100;
  return { cpu: { main: round(t.main), workers: t.workers.map(round), other: round(Math.max(0, t.process - t.main - workers)) } };
}

export async function runReplayBench(options: ReplayBenchOptions = {}): Promise<BenchResult[]> {
  const { quick = false, onProgress = () => {}, names } = options;
  const rounds = quick ? 2 : 5;
  const dir = mkdtempSync(join(tmpdir(), 'mmuwasm-bench-replay-'));
  const pools: CpuWorkers[] = [];
  const results: BenchResult[] = [];
  try {
    onProgress('replay: starting the worker threads');
    const m = await Machine.create({ ncpus: 1, poolFrames: 1 });
    for (const n of REPLAY_WORKERS) pools.push(await CpuWorkers.start(m, n, { kind: 'lane' }));
    for (const wl of WORKLOADS) {
      if (names && !names.includes(wl.name)) continue;
      const trace = join(dir, wl.file);
      onProgress(`${wl.name}: writing the trace (${wl.note})`);
      const w = writerFor(trace);
      try {
        wl.write(w);
      } finally {
        w.close();
      }
      let digest: string | undefined;
      let accesses = 0;
      const samples = new Map<number, number[]>(REPLAY_WORKERS.map((n) => [n, []]));
      const cpu = new Map<number, CpuTotals>();
      const once = async (i: number) => {
        const n = REPLAY_WORKERS[i];
        const c0 = await cpuNow(pools[i]);
        const t0 = performance.now();
        const { report, status } = await replayFile(trace, { pool: pools[i] });
        const ns = (performance.now() - t0) * 1e6;
        const c1 = await cpuNow(pools[i]);
        if (status !== 0 || !report.complete) throw new Error(`${wl.name}/${n} workers: the replay did not pass (exit ${status}): ${report.error?.message ?? 'an expectation failed'}`);
        const h = createHash('sha256').update(reportJson(report)).digest('hex').slice(0, 16);
        if (digest !== undefined && digest !== h) throw new Error(`${wl.name}/${n} workers: the report differs from another run's (${h}, ${digest})`);
        digest = h;
        accesses = report.accesses;
        samples.get(n)!.push(ns / report.accesses);
        if (c0 && c1) addCpu(cpu, n, c0, c1, report.accesses);
        onProgress(`${wl.name}/${n} worker${n > 1 ? 's' : ''}: ${(report.accesses / (ns / 1e9) / 1e6).toFixed(1)} M accesses/s`);
      };
      // One warm-up replay each (JIT, page cache), then alternating rounds.
      for (let i = 0; i < REPLAY_WORKERS.length; i++) await once(i);
      for (const s of samples.values()) s.length = 0;
      cpu.clear();
      for (let r = 0; r < rounds; r++) for (const i of r % 2 === 0 ? [0, 1] : [1, 0]) await once(i);
      for (const n of REPLAY_WORKERS) {
        results.push({ name: wl.name, impl: 'wasm', ...summarize(samples.get(n)!), workers: n, accesses, checksum: digest!, note: wl.note, ...perAccess(cpu.get(n)) });
      }
      rmSync(trace, { force: true });
    }
    return results;
  } finally {
    await Promise.all(pools.map((p) => p.close()));
    rmSync(dir, { recursive: true, force: true });
  }
}
