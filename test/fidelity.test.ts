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

describe('mremap flushes as the kernel does, extent by extent', () => {
  // move_page_tables moves up to the next PMD boundary of the old address or of the new one at a
  // time (v6.18 `get_extent`); from eb66ae030829 each move_ptes flushes its own extent when it moved a
  // present entry. CPU 1 runs the mm: each flush also interrupts it.
  const flushes = (...pages: number[]) => pages.flatMap((n) => [{ reason: 'local-mm', pages: n }, { reason: 'remote-ipi', pages: n }, { reason: 'remote-shootdown', pages: n }]);
  const trace = [
    { format: 'mmuwasm-trace', version: 1, cpus: 2 },
    { op: 'mm', mm: 'A' },
    { op: 'switch', cpu: 0, mm: 'A' },
    { op: 'switch', cpu: 1, mm: 'A' },
    // A read-only page in each PMD an old range leaves, so that no page table is freed after a move.
    ...['0x10000000', '0x103ff000', '0x301ff000', '0x40200000', '0x405ff000', '0x501ff000', '0x601ff000'].map((va) => ({ op: 'mmap', cpu: 0, va, len: '4K', prot: 'r', flags: 'private' })),
    { op: 'mmap', cpu: 0, va: '0x101fe000', len: '12K', prot: 'rw', flags: 'private' },
    { op: 'access', cpu: 0, va: '0x101fe000', rw: 'w' },
    { op: 'access', cpu: 0, va: '0x101ff000', rw: 'r' },
    { op: 'access', cpu: 0, va: '0x10200000', rw: 'w' },
    // The old range crosses 0x10200000: extents of 2 pages and 1 page.
    { op: 'mremap', cpu: 0, va: '0x101fe000', len: '12K', newva: '0x30000000', observed: { flushes: flushes(2, 1) } },
    // The new range crosses 0x40400000: extents of 1 page and 2 pages.
    { op: 'mremap', cpu: 0, va: '0x30000000', len: '12K', newva: '0x403ff000', observed: { flushes: flushes(1, 2) } },
    // And then the old one does.
    { op: 'mremap', cpu: 0, va: '0x403ff000', len: '12K', newva: '0x50000000', observed: { flushes: flushes(1, 2) } },
    // Neither crosses: one extent.
    { op: 'mremap', cpu: 0, va: '0x50000000', len: '12K', newva: '0x60000000', observed: { flushes: flushes(3) } },
    // Nothing present, only the page table: no flush.
    { op: 'madvise', cpu: 0, va: '0x60000000', len: '12K', advice: 'dontneed' },
    { op: 'mremap', cpu: 0, va: '0x60000000', len: '12K', newva: '0x70000000', observed: { flushes: [] } },
  ].map((e) => JSON.stringify(e));

  /** The report of `lines` under `kernel`, which must have no violation. */
  async function replay(kernel: string, lines = trace) {
    let r: Replay | undefined;
    for (const item of parseTrace(lines, 'mremap.jsonl')) {
      if (item.kind === 'header') r = await Replay.create(item.header, { kernel }, 'mremap.jsonl');
      else await r!.run(item.line, item.event);
    }
    await r!.finish(lines.length);
    const report = r!.result();
    await r!.close();
    expect(report.violations).toEqual([]);
    return report;
  }

  // The model traces its flushes where v6.18 does (docs/fidelity.md); v4.4's flush path has no such points.
  it.each(PROFILE_NAMES.filter((p) => p !== 'v4.4'))('under %s, one flush per extent that moved a present entry', async (kernel) => {
    expect((await replay(kernel)).fidelity).toEqual({ events: 5, matching: 5, mismatches: [] });
  });

  // A whole PMD into an empty PMD entry: from 9f132f7e1455 (v5.0) move_normal_pmd moves the page table
  // itself and flushes the PMD's range (512 pages: a full flush), present entries or not; the old
  // range then has no page table to free. Before it the entries move one by one, and the emptied
  // table is freed with a flush of its own.
  const whole = (observed: object) => [
    { format: 'mmuwasm-trace', version: 1, cpus: 2 },
    { op: 'mm', mm: 'A' },
    { op: 'switch', cpu: 0, mm: 'A' },
    { op: 'switch', cpu: 1, mm: 'A' },
    // A neighbour in the same 1 GiB, so that the PMD table stays.
    { op: 'mmap', cpu: 0, va: '0x10000000', len: '4K', prot: 'r', flags: 'private' },
    { op: 'mmap', cpu: 0, va: '0x10200000', len: '2M', prot: 'rw', flags: 'private' },
    { op: 'access', cpu: 0, va: '0x10200000', rw: 'w' },
    { op: 'access', cpu: 1, va: '0x103ff000', rw: 'r' },
    { op: 'mremap', cpu: 0, va: '0x10200000', len: '2M', newva: '0x10600000', observed },
    { op: 'access', cpu: 1, va: '0x107ff000', rw: 'r' },
  ].map((e) => JSON.stringify(e));
  it.each(PROFILE_NAMES.filter((p) => p !== 'v4.4'))('under %s, a whole PMD: its page table moves where the profile has move_normal_pmd', async (kernel) => {
    const pmdMove = kernel !== 'v4.19';
    const report = await replay(kernel, whole({ flushes: flushes(-1) }));
    // The table the entries were in now maps the new range; before v5.0 a new table did and the old one was freed.
    if (pmdMove) expect(report.fidelity).toEqual({ events: 1, matching: 1, mismatches: [] });
    else expect(report.fidelity?.mismatches.map((m) => m.model.map((f) => `${f.reason} ${f.pages}`).sort())).toEqual([['local-mm -1', 'local-mm 1', 'remote-ipi -1', 'remote-ipi 1', 'remote-shootdown -1', 'remote-shootdown 1']]);
  });

  it('under v4.4, one flush per call at its end, present entries or not, and one for the madvise', async () => {
    // Each flush INVLPGs its pages on both CPUs: five calls of 3 pages, and the madvise's 3.
    expect((await replay('v4.4')).stats.flush).toMatchObject({ flushes: 6, invlpg: 2 * (5 * 3 + 3) });
  });
});
