/**
 * mmuwasm for Node: the library API of `src/index.ts` and the conveniences that need Node's file
 * system and threads — reading and replaying trace files by path, and CPU worker threads.
 * @packageDocumentation
 */
// Node's platform (files, worker threads, zlib's CRC-32) before anything runs.
import './platform/node.ts';

export * from './index.ts';
/** Reading a trace file (JSON Lines, gzip or binary) and replaying it by its path. */
export { readTrace } from './node/read-trace.ts';
export { replayFile } from './node/replay-file.ts';
/** Threads that run CPUs' batches on the same shared memory. */
export { CpuWorkers, type CpuWorkersOptions } from './mmu/cpu-workers.ts';
/** Exploring on worker threads, and bisecting the fixes between two profiles. */
export { exploreLines, type ParallelExploreOptions } from './explore/parallel.ts';
export { bisectLines, BisectError, type BisectOptions, type BisectResult, type BisectStep } from './explore/bisect.ts';
/** Trace files: converting one form to the other, and a writer for a path by its extension. */
export { convertTrace, type ConvertOptions, type ConvertResult } from './node/convert.ts';
export { writerFor } from './node/trace-files.ts';
