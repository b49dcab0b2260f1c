// The scenario library replayed under every profile: every trace's expectations hold everywhere, the
// violations each profile reports are exactly the ones written down below, and the kernel's own
// bookkeeping (share counts, linked tables, map counts) matches the page tables after every event.
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { replayFile } from '../src/node/replay-file.ts';
import { listScenarios, SCENARIO_DIR } from '../src/cli/scenarios.ts';
import { PROFILE_NAMES } from '../src/kernel/profiles.ts';
import { checkInvariants } from '../src/kernel/invariants.ts';
import { VERDICTS, type Verdict } from './scenario-verdicts.ts';

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
const SWITCHES: [scenario: string, kernel: string, fixes: Record<string, boolean>, named: string | null][] = [
  ['b1-shared-pmd-migration', 'v6.18', { '017b1660df89': false, '75802ca66354': false }, '017b1660df89'],
  ['b1-shared-pmd-migration', 'v4.4', { '017b1660df89': true }, null],
  ['b1-device-invalidate-page', 'v6.18', { '369ea8242c0f': false, '5f32b265400d': false }, '369ea8242c0f'],
  ['b1-device-invalidate-page', 'v4.4', { '369ea8242c0f': true }, null],
  ['b1-device-range', 'v4.4', { '369ea8242c0f': false }, '369ea8242c0f'],
  ['b2-hole-punch-unshare-notifier-range', 'v6.18', { dff11abe280b: false }, 'dff11abe280b'],
  ['b2-hole-punch-unshare-notifier-range', 'v4.4', { dff11abe280b: true }, null],
  ['b2-mprotect-unshare-notifier-range', 'v6.18', { '081056dc00a2': false }, '081056dc00a2'],
  ['b2-mprotect-unshare-notifier-range', 'v4.4', { '081056dc00a2': true }, null],
  ['b3-munmap-unshare-no-flush', 'v6.18', { a4a118f2eead: false }, 'a4a118f2eead'],
  ['b3-munmap-unshare-no-flush', 'v4.4', { a4a118f2eead: true }, null],
  // The page-size-aware gather only hides the missing unshare flush; the violation names the latter.
  ['b3-munmap-unshare-one-page-flush', 'v4.19', { b528e4b6405b: false }, 'a4a118f2eead'],
  ['b3-munmap-unshare-one-page-flush', 'v4.4', { b528e4b6405b: true }, null],
  ['b4-mprotect-flush-after-unlock', 'v6.18', { d833352a4338: false }, 'd833352a4338'],
  ['b4-mprotect-flush-after-unlock', 'v4.4', { d833352a4338: false }, 'd833352a4338'],
  ['b5-fault-vs-unshare', 'v5.16', { c0d0381ade79: false }, 'c0d0381ade79'],
  ['b5-fault-vs-unshare', 'v6.18', { c0d0381ade79: true }, null],
  ['b5-fault-vs-unshare-vma-lock', 'v6.18', { '40549ba8f8e0': false }, '40549ba8f8e0'],
  ['b5-fault-vs-unshare-vma-lock', 'v5.16', { '40549ba8f8e0': true }, null],
  ['b6-mprotect-split-shared-pmd', 'v6.18', { '081056dc00a2': false }, '081056dc00a2'],
  ['b6-mprotect-split-shared-pmd', 'v4.4', { '081056dc00a2': true }, null],
  ['b7-gup-fast-vs-unshare', 'v6.18', { '1013af4f585f': false }, '1013af4f585f'],
  ['b7-gup-fast-vs-unshare', 'v4.4', { '1013af4f585f': true }, null],
  ['b8-speculative-ref-pmd-share-count', 'v6.18', { '59d9094df3d7': false }, '59d9094df3d7'],
  ['b8-speculative-ref-pmd-share-count', 'v4.4', { '59d9094df3d7': true }, null],
  ['b9-reclaim-batched-flush-mprotect', 'v6.18', { '3ea277194daa': false }, '3ea277194daa'],
  ['b9-reclaim-batched-flush-mprotect', 'v4.4', { '3ea277194daa': true }, null],
  ['b10-parallel-dontneed', 'v6.18', { '99baac21e458': false }, '99baac21e458'],
  ['b10-parallel-dontneed', 'v4.4', { '99baac21e458': true }, null],
  ['b11-mremap-flush-before-ptl-release', 'v6.18', { eb66ae030829: false }, 'eb66ae030829'],
  ['b11-mremap-flush-before-ptl-release', 'v4.4', { eb66ae030829: true }, null],
  ['b13-lazy-cpu-skipped-table-freed', 'v6.18', { '3ef938c35035': false }, '3ef938c35035'],
  ['b13-lazy-cpu-skipped-table-freed', 'v4.4', { '3ef938c35035': true }, null],
  ['b12-switch-mm-window-skipped-flush', 'v6.18', { fea4e317f9e7: false }, 'fea4e317f9e7'],
  ['b12-switch-mm-window-skipped-flush', 'v4.4', { fea4e317f9e7: true }, null],
  ['b13-thp-collapse-lazy-cpu', 'v6.18', { '3ef938c35035': false }, '3ef938c35035'],
  ['b13-thp-collapse-lazy-cpu', 'v4.4', { '3ef938c35035': true }, null],
  ['b16-mremap-hugetlb-unshare-flush', 'v6.18', { '3d0b95cd87b2': false }, '3d0b95cd87b2'],
  ['b16-mremap-hugetlb-unshare-flush', 'v5.16', { '3d0b95cd87b2': true }, null],
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
