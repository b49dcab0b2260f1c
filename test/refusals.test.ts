// Calls the kernel of a profile refuses are events of the replay: the call returns its error, the
// report lists it (line, call, error, why), and the trace goes on — never a silent success, never a
// bad-trace exit.
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { replayFile } from '../src/node/replay-file.ts';
import { SCENARIO_DIR } from '../src/cli/scenarios.ts';

const scenario = (name: string) => join(SCENARIO_DIR, `${name}.jsonl`);

describe('refused calls', () => {
  it('MADV_DONTNEED on hugetlb returns EINVAL before 90e7e7f5ef3f and zaps after it', async () => {
    for (const kernel of ['v4.4', 'v4.19', 'v5.16']) {
      const { report, status } = await replayFile(scenario('clean-hugetlb-dontneed'), { kernel });
      expect(status).toBe(0);
      expect(report.refused?.map((r) => [r.line, r.op, r.error])).toEqual([[32, 'madvise(MADV_DONTNEED)', 'EINVAL']]);
      expect(report.refused?.[0].why).toMatch(/90e7e7f5ef3f/);
    }
    for (const kernel of ['v6.1', 'v6.18']) {
      const { report, status } = await replayFile(scenario('clean-hugetlb-dontneed'), { kernel });
      expect(status).toBe(0);
      expect(report.refused).toEqual([]);
      expect((report.stats.hugetlb as { pmdUnshares: number }).pmdUnshares).toBe(1);
    }
  });

  it('the model accepting the call where the kernel refuses it would report a bug the kernel cannot have', async () => {
    const { report } = await replayFile(scenario('clean-hugetlb-dontneed'), { kernel: 'v4.4', fixes: { '90e7e7f5ef3f': true } });
    expect(report.violations.map((v) => v.fix)).toContain('a4a118f2eead');
  });

  it('a 1 GiB hugetlb page is not migrated before 9b553bf5eb99: ENOSYS, and the page stays', async () => {
    const { report, status } = await replayFile(scenario('clean-hugetlb-private-1g'), { kernel: 'v4.19' });
    expect(status).toBe(0);
    expect(report.refused?.map((r) => [r.line, r.op, r.error])).toEqual([[38, 'migrate', 'ENOSYS'], [45, 'migrate', 'ENOSYS']]);
    expect((report.stats.hugetlb as { migrations: number }).migrations).toBe(1); // the 2 MiB page of line 63
    const fixed = await replayFile(scenario('clean-hugetlb-private-1g'), { kernel: 'v5.16' });
    expect(fixed.report.refused).toEqual([]);
    expect((fixed.report.stats.hugetlb as { migrations: number }).migrations).toBe(3);
  });

  it.each(['v4.4', 'v6.18'])('under %s the hugetlb pool running out is ENOMEM from mmap and SIGBUS from a fault, and the replay goes on', async (kernel) => {
    const { report, status } = await replayFile(scenario('clean-hugetlb-pool-exhausted'), { kernel });
    expect(status).toBe(0);
    expect(report.complete).toBe(true);
    expect(report.refused?.map((r) => [r.line, r.op, r.error])).toEqual([[32, 'mmap', 'ENOMEM'], [37, 'mmap', 'ENOMEM'], [45, 'fault', 'SIGBUS']]);
    expect(report.segfaults.map((f) => f.line)).toEqual([34, 45]);
  });
});
