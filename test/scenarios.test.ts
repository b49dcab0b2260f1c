// The scenario library replayed under every profile: every trace's expectations hold everywhere, the
// violations each profile reports are exactly the ones written down below, and the kernel's own
// bookkeeping (share counts, linked tables, map counts) matches the page tables after every event.
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { replayFile } from '../src/node/replay-file.ts';
import { listScenarios, SCENARIO_DIR } from '../src/cli/scenarios.ts';
import { PROFILE_NAMES } from '../src/kernel/profiles.ts';
import { checkInvariants } from '../src/kernel/invariants.ts';
import { FIX_SWITCHES, VERDICTS, type FixSwitch, type Verdict } from './scenario-verdicts.ts';

/** Violations as the table writes them: the exact list when short, counts by kind, who and fix when long. */
function asVerdict(got: string[], want: Verdict | undefined): Verdict {
  if (want === undefined || Array.isArray(want)) return got;
  const counts: Record<string, number> = {};
  for (const g of got) {
    const key = g.replace(/@\d+/, '');
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

const scenarios = listScenarios();
/** Violations each scenario reported under each profile, as the replays below found them. */
const reported = new Map<string, Map<string, number>>();

describe('the scenario library', () => {
  it('holds the founding case, the bugs and the clean workloads, each written down below', () => {
    expect(scenarios.map((f) => f.replace(/\.jsonl(\.gz)?$/, '')).sort()).toEqual(Object.keys(VERDICTS).sort());
  });

  describe.each(scenarios)('%s', (file) => {
    const name = file.replace(/\.jsonl(\.gz)?$/, '');
    it.each(PROFILE_NAMES)('under %s', async (kernel) => {
      const problems: string[] = [];
      const { report, status } = await replayFile(join(SCENARIO_DIR, file), {
        kernel,
        onEvent: (r, line) => {
          for (const p of checkInvariants(r.kernel)) problems.push(`line ${line}: ${p}`);
        },
      });
      expect(report.error).toBeUndefined();
      expect(report.expectations.filter((e) => !e.ok)).toEqual([]);
      expect(status).toBe(0);
      expect(report.expectations.some((e) => e.applies)).toBe(true);
      // Violations, as kind@line on CPU or device, in the order reported.
      const got = report.violations.map((v) => `${v.kind}@${v.line} ${v.cpu !== undefined ? `cpu${v.cpu}` : v.device}${v.fix ? ` ${v.fix}` : ''}`);
      if (!reported.has(name)) reported.set(name, new Map());
      reported.get(name)!.set(kernel, report.violations.length);
      const want = VERDICTS[name]?.[kernel] as Verdict | undefined;
      expect(asVerdict(got, want)).toEqual(want ?? []);
      expect(problems).toEqual(VERDICTS[name]?.invariants?.[kernel] ?? []);
    });
  });

  it('each bug scenario shows its bug under some profile and none under another', () => {
    // Their fix is in every profile (b4) or their point is the fixed form (b1-device-range): the
    // switches below show the bug.
    const onlyWithSwitches = ['b4-mprotect-flush-after-unlock', 'b1-device-range'];
    for (const name of Object.keys(VERDICTS)) {
      if (!/^b\d/.test(name) || onlyWithSwitches.includes(name)) continue;
      const counts = PROFILE_NAMES.map((k) => reported.get(name)!.get(k)!);
      expect(counts.some((c) => c > 0), `${name} shows no violation under any profile`).toBe(true);
      expect(counts.some((c) => c === 0), `${name} is violated under every profile`).toBe(true);
    }
  });

  it('every clean workload is clean under every profile that carries the fixes it touches', () => {
    for (const [name, v] of Object.entries(VERDICTS)) {
      if (!name.startsWith('clean-')) continue;
      expect(PROFILE_NAMES.filter((k) => reported.get(name)!.get(k)! > 0), name).toEqual(v.buggyProfiles ?? []);
    }
  });
});

// Each bug scenario with its fix switched: off over the newest profile it shows the violation and
// names the fix; on over the oldest it is clean. The expectations hold either way (exit 0).
const SWITCHES: FixSwitch[] = [
  ...FIX_SWITCHES,
  // The replay's own row: b4 with its fix off under the oldest profile too.
  ['b4-mprotect-flush-after-unlock', 'v4.4', { d833352a4338: false }, 'd833352a4338'],
];

describe('bug scenarios with their fix switched', () => {
  it.each(SWITCHES)('%s under %s with %j', async (scenario, kernel, fixes, named) => {
    const { report, status } = await replayFile(join(SCENARIO_DIR, `${scenario}.jsonl`), { kernel, fixes });
    expect(report.error).toBeUndefined();
    expect(status).toBe(0);
    if (named === null) expect(report.violations).toEqual([]);
    else {
      expect(report.violations.length).toBeGreaterThan(0);
      expect(report.violations.some((v) => v.fix === named)).toBe(true);
    }
  });

  it('covers every bug scenario', () => {
    expect([...new Set(SWITCHES.map(([s]) => s))].sort()).toEqual(Object.keys(VERDICTS).filter((n) => /^b\d/.test(n)).sort());
  });
});
