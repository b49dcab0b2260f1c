// The explorer's benchmark: schedules per second on the founding block
// (scenarios/explore/b1-shared-pmd-migration.jsonl, v4.4: 24 schedules within 2 preemptions, each a
// replay of the whole trace on a machine reset between schedules), on 1 and on 2 worker threads.
//
// Each thread keeps its machine (as an exploration's worker does) and explores the block `repeat`
// times per sample; the threads are started, and warmed up, before the clock starts. A sample is the
// wall time from asking every thread until the last one answered; ops are schedules, ops/s = all
// schedules run / seconds, from the median sample. Samples of 1 and 2 workers alternate so that a
// change of load on the machine biases neither side of their ratio. Every exploration must report the
// same findings (their causes and schedule numbers are the checksum).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { summarize, type BenchResult } from './report.ts';

export const EXPLORE_BENCH_NAMES = ['explore'] as const;
export const EXPLORE_WORKERS = [1, 2] as const;

interface Thread {
  worker: Worker;
  ask(repeat: number): Promise<{ schedules: number; digest: string }>;
}

async function startThread(lines: string[], file: string): Promise<Thread> {
  const worker = new Worker(new URL('./explore-worker.mjs', import.meta.url), { workerData: { lines, file, kernel: 'v4.4' } });
  let pending: ((m: { schedules: number; digest: string }) => void) | undefined;
  let failed: ((e: unknown) => void) | undefined;
  await new Promise<void>((resolve, reject) => {
    worker.once('error', reject);
    worker.once('message', () => resolve());
  });
  worker.on('message', (m) => pending?.(m));
  worker.on('error', (e) => failed?.(e));
  return {
    worker,
    ask: (repeat) => new Promise((resolve, reject) => {
      pending = resolve;
      failed = reject;
      worker.postMessage(repeat);
    }),
  };
}

export async function runExploreBench(options: { quick?: boolean; onProgress?: (line: string) => void } = {}): Promise<BenchResult[]> {
  const { quick = false, onProgress = () => {} } = options;
  const file = join(import.meta.dirname, '..', 'scenarios', 'explore', 'b1-shared-pmd-migration.jsonl');
  const lines = readFileSync(file, 'utf8').split('\n');
  const rounds = quick ? 3 : 7;
  // Schedules per thread per sample: about a second of work at the target rate.
  const repeat = quick ? 50 : 200;
  onProgress('explore: starting the worker threads');
  const threads = await Promise.all([0, 1].map(() => startThread(lines, file)));
  const results: BenchResult[] = [];
  try {
    let digest: string | undefined;
    const samples = new Map<number, number[]>(EXPLORE_WORKERS.map((n) => [n, []]));
    const once = async (n: number) => {
      const t0 = performance.now();
      const answers = await Promise.all(threads.slice(0, n).map((t) => t.ask(repeat)));
      const ns = (performance.now() - t0) * 1e6;
      const schedules = answers.reduce((s, a) => s + a.schedules, 0);
      for (const a of answers) {
        if (digest !== undefined && a.digest !== digest) throw new Error(`explore/${n} workers: the findings differ between explorations (${a.digest}, ${digest})`);
        digest = a.digest;
      }
      samples.get(n)!.push(ns / schedules);
      onProgress(`explore/${n} worker${n > 1 ? 's' : ''}: ${Math.round(schedules / (ns / 1e9))} schedules/s`);
    };
    // Warm-up (JIT), then alternating rounds.
    for (const n of EXPLORE_WORKERS) await once(n);
    for (const s of samples.values()) s.length = 0;
    for (let r = 0; r < rounds; r++) for (const n of r % 2 === 0 ? [1, 2] : [2, 1]) await once(n);
    for (const n of EXPLORE_WORKERS) {
      results.push({
        name: 'explore', impl: 'wasm', ...summarize(samples.get(n)!), workers: n, accesses: 24 * repeat * n, checksum: digest!,
        note: `founding block (scenarios/explore/b1-shared-pmd-migration.jsonl) under v4.4, 24 schedules within 2 preemptions, explored ${repeat} times per thread per sample; ops are schedules`,
      });
    }
    return results;
  } finally {
    await Promise.all(threads.map((t) => t.worker.terminate()));
  }
}
