// The explorer (docs/trace-format.md, "Concurrent blocks and exploration"): the schedules of a block within
// the preemption bound, findings grouped by cause with their smallest schedule written down as a
// plain trace that the replay reproduces, the reduction, and shards that merge into one run's report.
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { exploreLines } from '../src/explore/parallel.ts';
import { parseTrace } from '../src/trace/parser.ts';
import { replayTrace } from '../src/replay/replay-trace.ts';
import { exploreTrace, mergeReports, readExploreTrace, causeOf, type ExploreReport } from '../src/explore/explore.ts';
import { countSchedules, enumerateSchedules, scheduleKey } from '../src/explore/schedules.ts';
import { ScheduleRunner } from '../src/explore/runner.ts';
import { resolveSchedule, resolvedText } from '../src/explore/resolve.ts';

const B1 = join(import.meta.dirname, '..', 'scenarios', 'explore', 'b1-shared-pmd-migration.jsonl');
const B12 = join(import.meta.dirname, '..', 'scenarios', 'explore', 'b12-switch-mm-window-skipped-flush.jsonl');
const lines = (path: string) => readFileSync(path, 'utf8').split('\n');
const withoutTiming = (r: ExploreReport) => ({ ...r, stats: { ...r.stats, seconds: 0, schedulesPerSecond: 0 } });

/** Two processes that share nothing: A unmaps a page on CPU 0 while B writes its own memory on CPU 1. */
const UNRELATED = [
  '{"format":"mmuwasm-trace","version":1,"cpus":3}',
  '{"op":"mm","mm":"A"}', '{"op":"mm","mm":"B"}',
  '{"op":"switch","cpu":0,"mm":"A"}', '{"op":"switch","cpu":1,"mm":"B"}', '{"op":"switch","cpu":2,"mm":"A"}',
  '{"op":"mmap","cpu":0,"va":"0x10000000","len":"64K","prot":"rw","flags":"private"}',
  '{"op":"mmap","cpu":1,"va":"0x10000000","len":"64K","prot":"rw","flags":"private"}',
  '{"op":"access","cpu":0,"va":"0x10000000","rw":"w"}', '{"op":"access","cpu":2,"va":"0x10000000","rw":"w"}',
  '{"op":"concurrent"}',
  '{"op":"munmap","cpu":0,"va":"0x10000000","len":"4K"}',
  '{"op":"access","cpu":1,"va":"0x10001000","rw":"w"}',
  '{"op":"access","cpu":2,"va":"0x10000000","rw":"r"}',
  '{"op":"join"}',
];

/** The founding block with a third process beside it that shares nothing with A and B. */
const B1_AND_C = lines(B1).filter((l) => l.startsWith('{')).flatMap((l) => {
  if (l.includes('"format"')) return [l.replace('"cpus":2', '"cpus":3')];
  if (l === '{"op":"mm","mm":"B"}') return [l, '{"op":"mm","mm":"C"}', '{"op":"switch","cpu":2,"mm":"C"}', '{"op":"mmap","cpu":2,"va":"0x10000000","len":"8K","prot":"rw","flags":"private"}'];
  if (l === '{"op":"join"}') return ['{"op":"access","cpu":2,"va":"0x10000000","rw":"w"}', l];
  return [l];
});

describe('concurrent blocks in the replay', () => {
  it('a block trace is a plain trace: replay runs the block in written order', async () => {
    const { report, status } = await replayTrace(parseTrace(lines(B1), 'b1'), 'b1', { kernel: 'v4.4' });
    expect(report.error).toBeUndefined();
    expect(status).toBe(1);
    expect(report.violations.map((v) => `${v.kind}@${v.line}`)).toEqual(['stale-tlb@17', 'use-after-free@18']);
    const fixed = await replayTrace(parseTrace(lines(B1), 'b1'), 'b1', { kernel: 'v4.19' });
    expect([fixed.status, fixed.report.violations]).toEqual([0, []]);
  });
});

describe('schedules', () => {
  it('the founding block has 24 schedules within 2 preemptions: 2 without, 6 with one, 16 with two', () => {
    const t = readExploreTrace(lines(B1), 'b1');
    const all = [...enumerateSchedules(t.blocks[0], { preemptions: 2 })];
    expect(all.length).toBe(24);
    expect(new Set(all.map(scheduleKey)).size).toBe(24);
    const byK = [0, 1, 2].map((k) => all.filter((s) => s.filter((g) => g.until).length === k).length);
    expect(byK).toEqual([2, 6, 16]);
    expect([0, 1].map((k) => countSchedules(t.blocks[0], { preemptions: k }, 1000))).toEqual([2, 8]);
    // A pause always lets the other thread run before its own thread goes on.
    for (const s of all) for (let i = 1; i < s.length; i++) if (s[i - 1].until) expect(s[i].thread).not.toBe(s[i - 1].thread);
  });

  it('a switch may pause inside switch_mm_irqs_off, before cr3 or loaded, and the written schedule parks it there', async () => {
    const t = readExploreTrace(lines(B12), 'b12');
    expect(t.blocks[0].threads.map((th) => [th.name, th.events.map((e) => e.steps)])).toEqual([
      ['cpu0', [['zap', 'unlock', 'flush', 'free']]],
      ['cpu1', [['cr3', 'loaded']]],
    ]);
    const pauses = [...enumerateSchedules(t.blocks[0], { preemptions: 1 })]
      .filter((s) => s[0].thread === 1 && s[0].until !== undefined)
      .map(scheduleKey);
    expect(pauses).toEqual(['1.0>cr3 0.0 1.0r', '1.0>loaded 0.0 1.0r']);
    const written = resolveSchedule(t, 0, [{ thread: 1, event: 0, start: true, until: 'loaded' }, { thread: 0, event: 0, start: true }, { thread: 1, event: 0, start: false }]);
    const again = await replayTrace(parseTrace(resolvedText(t, written, 'v6.18', { fea4e317f9e7: false }, []).split('\n'), 'b12'), 'b12', {});
    expect(again.report.violations.map((v) => `${v.kind} cpu${v.cpu} ${v.fix}`)).toEqual(['use-after-free cpu1 fea4e317f9e7']);
  });
});

describe('the schedule runner', () => {
  it('one machine reset between schedules reports exactly what a new replay of each written schedule does', async () => {
    const t = readExploreTrace(B1_AND_C, 'b1c');
    const runner = await ScheduleRunner.create(t, { kernel: 'v4.4' });
    let n = 0;
    for (const s of enumerateSchedules(t.blocks[0], { preemptions: 2, reduce: false })) {
      if (n++ % 8) continue; // an eighth of them keeps it short; the runner still reuses its machine for each
      const events = resolveSchedule(t, 0, s);
      const reused = await runner.run(events);
      const fresh = await replayTrace(parseTrace(resolvedText(t, events, 'v4.4', {}, []).split('\n'), 's'), 's', {});
      expect(reused.violations).toEqual(fresh.report.violations);
      expect(reused.status).toBe(fresh.status);
    }
    await runner.close();
    expect(n).toBe(countSchedules(t.blocks[0], { preemptions: 2, reduce: false }, 1e6));
    expect(n).toBe(310);
  });
});

describe('explore', () => {
  it('finds the founding bug by itself under v4.4, and its smallest schedule replays (exit 1, the same violation)', async () => {
    const t = readExploreTrace(lines(B1), 'b1');
    const r = await exploreTrace(t, { kernel: 'v4.4' });
    expect([r.complete, r.exhaustive, r.explored, r.stats.infeasible]).toEqual([true, true, 24, 0]);
    expect(r.findings.map(causeOf)).toEqual(['lost-write 017b1660df89', 'stale-tlb 017b1660df89', 'use-after-free 017b1660df89']);
    const lost = r.findings[0];
    expect(lost.schedule).toEqual(['cpu0 migrate of line 17 (pauses before remap)', 'cpu1 access of line 18', 'cpu0 resumes migrate']);
    expect([lost.preemptions, lost.cpu, lost.mm, lost.va]).toEqual([1, 1, 'B', '0x40000000']);
    for (const f of r.findings) {
      const again = await replayTrace(parseTrace(f.trace.split('\n'), 'finding'), 'finding', {});
      expect(again.report.error).toBeUndefined();
      expect(again.status).toBe(1);
      expect(again.report.violations.some((v) => v.kind === f.kind && v.fix === f.fix && v.mm === f.mm && v.va === f.va)).toBe(true);
    }
    expect(lost.trace).toContain('{"op":"migrate","cpu":0,"va":"0x40000000","id":"cpu0.0","until":"remap"}\n{"op":"access","cpu":1,"va":"0x40000000","rw":"w"}\n{"op":"resume","id":"cpu0.0"}\n');
  });

  it('finds nothing under v4.19, nor with the fix switched on over v4.4', async () => {
    const t = readExploreTrace(lines(B1), 'b1');
    expect((await exploreTrace(t, { kernel: 'v4.19' })).findings).toEqual([]);
    expect((await exploreTrace(t, { kernel: 'v4.4', fixes: { '017b1660df89': true } })).findings).toEqual([]);
  });

  it('the reduction runs one order of steps that commute, and loses no finding the full search has', async () => {
    const t = readExploreTrace(UNRELATED, 'unrelated');
    const full = await exploreTrace(t, { kernel: 'v4.4', reduce: false });
    const reduced = await exploreTrace(t, { kernel: 'v4.4' });
    expect([full.explored, reduced.explored, reduced.stats.pruned]).toEqual([310, 69, 241]);
    expect(reduced.explored + reduced.stats.pruned).toBe(full.explored);
    expect(reduced.findings.map(causeOf)).toEqual(full.findings.map(causeOf));
    for (const kernel of ['v4.4', 'v4.19']) {
      const b1c = readExploreTrace(B1_AND_C, 'b1c');
      const a = await exploreTrace(b1c, { kernel, reduce: false, preemptions: 1 });
      const b = await exploreTrace(b1c, { kernel, preemptions: 1 });
      expect(b.stats.pruned).toBe(a.explored - b.explored);
      expect(b.explored).toBeLessThan(a.explored);
      expect(b.findings.map(causeOf)).toEqual(a.findings.map(causeOf));
      expect(b.findings.map((f) => [f.preemptions, f.events])).toEqual(a.findings.map((f) => [f.preemptions, f.events]));
      expect(a.findings.length).toBe(kernel === 'v4.4' ? 3 : 0);
    }
  });

  it('shards are disjoint and merge into exactly the report of one run', async () => {
    const t = readExploreTrace(lines(B1), 'b1');
    const one = await exploreTrace(t, { kernel: 'v4.4' });
    const parts = [];
    for (let i = 0; i < 3; i++) parts.push(await exploreTrace(t, { kernel: 'v4.4', shard: { index: i, count: 3 } }));
    expect(parts.map((p) => p.explored)).toEqual([8, 8, 8]);
    expect(withoutTiming(mergeReports(parts))).toEqual(withoutTiming(one));
  });

  it('stopped (Ctrl-C), it keeps what it explored and says it is not complete', async () => {
    const t = readExploreTrace(lines(B1), 'b1');
    const abort = new AbortController();
    const r = await exploreTrace(t, { kernel: 'v4.4', signal: abort.signal, onSchedule: (n) => n === 10 && abort.abort() });
    expect([r.complete, r.explored]).toEqual([false, 10]);
    // Schedule 7 (the lost write with one preemption) was among them.
    expect(r.findings.find((f) => f.kind === 'lost-write')?.number).toBe(7);
  });

  it('over the budget it samples with PCT from the seed, says so, and samples the same schedules again', async () => {
    const t = readExploreTrace(lines(B1), 'b1');
    const a = await exploreTrace(t, { kernel: 'v4.4', schedules: 10, seed: 5 });
    const b = await exploreTrace(t, { kernel: 'v4.4', schedules: 10, seed: 5 });
    expect([a.exhaustive, a.explored]).toEqual([false, 10]);
    expect(withoutTiming(a)).toEqual(withoutTiming(b));
  });
});

describe('workers', () => {
  it('the report is the same on 1, 2 and 3 worker threads, and for a shard', async () => {
    const text = lines(B1);
    const one = await exploreLines(text, 'b1', { kernel: 'v4.4', workers: 1 });
    const two = await exploreLines(text, 'b1', { kernel: 'v4.4', workers: 2, schedulesPerWorker: 1 });
    const three = await exploreLines(text, 'b1', { kernel: 'v4.4', workers: 3, schedulesPerWorker: 1 });
    expect(withoutTiming(two)).toEqual(withoutTiming(one));
    expect(withoutTiming(three)).toEqual(withoutTiming(one));
    const shard = await exploreLines(text, 'b1', { kernel: 'v4.4', workers: 2, schedulesPerWorker: 1, shard: { index: 1, count: 2 } });
    expect(withoutTiming(shard)).toEqual(withoutTiming(await exploreLines(text, 'b1', { kernel: 'v4.4', shard: { index: 1, count: 2 } })));
  });
});

describe('mmuwasm explore and bisect (the commands)', () => {
  const bin = join(import.meta.dirname, '..', 'bin', 'mmuwasm.mjs');
  const mm = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  const dir = mkdtempSync(join(tmpdir(), 'mmuwasm-explore-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('explore: exit 1 with the findings under v4.4, each written with --out and replaying (exit 1); exit 0 under v4.19', () => {
    const out = join(dir, 'out');
    const r = mm('explore', B1, '--kernel', 'v4.4,v4.19', '--out', out, '--json', join(dir, 'r.json'), '--workers', '1');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('smallest schedule (1 preemption): cpu0 migrate of line 17 (pauses before remap); cpu1 access of line 18; cpu0 resumes migrate');
    const doc = JSON.parse(readFileSync(join(dir, 'r.json'), 'utf8'));
    expect(doc.reports.map((x: ExploreReport) => [x.kernel, x.explored, x.exhaustive, x.findings.length])).toEqual([['v4.4', 24, true, 3], ['v4.19', 24, true, 0]]);
    expect(doc.reports[0].findings[0]).toMatchObject({ kind: 'lost-write', fix: '017b1660df89', cpu: 1, mm: 'B', va: '0x40000000', preemptions: 1 });
    const again = mm('replay', join(out, 'v4.4-1-lost-write-017b1660df89.jsonl'), '--json', '-', '--quiet');
    expect(again.status).toBe(1);
    expect(JSON.parse(again.stdout).violations.map((v: { kind: string }) => v.kind)).toContain('lost-write');
    expect(mm('explore', B1, '--kernel', 'v4.19', '--quiet').status).toBe(0);
  });

  it('explore merge of the shards gives the report of one run', () => {
    const parts = [0, 1, 2].map((i) => {
      const p = join(dir, `s${i}.json`);
      expect(mm('explore', B1, '--kernel', 'v4.4', '--shard', `${i}/3`, '--json', p, '--quiet').status).toBe(1);
      return p;
    });
    const merged = mm('explore', 'merge', ...parts, '--json', '-', '--quiet');
    expect(merged.status).toBe(1);
    const one = mm('explore', B1, '--kernel', 'v4.4', '--json', '-', '--quiet');
    expect(withoutTiming(JSON.parse(merged.stdout))).toEqual(withoutTiming(JSON.parse(one.stdout)));
    expect(mm('explore', 'merge', parts[0], parts[1], '--quiet').status).toBe(2);
  });

  it('bisect names the fix that changes the verdict, with its title', () => {
    const r = mm('bisect', B1, '--good', 'v6.18', '--bad', 'v4.4');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('the verdict changes with fix 017b1660df89 (v4.19): mm: migration: fix migration of huge PMD shared pages');
    const b3 = mm('bisect', join(import.meta.dirname, '..', 'scenarios', 'b3-munmap-unshare-no-flush.jsonl'), '--good', 'v6.18', '--bad', 'v4.19');
    expect(b3.stdout).toContain('the verdict changes with fix a4a118f2eead (v5.16): hugetlbfs: flush TLBs correctly after huge_pmd_unshare');
  });

  it('bad input and usage exit 2, naming the file and line', () => {
    const bad = join(dir, 'bad.jsonl');
    writeFileSync(bad, readFileSync(B1, 'utf8').replace('{"op":"join"}', '{"op":"expect","violations":0}\n{"op":"join"}'));
    const r = mm('explore', bad);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`${bad}:19: field "op": "expect" is not allowed inside the concurrent block of line 16`);
    expect(mm('explore').status).toBe(2);
    expect(mm('explore', B1, '--shard', '3/3').stderr).toContain('--shard takes I/N with 0 <= I < N');
    expect(mm('explore', B1, '--kernel', 'v9').status).toBe(2);
    expect(mm('explore', join(import.meta.dirname, '..', 'scenarios', 'b1-shared-pmd-migration.jsonl')).stderr).toContain('no concurrent block to explore');
    expect(mm('bisect', B1, '--good', 'v6.18').status).toBe(2);
    // An event the replay refuses as written is bad input too, named by its line of the explored trace.
    const idle = join(dir, 'idle-cpu.jsonl');
    writeFileSync(idle, readFileSync(B1, 'utf8').replace('"cpus":2', '"cpus":3').replace('{"op":"join"}', '{"op":"access","cpu":2,"va":"0x40000000","rw":"r"}\n{"op":"join"}'));
    const r2 = mm('explore', idle, '--kernel', 'v4.4', '--workers', '1');
    expect(r2.status).toBe(2);
    expect(r2.stderr).toContain(`${idle}:19: field "cpu": CPU 2 runs no address space`);
  });
});
