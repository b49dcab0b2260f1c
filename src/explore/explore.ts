// The explorer (docs/trace-format.md, "Concurrent blocks and exploration"): runs the schedules of each
// concurrent block — every one within the preemption bound, or a PCT sample when there are more than
// the budget — each as a plain trace through the replay, and groups the violations found by cause,
// keeping for each cause its smallest schedule written down as a trace that `replay` reproduces.
// The report is a function of (trace, profile, fixes, bound, budget, seed) only: the schedule
// numbers, not the order they ran in, decide which schedule represents a cause, so shards and
// workers merge into exactly the report of one run.
import type { Violation } from '../oracle/violation.ts';
import type { ReplayOptions } from '../replay/engine.ts';
import { resolveFixes, DEFAULT_PROFILE } from '../kernel/profiles.ts';
import { readBlockTrace, type BlockTrace } from './block.ts';
import { blockFootprints } from './footprint.ts';
import { countSchedules, enumerateSchedules, pctSchedule, preemptionsOf, type Schedule } from './schedules.ts';
import { describeSchedule, idPrefix, resolvedText, resolveSchedule, writtenSchedule, type ResolvedEvent } from './resolve.ts';
import { TraceError } from '../trace/trace-error.ts';
import { ScheduleRunner } from './runner.ts';

export interface ExploreOptions {
  kernel?: string;
  fixes?: Record<string, boolean>;
  /** The preemption bound K (default 2). */
  preemptions?: number;
  /** The schedule budget N (default 100000): above it, N schedules are sampled with PCT. */
  schedules?: number;
  seed?: number;
  /** This run explores part `index` (0-based) of `count` disjoint parts. */
  shard?: { index: number; count: number };
  /** Partial-order reduction (default on). */
  reduce?: boolean;
  /** Aborting stops after the schedule that runs (Ctrl-C): the report holds what was explored. */
  signal?: AbortSignal;
  /** The same from another thread: stop when it returns true (checked before each schedule). */
  stop?: () => boolean;
  /** Called after each schedule (a progress line). */
  onSchedule?: (explored: number, total: number) => void;
}

export interface Finding {
  kind: Violation['kind'];
  fix?: string;
  cpu?: number;
  device?: string;
  mm: string;
  va: string;
  detail: string;
  /** The operation of the event that revealed it (the cause when the oracle names no fix). */
  op: string;
  /** The schedule, a segment per entry. */
  schedule: string[];
  preemptions: number;
  /** Events of the resolved block. */
  events: number;
  /** Which block, and the schedule's number in that block's enumeration (or its PCT draw). */
  block: number;
  number: number;
  /** The plain trace that reproduces it (`replay` exits 1 with this violation). */
  trace: string;
}

export interface ExploreReport {
  complete: boolean;
  kernel: string;
  fixes: Record<string, boolean>;
  explored: number;
  exhaustive: boolean;
  preemptions: number;
  findings: Finding[];
  shard?: { index: number; count: number };
  stats: {
    blocks: number;
    /** Schedules within the bound, after the reduction (per block; a lower bound when over the budget). */
    schedules: number[];
    /** Schedules the reduction did not need to run (a lower bound when the full space is over the budget). */
    pruned: number;
    /** Schedules the replay could not run as written (an operation the kernel refuses in that order). */
    infeasible: number;
    seconds: number;
    schedulesPerSecond: number;
  };
}

/** The key a finding is grouped by: the kind and the fix the oracle names, or the kind and the operation. */
export function causeOf(f: { kind: string; fix?: string; op: string }): string {
  return f.fix ? `${f.kind} ${f.fix}` : `${f.kind} at ${f.op}`;
}

/** Which of two findings of one cause represents it: fewest preemptions, then fewest events, then the first schedule. */
export function smaller(a: Finding, b: Finding): boolean {
  if (a.preemptions !== b.preemptions) return a.preemptions < b.preemptions;
  if (a.events !== b.events) return a.events < b.events;
  if (a.block !== b.block) return a.block < b.block;
  return a.number < b.number;
}

const FULL_COUNT_CAP = 1_000_000;

/** Reads a trace's text lines for exploration (a bad line throws its TraceError). */
export function readExploreTrace(lines: Iterable<string>, file: string): BlockTrace {
  return readBlockTrace(lines, file, blockFootprints);
}

/** The schedules a run (or its shard) will explore: for a progress line. */
export function scheduleTotal(t: BlockTrace, opts: Pick<ExploreOptions, 'preemptions' | 'schedules' | 'shard' | 'reduce'>): number {
  const N = opts.schedules ?? 100_000;
  const shard = opts.shard ?? { index: 0, count: 1 };
  return t.blocks.reduce((s, b) => {
    const n = Math.min(countSchedules(b, { preemptions: opts.preemptions ?? 2, reduce: opts.reduce ?? true }, N), N);
    return s + Math.max(0, Math.ceil((n - shard.index) / shard.count));
  }, 0);
}

/** Explores every block of the trace under one profile. */
export async function exploreTrace(t: BlockTrace, opts: ExploreOptions = {}, runner?: ScheduleRunner): Promise<ExploreReport> {
  const kernel = opts.kernel ?? t.header.kernel ?? DEFAULT_PROFILE;
  const fixOverrides = { ...(t.header.fixes ?? {}), ...(opts.fixes ?? {}) };
  const fixes = resolveFixes(kernel, fixOverrides).toRecord();
  const K = opts.preemptions ?? 2;
  const N = opts.schedules ?? 100_000;
  const seed = opts.seed ?? 0;
  const shard = opts.shard ?? { index: 0, count: 1 };
  const reduce = opts.reduce ?? true;
  const own = !runner;
  const run = runner ?? (await ScheduleRunner.create(t, { kernel, fixes: fixOverrides }));
  const prefix = idPrefix(t);
  const groups = new Map<string, Finding>();
  const report: ExploreReport = {
    complete: false, kernel, fixes, explored: 0, exhaustive: true, preemptions: K, findings: [],
    ...(opts.shard ? { shard } : {}),
    stats: { blocks: t.blocks.length, schedules: [], pruned: 0, infeasible: 0, seconds: 0, schedulesPerSecond: 0 },
  };
  const started = performance.now();
  const sizes = t.blocks.map((b) => countSchedules(b, { preemptions: K, reduce }, N));
  const total = sizes.reduce((s, n) => s + Math.max(0, Math.ceil((Math.min(n, N) - shard.index) / shard.count)), 0);
  try {
    await checkWrittenOrder(t, run);
    for (let b = 0; b < t.blocks.length; b++) {
      const block = t.blocks[b];
      const exhaustive = sizes[b] <= N;
      report.stats.schedules.push(Math.min(sizes[b], N + 1));
      if (!exhaustive) report.exhaustive = false;
      else if (reduce) report.stats.pruned += countSchedules(block, { preemptions: K, reduce: false }, FULL_COUNT_CAP) - sizes[b];
      const schedules: Iterable<Schedule> = exhaustive ? enumerateSchedules(block, { preemptions: K, reduce }) : pctDraws(t, b, K, N, seed);
      let number = -1;
      for (const schedule of schedules) {
        number++;
        if (number % shard.count !== shard.index) continue;
        if (opts.signal?.aborted || opts.stop?.()) return report;
        const events = resolveSchedule(t, b, schedule, prefix);
        const out = await run.run(events);
        report.explored++;
        opts.onSchedule?.(report.explored, total);
        if (out.status === 2) {
          report.stats.infeasible++;
          continue;
        }
        for (const v of out.violations) {
          const at = events.find((e) => e.line === v.line);
          const origin = at?.origin;
          const opName = origin ? `${block.threads[origin.thread].name} ${block.threads[origin.thread].events[origin.event].event.op} of line ${block.threads[origin.thread].events[origin.event].line}`
            : at ? `${at.event.op} of line ${at.source}` : `line ${v.line}`;
          const f: Finding = {
            kind: v.kind, ...(v.fix ? { fix: v.fix } : {}), ...(v.cpu !== undefined ? { cpu: v.cpu } : {}), ...(v.device !== undefined ? { device: v.device } : {}),
            mm: v.mm, va: v.va, detail: v.detail, op: opName, schedule: [], preemptions: preemptionsOf(schedule),
            events: schedule.length, block: b, number, trace: '',
          };
          const key = causeOf(f);
          const had = groups.get(key);
          if (had && !smaller(f, had)) continue;
          f.schedule = describeSchedule(t, b, schedule);
          f.trace = findingTrace(t, events, kernel, fixOverrides, f);
          groups.set(key, f);
        }
      }
    }
    report.complete = true;
    return report;
  } finally {
    report.findings = sortFindings([...groups.values()]);
    report.stats.seconds = (performance.now() - started) / 1000;
    report.stats.schedulesPerSecond = report.stats.seconds > 0 ? Math.round(report.explored / report.stats.seconds) : 0;
    if (own) await run.close();
  }
}

/**
 * The trace as written must replay: a bad event (a CPU that runs nothing, a range the kernel refuses)
 * is bad input — a TraceError naming its line — not a schedule that cannot happen.
 */
export async function checkWrittenOrder(t: BlockTrace, run: ScheduleRunner): Promise<void> {
  const prefix = idPrefix(t);
  for (let b = 0; b < t.blocks.length; b++) {
    const events = resolveSchedule(t, b, writtenSchedule(t, b), prefix);
    const out = await run.run(events);
    if (out.status === 2) throw new TraceError(t.file, events.find((e) => e.line === out.errorLine)?.source ?? t.headerLine, undefined, out.error ?? 'the trace does not replay');
  }
}

function* pctDraws(t: BlockTrace, b: number, K: number, N: number, seed: number): Generator<Schedule> {
  for (let j = 0; j < N; j++) yield pctSchedule(t.blocks[b], K, (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) + j * 0x27d4eb2f) >>> 0);
}

export function sortFindings(f: Finding[]): Finding[] {
  return f.sort((a, b) => (causeOf(a) < causeOf(b) ? -1 : causeOf(a) > causeOf(b) ? 1 : 0));
}

function findingTrace(t: BlockTrace, events: ResolvedEvent[], kernel: string, fixes: Record<string, boolean>, f: Finding): string {
  return resolvedText(t, events, kernel, fixes, [
    `Found by mmuwasm explore in ${t.file} (block ${f.block + 1}, schedule ${f.number}, ${f.preemptions} preemption${f.preemptions === 1 ? '' : 's'}):`,
    `${f.kind}${f.cpu !== undefined ? ` on CPU ${f.cpu}` : ''}${f.device !== undefined ? ` of device ${f.device}` : ''} in ${f.mm} at ${f.va}${f.fix ? ` (fix ${f.fix})` : ''}.`,
    'Replay it with: mmuwasm replay FILE (exit 1: the violation).',
  ]);
}

/** One report of every shard of the same exploration: exactly what one run would report (timing aside). */
export function mergeReports(parts: ExploreReport[]): ExploreReport {
  if (!parts.length) throw new RangeError('nothing to merge');
  const first = parts[0];
  const groups = new Map<string, Finding>();
  for (const p of parts) {
    for (const f of p.findings) {
      const had = groups.get(causeOf(f));
      if (!had || smaller(f, had)) groups.set(causeOf(f), f);
    }
  }
  const seconds = Math.max(...parts.map((p) => p.stats.seconds));
  const explored = parts.reduce((s, p) => s + p.explored, 0);
  return {
    complete: parts.every((p) => p.complete), kernel: first.kernel, fixes: first.fixes, explored,
    exhaustive: parts.every((p) => p.exhaustive), preemptions: first.preemptions, findings: sortFindings([...groups.values()]),
    stats: {
      blocks: first.stats.blocks, schedules: first.stats.schedules, pruned: first.stats.pruned,
      infeasible: parts.reduce((s, p) => s + p.stats.infeasible, 0), seconds,
      schedulesPerSecond: seconds > 0 ? Math.round(explored / seconds) : 0,
    },
  };
}

export type { ReplayOptions };
