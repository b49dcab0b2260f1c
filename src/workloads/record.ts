// `mmuwasm record`: runs a real program under this machine's kernel with tracefs recording what its
// processes do to memory, and writes that as a trace (docs/record.md). Every change it makes to
// the machine — the tracefs mount, its own tracing instance, the huge page pool — is undone before
// it returns, on failure and on SIGINT/SIGTERM/SIGHUP too.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { spawn, spawnSync } from 'node:child_process';
import { availableParallelism, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseTraceLine } from './tracefs.ts';
import { profileForRelease, TraceConverter, type Conversion } from './record-trace.ts';
import { PROFILE_NAMES } from '../kernel/profiles.ts';

export const NR_HUGEPAGES = '/proc/sys/vm/nr_hugepages';

/** The events a recording enables (each must exist: the message names the one that does not). */
export const RECORD_EVENTS = [
  'tlb/tlb_flush', 'exceptions/page_fault_user', 'exceptions/page_fault_kernel', 'sched/sched_switch', 'sched/sched_process_exit', 'sched/sched_process_exec',
  'task/task_newtask',
  // The memory syscalls the trace has ops for, those whose flushes it must not give to another event
  // (mbind, move_pages, …), and those that create files, tasks and exits.
  ...['mmap', 'munmap', 'mprotect', 'pkey_mprotect', 'madvise', 'process_madvise', 'mremap', 'fallocate', 'ftruncate', 'memfd_create', 'brk',
    'mbind', 'move_pages', 'migrate_pages', 'msync', 'openat', 'close', 'clone', 'clone3', 'exit_group']
    .flatMap((s) => [`syscalls/sys_enter_${s}`, ...(s === 'exit_group' ? [] : [`syscalls/sys_exit_${s}`])]),
];

export class RecordError extends Error {}

export interface RecordOptions {
  program: string[];
  /** Huge pages added to the pool for the run. */
  hugepages?: number;
  /** Per-CPU ring buffer of the tracing instance, KiB. */
  bufferKb?: number;
  /** Where the program's standard output and error go (default: this process's). */
  stdio?: 'inherit' | 'ignore';
  /** Also keep the tracefs text here (what the trace was made from). */
  raw?: string;
}

export interface Recording extends Conversion {
  header: Record<string, unknown>;
  status: number | null;
  signal: string | null;
  /** Lines of the tracefs text read. */
  records: number;
}

/** What a recording needs that this machine lacks, or undefined when it has everything. */
export function recordPrerequisites(): string | undefined {
  if (process.platform !== 'linux') return `recording needs Linux (this is ${process.platform})`;
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'recording needs root: tracefs, the tracing filters and /proc/sys/vm/nr_hugepages are writable by root only (run it with sudo)';
  if (!existsSync(NR_HUGEPAGES)) return `this kernel has no hugetlb pool (${NR_HUGEPAGES} is missing: CONFIG_HUGETLBFS)`;
  const fs = readFileSync('/proc/filesystems', 'utf8');
  if (!/\btracefs\b/.test(fs)) return 'this kernel has no tracefs (CONFIG_TRACING)';
  return undefined;
}

/** The undo steps of what a recording changed, run newest first; each runs once. */
class Restorer {
  private readonly steps: { what: string; undo: () => void }[] = [];
  add(what: string, undo: () => void): void {
    this.steps.push({ what, undo });
  }
  /** Undoes everything; the errors are collected, so one failure does not leave the rest changed. */
  run(): string[] {
    const errors: string[] = [];
    while (this.steps.length) {
      const s = this.steps.pop()!;
      try {
        s.undo();
      } catch (err) {
        errors.push(`could not restore ${s.what}: ${(err as Error).message}`);
      }
    }
    return errors;
  }
}

function write(path: string, text: string): void {
  try {
    writeFileSync(path, text);
  } catch (err) {
    throw new RecordError(`cannot write ${JSON.stringify(text.trim())} to ${path}: ${(err as Error).message}`);
  }
}

/** Reserves huge pages: the pool grows by n for the run (and shrinks back afterwards). */
function reserveHugepages(r: Restorer, n: number): void {
  const before = Number(readFileSync(NR_HUGEPAGES, 'utf8').trim());
  // Back to the old count; if someone else resized the pool meanwhile, only our n pages go.
  r.add(`${NR_HUGEPAGES} (back to ${before})`, () => {
    const now = Number(readFileSync(NR_HUGEPAGES, 'utf8').trim());
    writeFileSync(NR_HUGEPAGES, `${now === before + n ? before : Math.max(0, now - n)}\n`);
  });
  write(NR_HUGEPAGES, `${before + n}\n`);
  const got = Number(readFileSync(NR_HUGEPAGES, 'utf8').trim());
  if (got < before + n) throw new RecordError(`asked the kernel for ${n} more huge pages and got ${got - before}: memory is too fragmented or too small (${NR_HUGEPAGES} is now ${got})`);
}

/**
 * A tracing instance of its own, on a tracefs mount of its own: its events, pid filter and buffer
 * leave the global ones alone, and the mount (a temporary directory) is nobody else's to unmount.
 */
function makeInstance(r: Restorer, bufferKb: number): string {
  const mountPoint = mkdtempSync(join(tmpdir(), 'mmuwasm-tracefs-'));
  r.add(`the directory ${mountPoint}`, () => rmdirSync(mountPoint));
  const m = spawnSync('mount', ['-t', 'tracefs', 'nodev', mountPoint], { encoding: 'utf8' });
  if (m.status !== 0) throw new RecordError(`cannot mount tracefs on ${mountPoint}: ${(m.stderr || m.error?.message || '').trim()}`);
  r.add(`the tracefs mount on ${mountPoint}`, () => {
    const u = spawnSync('umount', [mountPoint], { encoding: 'utf8' });
    if (u.status !== 0) throw new Error((u.stderr || '').trim());
  });
  const dir = join(mountPoint, 'instances', `mmuwasm-record-${process.pid}`);
  try {
    mkdirSync(dir);
  } catch (err) {
    throw new RecordError(`cannot create the tracing instance ${dir}: ${(err as Error).message}`);
  }
  // Removing the instance drops its buffers, events and filters; tracing must be off for rmdir.
  r.add(`the tracing instance ${dir}`, () => {
    try {
      writeFileSync(join(dir, 'tracing_on'), '0\n');
    } catch {
      // already gone
    }
    rmdirSync(dir);
  });
  write(join(dir, 'tracing_on'), '0\n');
  write(join(dir, 'buffer_size_kb'), `${bufferKb}\n`);
  for (const e of RECORD_EVENTS) {
    if (!existsSync(join(dir, 'events', e))) throw new RecordError(`this kernel has no tracepoint ${e.replace('/', ':')} (events/${e} is missing in tracefs)`);
  }
  return dir;
}

/** Runs the program under tracing; the returned recording holds the trace's header and events. */
export async function recordProgram(o: RecordOptions): Promise<Recording> {
  const missing = recordPrerequisites();
  if (missing) throw new RecordError(missing);
  if (!o.program.length) throw new RecordError('record needs a program to run (after --)');
  const restorer = new Restorer();
  let child: ReturnType<typeof spawn> | undefined;
  let interrupted: string | undefined;
  const onSignal = (sig: NodeJS.Signals) => {
    interrupted = sig;
    if (child?.pid) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        // it has exited already
      }
    }
    const errors = restorer.run();
    for (const e of errors) process.stderr.write(`mmuwasm record: ${e}\n`);
    process.stderr.write(`mmuwasm record: interrupted by ${sig}; every change to the machine is undone\n`);
    process.exit(sig === 'SIGINT' ? 130 : 143);
  };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const s of signals) process.on(s, onSignal);
  const atExit = () => restorer.run();
  process.on('exit', atExit);
  try {
    if (o.hugepages) reserveHugepages(restorer, o.hugepages);
    const dir = makeInstance(restorer, o.bufferKb ?? 16384);
    // The program waits at a gate (a shell reading fd 3) until its pid filters the instance.
    child = spawn('/bin/sh', ['-c', 'read _ <&3; exec 3<&-; exec "$@"', 'mmuwasm-record', ...o.program], {
      stdio: [o.stdio ?? 'inherit', o.stdio ?? 'inherit', o.stdio ?? 'inherit', 'pipe'],
    });
    const spawned = child;
    const exited = new Promise<{ status: number | null; signal: string | null }>((resolve, reject) => {
      spawned.once('error', reject);
      spawned.once('exit', (status, signal) => resolve({ status, signal }));
    });
    const pid = spawned.pid!;
    // set_event_pid with event-fork: the program's children and threads join the filter as they are created.
    write(join(dir, 'options/event-fork'), '1\n');
    write(join(dir, 'set_event_pid'), `${pid}\n`);
    for (const e of RECORD_EVENTS) write(join(dir, 'events', e, 'enable'), '1\n');
    write(join(dir, 'tracing_on'), '1\n');
    (spawned.stdio[3] as NodeJS.WritableStream).end('go\n');
    const { status, signal } = await exited;
    write(join(dir, 'tracing_on'), '0\n');
    if (interrupted) throw new RecordError(`interrupted by ${interrupted}`);
    const cpus = availableParallelism();
    for (let c = 0; c < cpus; c++) {
      const stats = readFileSync(join(dir, 'per_cpu', `cpu${c}`, 'stats'), 'utf8');
      const overrun = /^overrun: (\d+)/m.exec(stats);
      if (overrun && Number(overrun[1]) > 0) throw new RecordError(`the trace buffer of CPU ${c} overflowed (${overrun[1]} records lost): give a larger --buffer-kb (it was ${o.bufferKb ?? 16384})`);
    }
    const text = readFileSync(join(dir, 'trace'), 'utf8');
    if (o.raw) writeFileSync(o.raw, text);
    const conv = new TraceConverter(cpus, pid);
    let records = 0;
    try {
      text.split('\n').forEach((line, i) => {
        const r = parseTraceLine(line, i + 1);
        if (!r) return;
        records++;
        conv.add(r);
      });
    } catch (err) {
      throw new RecordError(`${(err as Error).message}${o.raw ? ` (the tracefs text is in ${o.raw})` : ''}`);
    }
    const result = conv.result();
    if (result.events.length === 0) throw new RecordError(`the program never started (no sched_process_exec of pid ${pid} was traced): ${o.program[0]} could not be run`);
    const rel = release();
    const header = {
      format: 'mmuwasm-trace', version: 1, cpus, kernel: profileForRelease(rel, PROFILE_NAMES), pcid: cpusHavePcid(),
      recorded: {
        release: rel, cpus, date: new Date().toISOString(), program: o.program, tracer: 'tracefs', remoteFlush: remoteFlushPath(),
        processes: result.processes, threads: result.threads, implicitPages: result.implicitPages, unattributed: result.unattributed,
      },
    };
    return { ...result, header, status, signal, records };
  } finally {
    const errors = restorer.run();
    for (const s of signals) process.off(s, onSignal);
    process.off('exit', atExit);
    if (errors.length) throw new RecordError(errors.join('; '));
  }
}

/**
 * How this kernel reaches other CPUs' TLBs: by IPI (the handler traces "remote shootdown" on each), or
 * by a hypercall of a paravirtualized guest (PVM), where the host flushes them and nothing is traced there.
 */
function remoteFlushPath(): 'ipi' | 'hypercall' {
  const log = spawnSync('dmesg', [], { encoding: 'utf8' });
  return /remote TLB flushes via PVM_HC_FLUSH_TLB_MULTI/.test(log.stdout ?? '') ? 'hypercall' : 'ipi';
}

/** Whether the kernel can tag TLB entries with PCIDs here: without, every switch of mm flushes. */
function cpusHavePcid(): boolean {
  const flags = readFileSync('/proc/cpuinfo', 'utf8').split('\n').filter((l) => l.startsWith('flags'));
  return flags.length > 0 && flags.every((l) => /\bpcid\b/.test(l));
}

/** The recording as JSON Lines. */
export function recordingLines(rec: Recording): string[] {
  return [JSON.stringify(rec.header), ...rec.events.map((e) => JSON.stringify(e))];
}
