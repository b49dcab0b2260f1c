// `mmuwasm replay TRACE|- [options]` (its options: src/cli/commands.ts; the contract: docs/trace-format.md).
// Exit 0: every expectation held (no expectation: no violation); 1: an expectation failed (or a
// violation was found); 2: bad input or usage — the message names the file and line, and the JSON
// report still holds everything replayed before it ("complete": false); 3: a bug in mmuwasm (an
// internal invariant broke): the trace line, how to reproduce it, the partial report.
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { pipeline } from 'node:stream/promises';
import { replayFile } from '../node/replay-file.ts';
import { reportJson } from '../replay/report.ts';
import { Replay } from '../replay/engine.ts';
import { CostModelError, parseCostModel, DEFAULT_COSTS, type CostModel } from '../replay/cost-model.ts';
import { renderSummary } from '../replay/report.ts';
import { styleFor } from './style.ts';
import { Progress } from './progress.ts';
import { UsageError, type ParsedArgs } from './args.ts';
import { checkProfile, fixesOf } from './kernel-options.ts';
import { checkInput, checkOutput, writeOutput } from './files.ts';
import { interruption, signalStatus } from './signals.ts';
import { readTrace } from '../node/read-trace.ts';
import { replayTraceWithTimeline, type TimelineReport } from '../report/replay-report.ts';
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
  /** `--fidelity strict`: a flush the model makes differently from the recorded kernel is a finding. */
  fidelity?: 'strict' | 'report';
}

/** The replay's options from its parsed command line; a bad value is a UsageError naming the option. */
export function replayArgs(p: ParsedArgs): ReplayArgs {
  const kernel = p.get('--kernel');
  const a: ReplayArgs = { trace: p.operands[0], fixes: {}, quiet: p.has('--quiet'), json: p.get('--json'), timeline: p.has('--timeline'), html: p.get('--html') };
  if (kernel !== undefined) a.kernel = checkProfile(kernel);
  a.fixes = fixesOf(p, a.kernel ? [a.kernel] : []);
  const workers = p.get('--workers');
  if (workers !== undefined) {
    const n = /^[0-9]+$/.test(workers) ? Number(workers) : NaN;
    if (!Number.isInteger(n) || n < 1 || n > 256) throw new UsageError(`--workers: takes a whole number from 1 to 256 (got '${workers}')`);
    a.workers = n;
  }
  const cost = p.get('--cost');
  if (cost !== undefined) {
    try {
      a.cost = parseCostModel(cost, DEFAULT_COSTS);
    } catch (err) {
      if (err instanceof CostModelError) throw new UsageError(`--cost: ${err.message}`);
      throw err;
    }
  }
  const tlb = p.get('--tlb');
  if (tlb !== undefined) {
    if (tlb !== 'retentive' && tlb !== 'capacity') throw new UsageError(`--tlb: takes retentive (the oracle's view, the default) or capacity (the real geometry, for statistics), not '${tlb}'`);
    a.tlbMode = tlb;
  }
  const fidelity = p.get('--fidelity');
  if (fidelity !== undefined) {
    if (fidelity !== 'strict' && fidelity !== 'report') throw new UsageError(`--fidelity: takes strict (exit 1 on any mismatch with the recorded kernel) or report (the default), not '${fidelity}'`);
    a.fidelity = fidelity;
  }
  if (a.json === '') throw new UsageError('--json: needs a file name, or - for standard output');
  if (a.html === '' || a.html === '-') throw new UsageError('--html: needs a file name');
  return a;
}

/** What standard input holds, copied to a private file: the readers recognise a trace's form by its first bytes. */
async function spoolStandardInput(): Promise<{ path: string; remove: () => void }> {
  const dir = mkdtempSync(join(tmpdir(), 'mmuwasm-stdin-'));
  const remove = () => rmSync(dir, { recursive: true, force: true });
  const path = join(dir, 'trace');
  try {
    await pipeline(process.stdin, createWriteStream(path));
  } catch (err) {
    remove();
    throw err;
  }
  return { path, remove };
}

const STDIN_NAME = '(standard input)';

export async function runReplay(p: ParsedArgs): Promise<number> {
  const args = replayArgs(p);
  checkInput(args.trace);
  if (args.json) checkOutput(args.json);
  if (args.html) checkOutput(args.html);
  const spool = args.trace === '-' ? await spoolStandardInput() : undefined;
  try {
    return await replayTo(args, spool?.path ?? args.trace, spool ? STDIN_NAME : args.trace);
  } finally {
    spool?.remove();
  }
}

async function replayTo(args: ReplayArgs, path: string, name: string): Promise<number> {
  const progress = !args.quiet && process.stderr.isTTY ? new Progress(path) : undefined;
  // SIGINT/SIGTERM: the workers stop after the batch they run, the reader stops, the partial report is written.
  const stop = interruption();
  let at = { line: 0, bytes: 0 };
  // The timeline is recorded only when asked for: a plain report stays as it is.
  const replayWith = args.html || args.timeline ? (at: string, o: Parameters<typeof replayFile>[1]) => replayTraceWithTimeline(readTrace(at), at, o) : replayFile;
  const { report, status } = await replayWith(path, {
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
  if (report.error?.file === path) report.error.file = name;
  // With the JSON on standard output, the summary goes to standard error: `--json - | jq` reads JSON only.
  const summaryTo = args.json === '-' ? process.stderr : process.stdout;
  if (!args.quiet) summaryTo.write(renderSummary(name, report, styleFor(summaryTo)));
  if (report.error) console.error(`mmuwasm replay: ${report.error.file}:${report.error.line}: ${report.error.message}`);
  if (report.error?.internal) {
    const { reproduce, cause } = report.error.internal;
    console.error(`  thrown: ${cause}\n  reproduce: ${reproduce}\n  Please report it with the trace; the report holds what was replayed before line ${report.error.line} ("complete": false).`);
  }
  if (args.json) writeOutput(args.json, reportJson(report));
  if (args.html) {
    writeOutput(args.html, renderReportHtml(report as TimelineReport, name === args.trace ? basename(name) : name));
    if (!args.quiet) console.error(`mmuwasm replay: the HTML report is ${args.html}`);
  }
  const signal = stop.received;
  if (signal && !report.complete) return signalStatus(signal);
  // --fidelity strict: a flush the model makes differently from the recorded kernel is a finding too.
  if (status === 0 && args.fidelity === 'strict' && report.fidelity?.mismatches.length) return 1;
  return status;
}
