// The timeline of a replay (src/report/timeline.ts) on the founding case: which CPU did what, in
// which order, which flush reached whom, where the stale uses are, and what each CPU cached at each
// violation. The HTML report draws exactly this, so it is checked item by item here.
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { readTrace } from '../src/node/read-trace.ts';
import { replayFile } from '../src/node/replay-file.ts';
import { replayTraceWithTimeline } from '../src/report/replay-report.ts';
import { SCENARIO_DIR } from '../src/cli/scenarios.ts';
import type { FlushItem, OpItem, TimelineItem } from '../src/report/timeline.ts';

const B1 = join(SCENARIO_DIR, 'b1-shared-pmd-migration.jsonl');
const replayB1 = (kernel: string, maxItems?: number) => replayTraceWithTimeline(readTrace(B1), B1, { kernel, maxItems });
const brief = (it: TimelineItem) => `${it.k}@${it.line}:${it.lane}`;

describe('the timeline of the founding case', () => {
  it('under v4.4: the lanes, the operations in order, the one flush that reaches no one, the stale uses', async () => {
    const { report, status } = await replayB1('v4.4');
    expect(status).toBe(0);
    const tl = report.timeline;
    expect(tl.lanes.map((l) => l.id)).toEqual(['trace', 'cpu0', 'cpu1']);
    expect(tl.items.map(brief)).toEqual([
      'op@13:trace', 'op@14:trace', 'op@15:trace', 'switch@16:cpu0', 'switch@17:cpu1', 'op@18:cpu0', 'op@19:cpu1',
      'fault@20:cpu0', 'fault@21:cpu1', 'access@20:cpu0', 'access@21:cpu1',
      'op@22:cpu0', 'flush@22:cpu0', 'access@23:cpu1', 'stale@23:cpu1', 'stale@24:cpu1',
    ]);
    const migrate = tl.items.find((i) => i.k === 'op' && i.op === 'migrate') as OpItem;
    expect(migrate.id).toBe('m');
    expect(migrate.steps.map((s) => `${s.step}${s.parked ? ' (parked)' : ''}`)).toEqual(['unmap', 'copy', 'remap (parked)', 'free']);
    expect(migrate.resumed.map((r) => r.line)).toEqual([24]);
    expect(migrate.end).toBeGreaterThan(migrate.resumed[0].t);
    // Without 017b1660df89 the rmap walk stops after A: one page flush of A, on CPU 0 alone.
    const flushes = tl.items.filter((i): i is FlushItem => i.k === 'flush');
    expect(flushes.map((f) => ({ cpu: f.lane, kind: f.kind, mm: f.mm, start: f.start, end: f.end, local: f.local, ipis: f.ipis }))).toEqual([
      { cpu: 'cpu0', kind: 'page', mm: 'A', start: '0x40000000', end: '0x40001000', local: true, ipis: [] },
    ]);
    // CPU 1's write during the copy hits its TLB (the 2M entry filled at line 21).
    const write = tl.items.find((i) => i.k === 'access' && i.line === 23);
    expect(write).toMatchObject({ lane: 'cpu1', count: 1, hits: { '4K': 0, '2M': 1, '1G': 0 }, misses: 0, walks: 0 });
    expect(tl.items.filter((i) => i.k === 'stale')).toEqual([
      expect.objectContaining({ line: 23, lane: 'cpu1', v: 0, kind: 'lost-write', va: '0x40000000' }),
      expect.objectContaining({ line: 24, lane: 'cpu1', v: 1, kind: 'stale-tlb', va: '0x40000000' }),
    ]);
    expect(report.violations.map((v) => `${v.kind}@${v.line} CPU ${v.cpu} ${v.mm} ${v.va} ${v.fix}`)).toEqual([
      'lost-write@23 CPU 1 B 0x40000000 017b1660df89',
      'stale-tlb@24 CPU 1 B 0x40000000 017b1660df89',
    ]);
    expect(tl.omitted).toEqual({});
  });

  it('under v4.4: at each violation CPU 1 caches the old frame while the shared PMD maps something else', async () => {
    const { report } = await replayB1('v4.4');
    const [lost, freed] = report.timeline.snapshots;
    expect(lost).toMatchObject({ violation: 0, line: 23, va: '0x40000000' });
    expect(lost.cpus.map((c) => `${c.cpu}:${c.loaded}${c.lazy ? ' lazy' : ''}`)).toEqual(['0:A', '1:B']);
    expect(lost.cpus[0].tlb).toEqual([]);
    expect(lost.cpus[1].tlb).toEqual([
      { array: 'dtlb2m', size: '2M', va: '0x40000000', pcid: 0, mm: 'B', frame: '0x400000000', writable: true, dirty: true, global: false, agrees: false, freed: false },
    ]);
    // CPU 1's paging-structure caches: the PML4 entry to B's PUD page, the PDPTE to the PMD page B shares with A.
    expect(lost.cpus[1].psc.map((p) => `${p.array}→${p.level} ${p.agrees ? 'agrees' : 'stale'}`)).toEqual(['pml4→pud agrees', 'pdpte→pmd agrees']);
    const pmdOf = (s: typeof lost, mm: string) => s.tables.find((t) => t.mm === mm)!.walk.find((l) => l.level === 'pmd')!;
    // One PMD page in both walks: the migration entry in it (not present) during the copy.
    expect(pmdOf(lost, 'A').table).toBe(pmdOf(lost, 'B').table);
    expect(pmdOf(lost, 'B').present).toBe(false);
    expect(pmdOf(lost, 'B').migration).toBe(true);
    expect(lost.tables.map((t) => t.maps)).toEqual([undefined, undefined]);
    // When the old frame is freed, the page tables map the new one and CPU 1 still holds the freed one.
    expect(freed).toMatchObject({ violation: 1, line: 24 });
    expect(freed.cpus[1].tlb.map((e) => `${e.frame} agrees=${e.agrees} freed=${e.freed}`)).toEqual(['0x400000000 agrees=false freed=true']);
    expect(freed.tables.map((t) => `${t.mm} ${t.maps?.frame} ${t.maps?.size}`)).toEqual(['A 0x400200000 2M', 'B 0x400200000 2M']);
  });

  it('under v4.19: the unshare flushes every sharer, and the IPI reaches CPU 1, which faults and waits for the migration', async () => {
    const { report, status } = await replayB1('v4.19');
    expect(status).toBe(0);
    expect(report.violations).toEqual([]);
    const tl = report.timeline;
    const flushes = tl.items.filter((i): i is FlushItem => i.k === 'flush');
    expect(flushes.map((f) => `${f.lane} ${f.kind} ${f.mm} ipis=${f.ipis.join(',')}`)).toEqual(['cpu0 full A ipis=', 'cpu0 page B ipis=1']);
    const wait = tl.items.find((i): i is OpItem => i.k === 'op' && i.op === 'fault')!;
    expect(wait).toMatchObject({ lane: 'cpu1', line: 23 });
    expect(wait.waited.map((w) => w.behind)).toEqual([22]);
    expect(tl.items.filter((i) => i.k === 'stale')).toEqual([]);
    expect(tl.snapshots).toEqual([]);
  });

  it('is the plain report plus `timeline`: everything else is the same', async () => {
    const plain = await replayFile(B1, { kernel: 'v4.4' });
    const { report } = await replayB1('v4.4');
    expect('timeline' in plain.report).toBe(false);
    const { timeline: _t, ...rest } = report;
    expect(JSON.parse(JSON.stringify(rest))).toEqual(JSON.parse(JSON.stringify(plain.report)));
  });

  it('keeps at most maxItems items, counting the rest by kind (the stale uses are always kept)', async () => {
    const { report } = await replayB1('v4.4', 6);
    const tl = report.timeline;
    expect(tl.items.filter((i) => i.k !== 'stale').length).toBe(6);
    expect(tl.omitted).toEqual({ op: 2, fault: 2, access: 3, flush: 1 });
    expect(tl.items.filter((i) => i.k === 'stale').length).toBe(2);
  });
});

describe('the timeline of devices', () => {
  it('gives each device a lane with the notifier calls it received, from the CPU of the operation', async () => {
    const f = join(SCENARIO_DIR, 'b1-device-range.jsonl');
    const { report } = await replayTraceWithTimeline(readTrace(f), f, { kernel: 'v4.19' });
    const tl = report.timeline;
    expect(tl.lanes.map((l) => l.id)).toEqual(['trace', 'cpu0', 'cpu1', 'dev:nic0', 'dev:iommu0']);
    const calls = tl.items.filter((i) => i.k === 'notify' && i.line === 37).map((i) => i.k === 'notify' && `${i.lane} ${i.call} ×${i.count} from ${i.from}`);
    expect(calls).toEqual([
      'dev:nic0 invalidate_range_start ×1 from 0', 'dev:iommu0 invalidate_range_start ×1 from 0',
      'dev:nic0 invalidate_range ×2 from 0', 'dev:iommu0 invalidate_range ×2 from 0',
      'dev:nic0 invalidate_range_end ×1 from 0', 'dev:iommu0 invalidate_range_end ×1 from 0',
    ]);
  });
});

describe('the timeline and the workers', () => {
  it('is the same whether the accesses run on this thread or on two workers (phases are the trace\'s, not the machine\'s)', async () => {
    const f = join(SCENARIO_DIR, 'clean-migration-storm.jsonl');
    const here = await replayTraceWithTimeline(readTrace(f), f, { kernel: 'v4.4' });
    const there = await replayTraceWithTimeline(readTrace(f), f, { kernel: 'v4.4', workers: 2, workerThreshold: 0 });
    expect(there.replay!.schedule().workerPhases).toBeGreaterThan(0);
    expect(here.report.timeline.items.length).toBeGreaterThan(100);
    expect(JSON.stringify(there.report.timeline)).toBe(JSON.stringify(here.report.timeline));
  });
});
