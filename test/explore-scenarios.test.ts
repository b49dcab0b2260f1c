// The scenario library as workloads (scenarios/explore/): every bug scenario in a plain block
// version, with no schedule written, and clean block workloads. Exhaustive exploration finds each bug
// without its fix — and the trace of its smallest schedule replays it — and nothing with the fix;
// the clean workloads show nothing under every profile that carries the fixes they touch.
import { describe, expect, it } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseTrace } from '../src/trace/parser.ts';
import { replayTrace } from '../src/replay/replay-trace.ts';
import { exploreTrace, readExploreTrace, causeOf } from '../src/explore/explore.ts';
import { PROFILE_NAMES } from '../src/kernel/profiles.ts';
import { listScenarios, SCENARIO_DIR } from '../src/cli/scenarios.ts';
import { FIX_SWITCHES, type FixSwitch } from './scenario-verdicts.ts';

const DIR = join(SCENARIO_DIR, 'explore');
const read = (name: string) => readExploreTrace(readFileSync(join(DIR, `${name}.jsonl`), 'utf8').split('\n'), `${name}.jsonl`);

// Each bug with its fix switched (FIX_SWITCHES, shared with test/scenarios.test.ts): off, the explorer finds a
// violation naming the fix; on, it finds nothing — every schedule with at most two preemptions (the
// default). With the fix, b10 at two preemptions has a schedule whose audit must leave another zap's
// pending flush to that zap (scenarios/clean-dontneed-refault-vs-inflight-zap.jsonl).
const SWITCHES: FixSwitch[] = [
  ...FIX_SWITCHES,
  // The explorer's own rows: b1-device-range and b4 as their blocks are written, no fix switched.
  ['b1-device-range', 'v4.4', {}, null],
  ['b4-mprotect-flush-after-unlock', 'v6.18', {}, null],
];

/** The clean workloads and the profiles that carry the fixes they touch. */
const CLEAN: [scenario: string, profiles: readonly string[]][] = [
  ['clean-racing-discard', PROFILE_NAMES],
  ['clean-fork-cow', PROFILE_NAMES],
  ['clean-migration-readers', PROFILE_NAMES.filter((k) => k !== 'v4.4')],
  ['clean-thp-collapse-zap', PROFILE_NAMES],
];

describe('the scenario library as workloads', () => {
  it('has a block version of every bug scenario, and the clean workloads', () => {
    const files = readdirSync(DIR).filter((f) => f.endsWith('.jsonl')).map((f) => f.replace(/\.jsonl$/, '')).sort();
    const bugs = listScenarios().map((f) => f.replace(/\.jsonl$/, '')).filter((n) => /^b\d/.test(n));
    expect(files).toEqual([...bugs, ...CLEAN.map(([s]) => s)].sort());
    expect([...new Set(SWITCHES.map(([s]) => s))].sort()).toEqual(bugs.sort());
  });

  it.each(SWITCHES)('%s under %s with %j', async (scenario, kernel, fixes, named) => {
    const r = await exploreTrace(read(scenario), { kernel, fixes });
    expect([r.complete, r.exhaustive]).toEqual([true, true]);
    if (named === null) {
      expect(r.findings.map(causeOf)).toEqual([]);
      return;
    }
    const f = r.findings.find((x) => x.fix === named);
    expect(f, `no finding names ${named}: ${r.findings.map(causeOf).join(', ')}`).toBeDefined();
    const again = await replayTrace(parseTrace(f!.trace.split('\n'), 'finding'), 'finding', {});
    expect(again.status).toBe(1);
    expect(again.report.violations.some((v) => v.kind === f!.kind && v.fix === named)).toBe(true);
  });

  describe.each(CLEAN)('%s', (scenario, profiles) => {
    it.each(profiles)('is clean under %s', async (kernel) => {
      const r = await exploreTrace(read(scenario), { kernel });
      expect([r.complete, r.exhaustive]).toEqual([true, true]);
      expect(r.explored).toBeGreaterThan(100);
      expect(r.findings.map(causeOf)).toEqual([]);
    });
  });

  it('each block trace is also a plain trace: replay runs it in written order', async () => {
    for (const f of readdirSync(DIR).filter((x) => x.endsWith('.jsonl'))) {
      const { report } = await replayTrace(parseTrace(readFileSync(join(DIR, f), 'utf8').split('\n'), f), f, {});
      expect(report.error, f).toBeUndefined();
    }
  });
});
