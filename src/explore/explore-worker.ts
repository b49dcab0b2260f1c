// An explorer worker thread: explores its part of the schedule space (a shard of the shard it was
// given) with its own machine, and posts its report. The host stops it through a shared flag (a
// message would wait behind the schedules it runs) and reads its progress from a shared counter.
import '../platform/node.ts';
import { parentPort, workerData } from 'node:worker_threads';
import { exploreTrace, readExploreTrace, type ExploreOptions } from './explore.ts';

interface Job {
  lines: string[];
  file: string;
  opts: Omit<ExploreOptions, 'signal' | 'stop' | 'onSchedule'>;
  /** [0] stop when non-zero; [1 + worker] schedules explored by each worker. */
  shared: SharedArrayBuffer;
  worker: number;
}

const job = workerData as Job;
const flags = new Int32Array(job.shared);
const t = readExploreTrace(job.lines, job.file);
const report = await exploreTrace(t, {
  ...job.opts,
  stop: () => Atomics.load(flags, 0) !== 0,
  onSchedule: (n) => Atomics.store(flags, 1 + job.worker, n),
});
parentPort!.postMessage(report);
