/**
 * mmuwasm for Node: the library API of `src/index.ts` and the conveniences that need Node's file
 * system and threads — reading and replaying trace files by path, and CPU worker threads.
 * @packageDocumentation
 */
export * from './index.ts';
/** Reading a trace file (JSON Lines, gzip or binary) and replaying it by its path. */
export { readTrace } from './trace/parser.ts';
export { replayFile } from './node/replay-file.ts';
/** Threads that run CPUs' batches on the same shared memory. */
export { CpuWorkers, CPU_WORKER_URL, type CpuWorkersOptions } from './mmu/cpu-workers.ts';
/** Exploring on worker threads, and bisecting the fixes between two profiles. */
export { exploreLines, type ParallelExploreOptions } from './explore/parallel.ts';
export { bisectLines, BisectError, type BisectOptions, type BisectResult, type BisectStep } from './explore/bisect.ts';
