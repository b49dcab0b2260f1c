// Results of the benchmarks: their shape, the targets they are judged against (the project's design
// targets, listed in the README under "Benchmarks"), a table for people and a JSON file for machines.
import { writeFile } from 'node:fs/promises';
import { cpus, arch, loadavg, platform } from 'node:os';

/**
 * 'native' is bench/native/walker.c's serial loop; 'native-overlapped' the same walker with several
 * walks in flight, interleaved level by level (the walk benchmark only).
 */
export type Impl = 'wasm' | 'reference' | 'native' | 'native-overlapped';

export interface BenchResult {
  /** The benchmark: 'tlb-hit', 'walk' or 'replay' (whole traces, bench/replay.ts). */
  name: string;
  impl: Impl;
  /** Accesses per second on one thread, from the median time of a batch. */
  opsPerSec: number;
  /** Median nanoseconds per access. */
  nsPerOp: number;
  /** Accesses per second from the mean time of a batch (more sensitive to hiccups: GC, scheduling). */
  meanOpsPerSec: number;
  /** Timed samples, one batch each (over all rounds). */
  samples: number;
  /** Relative margin of error of the mean time per access, in percent (95% confidence). */
  rme: number;
  /** Threads measuring: the hardware's targets are per worker; `replay` is measured on 1 and 2. */
  workers: number;
  /** Accesses per batch (one call into the implementation). */
  accesses: number;
  /** Sum of the physical addresses of one batch, mod 2^64: equal across implementations = same work. */
  checksum: string;
  note?: string;
  /**
   * The replays: CPU time per access of each thread over the timed samples, in nanoseconds (Linux
   * only): the main thread, each worker, and the rest of the process (V8's background GC and
   * compiler threads, libuv's I/O) — which thread bounds the replay.
   */
  cpu?: ThreadCpu;
}

export interface ThreadCpu {
  main: number;
  workers: number[];
  other: number;
}

// Two-sided 95% critical values of Student's t for 1..30 degrees of freedom; 1.96 beyond.
const T95 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131,
  2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042];

/** Statistics of timed samples (nanoseconds per access, one batch each): ops/s from the median. */
export function summarize(nsPerOp: readonly number[]): Pick<BenchResult, 'opsPerSec' | 'nsPerOp' | 'meanOpsPerSec' | 'rme' | 'samples'> {
  const n = nsPerOp.length;
  if (n === 0) throw new Error('no samples');
  const sorted = [...nsPerOp].sort((a, b) => a - b);
  const median = n % 2 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  const mean = sorted.reduce((a, b) => a + b, 0) / n;
  const variance = n > 1 ? sorted.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1) : 0;
  const t = n > 1 ? (T95[n - 2] ?? 1.96) : 0;
  return { opsPerSec: 1e9 / median, nsPerOp: median, meanOpsPerSec: 1e9 / mean, rme: (100 * t * Math.sqrt(variance / n)) / mean, samples: n };
}

export interface Target {
  name: string;
  /** What it measures, for the table. */
  label: string;
  /** Measured value and whether it meets the target; undefined when an input is missing. */
  measure(results: readonly BenchResult[]): { value: number; met: boolean } | undefined;
  /** How the target is printed, e.g. "≥ 100 M/s". */
  wanted: string;
  /** How the measured value is printed. */
  format(value: number): string;
}

const find = (results: readonly BenchResult[], name: string, impl: Impl) => results.find((r) => r.name === name && r.impl === impl);

const mega = (v: number) => `${(v / 1e6).toFixed(1)} M/s`;
const times = (v: number) => `${v.toFixed(2)}×`;

function absolute(name: string, min: number): Target {
  return {
    name, label: `wasm ${name} per worker`, wanted: `≥ ${min / 1e6} M/s`, format: mega,
    measure: (results) => {
      const r = find(results, name, 'wasm');
      return r && { value: r.opsPerSec, met: r.opsPerSec >= min };
    },
  };
}

/** WASM at least 2.5× the TypeScript reference on the same work. */
function overReference(name: string): Target {
  return {
    name, label: `${name} wasm / reference`, wanted: '≥ 2.50×', format: times,
    measure: (results) => {
      const w = find(results, name, 'wasm');
      const r = find(results, name, 'reference');
      return w && r && { value: w.opsPerSec / r.opsPerSec, met: w.opsPerSec / r.opsPerSec >= 2.5 };
    },
  };
}

/** WASM within 1.3× of native code: native / wasm ≤ 1.3. */
function nearNative(name: string): Target {
  return {
    name, label: `${name} native / wasm`, wanted: '≤ 1.30×', format: times,
    measure: (results) => {
      const w = find(results, name, 'wasm');
      const n = find(results, name, 'native');
      return w && n && { value: n.opsPerSec / w.opsPerSec, met: n.opsPerSec / w.opsPerSec <= 1.3 };
    },
  };
}

/**
 * The walk within 1.5× of a native walker that overlaps independent walks (memory-level
 * parallelism, bench/native/walker.c run_batch_overlapped): native-overlapped / wasm ≤ 1.5.
 */
function nearOverlappedNative(name: string): Target {
  return {
    name, label: `${name} native-overlapped / wasm`, wanted: '≤ 1.50×', format: times,
    measure: (results) => {
      const w = find(results, name, 'wasm');
      const n = find(results, name, 'native-overlapped');
      return w && n && { value: n.opsPerSec / w.opsPerSec, met: n.opsPerSec / w.opsPerSec <= 1.5 };
    },
  };
}

const replayOn = (results: readonly BenchResult[], workers: number, name = 'replay') => results.find((r) => r.name === name && r.workers === workers);
const isReplay = (r: BenchResult) => r.name.startsWith('replay') || r.name === 'explore';

/** End-to-end replay on 2 workers, the oracle on (the project's targets, docs/performance.md). */
function replayThroughput(name: string, min: number): Target {
  return {
    name, label: `${name} on 2 workers`, wanted: `≥ ${min / 1e6} M/s`, format: mega,
    measure: (results) => {
      const r = replayOn(results, 2, name);
      return r && { value: r.opsPerSec, met: r.opsPerSec >= min };
    },
  };
}

/** Near-linear scaling: 2 workers ≥ 1.6× the 1-worker figure. */
const replayScaling: Target = {
  name: 'replay', label: 'replay 2 workers / 1 worker', wanted: '≥ 1.60×', format: times,
  measure: (results) => {
    const one = replayOn(results, 1);
    const two = replayOn(results, 2);
    return one && two && { value: two.opsPerSec / one.opsPerSec, met: two.opsPerSec / one.opsPerSec >= 1.6 };
  },
};

const exploreOn = (results: readonly BenchResult[], workers: number) => results.find((r) => r.name === 'explore' && r.workers === workers);

/** The explorer on the founding block (the project's target, README "Benchmarks"): ≥ 5,000 schedules/s per worker. */
const exploreThroughput: Target = {
  name: 'explore', label: 'explore schedules/s on 1 worker', wanted: '≥ 5000/s', format: (v) => `${Math.round(v)}/s`,
  measure: (results) => {
    const r = exploreOn(results, 1);
    return r && { value: r.opsPerSec, met: r.opsPerSec >= 5000 };
  },
};

/** The explorer's threads scale: 2 workers ≥ 1.7× one. */
const exploreScaling: Target = {
  name: 'explore', label: 'explore 2 workers / 1 worker', wanted: '≥ 1.70×', format: times,
  measure: (results) => {
    const one = exploreOn(results, 1);
    const two = exploreOn(results, 2);
    return one && two && { value: two.opsPerSec / one.opsPerSec, met: two.opsPerSec / one.opsPerSec >= 1.7 };
  },
};

export const TARGETS: readonly Target[] = [
  absolute('tlb-hit', 100e6),
  overReference('tlb-hit'),
  nearNative('tlb-hit'),
  absolute('walk', 60e6),
  overReference('walk'),
  nearNative('walk'),
  nearOverlappedNative('walk'),
  replayThroughput('replay', 50e6),
  replayScaling,
  replayThroughput('replay-streams', 150e6),
  replayThroughput('replay-jsonl', 5e6),
  exploreThroughput,
  exploreScaling,
];

function pad(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((cell, i) => (i < 2 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ').trimEnd()).join('\n');
}

/** The results, one line per benchmark and implementation, then the targets with met / not met. */
export function formatTable(results: readonly BenchResult[]): string {
  const rows: string[][] = [['benchmark', 'impl', 'ops/s', 'ns/op', '±rme', 'samples', 'wasm/ref', 'wasm/native', 'wasm/native-overlapped', 'vs 1 worker']];
  for (const r of results) {
    const ref = find(results, r.name, 'reference');
    const nat = find(results, r.name, 'native');
    const ovl = find(results, r.name, 'native-overlapped');
    const one = isReplay(r) && r.workers !== 1 ? replayOn(results, 1, r.name) : undefined;
    rows.push([
      isReplay(r) ? `${r.name}, ${r.workers} worker${r.workers === 1 ? '' : 's'}` : r.name, r.impl, r.name === 'explore' ? `${Math.round(r.opsPerSec)}/s` : mega(r.opsPerSec), r.nsPerOp.toFixed(2), `${r.rme.toFixed(1)}%`, String(r.samples),
      r.impl === 'wasm' && ref ? times(r.opsPerSec / ref.opsPerSec) : '',
      r.impl === 'wasm' && nat ? times(r.opsPerSec / nat.opsPerSec) : '',
      r.impl === 'wasm' && ovl ? times(r.opsPerSec / ovl.opsPerSec) : '',
      one ? times(r.opsPerSec / one.opsPerSec) : '',
    ]);
  }
  const out = [pad(rows), '', 'targets (the hardware per worker, single thread; the replay end to end):'];
  const trows: string[][] = [];
  for (const t of TARGETS) {
    if (!results.some((r) => r.name === t.name)) continue;
    const m = t.measure(results);
    trows.push([`  ${t.label}`, t.wanted, m ? t.format(m.value) : 'n/a', m ? (m.met ? 'met' : 'NOT MET') : 'not measured']);
  }
  if (trows.length) out.push(pad(trows));
  const notes = results.filter((r) => r.note).map((r) => `  ${r.name} ${r.impl}: ${r.note}`);
  if (notes.length) out.push('', 'notes:', ...notes);
  const cpu = results.filter((r) => r.cpu);
  if (cpu.length) {
    out.push('', 'CPU time per access, by thread (ns; "other": GC and compiler threads, I/O):');
    const crows = cpu.map((r) => [
      `  ${r.name}, ${r.workers} worker${r.workers === 1 ? '' : 's'}`, `main ${r.cpu!.main.toFixed(1)}`,
      ...r.cpu!.workers.map((w, i) => `worker ${i} ${w.toFixed(1)}`), `other ${r.cpu!.other.toFixed(1)}`,
    ]);
    const width = Math.max(...crows.map((r) => r.length));
    out.push(pad(crows.map((r) => [...r.slice(0, -1), ...Array(width - r.length).fill(''), r[r.length - 1]])));
  }
  return out.join('\n');
}

/** The machine the numbers come from. */
export function environment(): Record<string, unknown> {
  const list = cpus();
  return {
    node: process.version,
    cpu: list[0]?.model ?? 'unknown',
    cores: list.length,
    platform: platform(),
    arch: arch(),
    date: new Date().toISOString(),
    loadavg: loadavg().map((x) => Math.round(x * 100) / 100),
  };
}

/**
 * Writes `{"results": [...], ...metadata}` to FILE, or to standard output for '-'. The `results`
 * array keeps exactly the BenchResult shape; `extra` adds top-level fields (e.g. notes).
 */
export async function writeJson(file: string, results: readonly BenchResult[], extra: Record<string, unknown> = {}): Promise<void> {
  const targets = TARGETS.filter((t) => results.some((r) => r.name === t.name)).map((t) => {
    const m = t.measure(results);
    return { name: t.name, target: t.label, wanted: t.wanted, value: m?.value ?? null, met: m?.met ?? null };
  });
  const text = `${JSON.stringify({ results, ...environment(), targets, ...extra }, null, 2)}\n`;
  if (file === '-') {
    await new Promise<void>((resolve, reject) => process.stdout.write(text, (err) => (err ? reject(err) : resolve())));
  } else {
    await writeFile(file, text);
  }
}
