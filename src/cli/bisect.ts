// `mmuwasm bisect TRACE --good PROFILE --bad PROFILE [--preemptions K] [--schedules N] [--seed S]
// [--workers N] [--json FILE|-]`: the fix between two profiles whose addition changes the verdict
// (src/explore/bisect.ts). Exit 0 when a fix was found (or both profiles agree), 2 bad input or usage.
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { bisectLines, BisectError } from '../explore/bisect.ts';
import { TraceError } from '../trace/trace-error.ts';
import { sniffTrace } from '../node/trace-files.ts';
import { UsageError, type ParsedArgs } from './args.ts';
import { checkProfile } from './kernel-options.ts';
import { checkInput, checkOutput, writeOutput } from './files.ts';

export async function runBisect(args: ParsedArgs): Promise<number> {
  const trace = args.operands[0];
  const [good, bad] = ['--good', '--bad'].map((o) => {
    const v = args.get(o);
    if (v === undefined) throw new UsageError('bisect needs --good PROFILE and --bad PROFILE');
    return checkProfile(v, o);
  });
  const json = args.get('--json');
  const num: Record<string, number> = {};
  for (const opt of ['--preemptions', '--schedules', '--seed', '--workers']) {
    const v = args.get(opt);
    if (v === undefined) continue;
    if (!/^\d+$/.test(v) || !Number.isSafeInteger(Number(v))) throw new UsageError(`${opt} takes a whole number (got '${v}')`);
    num[opt.slice(2)] = Number(v);
  }
  checkInput(trace);
  if (json) checkOutput(json);
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
    (json === '-' ? process.stderr : process.stdout).write(out.join('\n') + '\n');
    if (json) writeOutput(json, JSON.stringify(r, null, 2) + '\n');
    return 0;
  } catch (err) {
    if (err instanceof BisectError || err instanceof TraceError) {
      console.error(`mmuwasm bisect: ${err.message}`);
      return 2;
    }
    throw err;
  }
}
