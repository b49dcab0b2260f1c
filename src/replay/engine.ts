// The replay: runs a trace's events in file order on one machine and one kernel profile, parking
// operations between named steps, queueing what must wait, checking expectations, and collecting the
// report. The report is a function of the trace and the options only — not of the number of worker
// threads: the CPUs' accesses run in windows of phases whose schedule depends on the trace alone
// (docs/parallel-replay.md).
//
// A window is a run of events that only touch their own CPU: accesses (`access`, `accesses`,
// access runs of the binary form) and the CPU-local `switch` and `idle`. Each CPU's part of it is a
// lane. Any other event (a kernel operation, an expectation, a device access, a parkable access)
// first runs the window to its end, then runs on the main thread alone. A phase runs every lane that
// has work, in parallel on the workers or one after another on any thread, until it stops: at a
// fault, before a CPU-local event, after PHASE_BUDGET accesses, or when it has nothing left. Nothing
// a lane does in a phase can be seen by another lane in the same phase (A/D updates are deferred,
// applied when the phase ends). Then the stops are resolved in trace order: faults by the kernel,
// CPU-local events, segmentation faults; and the next phase begins.
import { availableParallelism } from 'node:os';
import * as L from '../../assembly/layout.ts';
import { Machine } from '../mmu/machine.ts';
import { KIND, type Geometry, type OracleEvent, type OracleEventKind } from '../mmu/model.ts';
import { CpuWorkers } from '../mmu/cpu-workers.ts';
import { Kernel } from '../kernel/kernel.ts';
import { resolveFixes, DEFAULT_PROFILE } from '../kernel/profiles.ts';
import type { FixSet } from '../kernel/fixes.ts';
import { Op, type OpGen } from '../kernel/ops.ts';
import type { MmStruct, Prot } from '../kernel/mm_types.ts';
import { doMmap, exitMmap, KernelRefusal, sysMunmap } from '../kernel/mmap.ts';
import { sysMprotect } from '../kernel/mprotect.ts';
import { sysMadvise } from '../kernel/madvise.ts';
import { sysMremap } from '../kernel/mremap.ts';
import { sysFallocatePunchHole, sysTruncate } from '../kernel/hugetlbfs.ts';
import { dupMmap } from '../kernel/fork.ts';
import { handleMmFault, type Access } from '../kernel/fault.ts';
import { migratePage } from '../kernel/migrate.ts';
import { shrinkPage } from '../kernel/vmscan.ts';
import { enterLazyTlb } from '../kernel/tlbflush.ts';
import { hugePteOffset, isMigrationEntry, ptePresent, readEntry, walkTo, PTE_PFN_MASK } from '../kernel/pgtable.ts';
import { makeDevice, type SecondaryMmu, type DeviceKind } from '../devices/secondary-mmu.ts';
import { Oracle } from '../oracle/oracle.ts';
import type { Violation, ViolationKind } from '../oracle/violation.ts';
import { TraceError } from './trace-error.ts';
import { STEPS } from './trace.ts';
import type { StreamSpec } from './patterns.ts';
import type { AccessRunEvent } from './trace-binary.ts';
import { streamStart } from './stream-cursor.ts';
import { CONTROL_INTERRUPT, EVENT_WORDS, LaneRunner, type LanePlan, type LaneResult, type RecordBuffer, type RecordsItem, type RunItem } from './lanes.ts';
import type { LaneWorkerApi } from './lane-worker.ts';
import { DEFAULT_COSTS, costCounts, costReport, cpuCost, type CostModel } from './cost-model.ts';

/** The events the replay runs, as the trace reader gives them (addresses already BigInts). */
export type ReplayEvent = { op: string; [field: string]: unknown };
export interface ReplayHeader {
  cpus: number;
  kernel?: string;
  fixes?: Record<string, boolean>;
  paging?: 4 | 5;
  pcid?: boolean;
  physmem?: bigint;
  tlb?: Partial<Geometry>;
  seed?: number;
}

export interface ReplayOptions {
  kernel?: string;
  fixes?: Record<string, boolean>;
  /**
   * Worker threads for the CPUs' accesses (default 0: all on this thread). They start when the first
   * phase large enough to be worth a round trip comes; the report is the same for any number.
   */
  workers?: number;
  /** Threads to use instead (re-attached to this replay's machine; the caller closes them). */
  pool?: CpuWorkers;
  /**
   * The TLB mode: 'retentive' (default: nothing is evicted, the oracle sees every stale translation)
   * or 'capacity' (the real geometry, for hit rates and walk counts; an eviction can hide a stale
   * translation from the oracle, and the report says so).
   */
  tlbMode?: 'retentive' | 'capacity';
  /** Cycles per counted event (default DEFAULT_COSTS). */
  cost?: CostModel;
  /** Aborting it stops the replay at the next batch (Ctrl-C): the report so far stays. */
  signal?: AbortSignal;
  /**
   * Accesses a phase must have for the workers to run it (default LOCAL_WORK); smaller phases run on
   * this thread. Where a phase runs never changes the report: tests set 0 to send every phase out.
   */
  workerThreshold?: number;
  /** Called after each phase (a progress display: one event may hold billions of accesses). */
  onPhase?: (replay: Replay) => void;
}

export interface Expectation {
  line: number;
  ok: boolean;
  /** False when the expectation names a fix this replay runs without (or with). */
  applies: boolean;
  text: string;
}

export interface Report {
  complete: boolean;
  kernel: string;
  fixes: Record<string, boolean>;
  events: number;
  accesses: number;
  violations: Violation[];
  expectations: Expectation[];
  segfaults: { line: number; cpu?: number; device?: string; va: string }[];
  waited: { line: number; behind: number; reason: string }[];
  notes: { line: number; text: string }[];
  error?: { file: string; line: number; message: string };
  stats: Record<string, unknown>;
}

interface Task {
  op: Op;
  gen: OpGen<unknown>;
  cpu: number | undefined;
  until: string | undefined;
  blockedOn?: Op;
  /** The operation's named steps, and the one it is parked before. */
  steps?: readonly string[];
  at?: string;
  /** A lane's fault: its operation is done when the access is (the lane says when), not with the handler. */
  keep?: boolean;
}

const hex = (v: bigint) => `0x${v.toString(16)}`;

// ---- The schedule's constants: they are part of the replay's definition (docs/parallel-replay.md) ----

/** Accesses a lane may complete in one phase. */
export const PHASE_BUDGET = 1 << 20;
/**
 * Every phase starts with a probe of this many accesses per lane; when a lane stops within it (a
 * fault, a CPU-local event), the phase ends there for every lane.
 */
export const PHASE_PROBE = 256;
/** Access records (of `access` events and access runs) a window holds before it must run. */
export const WINDOW_RECORDS = 1 << 20;
/** Streams and CPU-local events a window holds before it must run (records count in WINDOW_RECORDS). */
export const WINDOW_ITEMS = 1 << 16;
/** How often an access may fault before it is a segmentation fault. */
const FAULT_ATTEMPTS = 8;

// ---- Not part of the definition: where phases run ----

/** A phase with less work than this runs on the main thread: a round trip to the workers costs more. */
const LOCAL_WORK = 1 << 17;
/** After a phase that faults cut short, the next one starts here with slices of this many accesses per lane. */
const LOCAL_SLICE = 1 << 13;

/** CPU-local events: they become part of their CPU's lane. */
const LOCAL_OPS = new Set(['switch', 'idle']);

/** A lane's trace-order queue entry (the main thread's view of a RunItem). */
interface LaneEntry {
  kind: 'records' | 'stream' | 'local';
  /** Accesses not yet completed (records, stream). */
  left: number;
  line: number;
  ev?: ReplayEvent;
}

let nextBufferId = 1;

/** The columns of a lane's access records, in shared memory so any thread can run them. */
class LaneBuffer {
  readonly id = nextBufferId++;
  readonly va: SharedArrayBuffer;
  readonly kind: SharedArrayBuffer;
  readonly line: SharedArrayBuffer;
  readonly va32: Uint32Array;
  readonly va64: BigUint64Array;
  readonly kind8: Uint8Array;
  readonly line32: Uint32Array;
  fill = 0;
  constructor(readonly capacity: number) {
    this.va = new SharedArrayBuffer(capacity * 8);
    this.kind = new SharedArrayBuffer(capacity);
    this.line = new SharedArrayBuffer(capacity * 4);
    this.va32 = new Uint32Array(this.va);
    this.va64 = new BigUint64Array(this.va);
    this.kind8 = new Uint8Array(this.kind);
    this.line32 = new Uint32Array(this.line);
  }
  get shared(): RecordBuffer {
    return { id: this.id, va: this.va, kind: this.kind, line: this.line };
  }
}

class Lane {
  /** Trace order: what is queued, what each item still owes. */
  readonly entries: LaneEntry[] = [];
  head = 0;
  /** The runner's view of the same queue (items shift off it as they are generated). */
  items: RunItem[] = [];
  readonly plan: LanePlan;
  buffer = new LaneBuffer(4096);
  /** Buffers a bigger one replaced, while records items still name them. */
  retired: LaneBuffer[] = [];
  /** Records appended and not yet completed. */
  records = 0;
  /** A fault of this lane waits for another operation. */
  blocked = false;
  /** Accesses completed or skipped so far (the index of the next one). */
  seq = 0;
  /** Faults of the access at faultSeq so far, and the operation that handles them (done with the access). */
  faults = 0;
  faultSeq = -1;
  faultOp: Op | undefined;
  /** Its last phase ended at a fault after little work: its next one starts on the main thread. */
  faulty = false;
  /** Pending CPU-local events, and the address space the CPU runs after the last of them. */
  localPending = 0;
  projectedMm: MmStruct | undefined;
  constructor(readonly cpu: number) {
    this.plan = { cpu, pos: 0, end: 0, fromRecords: false, items: [], budget: 0, slice: 0 };
  }
  get hasWork(): boolean {
    return this.plan.pos < this.plan.end || this.items.length > 0;
  }
  get entry(): LaneEntry | undefined {
    return this.entries[this.head];
  }
  shiftEntry(): void {
    this.entries[this.head++] = undefined as never;
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries.splice(0, this.head);
      this.head = 0;
    }
  }
}

/** A stop of a lane at the end of a phase, to be resolved in trace order. */
interface Stop {
  lane: Lane;
  line: number;
  status: 'marker' | 'page-fault' | 'general-protection';
}

export class Replay {
  readonly kernel: Kernel;
  readonly oracle: Oracle;
  readonly fixes: FixSet;
  readonly profile: string;
  readonly cost: CostModel;
  private readonly parked = new Map<string, Task>();
  private readonly waiting: Task[] = [];
  /** Events of a CPU that wait behind one of its events. */
  private readonly cpuQueue = new Map<number, { line: number; ev: ReplayEvent }[]>();
  private readonly devices = new Map<string, SecondaryMmu>();
  private readonly lastSegv = new Map<number, boolean>();
  private readonly report: Report;
  private autoId = 0;
  private accessCount = 0;
  private eventCount = 0;

  // The window and where its phases run.
  private readonly lanes: (Lane | undefined)[];
  private windowRecords = 0;
  private windowItems = 0;
  private readonly local: LaneRunner;
  private readonly control = new Int32Array(new SharedArrayBuffer(4));
  /** Every lane's record buffers by id; which of them each worker has been given; which it may drop. */
  private readonly buffers = new Map<number, LaneBuffer>();
  private known: Set<number>[] = [];
  private forgotten: number[][] = [];
  private workers: CpuWorkers | undefined;
  private starting: Promise<CpuWorkers> | undefined;
  private readonly ownWorkers: boolean;
  private readonly workerCount: number;
  private readonly workerThreshold: number;
  private readonly onPhase: ((replay: Replay) => void) | undefined;
  private failed: Error | undefined;
  /** The line of the event being run (for errors that arise in a window). */
  private line = 0;
  /** Phases run, and of them on workers (statistics of the schedule, not of the trace). */
  private phases = 0;
  private workerPhases = 0;
  private lastYield = Date.now();

  private constructor(readonly machine: Machine, readonly header: ReplayHeader, profile: string, fixes: FixSet, readonly file: string, readonly seed: number, opts: ReplayOptions) {
    this.profile = profile;
    this.fixes = fixes;
    this.cost = { ...DEFAULT_COSTS, ...(opts.cost ?? {}) };
    this.kernel = new Kernel(machine, fixes, { levels: header.paging ?? 4, pcid: header.pcid ?? true });
    this.oracle = new Oracle(this.kernel);
    this.kernel.observer = this.oracle;
    this.report = {
      complete: false, kernel: profile, fixes: fixes.toRecord(), events: 0, accesses: 0,
      violations: this.oracle.violations, expectations: [], segfaults: [], waited: [], notes: this.oracle.notes, stats: {},
    };
    this.lanes = new Array(machine.ncpus).fill(undefined);
    this.local = new LaneRunner(machine);
    this.local.setControl(this.control);
    this.workers = undefined;
    this.ownWorkers = opts.pool === undefined;
    this.workerCount = opts.pool ? opts.pool.size : Math.max(0, Math.floor(opts.workers ?? 0));
    this.workerThreshold = opts.workerThreshold ?? LOCAL_WORK;
    this.onPhase = opts.onPhase;
    if (opts.pool) this.starting = opts.pool.reattach(machine).then(() => this.ready(opts.pool!));
    const signal = opts.signal;
    if (signal) {
      if (signal.aborted) Atomics.store(this.control, CONTROL_INTERRUPT, 1);
      else signal.addEventListener('abort', () => Atomics.store(this.control, CONTROL_INTERRUPT, 1), { once: true });
    }
  }

  /** A replay for this header; options (the command line) override the header's kernel and fixes. */
  static async create(header: ReplayHeader, opts: ReplayOptions = {}, file = 'trace'): Promise<Replay> {
    const profile = opts.kernel ?? header.kernel ?? DEFAULT_PROFILE;
    const fixes = resolveFixes(profile, { ...(header.fixes ?? {}), ...(opts.fixes ?? {}) });
    const machine = await Machine.create({
      ncpus: header.cpus, mode: opts.tlbMode ?? 'retentive', geometry: header.tlb, physmem: header.physmem ?? 64n << 30n,
      maxphyaddr: 46, eventCapacity: 4096,
    });
    const replay = new Replay(machine, header, profile, fixes, file, header.seed ?? 0, opts);
    if (opts.tlbMode === 'capacity') {
      replay.oracle.notes.push({ line: 0, text: 'TLBs in capacity mode (the real geometry): an eviction may remove a stale translation before the oracle sees it used' });
    }
    if (replay.starting) await replay.starting;
    return replay;
  }

  /** The default number of workers of the command line: one per core. */
  static defaultWorkers(): number {
    return availableParallelism();
  }

  /** Ends the worker threads this replay started (not a pool it was given). */
  async close(): Promise<void> {
    const w = this.workers ?? (this.starting ? await this.starting.catch(() => undefined) : undefined);
    this.workers = undefined;
    this.starting = undefined;
    if (w && this.ownWorkers) await w.close();
  }

  private fail(line: number, message: string, field?: string): never {
    throw new TraceError(this.file, line, field, message);
  }

  // ---- names ----

  private mmNamed(line: number, name: unknown, field = 'mm'): MmStruct {
    const mm = this.kernel.mms.get(String(name));
    if (!mm) this.fail(line, `no address space named '${String(name)}'`, field);
    return mm;
  }

  private currentMm(line: number, cpu: number, ev: ReplayEvent): MmStruct {
    if (ev.mm !== undefined) return this.mmNamed(line, ev.mm);
    const mm = this.kernel.cpus[cpu].current;
    if (!mm) this.fail(line, `CPU ${cpu} runs no address space (switch it to one first, or name "mm")`, 'cpu');
    return mm;
  }

  private fileNamed(line: number, name: unknown) {
    const f = this.kernel.files.get(String(name));
    if (!f) this.fail(line, `no hugetlbfs file named '${String(name)}'`, 'file');
    return f;
  }

  // ---- running events ----

  /** Accesses replayed so far (CPU and device). */
  get accesses(): number {
    return this.accessCount;
  }

  /**
   * Runs one event of the trace. Accesses and CPU-local events join the window and return at once
   * (undefined); anything else runs the window first, so it returns a promise to wait for. Events
   * given before that promise settles wait their turn (they still run in order), but a caller should
   * await it, and must await finish() before result().
   */
  run(line: number, ev: ReplayEvent): void | Promise<void> {
    if (this.tail) return this.track(this.tail.then(() => this.runNow(line, ev)));
    const r = this.runNow(line, ev);
    return r ? this.track(r) : undefined;
  }

  /** The last event still running: later ones chain on it. */
  private tail: Promise<void> | undefined;

  private track(p: Promise<void>): Promise<void> {
    this.tail = p;
    p.then(() => {
      if (this.tail === p) this.tail = undefined;
    }, () => {});
    return p;
  }

  private runNow(line: number, ev: ReplayEvent): void | Promise<void> {
    this.eventCount += ev.op === 'access_run' ? (ev as AccessRunEvent).va.length : 1;
    this.report.events = this.eventCount;
    this.line = line;
    const cpu = typeof ev.cpu === 'number' ? ev.cpu : undefined;
    if (cpu !== undefined && cpu >= this.kernel.cpus.length) this.fail(line, `CPU ${cpu} does not exist (the header says ${this.kernel.cpus.length} CPUs)`, 'cpu');
    if (cpu !== undefined && this.cpuQueue.has(cpu)) {
      this.cpuQueue.get(cpu)!.push({ line, ev });
      return;
    }
    return this.dispatch(line, ev);
  }

  private dispatch(line: number, ev: ReplayEvent): void | Promise<void> {
    if (ev.op === 'access_run') return this.appendRun(line, ev as AccessRunEvent);
    if ((ev.op === 'access' && ev.id === undefined && ev.until === undefined) || ev.op === 'accesses' || LOCAL_OPS.has(ev.op)) {
      try {
        this.append(line, ev);
      } catch (err) {
        // A bad event: what came before it still runs, so the report holds it.
        return this.flush().then(() => {
          throw err;
        });
      }
      if (this.windowRecords >= WINDOW_RECORDS || this.windowItems >= WINDOW_ITEMS) return this.flush();
      return;
    }
    return this.barrier(line, ev);
  }

  /** An event that runs alone: the window before it runs to its end first. */
  private async barrier(line: number, ev: ReplayEvent): Promise<void> {
    await this.flush();
    this.oracle.line = line;
    this.kernel.beginOp();
    try {
      await this.dispatchInner(line, ev);
    } catch (err) {
      if (err instanceof KernelRefusal) this.fail(line, `the kernel refuses this: ${err.message}`);
      throw err;
    }
  }

  private async dispatchInner(line: number, ev: ReplayEvent): Promise<void> {
    const k = this.kernel;
    switch (ev.op) {
      case 'mm':
        if (k.mms.has(String(ev.mm))) this.fail(line, `an address space named '${String(ev.mm)}' exists already`, 'mm');
        k.mmAlloc(String(ev.mm));
        return;
      case 'hugetlbfs': {
        if (k.files.has(String(ev.file))) this.fail(line, `a file named '${String(ev.file)}' exists already`, 'file');
        const pagesize = ev.pagesize as '2M' | '1G';
        const size = ev.size as bigint;
        if (size % (pagesize === '2M' ? 1n << 21n : 1n << 30n) !== 0n) this.fail(line, `size ${hex(size)} is not a multiple of the ${pagesize} page size`, 'size');
        k.files.set(String(ev.file), k.newHugetlbFile(String(ev.file), size, pagesize));
        return;
      }
      case 'mmap': {
        const mm = this.currentMm(line, ev.cpu as number, ev);
        doMmap(k, mm, {
          va: ev.va as bigint, len: ev.len as bigint, prot: ev.prot as Prot, shared: ev.flags === 'shared',
          file: ev.file !== undefined ? this.fileNamed(line, ev.file) : undefined, offset: (ev.offset as bigint | undefined) ?? 0n,
          hugetlb: ev.hugetlb as '2M' | '1G' | undefined,
        });
        return;
      }
      case 'attach': {
        const mm = this.mmNamed(line, ev.mm);
        const name = String(ev.device);
        if (this.devices.has(name)) this.fail(line, `a device named '${name}' exists already`, 'device');
        const d = makeDevice(ev.kind as DeviceKind, name, mm, k);
        this.devices.set(name, d);
        this.oracle.devices.push(d);
        k.notifiers.register(mm, d);
        return;
      }
      case 'expect':
        if (ev.segv && typeof ev.cpu === 'number' && this.cpuQueue.has(ev.cpu)) {
          this.cpuQueue.get(ev.cpu)!.push({ line, ev });
          return;
        }
        this.expect(line, ev);
        return;
      case 'resume': {
        const task = this.parked.get(String(ev.id));
        if (!task) this.fail(line, `no operation is parked with id '${String(ev.id)}'`, 'id');
        this.parked.delete(String(ev.id));
        const until = ev.until as string | undefined;
        if (until !== undefined && task.steps && task.at !== undefined) {
          if (!task.steps.includes(until)) this.fail(line, `"${until}" is not a step of ${task.op.name} (steps: ${task.steps.join(', ')})`, 'until');
          if (task.steps.indexOf(until) <= task.steps.indexOf(task.at)) this.fail(line, `operation '${task.op.id}' is parked before "${task.at}": it can only run on to a later step`, 'until');
        }
        task.until = until;
        await this.drive(task, line);
        return;
      }
      default:
        await this.startTask(line, ev);
    }
  }

  /** A CPU-local event, when its lane reaches it. */
  private runLocal(line: number, ev: ReplayEvent): void {
    const k = this.kernel;
    const cpu = ev.cpu as number;
    this.oracle.line = line;
    k.beginOp();
    if (ev.op === 'switch') k.switchTo(cpu, this.mmNamed(line, ev.mm));
    else enterLazyTlb(k, cpu);
  }

  /** Events that run as kernel operations (or as parkable accesses that may fault). */
  private async startTask(line: number, ev: ReplayEvent): Promise<void> {
    const k = this.kernel;
    const cpu = ev.cpu as number | undefined;
    const id = ev.id !== undefined ? String(ev.id) : `#${++this.autoId}`;
    if (ev.id !== undefined && this.parked.has(id)) this.fail(line, `an operation with id '${id}' is still parked`, 'id');
    const op = new Op(id, String(ev.op === 'madvise' ? `madvise(${String(ev.advice)})` : ev.op), cpu ?? -1, line);
    let gen: OpGen<unknown>;
    switch (ev.op) {
      case 'munmap': gen = sysMunmap(k, op, this.currentMm(line, cpu!, ev), ev.va as bigint, ev.len as bigint); break;
      case 'mprotect': gen = sysMprotect(k, op, this.currentMm(line, cpu!, ev), ev.va as bigint, ev.len as bigint, ev.prot as Prot); break;
      case 'madvise': gen = sysMadvise(k, op, this.currentMm(line, cpu!, ev), ev.va as bigint, ev.len as bigint, ev.advice as never); break;
      case 'mremap': gen = sysMremap(k, op, this.currentMm(line, cpu!, ev), ev.va as bigint, ev.len as bigint, ev.newva as bigint, (ev.newlen as bigint | undefined) ?? (ev.len as bigint)); break;
      case 'fallocate': gen = sysFallocatePunchHole(k, op, this.fileNamed(line, ev.file), ev.offset as bigint, ev.len as bigint); break;
      case 'truncate': gen = sysTruncate(k, op, this.fileNamed(line, ev.file), ev.size as bigint); break;
      case 'exit': {
        const mm = this.currentMm(line, cpu!, ev);
        gen = this.exitTask(op, mm, cpu!);
        break;
      }
      case 'fork': {
        if (k.mms.has(String(ev.child))) this.fail(line, `an address space named '${String(ev.child)}' exists already`, 'child');
        gen = dupMmap(k, op, this.currentMm(line, cpu!, ev), String(ev.child));
        break;
      }
      case 'migrate': gen = this.pageTask(line, op, ev, 'migrate'); break;
      case 'reclaim': gen = this.pageTask(line, op, ev, 'reclaim'); break;
      case 'access': gen = this.accessTask(line, op, cpu!, ev.va as bigint, ev.rw as Access, ev.user !== false); break;
      case 'device_access': {
        const d = this.devices.get(String(ev.device));
        if (!d) this.fail(line, `no device named '${String(ev.device)}'`, 'device');
        gen = this.deviceTask(line, op, d, ev.va as bigint, ev.rw as Access);
        break;
      }
      default:
        this.fail(line, `the replay has no handler for op '${ev.op}'`, 'op');
    }
    await this.drive({ op, gen, cpu, until: ev.until as string | undefined, steps: STEPS[ev.op === 'madvise' ? `madvise ${String(ev.advice)}` : ev.op] }, line);
  }

  private *exitTask(op: Op, mm: MmStruct, cpu: number): OpGen {
    yield* exitMmap(this.kernel, op, mm);
    for (const [name, d] of this.devices) if (d.mm === mm) this.devices.delete(name);
    this.kernel.cpus[cpu].current = undefined;
  }

  /**
   * Runs a task until it completes, parks at its `until` step, or has to wait; true when it
   * completed. It does not wake what waits for it (drive does).
   */
  private step(task: Task): boolean {
    const k = this.kernel;
    for (;;) {
      k.currentOp = task.op;
      let r: IteratorResult<unknown, unknown>;
      try {
        r = task.gen.next();
      } catch (err) {
        if (err instanceof KernelRefusal) this.fail(task.op.line, `the kernel refuses this: ${err.message}`);
        throw err;
      } finally {
        k.currentOp = undefined;
      }
      if (r.done) break;
      const y = r.value as { step?: string; wait?: Op; reason?: string };
      if (y.step !== undefined) {
        if (task.until !== undefined && y.step === task.until) {
          task.until = undefined;
          task.at = y.step;
          this.parked.set(task.op.id, task);
          return false;
        }
        continue;
      }
      // It must wait for another operation: queue it, and its CPU's later events behind it.
      task.blockedOn = y.wait!;
      this.waiting.push(task);
      this.report.waited.push({ line: task.op.line, behind: y.wait!.line, reason: y.reason! });
      if (task.cpu !== undefined && task.cpu >= 0 && !this.cpuQueue.has(task.cpu)) this.cpuQueue.set(task.cpu, []);
      return false;
    }
    if (!task.keep) task.op.done = true;
    // It finished before reaching its `until` step (the kernel skipped the work, e.g. no page was
    // present to migrate): it counts as parked at the end, so the trace's `resume` still finds it.
    if (task.until !== undefined && !task.op.id.startsWith('#')) {
      task.until = undefined;
      this.parked.set(task.op.id, task);
    }
    return true;
  }

  /** Runs a task (step) and, when it completed, what waited for it. */
  private async drive(task: Task, line: number): Promise<void> {
    if (this.step(task)) await this.wake(line);
  }

  /** After an operation completed: the tasks waiting for it run, in the order they were written. */
  private async wake(line: number): Promise<void> {
    for (;;) {
      const i = this.waiting.findIndex((t) => t.blockedOn!.done);
      if (i < 0) break;
      const [t] = this.waiting.splice(i, 1);
      t.blockedOn = undefined;
      // What was dispatched before it (the CPU queues released so far) runs first.
      await this.flush();
      this.oracle.line = line;
      if (this.step(t)) await this.wake(line);
      if (t.cpu !== undefined && !this.waiting.some((w) => w.cpu === t.cpu)) await this.releaseCpu(t.cpu);
    }
  }

  private async releaseCpu(cpu: number): Promise<void> {
    const q = this.cpuQueue.get(cpu);
    if (!q) return;
    this.cpuQueue.delete(cpu);
    while (q.length) {
      const { line, ev } = q.shift()!;
      if (this.cpuQueue.has(cpu)) {
        this.cpuQueue.get(cpu)!.push({ line, ev });
        continue;
      }
      await this.dispatch(line, ev);
    }
  }

  // ---- the window: lanes ----

  private lane(cpu: number): Lane {
    let lane = this.lanes[cpu];
    if (!lane) {
      lane = this.lanes[cpu] = new Lane(cpu);
      this.buffers.set(lane.buffer.id, lane.buffer);
      this.local.register([lane.buffer.shared]);
    }
    return lane;
  }

  /** The address space the CPU runs when its lane reaches the end of what is queued. */
  private laneMm(lane: Lane): MmStruct | undefined {
    return lane.localPending > 0 ? lane.projectedMm : this.kernel.cpus[lane.cpu].current;
  }

  private needMm(line: number, lane: Lane): void {
    if (!this.laneMm(lane)) this.fail(line, `CPU ${lane.cpu} runs no address space (switch it to one first)`, 'cpu');
  }

  /**
   * Room for `n` more records in the lane's buffer: the buffer starts over when the lane owes none,
   * and a bigger one takes over when it is full (the records still owed keep the old one).
   */
  private reserve(lane: Lane, n: number): LaneBuffer {
    const b = lane.buffer;
    if (lane.records === 0) {
      b.fill = 0;
      if (lane.retired.length) this.forgetBuffers(lane.retired.splice(0));
    }
    if (b.fill + n <= b.capacity) return b;
    lane.retired.push(b);
    const fresh = (lane.buffer = new LaneBuffer(Math.max(n, Math.min(2 * b.capacity, WINDOW_RECORDS))));
    this.buffers.set(fresh.id, fresh);
    this.local.register([fresh.shared]);
    return fresh;
  }

  private forgetBuffers(old: LaneBuffer[]): void {
    const ids = old.map((b) => b.id);
    for (const id of ids) this.buffers.delete(id);
    this.local.forget(ids);
    this.known.forEach((known, t) => {
      const gone = ids.filter((id) => known.delete(id));
      if (gone.length) this.forgotten[t].push(...gone);
    });
  }

  /**
   * The records [at, at + n) of the lane's buffer join the lane (the last records item grows if it
   * can). `run`: they are an access run, on consecutive lines from `line` (no line column).
   */
  private pushRecords(lane: Lane, b: LaneBuffer, at: number, n: number, line: number, run: boolean): void {
    const last = lane.items[lane.items.length - 1];
    const lastEntry = lane.entries[lane.entries.length - 1];
    const lineFits = last?.t === 'records' && (run ? last.line0 >= 0 && last.line0 + (last.end - last.first) === line : last.line0 < 0);
    if (last && last.t === 'records' && lineFits && last.buf === b.id && last.end === at && lastEntry && lastEntry.kind === 'records' && lane.entries.length > lane.head) {
      last.end += n;
      lastEntry.left += n;
    } else {
      const item: RecordsItem = { t: 'records', buf: b.id, at, end: at + n, line0: run ? line : -1, first: at };
      lane.items.push(item);
      // Not a window item: records count record by record (how they group differs between the forms).
      lane.entries.push({ kind: 'records', left: n, line });
    }
    b.fill = at + n;
    lane.records += n;
    this.windowRecords += n;
  }

  /** An `access`, an `accesses` stream or a CPU-local event joins its CPU's lane. */
  private append(line: number, ev: ReplayEvent): void {
    const cpu = ev.cpu as number;
    const lane = this.lane(cpu);
    if (ev.op === 'access') {
      this.needMm(line, lane);
      const va = BigInt.asUintN(64, ev.va as bigint);
      const rw = ev.rw as Access;
      const kind = (rw === 'w' ? KIND.write : rw === 'x' ? KIND.fetch : KIND.read) | (ev.user === false ? KIND.supervisor : 0);
      const b = this.reserve(lane, 1);
      const at = b.fill;
      b.va64[at] = va;
      b.kind8[at] = kind;
      b.line32[at] = line;
      this.pushRecords(lane, b, at, 1, line, false);
      return;
    }
    if (ev.op === 'accesses') {
      this.needMm(line, lane);
      const { params, state } = streamStart(ev as StreamSpec, this.seed, line);
      if (params.count === 0) return;
      lane.items.push({ t: 'stream', params, state });
      lane.entries.push({ kind: 'stream', left: params.count, line });
      this.windowItems++;
      return;
    }
    // switch, idle
    lane.projectedMm = ev.op === 'switch' ? this.mmNamed(line, ev.mm) : undefined;
    lane.localPending++;
    lane.items.push({ t: 'marker' });
    lane.entries.push({ kind: 'local', left: 0, line, ev });
    this.windowItems++;
  }

  /**
   * A binary trace's run of one CPU's accesses (record i is line `line + i`): exactly as many
   * `access` events, so the window ends at the same record whichever form the trace has.
   */
  private appendRun(line: number, run: AccessRunEvent): void | Promise<void> {
    const lane = this.lane(run.cpu);
    try {
      this.needMm(line, lane);
    } catch (err) {
      return this.flush().then(() => {
        throw err;
      });
    }
    const n = run.va.length;
    let i = 0;
    const more = (): void | Promise<void> => {
      while (i < n) {
        const room = Math.max(1, WINDOW_RECORDS - this.windowRecords);
        const take = Math.min(room, n - i);
        const b = this.reserve(lane, take);
        const at = b.fill;
        b.va64.set(run.va.subarray(i, i + take), at);
        b.kind8.set(run.rw.subarray(i, i + take), at);
        this.pushRecords(lane, b, at, take, line + i, true);
        i += take;
        if (this.windowRecords >= WINDOW_RECORDS || this.windowItems >= WINDOW_ITEMS) return this.flush().then(more);
      }
    };
    return more();
  }

  /** Runs the window: phases until every lane is done or waits. */
  private async flush(): Promise<void> {
    for (;;) {
      const active: Lane[] = [];
      for (const l of this.lanes) if (l && !l.blocked && l.hasWork) active.push(l);
      if (active.length === 0) break;
      await this.phase(active);
      // Phases on this thread never give the event loop a turn: let a Ctrl-C (and progress) in now and then.
      const now = Date.now();
      if (now - this.lastYield > 50) {
        this.lastYield = now;
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    }
  }

  /** One phase of these lanes, then its stops in trace order. */
  private async phase(active: Lane[]): Promise<void> {
    const cuts: number[] = [];
    for (const lane of active) {
      const p = lane.plan;
      let cut = lane.items.findIndex((it) => it.t === 'marker');
      cut = cut < 0 ? lane.items.length : cut + 1;
      cuts.push(cut);
      p.items = lane.items.slice(0, cut);
      p.budget = PHASE_BUDGET;
    }
    // The phase may run in slices (on this thread first, then on the workers): nothing is applied
    // between them, so it is the same phase.
    const done = new Array<number>(active.length).fill(0);
    const singles = new Array<number>(active.length).fill(0);
    const status = new Array<LaneResult['status']>(active.length).fill('idle');
    const events: Uint32Array[][] = active.map(() => []);
    // The probe: every lane's first PHASE_PROBE accesses, on this thread (a round trip to the
    // workers would cost more). If a lane stops there (a fault, a CPU-local event), the phase ends
    // for every lane at PHASE_PROBE accesses — its stop is resolved sooner, and the next phase finds
    // the lanes together again. Otherwise the lanes still running go on to PHASE_BUDGET, on the
    // workers when the work is worth it (a lane that faults stopped early last time first runs one
    // more slice here). The probe is part of the schedule; where the slices run is not.
    const run = async (which: number[], slice: (l: Lane) => number, here: boolean): Promise<number[]> => {
      const lanes = which.map((i) => active[i]);
      for (const l of lanes) l.plan.slice = slice(l);
      const left = lanes.reduce((sum, l) => sum + Math.min(l.plan.budget, estimate(l.plan)), 0);
      const results = here ? this.local.runPhase(lanes.map((l) => l.plan)) : await this.execute(lanes, left);
      const next: number[] = [];
      results.forEach((r, j) => {
        const i = which[j];
        const lane = active[i];
        Object.assign(lane.plan, { pos: r.plan.pos, end: r.plan.end, fromRecords: r.plan.fromRecords, items: r.plan.items });
        lane.plan.budget -= r.done;
        done[i] += r.done;
        singles[i] += r.singles;
        status[i] = r.status;
        if (r.events.length) events[i].push(r.events);
        if (r.status === 'slice') next.push(i);
      });
      return next;
    };
    let running = await run(active.map((_, i) => i), () => PHASE_PROBE, true);
    const stopped = status.some((st) => st === 'page-fault' || st === 'general-protection' || st === 'marker');
    if (stopped) {
      for (const i of running) status[i] = 'budget';
      running = [];
    }
    const toWorkers = this.workerCount > 0 && this.workerThreshold > 0;
    if (running.length && toWorkers && running.some((i) => active[i].faulty)) {
      const faulty = running.filter((i) => active[i].faulty);
      const others = running.filter((i) => !active[i].faulty);
      running = [...others, ...(await run(faulty, () => LOCAL_SLICE, true))].sort((x, y) => x - y);
    }
    while (running.length) running = await run(running, () => 0, false);
    this.phases++;
    const stops: Stop[] = [];
    const hardware: { line: number; cpu: number; seq: number; words: Uint32Array; at: number }[] = [];
    for (let i = 0; i < active.length; i++) {
      const lane = active[i];
      lane.items.splice(0, cuts[i], ...lane.plan.items);
      lane.plan.items = [];
      this.completed(lane, done[i]);
      if (singles[i] > 0) this.lastSegv.set(lane.cpu, false);
      let seq = 0;
      for (const ev of events[i]) {
        for (let e = 0; e < ev.length; e += EVENT_WORDS, seq++) {
          if (ev[e] === L.EVK_ACCESSED_DIRTY) {
            this.machine.orEntry(BigInt(ev[e + 4]) | (BigInt(ev[e + 5]) << 32n), BigInt(ev[e + 6]));
          } else hardware.push({ line: ev[e + 1], cpu: lane.cpu, seq, words: ev, at: e });
        }
      }
      lane.faulty = status[i] === 'page-fault' && done[i] < LOCAL_SLICE;
      if (status[i] === 'marker') stops.push({ lane, line: lane.entry!.line, status: 'marker' });
      else if (status[i] === 'page-fault' || status[i] === 'general-protection') {
        const { records } = this.machine.batchArea(lane.cpu);
        stops.push({ lane, line: records[4 * lane.plan.pos + 3], status: status[i] as Stop['status'] });
      }
    }
    // What the accesses revealed, in trace order (then by CPU), whichever thread ran them.
    hardware.sort((a, b) => a.line - b.line || a.cpu - b.cpu || a.seq - b.seq);
    for (const h of hardware) {
      const mm = this.kernel.cpus[h.cpu].current;
      if (mm) this.oracle.hardwareEvents(h.cpu, mm, [oracleEvent(h.words, h.at)], () => h.line);
    }
    if (status.includes('interrupted') || Atomics.load(this.control, CONTROL_INTERRUPT) !== 0) {
      this.fail(this.line, 'interrupted (Ctrl-C): the report holds what was replayed before');
    }
    stops.sort((a, b) => a.line - b.line || a.lane.cpu - b.lane.cpu);
    for (const s of stops) this.resolve(s);
    this.onPhase?.(this);
    if (this.waiting.some((t) => t.blockedOn!.done)) await this.wake(this.line);
  }

  /** `n` accesses of the lane completed: its entries are paid off in order. */
  private completed(lane: Lane, n: number): void {
    this.accessCount += n;
    this.report.accesses = this.accessCount;
    lane.seq += n;
    if (lane.faultOp && lane.seq > lane.faultSeq) {
      // The access that faulted is done: so is the operation of its faults (what waits for it may run).
      lane.faultOp.done = true;
      lane.faultOp = undefined;
    }
    while (n > 0) {
      const e = lane.entry!;
      const take = Math.min(n, e.left);
      e.left -= take;
      n -= take;
      if (e.kind === 'records') {
        lane.records -= take;
        this.windowRecords -= take;
      }
      if (e.left === 0) {
        lane.shiftEntry();
        if (e.kind !== 'records') this.windowItems--;
      }
    }
    // Entries that a stop skipped to the end, and empty ones, go too (but a local event waits to run).
    while (lane.entry && lane.entry.kind !== 'local' && lane.entry.left === 0) {
      if (lane.entry.kind !== 'records') this.windowItems--;
      lane.shiftEntry();
    }
  }

  /** A lane's stop, in trace order: its CPU-local event, its fault, its #GP. */
  private resolve(s: Stop): void {
    const lane = s.lane;
    const cpu = lane.cpu;
    if (s.status === 'marker') {
      const e = lane.entry!;
      lane.items.shift();
      lane.shiftEntry();
      this.windowItems--;
      lane.localPending--;
      this.runLocal(e.line, e.ev!);
      return;
    }
    const { records } = this.machine.batchArea(cpu);
    const at = 4 * lane.plan.pos;
    const va = BigInt(records[at]) | (BigInt(records[at + 1]) << 32n);
    if (s.status === 'general-protection') {
      this.skip(lane, s.line, va);
      return;
    }
    const kind = records[at + 2];
    const rw: Access = kind & KIND.write ? 'w' : kind & KIND.fetch ? 'x' : 'r';
    if (lane.faultSeq === lane.seq && lane.faultOp) lane.faults++;
    else {
      lane.faultSeq = lane.seq;
      lane.faults = 1;
      lane.faultOp = new Op(`#${++this.autoId}`, lane.entry?.kind === 'stream' ? 'accesses' : 'access', cpu, s.line);
    }
    const op = lane.faultOp!;
    const mm = this.kernel.cpus[cpu].current!;
    this.oracle.line = s.line;
    this.kernel.beginOp();
    lane.blocked = true;
    this.step({ op, gen: this.laneFault(lane, s.line, op, mm, va, rw, lane.faults >= FAULT_ATTEMPTS), cpu, until: undefined, steps: STEPS.access, keep: true });
  }

  /** The kernel handles a lane's fault; the access then runs again (next phase) or is a segfault. */
  private *laneFault(lane: Lane, line: number, op: Op, mm: MmStruct, va: bigint, rw: Access, last: boolean): OpGen {
    const r = yield* handleMmFault(this.kernel, op, mm, va, rw);
    if (r === 'segv' || last) this.skip(lane, line, va);
    lane.blocked = false;
  }

  /** The lane's next access ends in a segmentation fault: it counts, and the lane goes on after it. */
  private skip(lane: Lane, line: number, va: bigint): void {
    lane.plan.pos++;
    this.completed(lane, 1);
    this.segv(line, lane.cpu, undefined, va);
  }

  // ---- where a phase runs ----

  private async execute(active: Lane[], work: number): Promise<LaneResult[]> {
    const plans = active.map((l) => l.plan);
    if (this.failed) throw this.failed;
    const wantWorkers = this.workerCount > 0 && work >= this.workerThreshold;
    const workers = wantWorkers ? await this.startWorkers(active) : undefined;
    if (!workers) return this.local.runPhase(plans);
    this.workerPhases++;
    // Lanes to workers, largest first onto the least loaded (the assignment does not change results).
    const n = workers.size;
    const load = new Array<number>(n).fill(0);
    const groups: number[][] = Array.from({ length: n }, () => []);
    const order = plans.map((p, i) => ({ i, w: Math.min(PHASE_BUDGET, estimate(p)) })).sort((a, b) => b.w - a.w || a.i - b.i);
    for (const { i, w } of order) {
      let best = 0;
      for (let t = 1; t < n; t++) if (load[t] < load[best]) best = t;
      load[best] += w + 1;
      groups[best].push(i);
    }
    const results = new Array<LaneResult>(plans.length);
    await Promise.all(groups.map(async (g, t) => {
      if (g.length === 0) return;
      let out: LaneResult[];
      try {
        // The record buffers its plans name that it does not know yet, and those it may drop, first.
        const known = this.known[t];
        const fresh: RecordBuffer[] = [];
        for (const i of g) {
          for (const it of plans[i].items) {
            if (it.t === 'records' && !known.has(it.buf)) {
              known.add(it.buf);
              fresh.push(this.buffers.get(it.buf)!.shared);
            }
          }
        }
        const gone = this.forgotten[t].splice(0);
        const setup: Promise<void>[] = [];
        if (gone.length) setup.push(workers.request<void, LaneWorkerApi>(t, 'forget', (r) => r.forget(gone)));
        if (fresh.length) setup.push(workers.request<void, LaneWorkerApi>(t, 'register', (r) => r.register(fresh)));
        const run = workers.request<LaneResult[], LaneWorkerApi>(t, `runLanes(CPUs ${g.map((i) => plans[i].cpu).join(', ')})`, (r) => r.runLanes(g.map((i) => plans[i])));
        await Promise.all(setup);
        out = await run;
      } catch (err) {
        throw this.workerFailed(err, g.map((i) => active[i]));
      }
      g.forEach((i, j) => (results[i] = out[j]));
    }));
    return results;
  }

  private async startWorkers(active: Lane[]): Promise<CpuWorkers | undefined> {
    if (this.workers) return this.workers;
    this.starting ??= CpuWorkers.start(this.machine, this.workerCount, { entry: LANE_WORKER_URL }).then((w) => this.ready(w));
    try {
      return await this.starting;
    } catch (err) {
      throw this.workerFailed(err, active);
    }
  }

  /** Workers attached to this machine: they get the control block; they know no record buffer yet. */
  private async ready(w: CpuWorkers): Promise<CpuWorkers> {
    await Promise.all(Array.from({ length: w.size }, (_, t) => w.request<void, LaneWorkerApi>(t, 'setControl', (r) => r.setControl(this.control))));
    this.known = Array.from({ length: w.size }, () => new Set<number>());
    this.forgotten = Array.from({ length: w.size }, () => []);
    this.workers = w;
    return w;
  }

  /** A worker failed: the replay cannot go on; the error names the first line it was running. */
  private workerFailed(err: unknown, lanes: Lane[]): Error {
    const lines = lanes.map((l) => l.entry?.line ?? this.line);
    const line = Math.min(...lines);
    const cpus = lanes.map((l) => l.cpu).join(', ');
    const e = new TraceError(this.file, line, undefined, `a replay worker failed while running the accesses of CPU ${cpus} from line ${line}: ${err instanceof Error ? err.message : String(err)}`);
    this.failed = e;
    const w = this.workers;
    this.workers = undefined;
    if (w && this.ownWorkers) void w.close();
    return e;
  }

  // ---- accesses that run alone (a parkable `access`) ----

  private *accessTask(line: number, op: Op, cpu: number, va: bigint, rw: Access, user: boolean): OpGen {
    const k = this.kernel;
    const mm = k.cpus[cpu].current;
    if (!mm) this.fail(line, `CPU ${cpu} runs no address space (switch it to one first)`, 'cpu');
    const kind = (rw === 'w' ? KIND.write : rw === 'x' ? KIND.fetch : KIND.read) | (user ? 0 : KIND.supervisor);
    this.accessCount++;
    this.report.accesses = this.accessCount;
    for (let attempt = 0; attempt < FAULT_ATTEMPTS; attempt++) {
      const res = this.machine.access(cpu, va, kind);
      this.drainHardware(cpu, mm, () => line);
      if (res.status === 'ok') {
        this.lastSegv.set(cpu, false);
        return;
      }
      if (res.status === 'general-protection') break;
      const r = yield* handleMmFault(k, op, mm, va, rw);
      if (r === 'segv') break;
    }
    this.segv(line, cpu, undefined, va);
  }

  private segv(line: number, cpu: number | undefined, device: string | undefined, va: bigint): void {
    this.kernel.vmStats.segv++;
    if (cpu !== undefined) this.lastSegv.set(cpu, true);
    this.report.segfaults.push({ line, ...(cpu !== undefined ? { cpu } : {}), ...(device ? { device } : {}), va: hex(va) });
  }

  private drainHardware(cpu: number, mm: MmStruct, lineOf: (i: number) => number): void {
    const events = this.machine.drainEvents(cpu);
    if (events.length) this.oracle.hardwareEvents(cpu, mm, events, lineOf);
  }

  /** A device translates va through its TLB, filling it from the page tables (faulting in if needed). */
  private *deviceTask(line: number, op: Op, d: SecondaryMmu, va: bigint, rw: Access): OpGen {
    const k = this.kernel;
    d.stats.accesses++;
    const write = rw === 'w';
    for (let attempt = 0; attempt < FAULT_ATTEMPTS; attempt++) {
      const hit = d.lookup(va);
      if (hit && (!write || hit.writable)) {
        d.stats.hits++;
        this.oracle.deviceUse(d, va, write);
        return;
      }
      const blocker = d.blockedBy(va);
      if (blocker && !blocker.done && blocker !== op) {
        yield { wait: blocker, reason: `device ${d.name} may not fill 0x${va.toString(16)} while an invalidation of it is in progress` };
        continue;
      }
      const t = k.tables.lookup(d.mm.pgd, va, k.levels);
      if (t && (!write || (t.leaf & 2n) !== 0n)) {
        const size = t.size;
        const base = va & ~((size === '4K' ? 1n << 12n : size === '2M' ? 1n << 21n : 1n << 30n) - 1n);
        const frame = t.pa - (va - base);
        const slot = this.machine.slotOf(frame);
        d.fill({ va: base, size, pa: frame, writable: (t.leaf & 2n) !== 0n, slot, stamp: (this.machine.readGeneration(slot) & 0x7fffffff) >>> 0, line });
        continue;
      }
      d.stats.faults++;
      const r = yield* handleMmFault(k, op, d.mm, va, rw);
      if (r === 'segv') break;
    }
    this.segv(line, undefined, d.name, va);
  }

  // ---- migrate and reclaim by address ----

  private *pageTask(line: number, op: Op, ev: ReplayEvent, what: 'migrate' | 'reclaim'): OpGen {
    const k = this.kernel;
    let page;
    if (ev.file !== undefined) {
      const f = this.fileNamed(line, ev.file);
      const off = ev.offset as bigint;
      if (off % f.hpageBytes !== 0n) this.fail(line, `offset ${hex(off)} is not aligned to the ${f.pagesize} pages of file ${f.name}`, 'offset');
      page = f.pages.get(Number(off / f.hpageBytes));
    } else {
      const mm = this.currentMm(line, ev.cpu as number, ev);
      const va = ev.va as bigint;
      const vma = mm.findVma(va);
      if (vma) {
        const size = vma.file?.pagesize ?? '4K';
        const ea = vma.file ? hugePteOffset(k, mm, va, vma.file.pagesize) : walkTo(k, mm, va, 'pte');
        const e = ea === undefined ? 0n : readEntry(k, ea);
        if (ptePresent(e)) page = k.pages.get(e & PTE_PFN_MASK & ~((size === '4K' ? 1n << 12n : size === '2M' ? 1n << 21n : 1n << 30n) - 1n));
        else if (isMigrationEntry(k, e)) k.observer.kernelNote(op, `the page at ${hex(va)} is being migrated already`);
      }
    }
    if (!page) {
      this.oracle.notes.push({ line, text: `${what}: no page is present there; the kernel skips it` });
      return;
    }
    // A page another migration holds is isolated from the LRU: isolating it again fails (-EBUSY).
    if (page.migrating) {
      this.oracle.notes.push({ line, text: `${what}: the page at 0x${page.pa.toString(16)} is being migrated by the operation of line ${page.migrating.line}; the kernel skips it` });
      return;
    }
    if (what === 'migrate') yield* migratePage(k, op, page, 'migrate');
    else yield* shrinkPage(k, op, page);
  }

  // ---- expectations ----

  private expect(line: number, ev: ReplayEvent): void {
    const withFix = ev.with as string | undefined;
    const withoutFix = ev.without as string | undefined;
    let applies = true;
    const known = (id: string, field: string) => {
      if (!(id in this.report.fixes)) this.fail(line, `unknown fix ${id} (run 'mmuwasm profiles' for the list)`, field);
    };
    if (withFix) {
      known(withFix, 'with');
      applies = this.fixes.ids.includes(withFix);
    }
    if (withoutFix) {
      known(withoutFix, 'without');
      applies = !this.fixes.ids.includes(withoutFix);
    }
    let ok = true;
    let text: string;
    if (ev.violations !== undefined) {
      text = `${String(ev.violations)} violations so far`;
      ok = this.oracle.violations.length === ev.violations;
    } else if (ev.violation !== undefined) {
      const kind = ev.violation as ViolationKind;
      const va = ev.va as bigint | undefined;
      text = `a ${kind} violation${ev.cpu !== undefined ? ` on CPU ${String(ev.cpu)}` : ''}${ev.device !== undefined ? ` of device ${String(ev.device)}` : ''}${ev.mm !== undefined ? ` in ${String(ev.mm)}` : ''}${va !== undefined ? ` at ${hex(va)}` : ''}`;
      ok = this.oracle.violations.some((v) => v.kind === kind
        && (ev.cpu === undefined || v.cpu === ev.cpu)
        && (ev.device === undefined || v.device === ev.device)
        && (ev.mm === undefined || v.mm === ev.mm)
        && (va === undefined || sameVa(BigInt(v.va), va)));
    } else {
      text = `the last access of CPU ${String(ev.cpu)} ended in a segmentation fault`;
      ok = this.lastSegv.get(ev.cpu as number) === true;
    }
    this.report.expectations.push({ line, ok: applies ? ok : true, applies, text });
  }

  // ---- the end ----

  /** Runs what the window still holds (the report then has it), errors aside: for a partial report. */
  async settle(): Promise<void> {
    if (this.failed || Atomics.load(this.control, CONTROL_INTERRUPT) !== 0) return;
    try {
      await this.tail;
      await this.flush();
    } catch {
      // the error that stopped the replay is the one to report
    }
  }

  /** Ends the trace: an operation still parked, or an event still waiting, is an error. */
  async finish(lastLine: number): Promise<void> {
    await this.tail;
    this.line = lastLine;
    await this.flush();
    for (const t of this.parked.values()) this.fail(t.op.line, `operation '${t.op.id}' (${t.op.name}) is still parked at the end of the trace (add a resume)`, 'until');
    if (this.waiting.length) this.fail(this.waiting[0].op.line, `this event still waits for the ${this.waiting[0].blockedOn!.describe()} at the end of the trace`);
    this.report.complete = true;
  }

  /** The report so far (complete after finish()). Call it when no phase runs. */
  result(): Report {
    const k = this.kernel;
    const counters = Array.from({ length: k.cpus.length }, (_, c) => this.machine.counters(c));
    const sum = (name: keyof (typeof counters)[number]) => counters.reduce((s, c) => s + c[name], 0n);
    const costs = counters.map((c, cpu) => cpuCost(this.cost, cpu, costCounts(c, k.perCpu[cpu])));
    const cost = costReport(this.cost, costs);
    this.report.stats = {
      cpus: k.cpus.length,
      tlb: {
        accesses: Number(sum('accesses')), walks: Number(sum('walks')), walkLoads: Number(sum('walkLoads')), tlbMisses: Number(sum('tlbMisses')),
        pageFaults: Number(sum('pageFaults')), invlpg: Number(sum('invlpg')), cr3Flush: Number(sum('cr3Flush')), cr3NoFlush: Number(sum('cr3NoFlush')),
        invpcid: Number(sum('invpcid0') + sum('invpcid1') + sum('invpcid2') + sum('invpcid3')), dirtyRewalks: Number(sum('dirtyRewalks')),
      },
      flush: { ...k.flushStats },
      notifiers: { ...k.notifiers.stats },
      hugetlb: { ...k.hugetlbStats },
      vm: { ...k.vmStats },
      cycles: { total: cost.cycles, byKind: cost.byKind, model: cost.model },
      perCpu: k.perCpu.map((p, c) => ({
        cpu: c, ...p, accesses: Number(counters[c].accesses), walks: Number(counters[c].walks), walkLoads: Number(counters[c].walkLoads),
        cr3Flush: Number(counters[c].cr3Flush), invpcid: costs[c].invpcid, cycles: costs[c].cycles,
      })),
      devices: [...this.oracle.devices].map((d) => ({ device: d.name, kind: d.kind, mm: d.mm.name, ...d.stats })),
    };
    return this.report;
  }

  /** How the replay ran (not part of the report: it depends on the machine, not the trace). */
  schedule(): { workers: number; phases: number; workerPhases: number } {
    return { workers: this.workers?.size ?? 0, phases: this.phases, workerPhases: this.workerPhases };
  }

  /** True when every expectation held (a trace without expectations: no violation). */
  passed(): boolean {
    const ex = this.report.expectations;
    if (ex.length === 0) return this.oracle.violations.length === 0;
    return ex.every((e) => e.ok);
  }
}

/** The script a replay's workers run: src/replay/lane-worker.ts through its bootstrap. */
const LANE_WORKER_URL = new URL('./lane-worker.mjs', import.meta.url);

const EVENT_KINDS: Record<number, OracleEventKind> = { [L.EVK_TLB_STALE]: 'tlb-stale', [L.EVK_PSC_STALE]: 'psc-stale', [L.EVK_WRITE_IN_COPY]: 'write-in-copy' };

function oracleEvent(w: Uint32Array, e: number): OracleEvent {
  return {
    kind: EVENT_KINDS[w[e]], index: 0,
    va: BigInt(w[e + 2]) | (BigInt(w[e + 3]) << 32n), pa: BigInt(w[e + 4]) | (BigInt(w[e + 5]) << 32n),
    slot: w[e + 6], stamp: w[e + 7],
  };
}

/** Accesses a plan can run before its first marker. */
function estimate(p: LanePlan): number {
  let n = p.end - p.pos;
  for (const it of p.items) {
    if (it.t === 'marker') break;
    n += it.t === 'records' ? it.end - it.at : it.params.count - it.state.i;
  }
  return n;
}

function sameVa(v: bigint, want: bigint): boolean {
  if (v >> 12n === want >> 12n) return true;
  // A huge-page translation is reported at its base: any address inside it matches.
  return v % (1n << 21n) === 0n && want >= v && want < v + (1n << 21n);
}
