// Fidelity checks that a scenario's expectations cannot state: what the devices were told, counted.
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { replayFile } from '../src/node/replay-file.ts';
import { SCENARIO_DIR } from '../src/cli/scenarios.ts';
import { PROFILE_NAMES } from '../src/kernel/profiles.ts';
import { parseTrace, Replay } from '../src/index.ts';

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

describe('a device write into a page its address space no longer owns', () => {
  // The kernel's notifiers keep this from happening in every release (wp_page_copy and
  // copy_page_range bracket their changes); here the device is taken off the notifier chain after it
  // cached a writable translation, as a kernel path without its notifier calls would leave it.
  const trace = [
    { format: 'mmuwasm-trace', version: 1, cpus: 2 },
    { op: 'mm', mm: 'P' },
    { op: 'switch', cpu: 0, mm: 'P' },
    { op: 'mmap', cpu: 0, va: '0x10000000', len: '16K', prot: 'rw', flags: 'private' },
    { op: 'attach', mm: 'P', device: 'kvm0', kind: 'kvm' },
    { op: 'access', cpu: 0, va: '0x10000000', rw: 'w' },
    { op: 'device_access', device: 'kvm0', va: '0x10000000', rw: 'w' },
    { op: 'fork', cpu: 0, child: 'C' },
    { op: 'access', cpu: 0, va: '0x10000000', rw: 'w' },
    { op: 'device_access', device: 'kvm0', va: '0x10000000', rw: 'w' },
  ].map((e) => JSON.stringify(e));

  it('is a stale-write, once the copy-on-write break gave the address space its own page', async () => {
    let replay: Replay | undefined;
    for (const item of parseTrace(trace, 'cow.jsonl')) {
      if (item.kind === 'header') replay = await Replay.create(item.header, { kernel: 'v6.18' }, 'cow.jsonl');
      else {
        if (item.line === 8) replay!.kernel.mms.get('P')!.notifiers.length = 0;
        await replay!.run(item.line, item.event);
      }
    }
    await replay!.finish(trace.length);
    const report = replay!.result();
    await replay!.close();
    expect(report.violations.map((v) => `${v.kind}@${v.line} ${v.device}`)).toEqual(['stale-device@8 kvm0', 'stale-write@10 kvm0']);
  });
});
