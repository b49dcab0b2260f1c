// `mmuwasm record` (docs/record.md) and replay's fidelity (docs/fidelity.md): the tracefs text
// parser and the converter on hand-written records; `observed` and `recorded` checked like every
// field; the comparison and --fidelity strict; and, as root on a machine with tracefs and huge pages,
// the suite of real C programs in test/programs recorded on this kernel and replayed, every mismatch
// one that docs/fidelity.md explains, and every change to the machine undone — also on failure and SIGINT.
import { afterAll, describe, expect, it, vi } from 'vitest';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { spawn, spawnSync } from 'node:child_process';
import { parseTraceLine } from '../src/workloads/tracefs.ts';
import { TraceConverter, profileForRelease } from '../src/workloads/record-trace.ts';
import { NR_HUGEPAGES, recordingLines, recordPrerequisites, recordProgram } from '../src/workloads/record.ts';
import { parseTrace } from '../src/trace/parser.ts';
import { replayFile } from '../src/node/replay-file.ts';
import { runReplay } from '../src/cli/replay.ts';
import { argsOf } from '../src/cli/commands.ts';
import type { FidelityMismatch } from '../src/replay/fidelity.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'mmuwasm-record-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
function file(lines: string[]): string {
  const path = join(dir, `t${++n}.jsonl`);
  writeFileSync(path, lines.join('\n') + '\n');
  return path;
}
const H = '{"format":"mmuwasm-trace","version":1,"cpus":2,"kernel":"v6.18"}';

describe('tracefs text', () => {
  it('reads records, the syscall call and return forms, and skips the header comments', () => {
    expect(parseTraceLine('# tracer: nop', 1)).toBeUndefined();
    expect(parseTraceLine('     memfd:sealed-91-11159   [000] d..2.   744.922613: sched_switch: prev_comm=memfd:sealed-91 prev_pid=11159 prev_prio=120 prev_state=S ==> next_comm=bash next_pid=18934 next_prio=120', 2))
      .toMatchObject({ comm: 'memfd:sealed-91', pid: 11159, cpu: 0, event: 'sched_switch' });
    expect(parseTraceLine('              hs-29941   [000] .....  1198.224858: sys_mmap(addr: 0x0, len: 0x40000000, prot: 3, flags: 0x4001, fd: 3, off: 0)', 3))
      .toMatchObject({ pid: 29941, event: 'sys_enter_mmap', args: 'addr: 0x0, len: 0x40000000, prot: 3, flags: 0x4001, fd: 3, off: 0' });
    expect(parseTraceLine('              hs-29941   [001] .....  1198.224859: sys_mmap -> 0x40000000', 4)).toMatchObject({ cpu: 1, event: 'sys_exit_mmap', args: '0x40000000' });
    expect(() => parseTraceLine('garbage', 9)).toThrow(/tracefs line 9 is not a trace record/);
  });

  it('names the profile nearest to the release', () => {
    const p = ['v4.4', 'v4.19', 'v5.16', 'v6.1', 'v6.18'];
    expect(profileForRelease('6.18.44-fc-v1272', p)).toBe('v6.18');
    expect(profileForRelease('6.8.0-45-generic', p)).toBe('v6.1');
    expect(profileForRelease('5.4.0', p)).toBe('v4.19');
  });
});

/** A converter fed with tracefs lines of a process 100 (CPU 0) and its thread 101 (CPU 1). */
function convert(lines: string[]) {
  const c = new TraceConverter(2, 100);
  lines.forEach((l, i) => {
    const r = parseTraceLine(l, i + 1);
    if (r) c.add(r);
  });
  return c.result();
}
const rec = (pid: number, cpu: number, body: string) => `  prog-${pid}   [00${cpu}] d..1.  10.${String(++n).padStart(6, '0')}: ${body}`;

describe('from tracefs records to trace events', () => {
  const lines = [
    rec(99, 0, 'sched_switch: prev_comm=x prev_pid=99 prev_prio=120 prev_state=S ==> next_comm=prog next_pid=100 next_prio=120'),
    rec(100, 0, 'sched_process_exec: filename=/prog pid=100 old_pid=100'),
    rec(100, 0, 'sys_memfd_create(uname: 0x4a0000, flags: 4)'),
    rec(100, 0, 'sys_memfd_create -> 0x3'),
    rec(100, 0, 'sys_ftruncate(fd: 3, length: 0x40000000)'),
    rec(100, 0, 'sys_ftruncate -> 0x0'),
    rec(100, 0, 'sys_mmap(addr: 0x40000000, len: 0x40000000, prot: 3, flags: 0x4101, fd: 3, off: 0)'),
    rec(100, 0, 'sys_mmap -> 0x40000000'),
    rec(100, 0, 'page_fault_user: address=0x40000010 ip=0x401000 error_code=0x6'),
    rec(100, 0, 'sys_clone3(uargs: 0x7ffc0000, size: 0x58)'),
    rec(100, 0, 'task_newtask: pid=101 comm=prog clone_flags=3d0f00 oom_score_adj=0'),
    rec(100, 0, 'sys_clone3 -> 0x65'),
    rec(7, 1, 'sched_switch: prev_comm=swapper prev_pid=0 prev_prio=120 prev_state=R ==> next_comm=prog next_pid=101 next_prio=120'),
    rec(7, 1, 'tlb_flush: pages:-1 reason:flush on task switch (0)'),
    rec(101, 1, 'page_fault_user: address=0x40200000 ip=0x401000 error_code=0x6'),
    rec(100, 0, 'sys_munmap(addr: 0x40000000, len: 0x200000)'),
    rec(100, 0, 'tlb_flush: pages:-1 reason:remote IPI send (4)'),
    rec(100, 0, 'tlb_flush: pages:-1 reason:local MM shootdown (3)'),
    rec(101, 1, 'tlb_flush: pages:-1 reason:remote shootdown (1)'),
    rec(100, 0, 'sys_munmap -> 0x0'),
    rec(100, 0, 'sys_fallocate(fd: 3, mode: 3, offset: 0x400000, len: 0x400000)'),
    rec(100, 0, 'sys_fallocate -> 0x0'),
    rec(101, 1, 'sched_switch: prev_comm=prog prev_pid=101 prev_prio=120 prev_state=S ==> next_comm=swapper next_pid=0 next_prio=120'),
    rec(101, 1, 'sched_process_exit: comm=prog pid=101 prio=120 group_dead=false'),
    rec(100, 0, 'sys_exit_group(error_code: 0)'),
    rec(100, 0, 'sched_process_exit: comm=prog pid=100 prio=120 group_dead=true'),
    rec(100, 0, 'tlb_flush: pages:-1 reason:flush on task switch (0)'),
  ];

  it('makes the address space, the file, the syscalls, the accesses and the thread', () => {
    const c = convert(lines);
    expect(c.events.map((e) => { const { observed, ...rest } = e; return rest; })).toEqual([
      { op: 'mm', mm: 'p1' },
      { op: 'switch', cpu: 0, mm: 'p1' },
      { op: 'hugetlbfs', file: 'memfd1', size: '0x40000000', pagesize: '2M' },
      { op: 'mmap', cpu: 0, va: '0x40000000', len: '0x40000000', prot: 'rw', flags: 'shared', file: 'memfd1', offset: '0x0' },
      { op: 'access', cpu: 0, va: '0x40000010', rw: 'w' },
      { op: 'switch', cpu: 1, mm: 'p1' },
      { op: 'access', cpu: 1, va: '0x40200000', rw: 'w' },
      { op: 'munmap', cpu: 0, va: '0x40000000', len: '0x200000' },
      { op: 'fallocate', cpu: 0, file: 'memfd1', offset: '0x400000', len: '0x400000', mode: 'punch_hole' },
      { op: 'idle', cpu: 1 },
      { op: 'exit', cpu: 0 },
    ]);
    expect(c.processes).toBe(1);
    expect(c.threads).toBe(2);
  });

  it('attaches each flush to the event it happened in, the IPI handler to the sender', () => {
    const c = convert(lines);
    const obs = (op: string) => c.events.find((e) => e.op === op)!.observed;
    expect(obs('munmap')).toEqual({ flushes: [{ reason: 'remote-ipi', pages: -1 }, { reason: 'local-mm', pages: -1 }, { reason: 'remote-shootdown', pages: -1 }] });
    expect(obs('fallocate')).toEqual({ flushes: [] });
    expect(c.events[5].observed).toEqual({ flushes: [{ reason: 'task-switch', pages: -1 }] });
    // The task switch in the exit path is the exiting CPU's lazy switch to init_mm: the exit's.
    expect(obs('exit')).toEqual({ flushes: [{ reason: 'task-switch', pages: -1 }] });
    // What the recording makes up is not observed: the mm, the file, the switch at exec, the idle.
    expect(c.events.filter((e) => !e.observed).map((e) => e.op)).toEqual(['mm', 'switch', 'hugetlbfs', 'idle']);
  });

  it('writes a trace the reader accepts', () => {
    const c = convert(lines);
    const items = [...parseTrace([JSON.stringify({ format: 'mmuwasm-trace', version: 1, cpus: 2, kernel: 'v6.18', recorded: { release: '6.18.44', cpus: 2, tracer: 'tracefs' } }), ...c.events.map((e) => JSON.stringify(e))])];
    expect(items.length).toBe(c.events.length + 1);
  });
});

describe('observed and recorded in the trace format', () => {
  const bad: [string, string, RegExp][] = [
    [H, '{"op":"mm","mm":"A","observed":[]}', /field "observed": expected \{"flushes":\[…\]\}/],
    [H, '{"op":"mm","mm":"A","observed":{"flushes":[],"x":1}}', /field "observed.x": unknown field/],
    [H, '{"op":"mm","mm":"A","observed":{"flushes":[{"reason":"ipi","pages":1}]}}', /field "observed.flushes\[0\].reason": expected one of "task-switch"/],
    [H, '{"op":"mm","mm":"A","observed":{"flushes":[{"reason":"local-mm","pages":-2}]}}', /field "observed.flushes\[0\].pages": expected a whole number of pages, or -1/],
    [H, '{"op":"mm","mm":"A","observed":{"flushes":[{"reason":"local-mm","pages":1.5}]}}', /observed.flushes\[0\].pages/],
    ['{"format":"mmuwasm-trace","version":1,"cpus":2,"recorded":"yes"}', '{"op":"mm","mm":"A"}', /field "recorded": expected an object/],
    ['{"format":"mmuwasm-trace","version":1,"cpus":2,"recorded":{"cpus":2}}', '{"op":"mm","mm":"A"}', /field "recorded.release": expected a non-empty string/],
    ['{"format":"mmuwasm-trace","version":1,"cpus":2,"recorded":{"release":"6.18","cpus":0}}', '{"op":"mm","mm":"A"}', /field "recorded.cpus": expected 1 to 256/],
    ['{"format":"mmuwasm-trace","version":1,"cpus":2,"recorded":{"release":"6.18","cpus":2,"remoteFlush":"magic"}}', '{"op":"mm","mm":"A"}', /field "recorded.remoteFlush": expected "ipi" or "hypercall"/],
    ['{"format":"mmuwasm-trace","version":1,"cpus":2,"recorded":{"release":"6.18","cpus":2,"host":"x"}}', '{"op":"mm","mm":"A"}', /field "recorded.host": unknown field/],
  ];
  for (const [h, ev, why] of bad) {
    it(`refuses ${ev.length > 60 ? h : ev}`, async () => {
      const out = await replayFile(file([h, ev]));
      expect(out.status).toBe(2);
      expect(out.report.error?.message).toMatch(why);
    });
  }
});

describe('fidelity', () => {
  // One address space on CPU 0 and CPU 1: a 2 MiB munmap of touched anonymous memory flushes 512
  // pages, over the ceiling: a full flush, sent to CPU 1 which runs the mm.
  const trace = (observed: string) => [
    H,
    '{"op":"mm","mm":"A"}',
    '{"op":"switch","cpu":0,"mm":"A","observed":{"flushes":[{"reason":"task-switch","pages":-1}]}}',
    '{"op":"switch","cpu":1,"mm":"A"}',
    '{"op":"mmap","cpu":0,"va":"0x10000000","len":"2M","prot":"rw","flags":"private"}',
    '{"op":"access","cpu":0,"va":"0x10000000","rw":"w","observed":{"flushes":[]}}',
    '{"op":"access","cpu":1,"va":"0x10001000","rw":"w"}',
    `{"op":"munmap","cpu":0,"va":"0x10000000","len":"2M","observed":{"flushes":${observed}}}`,
  ];

  it('matches the flushes the kernel traced, in any order', async () => {
    const out = await replayFile(file(trace('[{"reason":"remote-shootdown","pages":-1},{"reason":"remote-ipi","pages":-1},{"reason":"local-mm","pages":-1}]')));
    expect(out.report.fidelity).toEqual({ events: 3, matching: 3, mismatches: [] });
  });

  it('reports an event whose flushes differ, with both lists', async () => {
    const out = await replayFile(file(trace('[{"reason":"local-mm","pages":2}]')));
    expect(out.report.fidelity!.matching).toBe(2);
    expect(out.report.fidelity!.mismatches).toEqual([{
      line: 8, op: 'munmap', observed: [{ reason: 'local-mm', pages: 2 }],
      model: [{ reason: 'local-mm', pages: -1 }, { reason: 'remote-ipi', pages: -1 }, { reason: 'remote-shootdown', pages: -1 }],
    }]);
  });

  it('leaves the remote handlers out when the recording says they were hypercalls', async () => {
    const t = trace('[{"reason":"remote-ipi","pages":-1},{"reason":"local-mm","pages":-1}]');
    t[0] = '{"format":"mmuwasm-trace","version":1,"cpus":2,"kernel":"v6.18","recorded":{"release":"6.18.44","cpus":2,"remoteFlush":"hypercall"}}';
    const out = await replayFile(file(t));
    expect(out.report.fidelity).toEqual({ events: 3, matching: 3, mismatches: [] });
  });

  it('survives the binary form: an access with observed stays a JSON line', async () => {
    const { convertTrace } = await import('../src/node/convert.ts');
    const text = file(trace('[{"reason":"local-mm","pages":2}]'));
    const bin = text.replace(/\.jsonl$/, '.mmtrace');
    await convertTrace(text, bin);
    const a = await replayFile(text), b = await replayFile(bin);
    expect(b.report.fidelity).toEqual(a.report.fidelity);
    expect(b.report.fidelity!.events).toBe(3);
  });

  it('--fidelity strict exits 1 on a mismatch, 0 without; the summary has the table', async () => {
    const log = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      const bad = file(trace('[{"reason":"local-mm","pages":2}]'));
      expect(await runReplay(argsOf('replay', [bad, '--workers', '1']))).toBe(0);
      expect(await runReplay(argsOf('replay', [bad, '--workers', '1', '--fidelity', 'strict']))).toBe(1);
      const good = file(trace('[{"reason":"remote-shootdown","pages":-1},{"reason":"remote-ipi","pages":-1},{"reason":"local-mm","pages":-1}]'));
      expect(await runReplay(argsOf('replay', [good, '--workers', '1', '--fidelity', 'strict']))).toBe(0);
      const text = log.mock.calls.map((c) => String(c[0])).join('');
      expect(text).toContain('fidelity: 2 of 3 observed events flush as the kernel did');
      expect(text).toContain('line 8 munmap: kernel [local-mm 2] model [local-mm all, remote-ipi all, remote-shootdown all]');
      expect(text).toContain('fidelity: 3 of 3 observed events flush as the kernel did');
    } finally {
      log.mockRestore();
    }
  });
});

describe('record without root', () => {
  it('says that it needs root', () => {
    const uid = vi.spyOn(process, 'getuid').mockReturnValue(1000);
    try {
      expect(recordPrerequisites()).toMatch(/^recording needs root: tracefs, the tracing filters and \/proc\/sys\/vm\/nr_hugepages are writable by root only/);
    } finally {
      uid.mockRestore();
    }
  });
});

// ---- the suite of real programs, recorded on this machine ----

function missingForRecording(): string | undefined {
  const m = recordPrerequisites();
  if (m) return m;
  if (spawnSync('gcc', ['--version']).status !== 0) return 'gcc is not installed (the programs are compiled at test time)';
  if (!existsSync('/usr/lib/x86_64-linux-gnu/libc.a') && spawnSync('gcc', ['-print-file-name=libc.a'], { encoding: 'utf8' }).stdout.trim() === 'libc.a') return 'the static C library (libc.a) is missing: the programs are linked statically so that no loader runs before them';
  return undefined;
}
const missing = missingForRecording();
if (missing) console.warn(`record.test.ts: the recording tests are skipped: ${missing}`);
const skipNote = missing ? ` [skipped: ${missing}]` : '';

function compile(name: string): string {
  const out = join(dir, name);
  const cc = spawnSync('gcc', ['-O1', '-static', '-pthread', '-o', out, join(root, 'test/programs', `${name}.c`)], { encoding: 'utf8' });
  if (cc.status !== 0) throw new Error(`gcc ${name}.c: ${cc.stderr}`);
  return out;
}

/** The state of the machine that a recording changes: the pool, the tracefs mounts, their mount points. */
function machineState() {
  const mounts = readFileSync('/proc/self/mounts', 'utf8').split('\n').filter((l) => l.split(' ')[2] === 'tracefs').map((l) => l.split(' ')[1]).sort();
  return {
    nrHugepages: readFileSync(NR_HUGEPAGES, 'utf8').trim(),
    tracefsMounts: mounts,
    mountPoints: readdirSync(tmpdir()).filter((d) => d.startsWith('mmuwasm-tracefs-')),
  };
}

/**
 * The explanation docs/fidelity.md gives for a mismatch, or undefined. Each class names what the
 * kernel does that the trace (or the model) does not have.
 */
function explain(m: FidelityMismatch, events: Record<string, unknown>[], f: { mismatches: FidelityMismatch[] }): string | undefined {
  const ev = events[m.line - 2];
  const pages = (l: { pages: number }[]) => l.map((f) => f.pages);
  // A write to a page the exec image or exec's stack brought in (no syscall mapped it): a COW from
  // the page cache or of a page fork shared, which the trace can only map as a fresh private page.
  if (m.op === 'access' && m.model.length === 0 && m.observed.length && pages(m.observed).every((p) => p === 1)) {
    const va = BigInt(String(ev.va));
    const implicit = events.some((e, i) => i < m.line - 2 && e.op === 'mmap' && e.prot === 'rwx' && !e.observed && BigInt(String(e.va)) <= va && va < BigInt(String(e.va)) + BigInt(String(e.len)));
    if (implicit) return 'exec-image';
  }
  // Two CPUs' writes to one COW page in one window of the replay: the model handles the lanes' faults
  // in lane order, so the copy (and its flush) can go to the other CPU's write than in the kernel.
  if (m.op === 'access') {
    const page = BigInt(String(ev.va)) >> 12n;
    const twin = f.mismatches.find((o) => o !== m && o.op === 'access' && BigInt(String(events[o.line - 2].va)) >> 12n === page
      && events[o.line - 2].cpu !== ev.cpu && o.model.length === m.observed.length && o.observed.length === m.model.length);
    if (twin) return 'fault-order';
  }
  // mprotect of exec-image pages (the RELRO segment): a page read from the page cache is mapped
  // read-only by the kernel, writable by the trace's private anonymous stand-in, so they change different entries.
  const implicitAt = (va: bigint) => events.slice(0, m.line - 2).some((e) => e.op === 'mmap' && e.prot === 'rwx' && !e.observed && BigInt(String(e.va)) <= va && va < BigInt(String(e.va)) + BigInt(String(e.len)));
  if (m.op === 'mprotect' && implicitAt(BigInt(String(ev.va)))) return 'exec-image';
  const key = (f: { reason: string; pages: number }) => `${f.reason} ${f.pages}`;
  /** What `a` has more than `b` (and what `b` has that `a` lacks), as multisets. */
  const extra = (a: { reason: string; pages: number }[], b: { reason: string; pages: number }[]) => {
    const left = b.map(key);
    const out: string[] = [];
    for (const k of a.map(key)) {
      const i = left.indexOf(k);
      if (i >= 0) left.splice(i, 1);
      else out.push(k);
    }
    return { out, missing: left };
  };
  // exit_mmap flushes twice on this kernel (a forced flush of the zap, then tlb_finish_mmu's), the
  // model once: the kernel has one more full flush — its IPI send and, on a CPU already on init_mm,
  // the wrong-CPU handler.
  const teardown = ['remote-ipi -1', 'remote-wrong-cpu 0', 'local-mm -1', 'task-switch -1'];
  if (m.op === 'exit' && [...m.observed, ...m.model].every((f) => teardown.includes(key(f)))) {
    const d = extra(m.observed, m.model);
    if (m.observed.length > m.model.length || d.out.length + d.missing.length > 0) return 'exit-second-flush';
  }
  // Who is in mm_cpumask: the kernel also trims it once a second (should_trim_cpumask, tlb.c:1334),
  // which a trace cannot time; the local flushes agree, only the IPI sends (and wrong-CPU handlers) differ.
  {
    const d = extra(m.observed, m.model);
    const remote = (k: string) => k.startsWith('remote-ipi ') || k === 'remote-wrong-cpu 0';
    if (d.out.length + d.missing.length > 0 && [...d.out, ...d.missing].every(remote)) return 'cpumask-history';
  }
  // mprotect of a hugetlb range whose PMD page was shared: the kernel flushes the whole PUD range
  // three times, the model twice (the split's unshare, then the 2 MiB range).
  const inFile = (va: bigint) => events.some((e) => e.op === 'mmap' && e.file !== undefined && BigInt(String(e.va)) <= va && va < BigInt(String(e.va)) + BigInt(String(e.len)));
  if (m.op === 'mprotect' && inFile(BigInt(String(ev.va)))) {
    const localAll = m.observed.filter((f) => key(f) === 'local-mm -1').length;
    if (localAll === 3 && m.model.some((f) => key(f) === 'local-mm 1')) return 'hugetlb-mprotect';
  }
  return undefined;
}

async function recordAndReplay(name: string, hugepages = 0) {
  const program = compile(name);
  const before = machineState();
  const rec = await recordProgram({ program: [program], hugepages, stdio: 'ignore' });
  expect(machineState()).toEqual(before);
  expect(rec.status).toBe(0);
  const path = join(dir, `${name}.jsonl`);
  writeFileSync(path, recordingLines(rec).join('\n') + '\n');
  const out = await replayFile(path, { workers: 1 });
  expect(out.report.error).toBeUndefined();
  // A violation on a recording is a finding to look at, not a failure of the recording: say where it is.
  if (out.report.violations.length) console.warn(`record.test.ts: ${name}: the replay of ${path} reports ${out.report.violations.length} violation(s): ${out.report.violations.map((v) => `${v.kind} line ${v.line}`).join(', ')}`);
  const events = rec.events as Record<string, unknown>[];
  const f = out.report.fidelity!;
  const unexplained = f.mismatches.filter((m) => !explain(m, events, f));
  expect(unexplained).toEqual([]);
  /** The fidelity of the events of one op. */
  const of = (op: string) => {
    const lines = events.map((e, i) => (e.op === op && e.observed ? i + 2 : 0)).filter(Boolean);
    const bad = new Set(f.mismatches.map((m) => m.line));
    return { events: lines.length, matching: lines.filter((l) => !bad.has(l)).length };
  };
  return { rec, report: out.report, of, events };
}

describe.skipIf(!!missing)(`real programs recorded on this kernel${skipNote}`, () => {
  it('hugetlb-shared: three processes share a PMD page; munmap, mprotect, hole punch, truncate', async () => {
    const { rec, of, events } = await recordAndReplay('hugetlb-shared', 16);
    expect(rec.processes).toBe(3);
    expect(events.filter((e) => e.op === 'mmap' && e.file === 'memfd1').length).toBe(3);
    for (const op of ['munmap', 'fallocate', 'truncate', 'fork']) {
      const o = of(op);
      expect(o.events, op).toBeGreaterThan(0);
      expect(o.matching, op).toBe(o.events);
    }
    // The partial munmap of a shared range unshares it: one full flush, as the kernel did.
    const unmap = events.find((e) => e.op === 'munmap' && e.va === '0x40c00000')!;
    expect((unmap.observed as { flushes: { pages: number }[] }).flushes.map((x) => x.pages)).toContain(-1);
  }, 60_000);

  it('anon-threads: flushes of MADV_DONTNEED, MADV_FREE, mprotect and mremap reach the other CPU', async () => {
    const { rec, of, events } = await recordAndReplay('anon-threads');
    expect(rec.threads).toBe(2);
    for (const op of ['madvise', 'mprotect', 'mremap']) {
      const o = of(op);
      expect(o.matching, op).toBe(o.events);
    }
    const dontneed = events.filter((e) => e.op === 'madvise' && e.advice === 'dontneed' && (e.observed as { flushes: { reason: string }[] }).flushes.some((x) => x.reason === 'remote-ipi'));
    expect(dontneed.length).toBeGreaterThan(0);
    // The first two mremaps move 2 pages across a PMD boundary (of the old range, then of the new one):
    // two extents, each flushed on its own. The third moves a whole PMD's page table (move_normal_pmd)
    // and flushes the PMD: a full flush. The kernel as the model (matching above).
    const mremaps = events.filter((e) => e.op === 'mremap').map((e) => (e.observed as { flushes: { reason: string; pages: number }[] }).flushes);
    expect(mremaps.map((l) => l.filter((x) => x.reason === 'local-mm').map((x) => x.pages))).toEqual([[1, 1], [1, 1], [-1]]);
  }, 60_000);

  it('fork-cow: one flush of the parent at fork, one per copied page', async () => {
    const { rec, of } = await recordAndReplay('fork-cow');
    expect(rec.processes).toBe(2);
    expect(of('fork')).toEqual({ events: 1, matching: 1 });
  }, 60_000);

  it('exit-lazy: the process exits with its other CPU lazy', async () => {
    const { of } = await recordAndReplay('exit-lazy');
    expect(of('exit').events).toBe(1);
  }, 60_000);

  it('undoes everything when the program cannot run, and when interrupted', async () => {
    const before = machineState();
    const cli = join(root, 'bin/mmuwasm.mjs');
    const fail = spawnSync(process.execPath, [cli, 'record', '-o', join(dir, 'f.jsonl'), '--hugepages', '2', '--', join(dir, 'no-such-program')], { encoding: 'utf8' });
    expect(fail.status).toBe(2);
    expect(fail.stderr).toMatch(/the program never started/);
    expect(machineState()).toEqual(before);
    // SIGINT while the program runs: the child is a shell sleeping; the instance exists while it runs.
    const child = spawn(process.execPath, [cli, 'record', '-o', join(dir, 'i.jsonl'), '--hugepages', '2', '--', '/bin/sleep', '30'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += String(d)));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      // The mount comes after the pool grew: once it is there, both changes are in place.
      for (let i = 0; i < 300 && machineState().tracefsMounts.length === before.tracefsMounts.length; i++) await new Promise((r) => setTimeout(r, 50));
      expect(machineState().tracefsMounts.length).toBe(before.tracefsMounts.length + 1);
      expect(Number(machineState().nrHugepages)).toBe(Number(before.nrHugepages) + 2);
    } finally {
      child.kill('SIGINT');
    }
    expect(await exited).toBe(130);
    expect(stderr).toMatch(/interrupted by SIGINT; every change to the machine is undone/);
    expect(machineState()).toEqual(before);
  }, 60_000);
});
