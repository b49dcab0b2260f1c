// `git bisect` over the model's kernel history: between a bad profile and a good one, the fixes that
// differ are applied one at a time in release order, and a binary search finds the first one after
// which the verdict (whether a replay finds a violation or a failed expectation, or for a trace with
// concurrent blocks whether exploring it finds anything) is no longer the bad profile's.
import { FIXES, fixById, type Fix } from '../kernel/fixes.ts';
import { PROFILES, ProfileError, resolveFixes } from '../kernel/profiles.ts';
import { parseTrace } from '../trace/parser.ts';
import { replayTrace } from '../replay/replay-trace.ts';
import { exploreLines } from './parallel.ts';
import type { ExploreOptions } from './explore.ts';

export interface BisectOptions extends Pick<ExploreOptions, 'preemptions' | 'schedules' | 'seed'> {
  good: string;
  bad: string;
  workers?: number;
}

export interface BisectStep {
  /** The fix switched at this step (on when the good profile has it, off when only the bad one does). */
  fix: string;
  on: boolean;
  release: string;
  title: string;
}

export interface BisectResult {
  good: string;
  bad: string;
  /** Whether the trace was explored (it has concurrent blocks) or replayed. */
  mode: 'explore' | 'replay';
  /** The fixes between the two profiles, in the order they were applied. */
  steps: BisectStep[];
  /** Verdicts (0 clean, 1 a violation or finding) of the bad and the good profile. */
  verdicts: { bad: 0 | 1; good: 0 | 1 };
  /** The step whose addition changes the verdict; undefined when both profiles agree. */
  culprit?: BisectStep;
  /** Each combination tried, as the fixes switched so far and its verdict. */
  tried: { steps: number; verdict: 0 | 1 | 'refused' }[];
}

/** Release names compare as version numbers (v4.14 after v4.4). */
function releaseKey(r: string): number[] {
  return r.replace(/^v/, '').split('.').map(Number);
}
function byRelease(a: Fix, b: Fix): number {
  const x = releaseKey(a.release);
  const y = releaseKey(b.release);
  for (let i = 0; i < Math.max(x.length, y.length); i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) - (y[i] ?? 0);
  return FIXES.indexOf(a) - FIXES.indexOf(b);
}

export class BisectError extends Error {}

export async function bisectLines(lines: string[], file: string, opts: BisectOptions): Promise<BisectResult> {
  for (const p of [opts.good, opts.bad]) if (!PROFILES[p]) throw new BisectError(`unknown kernel profile '${p}' (profiles: ${Object.keys(PROFILES).join(', ')})`);
  const good = new Set(PROFILES[opts.good]);
  const bad = new Set(PROFILES[opts.bad]);
  const steps: BisectStep[] = FIXES.filter((f) => good.has(f.id) !== bad.has(f.id)).sort(byRelease)
    .map((f) => ({ fix: f.id, on: good.has(f.id), release: f.release, title: f.title }));
  const hasBlock = lines.some((l) => /"op"\s*:\s*"concurrent"/.test(l));
  const mode = hasBlock ? 'explore' : 'replay';
  const tried: BisectResult['tried'] = [];
  const cache = new Map<number, 0 | 1 | 'refused'>();
  const overrides = (n: number) => Object.fromEntries(steps.slice(0, n).map((s) => [s.fix, s.on]));
  const verdictAt = async (n: number): Promise<0 | 1 | 'refused'> => {
    if (cache.has(n)) return cache.get(n)!;
    let v: 0 | 1 | 'refused';
    try {
      resolveFixes(opts.bad, overrides(n));
      v = await verdict(lines, file, opts.bad, overrides(n), hasBlock, opts);
    } catch (err) {
      if (!(err instanceof ProfileError)) throw err;
      v = 'refused';
    }
    cache.set(n, v);
    tried.push({ steps: n, verdict: v });
    return v;
  };
  // A combination the kernel cannot have (a fix without one it needs) takes the next one's verdict.
  const settled = async (n: number): Promise<0 | 1> => {
    for (let i = n; i <= steps.length; i++) {
      const v = await verdictAt(i);
      if (v !== 'refused') return v;
    }
    throw new BisectError(`no combination from step ${n} on can run`);
  };
  const vBad = await settled(0);
  const vGood = await settled(steps.length);
  const result: BisectResult = { good: opts.good, bad: opts.bad, mode, steps, verdicts: { bad: vBad, good: vGood }, tried };
  if (vBad === vGood) return result;
  // The first n at which the verdict differs from the bad profile's: the culprit is step n - 1.
  let lo = 0;
  let hi = steps.length;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if ((await settled(mid)) === vBad) lo = mid;
    else hi = mid;
  }
  result.culprit = steps[hi - 1];
  return result;
}

async function verdict(lines: string[], file: string, kernel: string, fixes: Record<string, boolean>, explore: boolean, opts: BisectOptions): Promise<0 | 1> {
  if (explore) {
    const r = await exploreLines(lines, file, { kernel, fixes, preemptions: opts.preemptions, schedules: opts.schedules, seed: opts.seed, workers: opts.workers });
    return r.findings.length ? 1 : 0;
  }
  const { status, report } = await replayTrace(parseTrace(lines, file), file, { kernel, fixes });
  if (status === 2) throw new BisectError(`${report.error?.file}:${report.error?.line}: ${report.error?.message}`);
  // Expectations written "with"/"without" a fix hold under every profile: the verdict is what was found.
  return status === 1 || report.violations.length > 0 ? 1 : 0;
}

export { fixById };
