// `mmuwasm explore TRACE [--kernel P[,P...]] [--fix ID=on|off]... [--preemptions K] [--schedules N]
//  [--seed S] [--workers N] [--shard I/N] [--out DIR] [--json FILE|-] [--quiet]` and
// `mmuwasm explore merge A.json B.json ... [--json FILE|-] [--quiet]` (TRACE-FORMAT "Concurrent
// blocks and exploration"). Exit 1 when anything is found, 0 when nothing, 2 bad input or usage.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { join } from 'node:path';
import { exploreLines } from '../explore/parallel.ts';
import { mergeReports, readExploreTrace, scheduleTotal, type ExploreReport } from '../explore/explore.ts';
import { PROFILE_NAMES, ProfileError, resolveFixes } from '../kernel/profiles.ts';
import { fixById } from '../kernel/fixes.ts';
import { TraceError } from '../trace/trace-error.ts';
import { sniffTrace } from '../trace/binary.ts';
import { availableParallelism } from 'node:os';
import { options, parseFixArg, UsageError } from './args.ts';
import { formatRate } from './progress.ts';
import { styleFor } from './style.ts';
import type { Style } from '../replay/report.ts';

const USAGE = 'usage: mmuwasm explore TRACE [--kernel P[,P...]] [--fix ID=on|off]... [--preemptions K] [--schedules N] [--seed S] [--workers N] [--shard I/N] [--out DIR] [--json FILE|-] [--quiet]\n       mmuwasm explore merge A.json B.json ... [--json FILE|-] [--quiet]';

export interface ExploreArgs {
  trace: string;
  kernels: string[];
  fixes: Record<string, boolean>;
  preemptions: number;
  schedules: number;
  seed: number;
  workers: number;
  shard?: { index: number; count: number };
  out?: string;
  json?: string;
  quiet: boolean;
}

function whole(opt: string, v: string, min: number, max: number): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(n) || n < min || n > max) throw new UsageError(`${opt} takes a whole number from ${min} to ${max} (got '${v}')`);
  return n;
}

export function parseExploreArgs(argv: string[]): ExploreArgs {
  const a: ExploreArgs = { trace: '', kernels: [], fixes: {}, preemptions: 2, schedules: 100_000, seed: 0, workers: 1, quiet: false };
  let workersGiven = false;
  for (const { arg, value } of options(argv)) {
    if (arg === '--kernel') {
      for (const k of value().split(',')) {
        if (!PROFILE_NAMES.includes(k)) throw new UsageError(`unknown kernel profile '${k}' (profiles: ${PROFILE_NAMES.join(', ')})`);
        if (!a.kernels.includes(k)) a.kernels.push(k);
      }
    } else if (arg === '--fix') {
      const [id, on] = parseFixArg(value());
      a.fixes[id] = on;
    } else if (arg === '--preemptions') a.preemptions = whole(arg, value(), 0, 16);
    else if (arg === '--schedules') a.schedules = whole(arg, value(), 1, 1e12);
    else if (arg === '--seed') a.seed = whole(arg, value(), 0, 2 ** 32 - 1);
    else if (arg === '--workers') {
      a.workers = whole(arg, value(), 1, 256);
      workersGiven = true;
    } else if (arg === '--shard') {
      const v = value();
      const m = /^(\d+)\/(\d+)$/.exec(v);
      if (!m || Number(m[2]) < 1 || Number(m[1]) >= Number(m[2])) throw new UsageError(`--shard takes I/N with 0 <= I < N (got '${v}')`);
      a.shard = { index: Number(m[1]), count: Number(m[2]) };
    } else if (arg === '--out') a.out = value();
    else if (arg === '--json') a.json = value();
    else if (arg === '--quiet') a.quiet = true;
    else if (arg.startsWith('-')) throw new UsageError(`unknown option '${arg}'`);
    else if (!a.trace) a.trace = arg;
    else throw new UsageError(`one trace at a time (got '${a.trace}' and '${arg}')`);
  }
  if (!a.trace) throw new UsageError('explore needs a trace file');
  if (!workersGiven) a.workers = Math.max(1, availableParallelism());
  return a;
}

/** The text lines of a JSON Lines trace, plain or gzip. */
function traceLines(path: string): string[] {
  const form = sniffTrace(path);
  if (form.binary) throw new TraceError(path, 0, undefined, 'explore reads JSON Lines traces: convert a binary trace first (mmuwasm convert)');
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new TraceError(path, 0, undefined, `cannot read the file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  return (form.gzip ? gunzipSync(bytes) : bytes).toString('utf8').split(/\r?\n/);
}

export async function runExplore(argv: string[]): Promise<number> {
  if (argv[0] === 'merge') return runMerge(argv.slice(1));
  let args: ExploreArgs;
  try {
    args = parseExploreArgs(argv);
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`mmuwasm explore: ${err.message}\n${USAGE}`);
      return 2;
    }
    throw err;
  }
  let lines: string[];
  let kernels: string[];
  try {
    lines = traceLines(args.trace);
    const t = readExploreTrace(lines, args.trace);
    if (!t.blocks.length) throw new TraceError(args.trace, t.headerLine, undefined, 'the trace has no concurrent block to explore ({"op":"concurrent"} ... {"op":"join"}); replay it instead');
    kernels = args.kernels.length ? args.kernels : [t.header.kernel ?? 'v6.18'];
    for (const k of kernels) resolveFixes(k, { ...(t.header.fixes ?? {}), ...args.fixes });
  } catch (err) {
    if (err instanceof TraceError || err instanceof ProfileError) {
      console.error(`mmuwasm explore: ${err.message}`);
      return 2;
    }
    throw err;
  }
  const tty = !args.quiet && process.stderr.isTTY;
  const abort = new AbortController();
  const onSigint = () => abort.abort();
  process.once('SIGINT', onSigint);
  const reports: ExploreReport[] = [];
  try {
    for (const kernel of kernels) {
      const started = Date.now();
      const total = scheduleTotal(readExploreTrace(lines, args.trace), { preemptions: args.preemptions, schedules: args.schedules, shard: args.shard });
      let shownAt = 0;
      const r = await exploreLines(lines, args.trace, {
        kernel, fixes: args.fixes, preemptions: args.preemptions, schedules: args.schedules, seed: args.seed,
        shard: args.shard, workers: args.workers, signal: abort.signal,
        onSchedule: tty ? (n) => {
          const now = Date.now();
          if (now - shownAt < 200) return;
          shownAt = now;
          const rate = n / Math.max(1e-3, (now - started) / 1000);
          const eta = rate > 0 ? Math.max(0, (total - n) / rate) : 0;
          process.stderr.write(`\r  ${kernel}: ${n}/${total} schedules, ${formatRate(rate)} schedules/s, ETA ${eta.toFixed(0)}s\x1b[K`);
        } : undefined,
      });
      if (tty) process.stderr.write('\r\x1b[K');
      reports.push(r);
      if (abort.signal.aborted) break;
    }
  } catch (err) {
    if (err instanceof TraceError) {
      console.error(`mmuwasm explore: ${err.message}`);
      return 2;
    }
    throw err;
  } finally {
    process.off('SIGINT', onSigint);
  }
  if (abort.signal.aborted) console.error('mmuwasm explore: interrupted (Ctrl-C): the report holds the schedules explored before ("complete": false)');
  return finish(reports, args.trace, args.json, args.quiet, args.out);
}

function finish(reports: ExploreReport[], name: string, json: string | undefined, quiet: boolean, out?: string): number {
  if (out) {
    mkdirSync(out, { recursive: true });
    for (const r of reports) r.findings.forEach((f, i) => {
      const path = join(out, `${r.kernel}-${i + 1}-${f.kind}${f.fix ? `-${f.fix}` : ''}.jsonl`);
      writeFileSync(path, f.trace);
    });
  }
  if (!quiet) process.stdout.write(renderExplore(name, reports, styleFor(process.stdout), out));
  const doc = reports.length === 1 ? reports[0] : { complete: reports.every((r) => r.complete), reports };
  const text = JSON.stringify(doc, null, 2) + '\n';
  if (json === '-') process.stdout.write(text);
  else if (json) writeFileSync(json, text);
  return reports.some((r) => r.findings.length) ? 1 : 0;
}

export function renderExplore(name: string, reports: ExploreReport[], s: Style, out?: string): string {
  const lines: string[] = [];
  for (const r of reports) {
    const over = Object.entries(r.fixes).filter(([id, on]) => on !== resolveFixes(r.kernel).has(id)).map(([id, on]) => `${id}=${on ? 'on' : 'off'}`);
    lines.push(s.bold(name) + ` — kernel ${r.kernel}${over.length ? ` with ${over.join(' ')}` : ''}${r.shard ? `, shard ${r.shard.index}/${r.shard.count}` : ''}`);
    const how = r.exhaustive ? `every schedule with at most ${r.preemptions} preemption${r.preemptions === 1 ? '' : 's'}` : `a PCT sample (more than the budget with at most ${r.preemptions} preemptions: not exhaustive)`;
    lines.push(`  ${r.explored} schedules explored: ${how}${r.complete ? '' : s.yellow(' (interrupted)')}; ${r.stats.pruned} pruned by the reduction, ${r.stats.schedulesPerSecond} schedules/s`);
    if (!r.findings.length) lines.push(s.green('  nothing found'));
    r.findings.forEach((f, i) => {
      const who = f.cpu !== undefined ? `CPU ${f.cpu}` : `device ${f.device}`;
      const fix = f.fix ? ` [fix ${f.fix}: ${fixById(f.fix)?.title ?? ''}]` : '';
      lines.push(s.red(`  ${f.kind}`) + `, ${who}, ${f.mm} ${f.va}${fix}`);
      lines.push(`      ${f.detail}`);
      lines.push(`      smallest schedule (${f.preemptions} preemption${f.preemptions === 1 ? '' : 's'}): ${f.schedule.join('; ')}`);
      if (out) lines.push(`      written: ${join(out, `${r.kernel}-${i + 1}-${f.kind}${f.fix ? `-${f.fix}` : ''}.jsonl`)}`);
    });
  }
  return lines.join('\n') + '\n';
}

async function runMerge(argv: string[]): Promise<number> {
  const files: string[] = [];
  let json: string | undefined;
  let quiet = false;
  try {
    for (const { arg, value } of options(argv)) {
      if (arg === '--json') json = value();
      else if (arg === '--quiet') quiet = true;
      else if (arg.startsWith('-')) throw new UsageError(`unknown option '${arg}'`);
      else files.push(arg);
    }
    if (!files.length) throw new UsageError('explore merge needs the JSON reports of the shards');
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`mmuwasm explore merge: ${err.message}\n${USAGE}`);
      return 2;
    }
    throw err;
  }
  // Reports by profile (kernel and fixes), in the order they first appear.
  const byProfile = new Map<string, ExploreReport[]>();
  for (const f of files) {
    let doc: unknown;
    try {
      doc = JSON.parse(readFileSync(f, 'utf8'));
    } catch (err) {
      console.error(`mmuwasm explore merge: ${f}: not a JSON report (${(err as Error).message})`);
      return 2;
    }
    const list = (doc as { reports?: ExploreReport[] }).reports ?? [doc as ExploreReport];
    for (const r of list) {
      if (typeof r !== 'object' || r === null || !Array.isArray(r.findings) || typeof r.kernel !== 'string' || typeof r.explored !== 'number') {
        console.error(`mmuwasm explore merge: ${f}: not an explore report (no kernel, explored and findings)`);
        return 2;
      }
      const key = `${r.kernel} ${JSON.stringify(r.fixes)} ${r.preemptions}`;
      if (!byProfile.has(key)) byProfile.set(key, []);
      byProfile.get(key)!.push(r);
    }
  }
  const merged: ExploreReport[] = [];
  for (const parts of byProfile.values()) {
    const counts = new Set(parts.map((p) => p.shard?.count ?? 1));
    const indices = parts.map((p) => p.shard?.index ?? 0);
    if (counts.size !== 1 || new Set(indices).size !== parts.length || indices.length !== [...counts][0]) {
      console.error(`mmuwasm explore merge: the reports of ${parts[0].kernel} are not every shard of one exploration once (shards ${parts.map((p) => p.shard ? `${p.shard.index}/${p.shard.count}` : 'none').join(', ')})`);
      return 2;
    }
    merged.push(mergeReports(parts));
  }
  return finish(merged, files.join(' + '), json, quiet);
}
