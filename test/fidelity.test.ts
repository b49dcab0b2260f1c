// Fidelity checks that a scenario's expectations cannot state: what the devices were told, counted.
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { replayFile } from '../src/replay/replay-cli.ts';
import { SCENARIO_DIR } from '../src/replay/scenarios-cli.ts';
import { PROFILE_NAMES } from '../src/kernel/profiles.ts';

const scenario = (name: string) => join(SCENARIO_DIR, `${name}.jsonl`);
type DeviceStats = { device: string; fills: number; entriesDropped: number };

describe('secondary TLBs hear the range the caller flushed', () => {
  it.each(PROFILE_NAMES)('under %s the IOMMU keeps the entry outside an mprotect whose CPU flush became a full flush', async (kernel) => {
    const { report, status } = await replayFile(scenario('clean-iommu-range-flush'), { kernel });
    expect(status).toBe(0);
    const [iommu] = report.stats.devices as DeviceStats[];
    // Three fills before the mprotect, one read-only refill of page 0 after it; page 60 stays.
    expect(iommu.fills).toBe(4);
    expect(iommu.entriesDropped).toBe(2);
  });
});

describe('migration of a hugetlb page no PMD page shares flushes with flush_tlb_page', () => {
  // [IPIs sent, lazy CPUs that left A]: v4.4 and v4.19 interrupt lazy CPUs; later kernels skip them.
  const want: Record<string, [number, number]> = { 'v4.4': [1, 1], 'v4.19': [1, 1], 'v5.16': [0, 0], 'v6.1': [0, 0], 'v6.18': [0, 0] };
  it.each(PROFILE_NAMES)('under %s the lazy CPU is interrupted only where every flush reaches it', async (kernel) => {
    const { report, status } = await replayFile(scenario('clean-migrate-lazy-cpu'), { kernel });
    expect(status).toBe(0);
    const flush = report.stats.flush as { ipisSent: number; lazyLeaves: number };
    expect([flush.ipisSent, flush.lazyLeaves]).toEqual(want[kernel]);
    expect((report.stats.hugetlb as { migrations: number }).migrations).toBe(1);
  });
});
