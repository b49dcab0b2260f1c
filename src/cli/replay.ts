// `mmuwasm replay TRACE [--kernel PROFILE] [--fix ID=on|off]... [--workers N] [--cost K=V,...] [--tlb retentive|capacity] [--json FILE|-] [--timeline] [--html FILE] [--quiet]`
// (TRACE-FORMAT "Command line"). Exit 0: every expectation held (no expectation: no violation);
// 1: an expectation failed (or a violation was found); 2: bad input or usage — the message names the
// file and line, and the JSON report still holds everything replayed before it ("complete": false);
// 3: a bug in mmuwasm (an internal invariant broke): the trace line, how to reproduce, the partial report.
import { writeFileSync } from 'node:fs';
import { replayFile } from '../node/replay-file.ts';
import { reportJson } from '../replay/report.ts';
import { Replay, type Report, type ReplayOptions } from '../replay/engine.ts';
import { CostModelError, parseCostModel, DEFAULT_COSTS, type CostModel } from '../replay/cost-model.ts';
import { renderSummary } from '../replay/report.ts';
import { styleFor } from './style.ts';
import { ProfileError } from '../kernel/profiles.ts';
import { Progress } from './progress.ts';
import { prefetch } from '../replay/prefetch.ts';
import { options, parseFixArg, UsageError } from './args.ts';
import { readTrace } from '../trace/parser.ts';
import { replayTraceWithTimeline } from '../report/replay-report.ts';
import { renderReportHtml } from '../report/html.ts';
import { basename } from 'node:path';

export { UsageError } from './args.ts';

export interface ReplayArgs {
  trace: string;
  kernel?: string;
  fixes: Record<string, boolean>;
  workers?: number;
  cost?: CostModel;
  tlbMode?: 'retentive' | 'capacity';
  json?: string;
  /** The JSON report carries the timeline (`timeline`). */
  timeline: boolean;
  /** A self-contained HTML report (src/report/html.ts). */
  html?: string;
  quiet: boolean;
}

export function parseReplayArgs(argv: string[]): ReplayArgs {
  const a: ReplayArgs = { trace: '', fixes: {}, quiet: false, timeline: false };
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
    else if (arg === '--timeline') a.timeline = true;
    else if (arg === '--html') a.html = value();
    else if (arg === '--quiet') a.quiet = true;
    else if (arg.startsWith('-')) throw new UsageError(`unknown option '${arg}'`);
    else if (!a.trace) a.trace = arg;
    else throw new UsageError(`one trace at a time (got '${a.trace}' and '${arg}')`);
  }
  if (!a.trace) throw new UsageError('replay needs a trace file');
  return a;
}

export async function runReplay(argv: string[]): Promise<number> {
  let args: ReplayArgs;
  try {
    args = parseReplayArgs(argv);
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`mmuwasm replay: ${err.message}\nusage: mmuwasm replay TRACE [--kernel PROFILE] [--fix ID=on|off]... [--workers N] [--cost KEY=CYCLES,...] [--tlb retentive|capacity] [--json FILE|-] [--timeline] [--html FILE] [--quiet]`);
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
  // The timeline is recorded only when asked for: a plain report stays as it is.
  const replayWith = args.html || args.timeline ? (path: string, o: Parameters<typeof replayFile>[1]) => replayTraceWithTimeline(readTrace(path), path, o) : replayFile;
  const { report, status } = await replayWith(args.trace, {
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
  if (args.html) {
    try {
      writeFileSync(args.html, renderReportHtml(report as Parameters<typeof renderReportHtml>[0], basename(args.trace)));
    } catch (err) {
      console.error(`mmuwasm replay: cannot write the HTML report ${args.html}: ${(err as Error).message}`);
      return 2;
    }
    if (!args.quiet) console.error(`mmuwasm replay: the HTML report is ${args.html}`);
  }
  return status;
}
