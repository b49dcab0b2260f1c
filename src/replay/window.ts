// The window of a replay and where its phases run (docs/parallel-replay.md). The `Replay` (engine.ts)
// owns one and hands it the events that only touch their own CPU; it runs the window to its end before
// any event that runs alone.
//
// A window is a run of events that only touch their own CPU: accesses (`access`, `accesses`,
// access runs of the binary form) and the CPU-local `switch` and `idle`. Each CPU's part of it is a
// lane. A phase runs every lane that has work, in parallel on the workers or one after another on any
// thread, until it stops: at a fault, before a CPU-local event, after PHASE_BUDGET accesses, or when
// it has nothing left. Nothing a lane does in a phase can be seen by another lane in the same phase
// (A/D updates are deferred, applied when the phase ends). Then the stops are resolved in trace
// order: faults by the kernel, CPU-local events, segmentation faults; and the next phase begins.
import * as L from '../../assembly/layout.ts';
import { EVENT_KINDS, type Machine } from '../mmu/machine.ts';
import { KIND, type OracleEvent } from '../mmu/model.ts';
import { CpuWorkers } from '../mmu/cpu-workers.ts';
import type { Kernel } from '../kernel/kernel.ts';
import { Op, type OpGen } from '../kernel/ops.ts';
import type { MmStruct } from '../kernel/mm_types.ts';
import { handleMmFault, type Access } from '../kernel/fault.ts';
import type { Oracle } from '../oracle/oracle.ts';
import { TraceError } from '../trace/trace-error.ts';
import { Interrupted, abortName } from './interrupted.ts';
import { STEPS } from '../trace/parser.ts';
import type { StreamSpec } from '../trace/patterns.ts';
import { recycleAccessRun, type AccessRunEvent } from '../trace/binary.ts';
import { streamStart } from './stream-cursor.ts';
import { CONTROL_INTERRUPT, EVENT_WORDS, LaneRunner, type LanePlan, type LaneResult, type RecordBuffer, type RecordsItem, type RunItem } from './lanes.ts';
import type { LaneWorkerApi } from './lane-worker.ts';
import type { ReplayEvent, ReplayOptions, Task } from './engine.ts';
import type { ReplayObserver } from './observer.ts';

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
export const FAULT_ATTEMPTS = 8;

// ---- Not part of the definition: where phases run ----

/** A phase with less work than this runs on the main thread: a round trip to the workers costs more. */
const LOCAL_WORK = 1 << 17;
/** After a phase that faults cut short, the next one starts here with slices of this many accesses per lane. */
const LOCAL_SLICE = 1 << 13;

/**
 * Memory the workers share with this thread. A page that is not cross-origin isolated has no
 * SharedArrayBuffer (and replays on this thread only): plain memory serves there.
 */
function sharedBuffer(bytes: number): SharedArrayBuffer {
  return typeof SharedArrayBuffer === 'function' ? new SharedArrayBuffer(bytes) : (new ArrayBuffer(bytes) as unknown as SharedArrayBuffer);
}

/**
 * A turn of the event loop, so that timers and messages run (Ctrl-C, a page's input): setImmediate
 * where there is one (Node); a message to itself elsewhere (a page clamps setTimeout to 4 ms).
 */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => {
    if (typeof setImmediate === 'function') {
      setImmediate(resolve);
      return;
    }
    const { port1, port2 } = new MessageChannel();
    port1.onmessage = () => {
      port1.close();
      resolve();
    };
    port2.postMessage(undefined);
  });
}

/** CPU-local events: they become part of their CPU's lane. */
export const LOCAL_OPS = new Set(['switch', 'idle']);

/** A lane's trace-order queue entry (the main thread's view of a RunItem). */
interface LaneEntry {
  kind: 'records' | 'stream' | 'local';
  /** Accesses not yet completed (records, stream). */
  left: number;
  /** A stream's accesses in all (it has begun when fewer are left). */
  total?: number;
  line: number;
  /** The line of its last access (records merge the accesses of consecutive events). */
  last: number;
  ev?: ReplayEvent;
}

let nextBufferId = 1;

/** The columns of a lane's access records, in shared memory so any thread can run them. */
class LaneBuffer {
  readonly id = nextBufferId++;
  readonly va: SharedArrayBuffer;
  readonly kind: SharedArrayBuffer;
  readonly line: SharedArrayBuffer;
  readonly va64: BigUint64Array;
  readonly kind8: Uint8Array;
  readonly line32: Uint32Array;
  fill = 0;
  constructor(readonly capacity: number) {
    this.va = sharedBuffer(capacity * 8);
    this.kind = sharedBuffer(capacity);
    this.line = sharedBuffer(capacity * 4);
    this.va64 = new BigUint64Array(this.va);
    this.kind8 = new Uint8Array(this.kind);
    this.line32 = new Uint32Array(this.line);
  }
  get shared(): RecordBuffer {
    return { id: this.id, va: this.va, kind: this.kind, line: this.line };
  }
}

/**
 * Lane buffers of closed windows that never ran on worker threads, for the next window (the explorer
 * runs thousands of short replays: a fresh SharedArrayBuffer each time is most of their cost).
 */
const spareBuffers: LaneBuffer[] = [];

class Lane {
  /** Trace order: what is queued, what each item still owes. */
  readonly entries: LaneEntry[] = [];
  head = 0;
  /** The runner's view of the same queue (items shift off it as they are generated). */
  items: RunItem[] = [];
  readonly plan: LanePlan;
  buffer = spareBuffers.pop() ?? new LaneBuffer(4096);
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
    this.plan = { cpu, pos: 0, end: 0, fromRecords: false, lines: -1, lineBuf: 0, lineAt: 0, items: [], budget: 0, slice: 0 };
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

/** What the window needs of the replay that owns it (the kernel side: faults, CPU-local events, the report). */
export interface WindowHost {
  readonly machine: Machine;
  readonly kernel: Kernel;
  readonly oracle: Oracle;
  readonly file: string;
  readonly seed: number;
  readonly lastSegv: Map<number, boolean>;
  fail(line: number, message: string, field?: string): never;
  mmNamed(line: number, name: unknown): MmStruct;
  /** A CPU-local event, when its lane reaches it. */
  runLocal(line: number, ev: ReplayEvent): void;
  /** Runs a task (a lane's fault) until it completes, parks or has to wait. */
  step(task: Task): boolean;
  segv(line: number, cpu: number | undefined, device: string | undefined, va: bigint): void;
  /** The next number of an operation without an id. */
  nextAutoId(): number;
  /** `n` more accesses replayed. */
  countAccesses(n: number): void;
  /** Some waiting operation may run now (what it waited for is done); wake runs them. */
  canWake(): boolean;
  wake(line: number): Promise<void>;
  onPhase: (() => void) | undefined;
  readonly observer: ReplayObserver | undefined;
}

/** The window: the lanes, their phases, and the threads they run on. */
export class ReplayWindow {
  private readonly lanes: (Lane | undefined)[];
  private windowRecords = 0;
  private windowItems = 0;
  private readonly local: LaneRunner;
  private readonly control = new Int32Array(sharedBuffer(4));
  /** Every lane's record buffers by id; which of them each worker has been given; which it may drop. */
  private readonly buffers = new Map<number, LaneBuffer>();
  private known: Set<number>[] = [];
  private forgotten: number[][] = [];
  private workers: CpuWorkers | undefined;
  starting: Promise<CpuWorkers> | undefined;
  private readonly ownWorkers: boolean;
  private readonly workerCount: number;
  private readonly workerThreshold: number;
  private failed: Error | undefined;
  /** The line of the event being run (for errors that arise in a window). */
  line = 0;
  /** Phases run, and of them on workers (statistics of the schedule, not of the trace). */
  private phases = 0;
  private workerPhases = 0;
  private lastYield = Date.now();
  private readonly signal: AbortSignal | undefined;

  constructor(private readonly host: WindowHost, opts: ReplayOptions) {
    const machine = host.machine;
    this.lanes = new Array(machine.ncpus).fill(undefined);
    this.local = new LaneRunner(machine);
    this.local.setControl(this.control);
    this.workers = undefined;
    this.ownWorkers = opts.pool === undefined;
    this.workerCount = opts.pool ? opts.pool.size : Math.max(0, Math.floor(opts.workers ?? 0));
    this.workerThreshold = opts.workerThreshold ?? LOCAL_WORK;
    if (opts.pool) this.starting = opts.pool.reattach(machine).then(() => this.ready(opts.pool!));
    const signal = (this.signal = opts.signal);
    if (signal) {
      if (signal.aborted) Atomics.store(this.control, CONTROL_INTERRUPT, 1);
      else signal.addEventListener('abort', () => Atomics.store(this.control, CONTROL_INTERRUPT, 1), { once: true });
    }
  }

  /** Ends the worker threads this replay started (not a pool it was given). */
  async close(): Promise<void> {
    const w = this.workers ?? (this.starting ? await this.starting.catch(() => undefined) : undefined);
    this.workers = undefined;
    this.starting = undefined;
    if (w && this.ownWorkers) await w.close();
    if (!w && this.workerPhases === 0) {
      for (const l of this.lanes) {
        if (!l || l.buffer.capacity !== 4096 || spareBuffers.length >= 64) continue;
        l.buffer.fill = 0;
        spareBuffers.push(l.buffer);
      }
    }
  }

  /** The window holds as much as it may: it must run. */
  get full(): boolean {
    return this.windowRecords >= WINDOW_RECORDS || this.windowItems >= WINDOW_ITEMS;
  }

  /** A worker failed, or Ctrl-C: nothing more runs. */
  get stopped(): boolean {
    return !!this.failed || Atomics.load(this.control, CONTROL_INTERRUPT) !== 0;
  }

  /** How the replay ran (not part of the report: it depends on the machine, not the trace). */
  schedule(): { workers: number; phases: number; workerPhases: number } {
    return { workers: this.workers?.size ?? 0, phases: this.phases, workerPhases: this.workerPhases };
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
    return lane.localPending > 0 ? lane.projectedMm : this.host.kernel.cpus[lane.cpu].current;
  }

  private needMm(line: number, lane: Lane): void {
    if (!this.laneMm(lane)) this.host.fail(line, `CPU ${lane.cpu} runs no address space (switch it to one first)`, 'cpu');
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
      lastEntry.last = run ? line + n - 1 : line;
    } else {
      const item: RecordsItem = { t: 'records', buf: b.id, at, end: at + n, line0: run ? line : -1, first: at };
      lane.items.push(item);
      // Not a window item: records count record by record (how they group differs between the forms).
      lane.entries.push({ kind: 'records', left: n, line, last: run ? line + n - 1 : line });
    }
    b.fill = at + n;
    lane.records += n;
    this.windowRecords += n;
  }

  /** An `access`, an `accesses` stream or a CPU-local event joins its CPU's lane. */
  append(line: number, ev: ReplayEvent): void {
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
      const { params, state } = streamStart(ev as StreamSpec, this.host.seed, line);
      if (params.count === 0) return;
      lane.items.push({ t: 'stream', params, state });
      lane.entries.push({ kind: 'stream', left: params.count, total: params.count, line, last: line });
      this.windowItems++;
      return;
    }
    // switch, idle
    lane.projectedMm = ev.op === 'switch' ? this.host.mmNamed(line, ev.mm) : undefined;
    lane.localPending++;
    lane.items.push({ t: 'marker' });
    lane.entries.push({ kind: 'local', left: 0, line, last: line, ev });
    this.windowItems++;
  }

  /**
   * A binary trace's run of one CPU's accesses (record i is line `line + i`): exactly as many
   * `access` events, so the window ends at the same record whichever form the trace has.
   */
  appendRun(line: number, run: AccessRunEvent): void | Promise<void> {
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
        if (i === n) recycleAccessRun(run);
        if (this.full) return this.flush().then(more);
      }
    };
    return more();
  }

  /**
   * Events the window holds that have not begun: each access record, each stream none of whose
   * accesses ran, each CPU-local event (a partial report counts only what ran).
   */
  pendingEvents(): number {
    let n = 0;
    for (const lane of this.lanes) {
      if (!lane) continue;
      for (let i = lane.head; i < lane.entries.length; i++) {
        const e = lane.entries[i];
        if (e.kind === 'records') n += e.left;
        else if (e.kind === 'local' || e.left === e.total) n++;
      }
    }
    return n;
  }

  /** Runs the window: phases until every lane is done or waits. */
  async flush(): Promise<void> {
    for (;;) {
      const active: Lane[] = [];
      for (const l of this.lanes) if (l && !l.blocked && l.hasWork) active.push(l);
      if (active.length === 0) break;
      await this.phase(active);
      // Phases on this thread never give the event loop a turn: let a Ctrl-C (and progress) in now and then.
      const now = Date.now();
      if (now - this.lastYield > 50) {
        this.lastYield = now;
        await nextTurn();
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
        const { pos, end, fromRecords, lines, lineBuf, lineAt, items } = r.plan;
        Object.assign(lane.plan, { pos, end, fromRecords, lines, lineBuf, lineAt, items });
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
      const first = lane.entry?.line ?? this.line;
      const last = this.completed(lane, done[i]);
      if (done[i] > 0) this.host.observer?.accesses(lane.cpu, first, last, done[i]);
      if (singles[i] > 0) this.host.lastSegv.set(lane.cpu, false);
      let seq = 0;
      for (const ev of events[i]) {
        for (let e = 0; e < ev.length; e += EVENT_WORDS, seq++) {
          if (ev[e] === L.EVK_ACCESSED_DIRTY) {
            this.host.machine.orEntry(BigInt(ev[e + 4]) | (BigInt(ev[e + 5]) << 32n), BigInt(ev[e + 6]));
          } else hardware.push({ line: ev[e + 1], cpu: lane.cpu, seq, words: ev, at: e });
        }
      }
      lane.faulty = status[i] === 'page-fault' && done[i] < LOCAL_SLICE;
      if (status[i] === 'marker') stops.push({ lane, line: lane.entry!.line, status: 'marker' });
      else if (status[i] === 'page-fault' || status[i] === 'general-protection') {
        stops.push({ lane, line: this.local.lineOf(lane.plan, lane.plan.pos), status: status[i] as Stop['status'] });
      }
    }
    // What the accesses revealed, in trace order (then by CPU), whichever thread ran them.
    hardware.sort((a, b) => a.line - b.line || a.cpu - b.cpu || a.seq - b.seq);
    for (const h of hardware) {
      const mm = this.host.kernel.cpus[h.cpu].current;
      if (mm) this.host.oracle.hardwareEvents(h.cpu, mm, [oracleEvent(h.words, h.at)], () => h.line);
    }
    if (status.includes('interrupted') || Atomics.load(this.control, CONTROL_INTERRUPT) !== 0) {
      throw new Interrupted(this.host.file, this.line, abortName(this.signal));
    }
    stops.sort((a, b) => a.line - b.line || a.lane.cpu - b.lane.cpu);
    for (const s of stops) this.resolve(s);
    this.host.onPhase?.();
    if (this.host.canWake()) await this.host.wake(this.line);
  }

  /** `n` accesses of the lane completed: its entries are paid off in order (the last line paid is returned). */
  private completed(lane: Lane, n: number): number {
    let lastLine = lane.entry?.line ?? this.line;
    this.host.countAccesses(n);
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
      lastLine = e.left === 0 ? e.last : e.line;
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
    return lastLine;
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
      this.host.runLocal(e.line, e.ev!);
      return;
    }
    const { va, kind } = this.local.accessOf(lane.plan, lane.plan.pos);
    if (s.status === 'general-protection') {
      this.skip(lane, s.line, va);
      return;
    }
    const rw: Access = kind & KIND.write ? 'w' : kind & KIND.fetch ? 'x' : 'r';
    if (lane.faultSeq === lane.seq && lane.faultOp) lane.faults++;
    else {
      lane.faultSeq = lane.seq;
      lane.faults = 1;
      lane.faultOp = new Op(`#${this.host.nextAutoId()}`, lane.entry?.kind === 'stream' ? 'accesses' : 'access', cpu, s.line);
    }
    const op = lane.faultOp!;
    const mm = this.host.kernel.cpus[cpu].current!;
    this.host.oracle.line = s.line;
    this.host.kernel.beginOp();
    this.host.observer?.fault(s.line, cpu, undefined, va);
    lane.blocked = true;
    this.host.step({ op, gen: this.laneFault(lane, s.line, op, mm, va, rw, lane.faults >= FAULT_ATTEMPTS), cpu, until: undefined, steps: STEPS.access, keep: true });
  }

  /** The kernel handles a lane's fault; the access then runs again (next phase) or is a segfault. */
  private *laneFault(lane: Lane, line: number, op: Op, mm: MmStruct, va: bigint, rw: Access, last: boolean): OpGen {
    const r = yield* handleMmFault(this.host.kernel, op, mm, va, rw);
    if (r === 'segv' || last) this.skip(lane, line, va);
    lane.blocked = false;
  }

  /** The lane's next access ends in a segmentation fault: it counts, and the lane goes on after it. */
  private skip(lane: Lane, line: number, va: bigint): void {
    lane.plan.pos++;
    this.completed(lane, 1);
    this.host.segv(line, lane.cpu, undefined, va);
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
    this.starting ??= CpuWorkers.start(this.host.machine, this.workerCount, { kind: 'lane' }).then((w) => this.ready(w));
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
    const e = new TraceError(this.host.file, line, undefined, `a replay worker failed while running the accesses of CPU ${cpus} from line ${line}: ${err instanceof Error ? err.message : String(err)}`);
    this.failed = e;
    const w = this.workers;
    this.workers = undefined;
    if (w && this.ownWorkers) void w.close();
    return e;
  }
}

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
