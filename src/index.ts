/**
 * mmuwasm — an x86-64 MMU for many CPUs in WebAssembly.
 *
 * The library API: create a machine of N CPUs over one shared memory, build and edit real x86-64
 * page tables in it, set control registers, translate one address or a batch, run every
 * invalidation instruction, and read the counters. The semantics are those of the Intel SDM vol. 3A
 * chapter 4, with every choice the SDM leaves open fixed in docs/hardware.md.
 *
 * @example
 * ```ts
 * import { Machine, PageTables, PhysicalMemory, KIND } from 'mmuwasm';
 * const m = await Machine.create({ ncpus: 2 });
 * const tables = new PageTables(m);
 * const frames = new PhysicalMemory(m);
 * const root = tables.newRoot();
 * tables.map(root, 0x40000000n, frames.alloc('2M'), '2M');
 * m.writeCr3(0, root);
 * m.access(0, 0x40001234n, KIND.write); // { status: 'ok', pa: … }
 * m.invlpg(0, 0x40000000n);
 * m.counters(0).walks; // 1n
 * ```
 * @packageDocumentation
 */

/** The WebAssembly machine: CPUs, registers, accesses, invalidations, cached state, counters. */
export { Machine, type BatchStop } from './mmu/machine.ts';
/** The WebAssembly core as Machine.create takes it: a URL, its bytes or a compiled module; CORE_URL is the package's. */
export { CORE_URL, type CoreSource } from './mmu/loader.ts';
/** CPUs' batches on worker threads (Node) or Web Workers (a cross-origin isolated page). */
export { CpuWorkers, type CpuWorkersOptions } from './mmu/cpu-workers.ts';
/** Building and editing page tables in the machine's table pool. */
export { PageTables, PTE, type MapFlags, type Translation } from './mmu/builder.ts';
/** Simulated physical memory for data frames (no contents, generations for the oracle). */
export { PhysicalMemory } from './mmu/physmem.ts';
/** The plain TypeScript model of the same hardware, written for clarity (the tests' oracle). */
export { ReferenceMachine } from './mmu/reference.ts';
export {
  KIND, CAPACITY_GEOMETRY, RETENTIVE_GEOMETRY, ARRAY_NAMES, COUNTER_NAMES,
  type AccessResult, type ArrayName, type ArrayGeometry, type Geometry, type MachineConfig, type MmuModel,
  type TlbEntry, type PscEntry, type OracleEvent, type OracleEventKind, type Counters, type CounterName, type PageSize,
} from './mmu/model.ts';
export { MmuError, CpuRangeError, TableAddressError, ConfigError, ArgumentError, OutOfMemoryError, WorkerError } from './mmu/errors.ts';
/** Page-fault error-code bits (SDM §4.7) and access-kind bits. */
export { PF_P, PF_WR, PF_US, PF_RSVD, PF_ID, PF_PK, K_WRITE, K_FETCH, K_SUPERVISOR } from '../assembly/layout.ts';

/** Replaying traces: a whole trace from its text, bytes or a stream; from a reader's items; or event by event from a program. */
export { replaySource, replayTrace, type ReplayOutcome, type ReplayTraceOptions, type ReplaySourceOptions } from './replay/replay-trace.ts';
export { reportJson, renderSummary } from './replay/report.ts';
export { Replay, type Report, type ReplayOptions, type Expectation } from './replay/engine.ts';
export type { ReplayEvent, ReplayHeader, TraceItem } from './trace/events.ts';
export { parseTrace, STEPS } from './trace/parser.ts';
/** Reading a trace from bytes (any form), and writing one into bytes. */
export { readTraceSource } from './trace/read.ts';
export type { TraceInput } from './trace/source.ts';
export { MAX_LINE } from './trace/lines.ts';
export { TextTraceWriter, BinaryTraceWriter, MemorySink, type ByteSink, type TraceWriter } from './trace/binary.ts';
export { TraceError } from './trace/trace-error.ts';
/** Kernel profiles and the named fixes they are made of. */
export { PROFILES, PROFILE_NAMES, DEFAULT_PROFILE, resolveFixes, ProfileError } from './kernel/profiles.ts';
export { FIXES, fixById, FixSet, type Fix } from './kernel/fixes.ts';
export { VIOLATION_KINDS, type Violation, type ViolationKind } from './oracle/violation.ts';
/** The explorer: the schedules of a trace's concurrent blocks, findings with replayable traces, shards. */
export {
  exploreTrace, readExploreTrace, mergeReports, causeOf, scheduleTotal,
  type ExploreOptions, type ExploreReport, type Finding,
} from './explore/explore.ts';
export { enumerateSchedules, countSchedules, pctSchedule, type Schedule, type Segment } from './explore/schedules.ts';
export { resolveSchedule, resolvedText } from './explore/resolve.ts';
export type { BlockTrace, Block, Thread } from './explore/block.ts';
