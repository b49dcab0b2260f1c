// `mmuwasm explore TRACE [--kernel P[,P...]] [--fix ID=on|off]... [--preemptions K] [--schedules N]
//  [--seed S] [--workers N] [--shard I/N] [--out DIR] [--json FILE|-] [--quiet]` and
// `mmuwasm explore merge A.json B.json ... [--json FILE|-] [--quiet]` (docs/trace-format.md,
// "Concurrent blocks and exploration"). Exit 1 when anything is found, 0 when nothing, 2 bad input or usage.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { join } from 'node:path';
import { exploreLines } from '../explore/parallel.ts';
import { mergeReports, readExploreTrace, scheduleTotal, type ExploreReport } from '../explore/explore.ts';
import { ProfileError, resolveFixes } from '../kernel/profiles.ts';
import { fixById } from '../kernel/fixes.ts';
import { TraceError } from '../trace/trace-error.ts';
import { sniffTrace } from '../node/trace-files.ts';
import { availableParallelism } from 'node:os';
import { UsageError, type ParsedArgs } from './args.ts';
import { checkProfile, fixesOf } from './kernel-options.ts';
import { checkInput, checkOutput, writeOutput } from './files.ts';
import { formatRate } from './progress.ts';
import { styleFor } from './style.ts';
import type { Style } from '../replay/report.ts';

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

function whole(opt: string, v: string | undefined, min: number, max: number, fallback: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(n) || n < min || n > max) throw new UsageError(`${opt} takes a whole number from ${min} to ${max} (got '${v}')`);
  return n;
}

export function parseExploreArgs(args: ParsedArgs): ExploreArgs {
  const kernels: string[] = [];
  for (const k of (args.get('--kernel') ?? '').split(',').filter(Boolean)) if (!kernels.includes(checkProfile(k))) kernels.push(k);
  const a: ExploreArgs = {
    trace: args.operands[0],
    kernels,
    fixes: fixesOf(args, kernels),
    preemptions: whole('--preemptions', args.get('--preemptions'), 0, 16, 2),
    schedules: whole('--schedules', args.get('--schedules'), 1, 1e12, 100_000),
    seed: whole('--seed', args.get('--seed'), 0, 2 ** 32 - 1, 0),
    workers: whole('--workers', args.get('--workers'), 1, 256, Math.max(1, availableParallelism())),
    out: args.get('--out'),
    json: args.get('--json'),
    quiet: args.has('--quiet'),
  };
  const shard = args.get('--shard');
  if (shard !== undefined) {
    const m = /^(\d+)\/(\d+)$/.exec(shard);
    if (!m || Number(m[2]) < 1 || Number(m[1]) >= Number(m[2])) throw new UsageError(`--shard takes I/N with 0 <= I < N (got '${shard}')`);
    a.shard = { index: Number(m[1]), count: Number(m[2]) };
  }
  if (a.trace !== 'merge' && args.operands.length > 1) throw new UsageError(`unexpected argument '${args.operands[1]}' (explore takes one TRACE, or merge REPORT...)`);
  if (a.trace === 'merge' && args.operands.length < 2) throw new UsageError('explore merge needs the JSON reports of the shards');
  checkInput(a.trace === 'merge' ? args.operands[1] : a.trace);
  if (a.json) checkOutput(a.json);
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

export async function runExplore(parsed: ParsedArgs): Promise<number> {
  const args = parseExploreArgs(parsed);
  if (args.trace === 'merge') return runMerge(parsed.operands.slice(1), args.json, args.quiet);
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
  // With the JSON on standard output, the summary goes to standard error.
  const to = json === '-' ? process.stderr : process.stdout;
  if (!quiet) to.write(renderExplore(name, reports, styleFor(to), out));
  const doc = reports.length === 1 ? reports[0] : { complete: reports.every((r) => r.complete), reports };
  if (json) writeOutput(json, JSON.stringify(doc, null, 2) + '\n');
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

async function runMerge(files: readonly string[], json: string | undefined, quiet: boolean): Promise<number> {
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
