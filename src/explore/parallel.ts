// Exploring on several threads: worker w of W explores the schedules numbered i with
// i mod (N·W) = I + N·w when the run is shard I of N (so the workers' parts make exactly the shard),
// and the reports merge by schedule number, so the report is the same for any number of workers.
import { Worker } from 'node:worker_threads';
import { ScheduleRunner } from './runner.ts';
import { checkWrittenOrder, exploreTrace, mergeReports, readExploreTrace, scheduleTotal, type ExploreOptions, type ExploreReport } from './explore.ts';

/** Schedules a worker must have to be worth its start (a thread, a module load and a machine: tens of ms). */
const SCHEDULES_PER_WORKER = 1000;

export interface ParallelExploreOptions extends ExploreOptions {
  /** Threads (default 1: this one). */
  workers?: number;
  /** Fewer threads when there are fewer schedules than this per thread (default SCHEDULES_PER_WORKER). */
  schedulesPerWorker?: number;
}

const WORKER_URL = new URL(import.meta.url.endsWith('.ts') ? './explore-worker.mjs' : './explore-worker.js', import.meta.url);

/** Explores a trace (its text lines) on `workers` threads; the report is the same for any number. */
export async function exploreLines(lines: string[], file: string, opts: ParallelExploreOptions = {}): Promise<ExploreReport> {
  const { workers: _w, schedulesPerWorker = SCHEDULES_PER_WORKER, signal, stop, onSchedule, ...plain } = opts;
  // The trace is read here first: a bad line is reported once, from this thread.
  const t = readExploreTrace(lines, file);
  const W = Math.max(1, Math.min(Math.floor(opts.workers ?? 1), Math.ceil(scheduleTotal(t, opts) / schedulesPerWorker)));
  if (W === 1) return exploreTrace(t, { ...plain, signal, stop, onSchedule });
  // Bad input is reported from this thread, as a TraceError.
  const check = await ScheduleRunner.create(t, { kernel: opts.kernel ?? t.header.kernel, fixes: { ...(t.header.fixes ?? {}), ...(opts.fixes ?? {}) } });
  try {
    await checkWrittenOrder(t, check);
  } finally {
    await check.close();
  }
  const shard = opts.shard ?? { index: 0, count: 1 };
  const shared = new SharedArrayBuffer(4 * (1 + W));
  const flags = new Int32Array(shared);
  const halt = () => Atomics.store(flags, 0, 1);
  signal?.addEventListener('abort', halt, { once: true });
  const timer = onSchedule ? setInterval(() => {
    let n = 0;
    for (let w = 0; w < W; w++) n += Atomics.load(flags, 1 + w);
    onSchedule(n, 0);
    if (stop?.()) halt();
  }, 200) : stop ? setInterval(() => stop() && halt(), 200) : undefined;
  try {
    const parts = await Promise.all(Array.from({ length: W }, (_, w) => new Promise<ExploreReport>((resolve, reject) => {
      const worker = new Worker(WORKER_URL, {
        name: `mmuwasm-explore-${w}`,
        workerData: { lines, file, opts: { ...plain, shard: { index: shard.index + shard.count * w, count: shard.count * W } }, shared, worker: w },
      });
      worker.once('message', (r: ExploreReport) => {
        resolve(r);
        void worker.terminate();
      });
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`explorer worker ${w} exited (${code}) before its report`)));
    })));
    const merged = mergeReports(parts);
    if (opts.shard) merged.shard = opts.shard;
    return merged;
  } finally {
    if (timer) clearInterval(timer);
    signal?.removeEventListener('abort', halt);
  }
}
