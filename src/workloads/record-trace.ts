// From the tracefs records of one recorded program to trace events (docs/record.md): its processes
// become address spaces, its threads run where sched_switch put them, its memory syscalls become
// the trace's ops, its user page faults become accesses, and every tlb_flush the kernel traced is
// attached to the event it happened in as `observed`.
import { keyValues, syscallArgs, syscallRet, tlbFlushArgs, type TraceRecord } from './tracefs.ts';

export interface ObservedFlush {
  reason: string;
  pages: number;
}
export type RecordedEvent = { op: string; observed?: { flushes: ObservedFlush[] }; [field: string]: unknown };

export interface Conversion {
  events: RecordedEvent[];
  /** Processes and threads seen. */
  processes: number;
  threads: number;
  /** Flushes traced in the program that no event of the trace carries, by why. */
  unattributed: Record<string, number>;
  /** Page faults outside every mapping a syscall made: pages of the executable, its stack, the vDSO. */
  implicitPages: number;
}

// include/uapi/asm-generic/mman-common.h, mman.h, linux/memfd.h, linux/sched.h, linux/falloc.h.
const PROT_READ = 1n, PROT_WRITE = 2n, PROT_EXEC = 4n;
const MAP_SHARED = 1n, MAP_SHARED_VALIDATE = 3n, MAP_ANONYMOUS = 0x20n, MAP_HUGETLB = 0x40000n;
const MAP_HUGE_SHIFT = 26n, MAP_HUGE_MASK = 0x3fn;
const MFD_HUGETLB = 4n;
const CLONE_VM = 0x100n, CLONE_FILES = 0x400n;
const FALLOC_FL_PUNCH_HOLE = 2n;
const MADVICE: Readonly<Record<string, string>> = { '4': 'dontneed', '8': 'free', '9': 'remove', '101': 'soft_offline' };
const MREMAP_FIXED = 2n;
// arch/x86/include/asm/trap_pf.h: X86_PF_WRITE, X86_PF_INSTR.
const PF_WRITE = 2n, PF_INSTR = 0x10n;
/** TASK_SIZE_MAX with 4-level paging: the end of user addresses. */
const USER_END = 0x7fff_ffff_f000n;

const PAGE = 4096n;
/** The address space that stands for every process outside the program. */
export const OUTSIDE = 'outside';
const hex = (v: bigint) => `0x${v.toString(16)}`;
const pageUp = (v: bigint, size = PAGE) => (v + size - 1n) & ~(size - 1n);

interface FileRec {
  name: string;
  pagesize: '2M' | '1G';
  size: bigint;
  largest: bigint;
  /** The hugetlbfs event, whose size is the largest the file ever had. */
  created: RecordedEvent;
}

interface MmRec {
  name: string;
  /** It exited: its task may still be switched in to finish dying, but runs nothing of the program. */
  exited?: boolean;
  threads: Set<number>;
  fds: Map<bigint, FileRec | 'other'>;
  /** [start, end) of what is mapped, as far as the trace knows. */
  vmas: { start: bigint; end: bigint }[];
  brk?: bigint;
}

interface Pending {
  name: string;
  args: Record<string, bigint>;
  cpu: number;
  flushes: ObservedFlush[];
}

export class TraceConverter {
  readonly events: RecordedEvent[] = [];
  private started = false;
  private readonly tasks = new Map<number, MmRec>();
  private readonly pending = new Map<number, Pending>();
  /** What the trace has each CPU run: the address space and whether only lazily. */
  private readonly cpuMm: (string | undefined)[];
  private readonly cpuLazy: boolean[];
  /** The event a flush on the CPU belongs to when no syscall is in progress there. */
  private readonly cpuEvent: (RecordedEvent | undefined)[];
  /** Whether the last sched_switch on the CPU went to a recorded task (its task-switch flush is the program's). */
  private readonly cpuSwitchedIn: boolean[];
  /** Whether the CPU's record before this one was a sched_switch (its task-switch flush follows it). */
  private readonly lastWasSwitch: boolean[];
  private readonly afterSwitch: boolean[];
  private lastIpi: { cpu: number; carrier: { flushes: ObservedFlush[] } } | undefined;
  private readonly files: FileRec[] = [];
  /** The event before each event on its CPU. */
  private readonly lastOn = new WeakMap<RecordedEvent, RecordedEvent>();
  private outsideUsed = false;
  private mmCount = 0;
  private fileCount = 0;
  private threadCount = 0;
  readonly unattributed: Record<string, number> = {};
  implicitPages = 0;

  constructor(readonly cpus: number, readonly rootPid: number) {
    this.cpuMm = new Array(cpus).fill(undefined);
    this.cpuLazy = new Array(cpus).fill(false);
    this.cpuEvent = new Array(cpus).fill(undefined);
    this.cpuSwitchedIn = new Array(cpus).fill(false);
    this.lastWasSwitch = new Array(cpus).fill(false);
    this.afterSwitch = new Array(cpus).fill(false);
  }

  result(): Conversion {
    // A file is created with the largest size it ever has: growing it changes nothing that is mapped.
    for (const f of this.files) {
      const unit = f.pagesize === '1G' ? 1n << 30n : 1n << 21n;
      f.created.size = hex(f.largest > unit ? pageUp(f.largest, unit) : unit);
    }
    if (this.outsideUsed) this.events.unshift({ op: 'mm', mm: OUTSIDE });
    return { events: this.events, processes: this.mmCount, threads: this.threadCount, unattributed: this.unattributed, implicitPages: this.implicitPages };
  }

  private drop(why: string): void {
    this.unattributed[why] = (this.unattributed[why] ?? 0) + 1;
  }

  /**
   * Adds an event; `observed` (an empty list the flushes then join) on every event whose flushes the
   * tracing sees — not on what the recording has to make up (the pages no syscall mapped, a switch out).
   */
  private emit(ev: RecordedEvent, cpu?: number, observed = true): RecordedEvent {
    if (observed) ev.observed = { flushes: [] };
    this.events.push(ev);
    if (cpu !== undefined && this.cpuEvent[cpu]) this.lastOn.set(ev, this.cpuEvent[cpu]!);
    if (cpu !== undefined) this.cpuEvent[cpu] = ev;
    return ev;
  }

  private newMm(): MmRec {
    this.mmCount++;
    this.threadCount++;
    return { name: `p${this.mmCount}`, threads: new Set(), fds: new Map(), vmas: [] };
  }

  /** The trace has CPU `cpu` run `mm` before an event of that address space happens there. */
  private runOn(cpu: number, mm: MmRec): void {
    if (this.cpuMm[cpu] === mm.name && !this.cpuLazy[cpu]) return;
    this.emit({ op: 'switch', cpu, mm: mm.name }, cpu, false);
    this.cpuMm[cpu] = mm.name;
    this.cpuLazy[cpu] = false;
  }

  add(r: TraceRecord): void {
    const afterSwitch = this.lastWasSwitch[r.cpu];
    this.lastWasSwitch[r.cpu] = r.event === 'sched_switch';
    this.afterSwitch[r.cpu] = afterSwitch;
    if (!this.started) {
      // The program starts where the gate shell execs it: what the shell did before is not the program's.
      if (r.event !== 'sched_process_exec' || Number(keyValues(r, ['pid']).pid) !== this.rootPid) return;
      this.started = true;
      const mm = this.newMm();
      mm.threads.add(this.rootPid);
      this.tasks.set(this.rootPid, mm);
      this.emit({ op: 'mm', mm: mm.name }, undefined, false);
      this.runOn(r.cpu, mm);
      this.cpuSwitchedIn[r.cpu] = true;
      return;
    }
    switch (r.event) {
      case 'sched_switch': return this.schedSwitch(r);
      case 'tlb_flush': return this.tlbFlush(r);
      case 'page_fault_user': return this.pageFault(r, true);
      case 'page_fault_kernel': return this.pageFault(r, false);
      case 'task_newtask': return this.newTask(r);
      case 'sched_process_exit': return this.processExit(r);
      case 'sched_process_exec': return this.exec(r);
      default:
        if (r.event.startsWith('sys_enter_')) return this.sysEnter(r);
        if (r.event.startsWith('sys_exit_')) return this.sysExit(r);
    }
  }

  private schedSwitch(r: TraceRecord): void {
    const kv = keyValues(r, ['prev_pid', 'next_pid']);
    const prev = this.tasks.get(Number(kv.prev_pid));
    const nextMm = this.tasks.get(Number(kv.next_pid));
    const next = nextMm?.exited ? undefined : nextMm;
    this.cpuSwitchedIn[r.cpu] = next !== undefined;
    if (next) {
      this.emit({ op: 'switch', cpu: r.cpu, mm: next.name }, r.cpu);
      this.cpuMm[r.cpu] = next.name;
      this.cpuLazy[r.cpu] = false;
    } else if (prev && this.cpuMm[r.cpu] !== undefined && !this.cpuLazy[r.cpu]) {
      // To a task outside the program: a kernel thread or the idle task keeps the program's address
      // space loaded lazily. (Another process would load its own; tlbFlush finds that out later.)
      this.emit({ op: 'idle', cpu: r.cpu }, r.cpu, false);
      this.cpuLazy[r.cpu] = true;
    }
  }

  private tlbFlush(r: TraceRecord): void {
    const f = tlbFlushArgs(r);
    if (f.reason === 'task-switch' && this.afterSwitch[r.cpu]) {
      // Traced while switching into or out of a recorded task; only the switch into one loads the program's mm.
      const ev = this.cpuEvent[r.cpu];
      if (!this.cpuSwitchedIn[r.cpu] || ev?.op !== 'switch' || !ev.observed) {
        this.drop('task switch to a task outside the program');
        return;
      }
      ev.observed.flushes.push(f);
      // Back from lazy mode with the same mm and nothing flushed meanwhile, switch_mm_irqs_off returns
      // without a trace (arch/x86/mm/tlb.c): a flush here says the CPU ran another process's mm.
      const before = this.lastOn.get(ev);
      if (before?.op === 'idle' && f.pages === -1) {
        before.op = 'switch';
        before.mm = OUTSIDE;
        this.outsideUsed = true;
      }
      return;
    }
    if (f.reason === 'remote-shootdown' || f.reason === 'remote-wrong-cpu') {
      // The handler of the last flush sent (on_each_cpu_mask runs it on the sender too).
      if (this.lastIpi) this.lastIpi.carrier.flushes.push(f);
      else this.drop('remote flush without a sender in the program');
      return;
    }
    // Any other flush belongs to what the task is doing: its syscall, else its last event (a fault,
    // a fork, an exit; a task switch here is a lazy CPU's switch to init_mm inside a flush).
    const p = this.pending.get(r.pid);
    let carrier: { flushes: ObservedFlush[] };
    if (p && this.tasks.has(r.pid)) carrier = p;
    else {
      const ev = this.cpuEvent[r.cpu];
      if (!ev?.observed || !this.tasks.has(r.pid)) {
        this.drop('flush outside any event of the program');
        return;
      }
      carrier = ev.observed;
    }
    carrier.flushes.push(f);
    if (f.reason === 'remote-ipi') this.lastIpi = { cpu: r.cpu, carrier };
  }

  private mapped(mm: MmRec, va: bigint): boolean {
    return mm.vmas.some((v) => va >= v.start && va < v.end);
  }

  private addVma(mm: MmRec, start: bigint, end: bigint): void {
    this.removeVma(mm, start, end);
    mm.vmas.push({ start, end });
  }

  private removeVma(mm: MmRec, start: bigint, end: bigint): void {
    const out: { start: bigint; end: bigint }[] = [];
    for (const v of mm.vmas) {
      if (v.end <= start || v.start >= end) out.push(v);
      else {
        if (v.start < start) out.push({ start: v.start, end: start });
        if (v.end > end) out.push({ start: end, end: v.end });
      }
    }
    mm.vmas = out;
  }

  /**
   * Maps what no syscall mapped inside a range a syscall acts on (the exec image's segments, which
   * ld or the static startup mprotect), so that the trace's kernel finds the range mapped as the real one did.
   */
  private fillHoles(mm: MmRec, cpu: number, start: bigint, end: bigint): void {
    const inside = mm.vmas.filter((v) => v.end > start && v.start < end).sort((a, b) => (a.start < b.start ? -1 : 1));
    let at = start;
    for (const v of [...inside, { start: end, end }]) {
      if (v.start > at) {
        this.runOn(cpu, mm);
        this.emit({ op: 'mmap', cpu, va: hex(at), len: hex(v.start - at), prot: 'rwx', flags: 'private' }, cpu, false);
        this.implicitPages += Number((v.start - at) / PAGE);
      }
      if (v.end > at) at = v.end;
    }
    this.addVma(mm, start, end);
  }

  private overlaps(mm: MmRec, start: bigint, end: bigint): boolean {
    return mm.vmas.some((v) => v.start < end && v.end > start);
  }

  private pageFault(r: TraceRecord, user: boolean): void {
    const mm = this.tasks.get(r.pid);
    if (!mm || mm.exited) return;
    const kv = keyValues(r, ['address', 'error_code']);
    const va = BigInt(kv.address);
    // The kernel touching the program's memory for it (copy_to_user, the child's tid at fork).
    if (!user && va >= USER_END) return;
    const code = BigInt(kv.error_code);
    this.runOn(r.cpu, mm);
    if (!this.mapped(mm, va)) {
      // A page the exec image, the stack or the vDSO brought: no syscall mapped it, so the trace
      // maps that one page as private anonymous memory that allows every access.
      const page = va & ~(PAGE - 1n);
      this.emit({ op: 'mmap', cpu: r.cpu, va: hex(page), len: hex(PAGE), prot: 'rwx', flags: 'private' }, r.cpu, false);
      this.addVma(mm, page, page + PAGE);
      this.implicitPages++;
    }
    const rw = code & PF_INSTR ? 'x' : code & PF_WRITE ? 'w' : 'r';
    this.emit({ op: 'access', cpu: r.cpu, va: hex(va), rw, ...(user ? {} : { user: false }) }, r.cpu);
  }

  private newTask(r: TraceRecord): void {
    const parent = this.tasks.get(r.pid);
    if (!parent) return;
    const kv = keyValues(r, ['pid', 'clone_flags']);
    const child = Number(kv.pid);
    const flags = BigInt(`0x${kv.clone_flags}`);
    const p = this.pending.get(r.pid);
    if (flags & CLONE_VM) {
      // A thread (or a vfork child, which runs in the parent's mm until it execs).
      parent.threads.add(child);
      this.tasks.set(child, parent);
      this.threadCount++;
      return;
    }
    const mm = this.newMm();
    mm.threads.add(child);
    this.tasks.set(child, mm);
    mm.fds = flags & CLONE_FILES ? parent.fds : new Map(parent.fds);
    mm.vmas = parent.vmas.map((v) => ({ ...v }));
    mm.brk = parent.brk;
    this.runOn(r.cpu, parent);
    // dup_mmap ran inside the clone syscall, before this tracepoint: its flushes are the fork's.
    const ev = this.emit({ op: 'fork', cpu: r.cpu, child: mm.name }, r.cpu);
    if (p && p.flushes.length) {
      ev.observed!.flushes.push(...p.flushes.splice(0));
      if (this.lastIpi?.carrier === p) this.lastIpi = { cpu: this.lastIpi.cpu, carrier: ev.observed! };
    }
  }

  private processExit(r: TraceRecord): void {
    const kv = keyValues(r, ['pid', 'group_dead']);
    const tid = Number(kv.pid);
    const mm = this.tasks.get(tid);
    if (!mm) return;
    this.pending.delete(tid);
    mm.threads.delete(tid);
    if (kv.group_dead !== 'true' || mm.threads.size) return;
    // sched_process_exit comes before exit_mm (kernel/exit.c do_exit): the teardown's flushes follow.
    this.runOn(r.cpu, mm);
    this.emit({ op: 'exit', cpu: r.cpu }, r.cpu);
    mm.exited = true;
    this.cpuMm[r.cpu] = undefined;
    this.cpuLazy[r.cpu] = false;
    // Other CPUs that kept it lazily: exit_mmap took them off it (the trace's exit does the same).
    for (let c = 0; c < this.cpus; c++) if (this.cpuMm[c] === mm.name) this.cpuMm[c] = undefined;
  }

  private exec(r: TraceRecord): void {
    const tid = Number(keyValues(r, ['pid']).pid);
    const old = this.tasks.get(tid);
    if (!old) return;
    // exec_mmap gives the task a new address space; the old one goes when its last user does.
    old.threads.delete(tid);
    if (old.threads.size === 0) {
      this.runOn(r.cpu, old);
      this.emit({ op: 'exit', cpu: r.cpu }, r.cpu);
      this.cpuMm[r.cpu] = undefined;
    }
    const mm = this.newMm();
    this.threadCount--;
    mm.threads.add(tid);
    mm.fds = new Map(old.fds);
    this.tasks.set(tid, mm);
    this.emit({ op: 'mm', mm: mm.name }, undefined, false);
    this.runOn(r.cpu, mm);
  }

  private sysEnter(r: TraceRecord): void {
    if (!this.tasks.has(r.pid) || this.tasks.get(r.pid)!.exited) return;
    const name = r.event.slice('sys_enter_'.length);
    this.pending.set(r.pid, { name, args: syscallArgs(r), cpu: r.cpu, flushes: [] });
  }

  private sysExit(r: TraceRecord): void {
    const mm = this.tasks.get(r.pid);
    const p = this.pending.get(r.pid);
    if (!mm || !p) return;
    this.pending.delete(r.pid);
    const ret = syscallRet(r);
    const made = ret < 0n && ret > -4096n ? [] : this.syscall(mm, p, ret);
    if (!made.length) {
      for (let i = 0; i < p.flushes.length; i++) this.drop(`${p.name} that the trace has no op for`);
      return;
    }
    // The flushes go to the op that caused them: the unmap before a fixed mmap, else the last one.
    const carrier = made.find((e) => e.op === 'munmap') ?? made[made.length - 1];
    carrier.observed!.flushes.push(...p.flushes);
    if (this.lastIpi?.carrier === p) this.lastIpi = { cpu: this.lastIpi.cpu, carrier: carrier.observed! };
  }

  /** The trace's events for one syscall that succeeded (none for what the trace does not model). */
  private syscall(mm: MmRec, p: Pending, ret: bigint): RecordedEvent[] {
    const a = p.args;
    const cpu = p.cpu;
    const out: RecordedEvent[] = [];
    const push = (ev: RecordedEvent) => {
      if (out.length === 0) this.runOn(cpu, mm);
      out.push(this.emit(ev, cpu));
    };
    switch (p.name) {
      case 'memfd_create': {
        if (!(a.flags & MFD_HUGETLB)) {
          mm.fds.set(ret, 'other');
          return out;
        }
        const pagesize = ((a.flags >> MAP_HUGE_SHIFT) & MAP_HUGE_MASK) === 30n ? '1G' : '2M';
        const name = `memfd${++this.fileCount}`;
        const created = this.emit({ op: 'hugetlbfs', file: name, size: pagesize, pagesize }, undefined, false);
        mm.fds.set(ret, { name, pagesize, size: 0n, largest: 0n, created });
        this.files.push(mm.fds.get(ret) as FileRec);
        return out;
      }
      case 'openat':
      case 'open':
        mm.fds.set(ret, 'other');
        return out;
      case 'close':
        mm.fds.delete(a.fd);
        return out;
      case 'brk': {
        if (mm.brk === undefined) {
          mm.brk = ret;
          return out;
        }
        const was = pageUp(mm.brk), now = pageUp(ret);
        mm.brk = ret;
        if (now > was) {
          push({ op: 'mmap', cpu, va: hex(was), len: hex(now - was), prot: 'rw', flags: 'private' });
          this.addVma(mm, was, now);
        } else if (now < was) {
          push({ op: 'munmap', cpu, va: hex(now), len: hex(was - now) });
          this.removeVma(mm, now, was);
        }
        return out;
      }
      case 'mmap': {
        const file = a.flags & MAP_ANONYMOUS ? undefined : mm.fds.get(BigInt.asIntN(32, a.fd));
        const hugetlb = file && file !== 'other' ? file.pagesize : a.flags & MAP_HUGETLB ? (((a.flags >> MAP_HUGE_SHIFT) & MAP_HUGE_MASK) === 30n ? '1G' : '2M') : undefined;
        const len = pageUp(a.len, hugetlb === '1G' ? 1n << 30n : hugetlb === '2M' ? 1n << 21n : PAGE);
        if (this.overlaps(mm, ret, ret + len)) {
          // MAP_FIXED over a mapping: the kernel unmaps what was there first.
          push({ op: 'munmap', cpu, va: hex(ret), len: hex(len) });
        }
        const shared = (a.flags & MAP_SHARED_VALIDATE) === MAP_SHARED || (a.flags & MAP_SHARED_VALIDATE) === MAP_SHARED_VALIDATE;
        const ev: RecordedEvent = { op: 'mmap', cpu, va: hex(ret), len: hex(len), prot: prot(a.prot), flags: shared ? 'shared' : 'private' };
        if (file && file !== 'other') {
          ev.file = file.name;
          ev.offset = hex(a.off);
        } else if (hugetlb) ev.hugetlb = hugetlb;
        push(ev);
        this.addVma(mm, ret, ret + len);
        return out;
      }
      case 'munmap': {
        const len = pageUp(a.len);
        this.fillHoles(mm, cpu, a.addr, a.addr + len);
        push({ op: 'munmap', cpu, va: hex(a.addr), len: hex(len) });
        this.removeVma(mm, a.addr, a.addr + len);
        return out;
      }
      case 'mprotect':
      case 'pkey_mprotect':
        this.fillHoles(mm, cpu, a.start, a.start + pageUp(a.len));
        push({ op: 'mprotect', cpu, va: hex(a.start), len: hex(pageUp(a.len)), prot: prot(a.prot) });
        return out;
      case 'madvise': {
        const advice = MADVICE[a.behavior.toString()];
        if (!advice) return out;
        this.fillHoles(mm, cpu, a.start, a.start + pageUp(a.len_in));
        push({ op: 'madvise', cpu, va: hex(a.start), len: hex(pageUp(a.len_in)), advice });
        return out;
      }
      case 'mremap': {
        const oldLen = pageUp(a.old_len), newLen = pageUp(a.new_len);
        this.fillHoles(mm, cpu, a.addr, a.addr + oldLen);
        if (ret === a.addr) {
          // Resized where it is: a shrink unmaps the tail, a growth maps more after it.
          if (newLen < oldLen) {
            push({ op: 'munmap', cpu, va: hex(a.addr + newLen), len: hex(oldLen - newLen) });
            this.removeVma(mm, a.addr + newLen, a.addr + oldLen);
          } else if (newLen > oldLen) {
            push({ op: 'mmap', cpu, va: hex(a.addr + oldLen), len: hex(newLen - oldLen), prot: 'rw', flags: 'private' });
            this.addVma(mm, a.addr + oldLen, a.addr + newLen);
          }
          return out;
        }
        if (!(a.flags & MREMAP_FIXED) && this.overlaps(mm, ret, ret + newLen)) push({ op: 'munmap', cpu, va: hex(ret), len: hex(newLen) });
        const ev: RecordedEvent = { op: 'mremap', cpu, va: hex(a.addr), len: hex(oldLen), newva: hex(ret) };
        if (newLen !== oldLen) ev.newlen = hex(newLen);
        push(ev);
        this.removeVma(mm, a.addr, a.addr + oldLen);
        this.addVma(mm, ret, ret + newLen);
        return out;
      }
      case 'fallocate': {
        const file = mm.fds.get(BigInt.asIntN(32, a.fd));
        if (!file || file === 'other' || !(a.mode & FALLOC_FL_PUNCH_HOLE)) return out;
        push({ op: 'fallocate', cpu, file: file.name, offset: hex(a.offset), len: hex(a.len), mode: 'punch_hole' });
        return out;
      }
      case 'ftruncate': {
        const file = mm.fds.get(BigInt.asIntN(32, a.fd));
        if (!file || file === 'other') return out;
        const size = a.length;
        const grew = size > file.size;
        file.size = size;
        if (size > file.largest) file.largest = size;
        if (grew) return out;
        push({ op: 'truncate', cpu, file: file.name, size: hex(size) });
        return out;
      }
      default:
        return out;
    }
  }
}

function prot(p: bigint): string {
  const s = `${p & PROT_READ ? 'r' : ''}${p & PROT_WRITE ? 'w' : ''}${p & PROT_EXEC ? 'x' : ''}`;
  return s || 'none';
}

/** The profile nearest to a kernel release (`uname -r`): the newest one not newer than it. */
export function profileForRelease(release: string, profiles: readonly string[]): string {
  const m = /^(\d+)\.(\d+)/.exec(release);
  const v = m ? Number(m[1]) * 1000 + Number(m[2]) : 0;
  let best = profiles[0];
  for (const p of profiles) {
    const pm = /^v(\d+)\.(\d+)$/.exec(p);
    if (pm && Number(pm[1]) * 1000 + Number(pm[2]) <= v) best = p;
  }
  return best;
}
