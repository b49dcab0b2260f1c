// The replay and its command line (docs/trace-format.md: "Parking an operation in the middle", "Expectations", "The command"):
// parking and waiting, what a bad trace does to the report and the exit status, and the founding
// scenario through `mmuwasm replay` as a user runs it.
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { replayFile } from '../src/node/replay-file.ts';

const dir = mkdtempSync(join(tmpdir(), 'mmuwasm-replay-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
function trace(...lines: object[]): string {
  const path = join(dir, `t${++n}.jsonl`);
  writeFileSync(path, [{ format: 'mmuwasm-trace', version: 1, cpus: 3 }, ...lines].map((l) => JSON.stringify(l)).join('\n') + '\n');
  return path;
}

// Two processes sharing one GiB of a hugetlbfs file at a PUD-aligned address, both touched.
const SHARED = [
  { op: 'hugetlbfs', file: 'F', size: '1G', pagesize: '2M' },
  { op: 'mm', mm: 'A' },
  { op: 'mm', mm: 'B' },
  { op: 'switch', cpu: 0, mm: 'A' },
  { op: 'switch', cpu: 1, mm: 'B' },
  { op: 'mmap', cpu: 0, va: '0x40000000', len: '1G', prot: 'rw', flags: 'shared', file: 'F', offset: 0 },
  { op: 'mmap', cpu: 1, va: '0x40000000', len: '1G', prot: 'rw', flags: 'shared', file: 'F', offset: 0 },
  { op: 'access', cpu: 0, va: '0x40000000', rw: 'w' },
  { op: 'access', cpu: 1, va: '0x40000000', rw: 'w' },
]; // lines 2..10

describe('replay', () => {
  it('an access to a page under migration waits for it; a CPU that runs nothing is a bad trace even then', async () => {
    const { report, status } = await replayFile(trace(
      ...SHARED,
      { op: 'migrate', cpu: 0, va: '0x40000000', id: 'm', until: 'copy' }, // 11
      { op: 'access', cpu: 1, va: '0x40000000', rw: 'w' }, // 12: waits (v6.18 flushed B)
      { op: 'access', cpu: 1, va: '0x40200000', rw: 'w' }, // 13: behind 12
      { op: 'access', cpu: 2, va: '0x40200000', rw: 'r' }, // 14: CPU 2 runs nothing: a bad trace? no — runs now
      { op: 'resume', id: 'm' }, // 15
    ), { kernel: 'v6.18' });
    expect(report.error?.message).toBe('field "cpu": CPU 2 runs no address space (switch it to one first)');
    expect(report.error?.line).toBe(14);
    expect(status).toBe(2);
    expect(report.waited).toEqual([{ line: 12, behind: 11, reason: 'the page at 0x40000000 is being migrated' }]);
  });

  it('runs waiting events inside the resume that completes the operation, in written order', async () => {
    const { report, status } = await replayFile(trace(
      ...SHARED,
      { op: 'migrate', cpu: 0, va: '0x40000000', id: 'm', until: 'copy' }, // 11
      { op: 'access', cpu: 1, va: '0x40000000', rw: 'w' }, // 12
      { op: 'access', cpu: 1, va: '0x40200000', rw: 'w' }, // 13
      { op: 'resume', id: 'm' }, // 14
      { op: 'expect', violations: 0 }, // 15
    ), { kernel: 'v6.18' });
    expect(status).toBe(0);
    expect(report.complete).toBe(true);
    expect(report.waited.map((w) => w.line)).toEqual([12]);
    expect(report.accesses).toBe(4);
    expect(report.expectations).toEqual([{ line: 15, ok: true, applies: true, text: '0 violations so far' }]);
  });

  it('a trace without expectations that finds a violation exits 1', async () => {
    const { report, status } = await replayFile(trace(
      ...SHARED,
      { op: 'migrate', cpu: 0, va: '0x40000000', id: 'm', until: 'remap' },
      { op: 'access', cpu: 1, va: '0x40000000', rw: 'w' },
      { op: 'resume', id: 'm' },
    ), { kernel: 'v4.4' });
    expect(status).toBe(1);
    expect(report.violations.map((v) => [v.kind, v.cpu, v.mm, v.va, v.line, v.fix])).toEqual([
      ['lost-write', 1, 'B', '0x40000000', 12, '017b1660df89'],
      ['stale-tlb', 1, 'B', '0x40000000', 13, '017b1660df89'],
    ]);
  });

  it('a failed expectation exits 1 and says which', async () => {
    const { report, status } = await replayFile(trace(...SHARED, { op: 'expect', violation: 'lost-write' }), { kernel: 'v4.4' });
    expect(status).toBe(1);
    expect(report.expectations).toEqual([{ line: 11, ok: false, applies: true, text: 'a lost-write violation' }]);
  });

  it.each([
    [[{ op: 'switch', cpu: 0, mm: 'Z' }], 2, 'mm', "no address space named 'Z'"],
    [[{ op: 'mm', mm: 'A' }, { op: 'mm', mm: 'A' }], 3, 'mm', "an address space named 'A' exists already"],
    [[{ op: 'resume', id: 'x' }], 2, 'id', "no operation is parked with id 'x'"],
    [[...SHARED, { op: 'munmap', cpu: 0, va: '0x40001000', len: '2M' }], 11, undefined, 'the kernel refuses this'],
    [[...SHARED, { op: 'migrate', cpu: 0, va: '0x40000000', id: 'm', until: 'remap' }], 11, 'until', "operation 'm' (migrate) is still parked at the end of the trace (add a resume)"],
    [[...SHARED, { op: 'migrate', cpu: 0, va: '0x40000000', id: 'm', until: 'remap' }, { op: 'resume', id: 'm', until: 'copy' }], 12, 'until', "operation 'm' is parked before \"remap\": it can only run on to a later step"],
    [[{ op: 'device_access', device: 'nic', va: 0, rw: 'r' }], 2, 'device', "no device named 'nic'"],
  ])('bad trace %#: exit 2 naming the line, the report keeps what ran before', async (events, line, field, message) => {
    const path = trace(...(events as object[]));
    const { report, status } = await replayFile(path, { kernel: 'v6.18' });
    expect(status).toBe(2);
    expect(report.complete).toBe(false);
    expect(report.error?.file).toBe(path);
    expect(report.error?.line).toBe(line);
    expect(report.error?.message).toContain(message);
    if (field) expect(report.error?.message.startsWith(`field "${field}": `)).toBe(true);
    expect(report.events).toBe(events.length < 2 ? events.length : (line as number) - 1);
  });

  it('migrating where nothing is mapped is no error: the kernel skips it, the report notes it, a resume still finds it', async () => {
    const { report, status } = await replayFile(trace(
      ...SHARED,
      { op: 'migrate', cpu: 0, va: '0x40400000', id: 'm', until: 'copy' },
      { op: 'resume', id: 'm' },
      { op: 'expect', violations: 0 },
    ), { kernel: 'v4.19' });
    expect(status).toBe(0);
    expect(report.notes).toContainEqual({ line: 11, text: 'migrate: no page is present there; the kernel skips it' });
  });

  it('a page another migration holds is skipped, not migrated twice', async () => {
    const { report, status } = await replayFile(trace(
      ...SHARED,
      { op: 'migrate', cpu: 0, file: 'F', offset: 0, id: 'm', until: 'copy' }, // 11
      { op: 'migrate', cpu: 1, file: 'F', offset: 0 }, // 12
      { op: 'resume', id: 'm' },
      { op: 'expect', violations: 0 },
    ), { kernel: 'v6.1' });
    expect(report.error).toBeUndefined();
    expect(status).toBe(0);
    expect(report.notes.map((n) => [n.line, n.text])).toContainEqual([12, 'migrate: the page at 0x400000000 is being migrated by the operation of line 11; the kernel skips it']);
  });

  it('capacity mode evicts: the same trace walks more, faults the same, and the report says the oracle may miss', async () => {
    // 1024 pages written, read again (they fit the 1536-entry STLB), 2048 other pages read, then the
    // first 1024 again: evicted by then in capacity mode, still cached in retentive mode.
    const events: object[] = [{ op: 'mm', mm: 'A' }, { op: 'switch', cpu: 0, mm: 'A' },
      { op: 'mmap', cpu: 0, va: '0x10000000', len: '4M', prot: 'rw', flags: 'private' },
      { op: 'accesses', cpu: 0, va: '0x10000000', len: '4M', count: 1024, pattern: 'stride', stride: '4K', write: 1 },
      { op: 'accesses', cpu: 0, va: '0x10000000', len: '4M', count: 1024, pattern: 'stride', stride: '4K' },
      { op: 'mmap', cpu: 0, va: '0x20000000', len: '8M', prot: 'rw', flags: 'private' },
      { op: 'accesses', cpu: 0, va: '0x20000000', len: '8M', count: 2048, pattern: 'stride', stride: '4K' },
      { op: 'accesses', cpu: 0, va: '0x10000000', len: '4M', count: 1024, pattern: 'stride', stride: '4K' },
      { op: 'expect', violations: 0 }];
    const path = trace(...events);
    const ret = await replayFile(path, { kernel: 'v6.18' });
    const cap = await replayFile(path, { kernel: 'v6.18', tlbMode: 'capacity' });
    type St = { tlb: { walks: number; pageFaults: number } };
    expect([ret.status, cap.status]).toEqual([0, 0]);
    expect((cap.report.stats as St).tlb.pageFaults).toBe((ret.report.stats as St).tlb.pageFaults);
    expect((cap.report.stats as St).tlb.walks).toBeGreaterThan((ret.report.stats as St).tlb.walks + 512);
    expect(cap.report.notes[0].text).toMatch(/^TLBs in capacity mode/);
    expect(ret.report.notes).toEqual([]);
  });

  it('refuses a fix combination the kernel cannot have, naming the header line', async () => {
    const { report, status } = await replayFile(trace({ op: 'mm', mm: 'A' }), { kernel: 'v4.4', fixes: { '5f32b265400d': true } });
    expect(status).toBe(2);
    expect(report.error).toEqual({
      file: join(dir, `t${n}.jsonl`), line: 1,
      message: 'fix 5f32b265400d (mm/mmu_notifier: kill invalidate_page) needs fix 369ea8242c0f (mm/rmap: update to new mmu_notifier semantic v2), which is off in this replay',
    });
  });

  // CPU 1 ran A (and cached a page of it), then B; it is switched back to A and the switch parks.
  const SWITCHING = [
    { op: 'mm', mm: 'A' },
    { op: 'mm', mm: 'B' },
    { op: 'switch', cpu: 0, mm: 'A' },
    { op: 'mmap', cpu: 0, va: '0x10000000', len: '64K', prot: 'rw', flags: 'private' },
    { op: 'switch', cpu: 1, mm: 'A' },
    { op: 'access', cpu: 1, va: '0x10001000', rw: 'w' },
    { op: 'switch', cpu: 1, mm: 'B' }, // 8
    { op: 'switch', cpu: 1, mm: 'A', id: 's', until: 'cr3' }, // 9
  ];

  it('a parked switch holds its CPU: its later events run after the resume, the first one listed as waiting', async () => {
    const path = trace(
      ...SWITCHING,
      { op: 'access', cpu: 1, va: '0x10001000', rw: 'r' }, // 10: waits for the switch
      { op: 'access', cpu: 1, va: '0x10002000', rw: 'w' }, // 11: behind 10
      { op: 'madvise', cpu: 0, va: '0x10001000', len: '4K', advice: 'dontneed' }, // 12: runs now
      { op: 'resume', id: 's', until: 'loaded' }, // 13: still parked
      { op: 'resume', id: 's' }, // 14: the switch ends; lines 10 and 11 run
    );
    const reason = 'CPU 1 is inside switch_mm_irqs_off with interrupts off: the switch of line 9 is parked before "cr3"';
    // A trace without expectations exits 1 when it finds a violation.
    for (const [fixes, kinds, exit] of [[{}, [], 0], [{ fea4e317f9e7: false }, ['use-after-free@10'], 1]] as const) {
      const { report, status } = await replayFile(path, { kernel: 'v6.18', fixes });
      expect(status, JSON.stringify(fixes)).toBe(exit);
      expect(report.waited).toEqual([{ line: 10, behind: 9, reason }]);
      expect(report.violations.map((v) => `${v.kind}@${v.line}`)).toEqual(kinds);
      expect(report.accesses).toBe(3);
    }
  });

  it('a switch parked at the end of the trace is an error; a switch has the steps cr3 and loaded', async () => {
    const parked = await replayFile(trace(...SWITCHING), { kernel: 'v6.18' });
    expect(parked.status).toBe(2);
    expect(parked.report.error?.message).toBe('field "until": operation \'s\' (switch) is still parked at the end of the trace (add a resume)');
    const bad = await replayFile(trace({ op: 'mm', mm: 'A' }, { op: 'switch', cpu: 1, mm: 'A', id: 's', until: 'zap' }), { kernel: 'v6.18' });
    expect(bad.report.error?.message).toBe('field "until": "zap" is not a step of switch (steps: cr3, loaded)');
    const idle = await replayFile(trace({ op: 'idle', cpu: 1, id: 'i' }), { kernel: 'v6.18' });
    expect(idle.report.error?.message).toBe('field "id": unknown field for "idle" (this op cannot be parked: it has no steps)');
  });

  it('an exit of the address space a parked switch enters waits for that switch', async () => {
    const { report, status } = await replayFile(trace(
      ...SWITCHING,
      { op: 'exit', cpu: 0 }, // 10: A's exit waits for the switch of line 9
      { op: 'resume', id: 's' }, // 11
    ), { kernel: 'v6.18' });
    expect(status).toBe(0);
    expect(report.waited).toEqual([{ line: 10, behind: 9, reason: 'CPU 1 is switching to A (the switch of line 9)' }]);
    expect(report.violations).toEqual([]);
  });
});

describe('mmuwasm replay (the command)', () => {
  const bin = join(import.meta.dirname, '..', 'bin', 'mmuwasm.mjs');
  const run = (...args: string[]) => spawnSync(process.execPath, [bin, 'replay', ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  const founding = join(import.meta.dirname, '..', 'scenarios', 'b1-shared-pmd-migration.jsonl');

  it('v4.4: reports the lost write with its explanation, and the expectation holds (exit 0)', () => {
    const out = join(dir, 'v44.json');
    const r = run(founding, '--kernel', 'v4.4', '--json', out);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('lost-write line 23, CPU 1, B 0x40000000 [fix 017b1660df89: mm: migration: fix migration of huge PMD shared pages]');
    const report = JSON.parse(readFileSync(out, 'utf8'));
    expect(report).toMatchObject({ complete: true, kernel: 'v4.4', events: 14, accesses: 3 });
    expect(report.fixes['017b1660df89']).toBe(false);
    expect(report.violations[0]).toMatchObject({ kind: 'lost-write', cpu: 1, mm: 'B', va: '0x40000000', line: 23, fix: '017b1660df89' });
    expect(report.violations[0].detail).toMatch(/while migration \(line 22\) was copying that frame: the new copy will not have the write\. Why: .*fix 017b1660df89/);
    expect(report.expectations.map((e: { line: number; ok: boolean }) => [e.line, e.ok])).toEqual([[25, true], [26, true]]);
  });

  it('v4.19 reports nothing; --fix 017b1660df89=off brings the bug back', () => {
    const clean = run(founding, '--kernel', 'v4.19', '--json', '-', '--quiet');
    expect(clean.status).toBe(0);
    expect(JSON.parse(clean.stdout).violations).toEqual([]);
    const without = run(founding, '--kernel', 'v4.19', '--fix', '017b1660df89=off', '--json', '-', '--quiet');
    expect(without.status).toBe(0);
    expect(JSON.parse(without.stdout).violations.map((v: { kind: string }) => v.kind)).toContain('lost-write');
  });

  it('a bad line: exit 2, the message names file, line and field, the JSON report is partial', () => {
    const path = join(dir, 'bad.jsonl');
    writeFileSync(path, readFileSync(founding, 'utf8').replace('{"op":"resume","id":"m"}', '{"op":"resume","id":"m","when":"now"}'));
    const out = join(dir, 'bad.json');
    const r = run(path, '--kernel', 'v4.4', '--json', out, '--quiet');
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toBe(`mmuwasm replay: ${path}:24: field "when": unknown field for "resume"`);
    const report = JSON.parse(readFileSync(out, 'utf8'));
    expect(report.complete).toBe(false);
    expect(report.events).toBe(11);
    expect(report.violations.map((v: { kind: string }) => v.kind)).toEqual(['lost-write']);
    expect(report.error).toEqual({ file: path, line: 24, message: 'field "when": unknown field for "resume"' });
  });

  it('usage errors exit 2', () => {
    expect(run().status).toBe(2);
    expect(run(founding, '--kernel', 'v9.9').stderr).toBe("mmuwasm replay: --kernel: unknown profile 'v9.9' (profiles: v4.4, v4.19, v5.16, v6.1, v6.18)\n");
    expect(run(founding, '--fix', '017b1660df89').status).toBe(2);
    expect(run(founding, '--frobnicate').stderr).toContain("unknown option '--frobnicate'");
  });
});
