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

const DIR = join(SCENARIO_DIR, 'explore');
const read = (name: string) => readExploreTrace(readFileSync(join(DIR, `${name}.jsonl`), 'utf8').split('\n'), `${name}.jsonl`);

// Each bug with its fix switched (the pairs of test/scenarios.test.ts): off, the explorer finds a
// violation naming the fix; on, it finds nothing — every schedule with at most two preemptions (the
// default). With the fix, b10 at two preemptions has a schedule whose audit must leave another zap's
// pending flush to that zap (scenarios/clean-dontneed-refault-vs-inflight-zap.jsonl).
const SWITCHES: [scenario: string, kernel: string, fixes: Record<string, boolean>, named: string | null][] = [
  ['b1-shared-pmd-migration', 'v6.18', { '017b1660df89': false, '75802ca66354': false }, '017b1660df89'],
  ['b1-shared-pmd-migration', 'v4.4', { '017b1660df89': true }, null],
  ['b1-device-invalidate-page', 'v6.18', { '369ea8242c0f': false, '5f32b265400d': false }, '369ea8242c0f'],
  ['b1-device-invalidate-page', 'v4.4', { '369ea8242c0f': true }, null],
  ['b1-device-range', 'v4.4', { '369ea8242c0f': false }, '369ea8242c0f'],
  ['b1-device-range', 'v4.4', {}, null],
  ['b2-hole-punch-unshare-notifier-range', 'v6.18', { dff11abe280b: false }, 'dff11abe280b'],
  ['b2-hole-punch-unshare-notifier-range', 'v4.4', { dff11abe280b: true }, null],
  ['b2-mprotect-unshare-notifier-range', 'v6.18', { '081056dc00a2': false }, '081056dc00a2'],
  ['b2-mprotect-unshare-notifier-range', 'v4.4', { '081056dc00a2': true }, null],
  ['b3-munmap-unshare-no-flush', 'v6.18', { a4a118f2eead: false }, 'a4a118f2eead'],
  ['b3-munmap-unshare-no-flush', 'v4.4', { a4a118f2eead: true }, null],
  ['b4-mprotect-flush-after-unlock', 'v6.18', { d833352a4338: false }, 'd833352a4338'],
  ['b4-mprotect-flush-after-unlock', 'v6.18', {}, null],
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
  ['b3-munmap-unshare-one-page-flush', 'v4.19', { b528e4b6405b: false }, 'a4a118f2eead'],
  ['b3-munmap-unshare-one-page-flush', 'v4.4', { b528e4b6405b: true }, null],
  ['b16-mremap-hugetlb-unshare-flush', 'v6.18', { '3d0b95cd87b2': false }, '3d0b95cd87b2'],
  ['b16-mremap-hugetlb-unshare-flush', 'v5.16', { '3d0b95cd87b2': true }, null],
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
