// `mmuwasm replay TRACE [--kernel PROFILE] [--fix ID=on|off]... [--workers N] [--cost K=V,...] [--tlb retentive|capacity] [--json FILE|-] [--quiet]`
// (TRACE-FORMAT "Command line"). Exit 0: every expectation held (no expectation: no violation);
// 1: an expectation failed (or a violation was found); 2: bad input or usage — the message names the
// file and line, and the JSON report still holds everything replayed before it ("complete": false).
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
import { interruption, signalStatus } from './signals.ts';

export { UsageError } from './args.ts';

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
      // Decimal digits only: Number() would also take 0x10 and 1e2.
      const n = /^[0-9]+$/.test(v) ? Number(v) : NaN;
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

const USAGE = `usage: mmuwasm replay TRACE [--kernel PROFILE] [--fix ID=on|off]... [--workers N] [--cost KEY=CYCLES,...] [--tlb retentive|capacity] [--json FILE|-] [--quiet]`;
const EXIT_STATUS = `exit status: 0 every expectation held (no expectation: no violation), 1 one failed (a violation),
  2 bad input or usage (FILE:LINE: field "NAME": …; the report holds what ran, "complete": false),
  130 / 143 stopped by SIGINT (Ctrl-C) / SIGTERM within a second, the partial report written ("complete": false)`;

export async function runReplay(argv: string[]): Promise<number> {
  if (argv.length === 1 && (argv[0] === '--help' || argv[0] === '-h')) {
    console.log(`${USAGE}\n${EXIT_STATUS}`);
    return 0;
  }
  let args: ReplayArgs;
  try {
    args = parseReplayArgs(argv);
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`mmuwasm replay: ${err.message}\n${USAGE}`);
      return 2;
    }
    throw err;
  }
  const progress = !args.quiet && process.stderr.isTTY ? new Progress(args.trace) : undefined;
  // SIGINT/SIGTERM: the workers stop after the batch they run, the reader stops, the partial report is written.
  const stop = interruption();
  let at = { line: 0, bytes: 0 };
  const { report, status } = await replayFile(args.trace, {
    kernel: args.kernel,
    fixes: args.fixes,
    workers: args.workers ?? Replay.defaultWorkers(),
    cost: args.cost,
    tlbMode: args.tlbMode,
    signal: stop.signal,
    onPhase: (r) => progress?.tick(at.line, r.accesses, at.bytes),
    onEvent: (r, line, bytes) => {
      at = { line, bytes };
      progress?.tick(line, r.accesses, bytes);
    },
  });
  progress?.done();
  if (!args.quiet) process.stdout.write(renderSummary(args.trace, report, styleFor(process.stdout)));
  if (report.error) console.error(`mmuwasm replay: ${report.error.file}:${report.error.line}: ${report.error.message}`);
  if (args.json === '-') process.stdout.write(reportJson(report));
  else if (args.json) {
    // After the summary, one line naming the file: a directory that does not exist, no permission,
    // a full disk (/dev/full).
    try {
      writeFileSync(args.json, reportJson(report));
    } catch (err) {
      console.error(`mmuwasm replay: cannot write the report to ${args.json}: ${(err as Error).message}`);
      return 2;
    }
  }
  const signal = stop.received;
  return signal && !report.complete ? signalStatus(signal) : status;
}
