// `mmuwasm replay TRACE [--kernel PROFILE] [--fix ID=on|off]... [--workers N] [--cost K=V,...] [--tlb retentive|capacity] [--json FILE|-] [--quiet]`
// (TRACE-FORMAT "Command line"). Exit 0: every expectation held (no expectation: no violation);
// 1: an expectation failed (or a violation was found); 2: bad input or usage — the message names the
// file and line, and the JSON report still holds everything replayed before it ("complete": false);
// 3: a bug in mmuwasm (an internal invariant broke): the trace line, how to reproduce, the partial report.
import { writeFileSync } from 'node:fs';
import { readTrace } from './trace.ts';
import { Replay, type Report, type ReplayOptions } from './engine.ts';
import { CostModelError, parseCostModel, DEFAULT_COSTS, type CostModel } from './cost-model.ts';
import { renderSummary, styleFor } from './report.ts';
import { ProfileError } from '../kernel/profiles.ts';
import { Progress } from './progress.ts';
import { prefetch } from './prefetch.ts';
import { options, parseFixArg, UsageError } from './cli-args.ts';
import { ModelBugError } from '../mmu/errors.ts';

export { UsageError } from './cli-args.ts';

export interface ReplayArgs {
  trace: string;
  kernel?: string;
  fixes: Record<string, boolean>;
  workers?: number;
  cost?: CostModel;
  tlbMode?: 'retentive' | 'capacity';
  json?: string;
  quiet: boolean;
}

export function parseReplayArgs(argv: string[]): ReplayArgs {
  const a: ReplayArgs = { trace: '', fixes: {}, quiet: false };
  for (const { arg, value } of options(argv)) {
    if (arg === '--kernel') a.kernel = value();
    else if (arg === '--fix') {
      const [id, on] = parseFixArg(value());
      a.fixes[id] = on;
    } else if (arg === '--workers') {
      const v = value();
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1 || n > 256) throw new UsageError(`--workers takes a whole number from 1 to 256 (got '${v}')`);
      a.workers = n;
    } else if (arg === '--cost') {
      try {
        a.cost = parseCostModel(value(), a.cost ?? DEFAULT_COSTS);
      } catch (err) {
        if (err instanceof CostModelError) throw new UsageError(err.message);
        throw err;
      }
    } else if (arg === '--tlb') {
      const v = value();
      if (v !== 'retentive' && v !== 'capacity') throw new UsageError(`--tlb takes retentive (the oracle's view, the default) or capacity (the real geometry, for statistics), not '${v}'`);
      a.tlbMode = v;
    } else if (arg === '--json') a.json = value();
    else if (arg === '--quiet') a.quiet = true;
    else if (arg.startsWith('-')) throw new UsageError(`unknown option '${arg}'`);
    else if (!a.trace) a.trace = arg;
    else throw new UsageError(`one trace at a time (got '${a.trace}' and '${arg}')`);
  }
  if (!a.trace) throw new UsageError('replay needs a trace file');
  return a;
}

interface Located {
  file: string;
  line: number;
  message: string;
}

const located = (e: unknown): e is Located =>
  e instanceof Error && typeof (e as unknown as Located).line === 'number' && typeof (e as unknown as Located).file === 'string';

/**
 * Replays one trace; returns the report and whether it passed (both also when it stopped early).
 * `workers` (default 0: this thread) and `pool` say where the CPUs' accesses run: the report is the same.
 */
export async function replayFile(path: string, opts: ReplayOptions & { onEvent?: (r: Replay, line: number, bytes: number) => void } = {}): Promise<{ report: Report; status: 0 | 1 | 2 | 3; replay?: Replay }> {
  let replay: Replay | undefined;
  let lastLine = 0;
  try {
    // The reader runs ahead while the workers run a window (at most 16 events, or access runs, held).
    for await (const item of prefetch(readTrace(path), 16)) {
      lastLine = item.line;
      if (item.kind === 'header') {
        try {
          replay = await Replay.create(item.header, opts, path);
        } catch (err) {
          if (err instanceof ProfileError) throw Object.assign(new Error(err.message), { file: path, line: item.line });
          throw err;
        }
        continue;
      }
      const running = replay!.run(item.line, item.event as never);
      if (running) await running;
      opts.onEvent?.(replay!, item.line, item.bytes);
    }
    if (!replay) throw Object.assign(new Error('the trace has no header line'), { file: path, line: lastLine });
    await replay.finish(lastLine);
    const report = replay.result();
    return { report, status: replay.passed() ? 0 : 1, replay };
  } catch (err) {
    if (err instanceof ModelBugError) return modelBugReport(err, path, lastLine, opts, replay);
    if (!located(err)) throw err;
    // Accesses read before the bad line may still wait in the replay's window: they belong in the report.
    await replay?.settle();
    const report: Report = replay ? replay.result() : emptyReport(opts.kernel);
    report.complete = false;
    const message = err.message.startsWith(`${err.file}:`) ? err.message.slice(`${err.file}:${err.line}: `.length) : err.message;
    report.error = { file: err.file, line: err.line, message };
    return { report, status: 2, replay };
  } finally {
    await replay?.close();
  }
}

/**
 * A bug of mmuwasm stopped the replay: the partial report (what ran before, "complete": false), the
 * line of the operation that ran into it, and the command that replays the same trace, kernel and
 * fixes to reproduce it. Exit status 3: never confused with bad input.
 */
async function modelBugReport(bug: ModelBugError, path: string, lastLine: number, opts: ReplayOptions, replay: Replay | undefined): Promise<{ report: Report; status: 3; replay?: Replay }> {
  // The window may still hold accesses read before the line: they belong in the report, unless
  // running them meets the bug again.
  await replay?.settle().catch(() => undefined);
  const report: Report = replay ? replay.result() : emptyReport(opts.kernel);
  report.complete = false;
  const line = bug.trace?.line ?? lastLine;
  const fixes = Object.entries(opts.fixes ?? {}).map(([id, on]) => ` --fix ${id}=${on ? 'on' : 'off'}`).join('');
  const workers = opts.workers !== undefined ? ` --workers ${opts.workers}` : '';
  const tlb = opts.tlbMode ? ` --tlb ${opts.tlbMode}` : '';
  const reproduce = `mmuwasm replay ${path} --kernel ${report.kernel}${fixes}${workers}${tlb}`;
  const cause = bug.cause instanceof Error ? `${bug.cause.name}: ${bug.cause.message}${whereThrown(bug.cause)}` : `${bug.name}${whereThrown(bug)}`;
  report.error = { file: path, line, message: `internal error (a bug in mmuwasm, not in the trace): ${bug.message}`, internal: { reproduce, cause } };
  return { report, status: 3, replay };
}

/** The innermost frame of the model that threw, for the bug report (" at fn (file:line:col)"). */
function whereThrown(err: Error): string {
  const frame = err.stack?.split('\n').find((l) => /^\s+at /.test(l));
  return frame ? ` ${frame.trim()}` : '';
}

function emptyReport(kernel = 'v6.18'): Report {
  return { complete: false, kernel, fixes: {}, events: 0, accesses: 0, violations: [], expectations: [], segfaults: [], waited: [], notes: [], stats: {} };
}

export function reportJson(report: Report): string {
  return JSON.stringify(report, (_k, v) => (typeof v === 'bigint' ? Number(v) : v), 2) + '\n';
}

export async function runReplay(argv: string[]): Promise<number> {
  let args: ReplayArgs;
  try {
    args = parseReplayArgs(argv);
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`mmuwasm replay: ${err.message}\nusage: mmuwasm replay TRACE [--kernel PROFILE] [--fix ID=on|off]... [--workers N] [--cost KEY=CYCLES,...] [--tlb retentive|capacity] [--json FILE|-] [--quiet]`);
      return 2;
    }
    throw err;
  }
  const progress = !args.quiet && process.stderr.isTTY ? new Progress(args.trace) : undefined;
  let interrupted = false;
  // Ctrl-C: the workers stop after the batch they run, the replay stops, the partial report is written.
  const abort = new AbortController();
  const onSigint = () => {
    interrupted = true;
    abort.abort();
  };
  process.once('SIGINT', onSigint);
  let at = { line: 0, bytes: 0 };
  const { report, status } = await replayFile(args.trace, {
    kernel: args.kernel,
    fixes: args.fixes,
    workers: args.workers ?? Replay.defaultWorkers(),
    cost: args.cost,
    tlbMode: args.tlbMode,
    signal: abort.signal,
    onPhase: (r) => progress?.tick(at.line, r.accesses, at.bytes),
    onEvent: (r, line, bytes) => {
      at = { line, bytes };
      progress?.tick(line, r.accesses, bytes);
      if (interrupted) throw Object.assign(new Error('interrupted (Ctrl-C): the report holds what was replayed before'), { file: args.trace, line });
    },
  });
  process.off('SIGINT', onSigint);
  progress?.done();
  if (!args.quiet) process.stdout.write(renderSummary(args.trace, report, styleFor(process.stdout)));
  if (report.error) console.error(`mmuwasm replay: ${report.error.file}:${report.error.line}: ${report.error.message}`);
  if (report.error?.internal) {
    const { reproduce, cause } = report.error.internal;
    console.error(`  thrown: ${cause}\n  reproduce: ${reproduce}\n  Please report it with the trace; the report holds what was replayed before line ${report.error.line} ("complete": false).`);
  }
  if (args.json === '-') process.stdout.write(reportJson(report));
  else if (args.json) writeFileSync(args.json, reportJson(report));
  return status;
}
