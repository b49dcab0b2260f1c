// `mmuwasm bisect TRACE --good PROFILE --bad PROFILE [--preemptions K] [--schedules N] [--seed S]
// [--workers N] [--json FILE|-]`: the fix between two profiles whose addition changes the verdict
// (src/explore/bisect.ts). Exit 0 when a fix was found (or both profiles agree), 2 bad input or usage.
import { readFileSync, writeFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { bisectLines, BisectError } from '../explore/bisect.ts';
import { TraceError } from '../trace/trace-error.ts';
import { sniffTrace } from '../trace/binary.ts';
import { options, UsageError } from './args.ts';

const USAGE = 'usage: mmuwasm bisect TRACE --good PROFILE --bad PROFILE [--preemptions K] [--schedules N] [--seed S] [--workers N] [--json FILE|-]';

export async function runBisect(argv: string[]): Promise<number> {
  let trace = '';
  let good: string | undefined;
  let bad: string | undefined;
  let json: string | undefined;
  const num: Record<string, number> = {};
  try {
    for (const { arg, value } of options(argv)) {
      if (arg === '--good') good = value();
      else if (arg === '--bad') bad = value();
      else if (arg === '--json') json = value();
      else if (['--preemptions', '--schedules', '--seed', '--workers'].includes(arg)) {
        const v = value();
        if (!/^\d+$/.test(v)) throw new UsageError(`${arg} takes a whole number (got '${v}')`);
        num[arg.slice(2)] = Number(v);
      } else if (arg.startsWith('-')) throw new UsageError(`unknown option '${arg}'`);
      else if (!trace) trace = arg;
      else throw new UsageError(`one trace at a time (got '${trace}' and '${arg}')`);
    }
    if (!trace) throw new UsageError('bisect needs a trace file');
    if (!good || !bad) throw new UsageError('bisect needs --good PROFILE and --bad PROFILE');
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`mmuwasm bisect: ${err.message}\n${USAGE}`);
      return 2;
    }
    throw err;
  }
  try {
    if (sniffTrace(trace).binary) throw new BisectError(`${trace}: bisect reads JSON Lines traces: convert a binary trace first (mmuwasm convert)`);
    let bytes: Buffer;
    try {
      bytes = readFileSync(trace);
    } catch (err) {
      throw new BisectError(`${trace}: cannot read the file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
    const lines = (sniffTrace(trace).gzip ? gunzipSync(bytes) : bytes).toString('utf8').split(/\r?\n/);
    const r = await bisectLines(lines, trace, { good, bad, preemptions: num.preemptions, schedules: num.schedules, seed: num.seed, workers: num.workers ?? 1 });
    const what = r.mode === 'explore' ? 'exploring its concurrent blocks' : 'replaying it';
    const say = (v: 0 | 1) => (v ? (r.mode === 'explore' ? 'finds something' : 'finds a violation') : 'finds nothing');
    const out = [`${trace}: ${what} under ${bad} ${say(r.verdicts.bad)}, under ${good} ${say(r.verdicts.good)}; ${r.steps.length} fixes between them, ${r.tried.length} combinations tried`];
    if (r.culprit) out.push(`the verdict changes with fix ${r.culprit.fix} (${r.culprit.release}${r.culprit.on ? '' : ', removed'}): ${r.culprit.title}`);
    else out.push('both profiles give the same verdict: no fix between them changes it');
    process.stdout.write(out.join('\n') + '\n');
    if (json === '-') process.stdout.write(JSON.stringify(r, null, 2) + '\n');
    else if (json) writeFileSync(json, JSON.stringify(r, null, 2) + '\n');
    return 0;
  } catch (err) {
    if (err instanceof BisectError || err instanceof TraceError) {
      console.error(`mmuwasm bisect: ${err.message}`);
      return 2;
    }
    throw err;
  }
}
