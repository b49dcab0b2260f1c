// The text that tracefs prints for one ring-buffer record ("TASK-PID [CPU] FLAGS TIMESTAMP: EVENT: ARGS")
// and the arguments of the events `record` enables, as the v6.18 print formats write them
// (include/trace/events/tlb.h, sched.h, task.h, arch/x86/include/asm/trace/exceptions.h, and the
// syscall tracepoints of kernel/trace/trace_syscalls.c).

export interface TraceRecord {
  comm: string;
  /** The task the record was written in (common_pid). */
  pid: number;
  cpu: number;
  /** Seconds, as printed (a string keeps every digit). */
  ts: string;
  event: string;
  args: string;
  /** The line of the tracefs text, for messages. */
  line: number;
}

const RECORD = /^\s*(.*)-(\d+)\s+(?:\(\s*[-\d]+\)\s+)?\[(\d+)\]\s+\S+\s+(\d+\.\d+):\s+(.*)$/;
// The syscall tracepoints print themselves as a call, `sys_mmap(addr: 0x0, …)`, and a return, `sys_mmap -> 0x7f…`.
const SYSCALL_ENTER = /^sys_([a-z0-9_]+)\((.*)\)$/;
const SYSCALL_EXIT = /^sys_([a-z0-9_]+) -> (.*)$/;
const EVENT = /^([a-z0-9_]+):\s?(.*)$/;

/** One line of the `trace` file; undefined for its header comments and blank lines. */
export function parseTraceLine(text: string, line: number): TraceRecord | undefined {
  if (text.startsWith('#') || text.trim() === '') return undefined;
  const m = RECORD.exec(text);
  if (!m) throw new Error(`tracefs line ${line} is not a trace record: ${JSON.stringify(text.slice(0, 120))}`);
  const base = { comm: m[1].trim(), pid: Number(m[2]), cpu: Number(m[3]), ts: m[4], line };
  const body = m[5];
  let e = SYSCALL_EXIT.exec(body);
  if (e) return { ...base, event: `sys_exit_${e[1]}`, args: e[2] };
  e = SYSCALL_ENTER.exec(body);
  if (e) return { ...base, event: `sys_enter_${e[1]}`, args: e[2] };
  e = EVENT.exec(body);
  if (!e) throw new Error(`tracefs line ${line} is not a trace record: ${JSON.stringify(text.slice(0, 120))}`);
  return { ...base, event: e[1], args: e[2] };
}

/**
 * The reasons of the tlb_flush tracepoint (enum tlb_flush_reason, include/linux/mm_types.h, v6.18),
 * as the kernel prints them and as the trace names them.
 */
export const FLUSH_REASONS: Readonly<Record<string, string>> = {
  'flush on task switch': 'task-switch',
  'remote shootdown': 'remote-shootdown',
  'local shootdown': 'local-shootdown',
  'local MM shootdown': 'local-mm',
  'remote IPI send': 'remote-ipi',
  'remote wrong CPU': 'remote-wrong-cpu',
};

export interface TlbFlushArgs {
  reason: string;
  pages: number;
}

export function tlbFlushArgs(r: TraceRecord): TlbFlushArgs {
  const m = /^pages:(-?\d+) reason:(.*) \(\d+\)$/.exec(r.args);
  const reason = m ? FLUSH_REASONS[m[2]] : undefined;
  if (!m || !reason) throw new Error(`tracefs line ${r.line}: tlb_flush arguments not understood: ${r.args}`);
  return { reason, pages: Number(m[1]) };
}

/** `name: 0xVALUE, name: 0xVALUE` of a syscall entry; every value as an unsigned 64-bit number. */
export function syscallArgs(r: TraceRecord): Record<string, bigint> {
  const out: Record<string, bigint> = {};
  for (const part of r.args.split(', ')) {
    const m = /^(\w+): (0x[0-9a-f]+|[0-9]+)$/.exec(part.trim());
    if (!m) throw new Error(`tracefs line ${r.line}: ${r.event} argument not understood: ${part}`);
    out[m[1]] = BigInt(m[2]);
  }
  return out;
}

/** The return value of a syscall exit, signed (-4095..-1 is an error number). */
export function syscallRet(r: TraceRecord): bigint {
  const m = /^(0x[0-9a-f]+|[0-9]+)$/.exec(r.args.trim());
  if (!m) throw new Error(`tracefs line ${r.line}: ${r.event} return value not understood: ${r.args}`);
  return BigInt.asIntN(64, BigInt(m[1]));
}

/** `key=value` fields (sched_switch, sched_process_exit, task_newtask, page_fault_user, sched_process_exec). */
export function keyValues(r: TraceRecord, keys: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of keys) {
    const m = new RegExp(`(?:^|\\s)${k}=(\\S+)`).exec(r.args);
    if (!m) throw new Error(`tracefs line ${r.line}: ${r.event} has no ${k}: ${r.args}`);
    out[k] = m[1];
  }
  return out;
}
