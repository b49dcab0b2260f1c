// The replay: runs a trace's events in file order on one machine and one kernel profile, parking
// operations between named steps, queueing what must wait, checking expectations, and collecting the
// report. The report is a function of the trace and the options only — not of the number of worker
// threads: the CPUs' accesses run in windows of phases whose schedule depends on the trace alone
// (docs/parallel-replay.md). The window and where its phases run are window.ts; any event that is
// not an access or a CPU-local switch first runs the window to its end, then runs here alone.
import { Machine } from '../mmu/machine.ts';
import { KIND, type Geometry } from '../mmu/model.ts';
import type { CpuWorkers } from '../mmu/cpu-workers.ts';
import type { CoreSource } from '../mmu/loader.ts';
import { ArgumentError } from '../mmu/errors.ts';
import { platform } from '../platform/platform.ts';
import { Kernel } from '../kernel/kernel.ts';
import { resolveFixes, DEFAULT_PROFILE } from '../kernel/profiles.ts';
import type { FixSet } from '../kernel/fixes.ts';
import { Op, type OpGen } from '../kernel/ops.ts';
import type { MmStruct, Prot } from '../kernel/mm_types.ts';
import { doMmap, exitMmap, KernelRefusal, sysMunmap } from '../kernel/mmap.ts';
import { collapseHugePage, thpMappedIn } from '../kernel/huge_memory.ts';
import { sysMprotect } from '../kernel/mprotect.ts';
import { sysMadvise } from '../kernel/madvise.ts';
import { sysMremap } from '../kernel/mremap.ts';
import { sysFallocatePunchHole, sysTruncate } from '../kernel/hugetlbfs.ts';
import { dupMmap } from '../kernel/fork.ts';
import { handleMmFault, type Access } from '../kernel/fault.ts';
import { migratePage } from '../kernel/migrate.ts';
import { shrinkPage } from '../kernel/vmscan.ts';
import { gupFast } from '../kernel/gup.ts';
import { speculativeRef } from '../kernel/speculative_ref.ts';
import { enterLazyTlb, setTlbFlushTrace, switchMm } from '../kernel/tlbflush.ts';
import { Fidelity, type FidelityReport, type Flush } from './fidelity.ts';
import { hugePteOffset, isMigrationEntry, ptePresent, readEntry, walkTo, PTE_PFN_MASK } from '../kernel/pgtable.ts';
import { makeDevice, type SecondaryMmu, type DeviceKind } from '../devices/secondary-mmu.ts';
import { Oracle } from '../oracle/oracle.ts';
import type { Violation, ViolationKind } from '../oracle/violation.ts';
import { TraceError } from '../trace/trace-error.ts';
import { ModelBugError } from '../mmu/errors.ts';
import type { ReplayEvent, ReplayHeader } from '../trace/events.ts';
import { STEPS } from '../trace/parser.ts';
import type { AccessRunEvent } from '../trace/binary.ts';
import { machineOf } from './machine-limits.ts';
import { FAULT_ATTEMPTS, LOCAL_OPS, ReplayWindow } from './window.ts';
import { DEFAULT_COSTS, costCounts, costReport, cpuCost, type CostModel } from './cost-model.ts';
import type { ReplayObserver } from './observer.ts';

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
  /** The WebAssembly core (Machine.create's `core`): a URL, its bytes or a compiled module; default the package's. */
  core?: CoreSource;
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
  /** Told of every event, step, access run and fault as the replay runs (a report's timeline). */
  observer?: ReplayObserver;
  /**
   * A machine to run on instead of a new one (the explorer's schedules reuse one): its CPUs must be
   * reset and its generations as a new machine's, and its layout must fit the header.
   */
  machine?: Machine;
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
  /** Calls the kernel refused (with the error they returned) and faults answered with SIGBUS. */
  refused?: { line: number; op: string; error: string; why: string }[];
  /** What stopped the replay; `internal` when it was a bug of mmuwasm (exit status 3), not the input. */
  error?: { file: string; line: number; message: string; internal?: { reproduce: string; cause: string } };
  stats: Record<string, unknown>;
  /** The model's flushes against a recording's (events that carry `observed`). */
  fidelity?: FidelityReport;
}

export interface Task {
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
  /**
   * A switch or a GUP-fast walk: parked, it holds its CPU with interrupts off (in switch_mm_irqs_off,
   * or in gup_fast's section), so the CPU's later events wait until it completes.
   */
  holdsCpu?: boolean;
}

const hex = (v: bigint) => `0x${v.toString(16)}`;

export type { ReplayEvent, ReplayHeader } from '../trace/events.ts';

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
  /** CPUs a parked switch holds (interrupts off in switch_mm_irqs_off), and that switch. */
  private readonly heldCpus = new Map<number, Task>();
  private readonly devices = new Map<string, SecondaryMmu>();
  private readonly lastSegv = new Map<number, boolean>();
  private readonly report: Report;
  readonly observer: ReplayObserver | undefined;
  private autoId = 0;
  private accessCount = 0;
  private eventCount = 0;

  // The window and where its phases run.
  private readonly window: ReplayWindow;
  private readonly fidelity = new Fidelity();

  private constructor(readonly machine: Machine, readonly header: ReplayHeader, profile: string, fixes: FixSet, readonly file: string, readonly seed: number, opts: ReplayOptions) {
    this.profile = profile;
    this.fixes = fixes;
    this.cost = { ...DEFAULT_COSTS, ...(opts.cost ?? {}) };
    // A recording made on a guest whose remote flushes are hypercalls describes such a machine too.
    const remoteFlush = header.remoteFlush ?? (header.recorded?.remoteFlush === 'hypercall' ? 'hypercall' : 'ipi');
    this.kernel = new Kernel(machine, fixes, { levels: header.paging ?? 4, pcid: header.pcid ?? true, remoteFlush });
    this.oracle = new Oracle(this.kernel);
    this.kernel.observer = this.oracle;
    // What the real kernel's tracing would see: the CPU running the event's task, and the CPUs
    // running the program's tasks — not a lazy one, whose IPI lands in a kernel thread.
    // On a paravirtualized guest whose remote flushes are hypercalls, the other CPUs trace nothing.
    const hypercall = header.recorded?.remoteFlush === 'hypercall';
    setTlbFlushTrace(this.kernel, (cpu, reason, pages) => {
      const op = this.kernel.currentOp;
      if (op && cpu !== op.cpu && !this.kernel.cpus[cpu].current) return;
      if (hypercall && op && cpu !== op.cpu && reason.startsWith('remote-')) return;
      this.fidelity.traced(this.oracle.line, reason, pages);
    });
    this.report = {
      complete: false, kernel: profile, fixes: fixes.toRecord(), events: 0, accesses: 0,
      violations: this.oracle.violations, expectations: [], segfaults: [], waited: [], notes: this.oracle.notes, refused: this.oracle.refusals, stats: {},
    };
    const onPhase = opts.onPhase;
    this.observer = opts.observer;
    this.window = new ReplayWindow({
      machine, kernel: this.kernel, oracle: this.oracle, file, seed, lastSegv: this.lastSegv,
      fail: (line, message, field) => this.fail(line, message, field),
      mmNamed: (line, name) => this.mmNamed(line, name),
      runLocal: (line, ev) => this.runLocal(line, ev),
      step: (task) => this.step(task),
      segv: (line, cpu, device, va) => this.segv(line, cpu, device, va),
      observer: opts.observer,
      nextAutoId: () => ++this.autoId,
      countAccesses: (n) => {
        this.accessCount += n;
        this.report.accesses = this.accessCount;
      },
      canWake: () => this.waiting.some((t) => t.blockedOn!.done),
      wake: (line) => this.wake(line),
      onPhase: onPhase ? () => onPhase(this) : undefined,
    }, opts);
  }

  /** A replay for this header; options (the command line) override the header's kernel and fixes. */
  static async create(header: ReplayHeader, opts: ReplayOptions = {}, file = 'trace'): Promise<Replay> {
    const profile = opts.kernel ?? header.kernel ?? DEFAULT_PROFILE;
    const fixes = resolveFixes(profile, { ...(header.fixes ?? {}), ...(opts.fixes ?? {}) });
    // Asked for workers where there can be none (a page that is not cross-origin isolated): say so
    // now rather than at the first large phase.
    const unavailable = (opts.workers ?? 0) > 0 && !opts.pool ? platform().workersUnavailable() : undefined;
    if (unavailable !== undefined) throw new ArgumentError(`cannot replay with ${opts.workers} workers: ${unavailable}`);
    const machine = opts.machine ?? await Machine.create(machineOf(header, opts), { core: opts.core });
    const replay = new Replay(machine, header, profile, fixes, file, header.seed ?? 0, opts);
    opts.observer?.attach(replay);
    if (opts.tlbMode === 'capacity') {
      replay.oracle.notes.push({ line: 0, text: 'TLBs in capacity mode (the real geometry): an eviction may remove a stale translation before the oracle sees it used' });
    }
    if (replay.window.starting) await replay.window.starting;
    return replay;
  }

  /** The default number of workers of the command line: one per core. */
  static defaultWorkers(): number {
    return platform().cores();
  }

  /** Ends the worker threads this replay started (not a pool it was given). */
  async close(): Promise<void> {
    await this.window.close();
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
    this.window.line = line;
    if (ev.observed) this.fidelity.expect(line, ev.op, (ev.observed as { flushes: Flush[] }).flushes);
    const cpu = typeof ev.cpu === 'number' ? ev.cpu : undefined;
    if (cpu !== undefined && cpu >= this.kernel.cpus.length) this.fail(line, `CPU ${cpu} does not exist (the header says ${this.kernel.cpus.length} CPUs)`, 'cpu');
    if (cpu !== undefined && this.cpuQueue.has(cpu)) {
      this.queueBehind(cpu, line, ev);
      return;
    }
    return this.dispatch(line, ev);
  }

  /** An event of a CPU whose earlier event waits, or that a parked switch holds: it runs after. */
  private queueBehind(cpu: number, line: number, ev: ReplayEvent): void {
    const q = this.cpuQueue.get(cpu)!;
    const held = this.heldCpus.get(cpu);
    // The report names the first event a parked switch holds back (the later ones follow it in order).
    if (held && q.length === 0) {
      const reason = held.op.name === 'gup_fast'
        ? `CPU ${cpu} is inside a GUP-fast section with interrupts off: the gup_fast of line ${held.op.line} is parked before "${held.at}"`
        : `CPU ${cpu} is inside switch_mm_irqs_off with interrupts off: the switch of line ${held.op.line} is parked before "${held.at}"`;
      this.report.waited.push({ line, behind: held.op.line, reason });
    }
    q.push({ line, ev });
  }

  private dispatch(line: number, ev: ReplayEvent): void | Promise<void> {
    // A concurrent block replays in its written order: its bounds do nothing.
    if (ev.op === 'concurrent' || ev.op === 'join') return;
    if (ev.op === 'access_run') return this.window.appendRun(line, ev as AccessRunEvent);
    const parked = ev.id !== undefined || ev.until !== undefined;
    if ((ev.op === 'access' && !parked) || ev.op === 'accesses' || (LOCAL_OPS.has(ev.op) && !parked)) {
      try {
        this.window.append(line, ev);
      } catch (err) {
        // A bad event: what came before it still runs, so the report holds it.
        return this.window.flush().then(() => {
          throw err;
        });
      }
      if (this.window.full) return this.window.flush();
      return;
    }
    return this.barrier(line, ev);
  }

  /** An event that runs alone: the window before it runs to its end first. */
  private async barrier(line: number, ev: ReplayEvent): Promise<void> {
    await this.window.flush();
    // An earlier event of this CPU (an access of the window) began to wait during that flush: this
    // one waits behind it, as a CPU runs its own events in file order.
    const cpu = typeof ev.cpu === 'number' ? ev.cpu : undefined;
    if (cpu !== undefined && this.cpuQueue.has(cpu)) {
      this.queueBehind(cpu, line, ev);
      return;
    }
    this.oracle.line = line;
    this.kernel.beginOp();
    this.observer?.event(line, ev);
    try {
      await this.dispatchInner(line, ev);
    } catch (err) {
      if (err instanceof KernelRefusal) this.fail(line, `the kernel refuses this: ${err.message}`, refusedField(ev, err.message));
      throw ModelBugError.fromOperation(err, this.file, line);
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
        this.observer?.resumed(task.op, line);
        await this.drive(task, line);
        // A switch or a GUP-fast walk that completed gives its CPU back: the events that waited behind it run.
        if (task.holdsCpu && task.op.done && task.cpu !== undefined) {
          this.heldCpus.delete(task.cpu);
          if (!this.waiting.some((w) => w.cpu === task.cpu)) await this.releaseCpu(task.cpu);
        }
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
    this.observer?.event(line, ev);
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
      case 'khugepaged': gen = collapseHugePage(k, op, this.currentMm(line, cpu!, ev), ev.va as bigint); break;
      case 'access': gen = this.accessTask(line, op, cpu!, ev.va as bigint, ev.rw as Access, ev.user !== false); break;
      case 'gup_fast': gen = gupFast(k, op, this.currentMm(line, cpu!, ev), ev.va as bigint, ev.rw === 'w'); break;
      case 'speculative_ref': gen = speculativeRef(k, op, this.currentMm(line, cpu!, ev), ev.va as bigint); break;
      case 'switch': gen = this.switchTask(op, cpu!, this.mmNamed(line, ev.mm)); break;
      case 'device_access': {
        const d = this.devices.get(String(ev.device));
        if (!d) this.fail(line, `no device named '${String(ev.device)}'`, 'device');
        gen = this.deviceTask(line, op, d, ev.va as bigint, ev.rw as Access);
        break;
      }
      default:
        this.fail(line, `the replay has no handler for op '${ev.op}'`, 'op');
    }
    await this.drive({ op, gen, cpu, until: ev.until as string | undefined, steps: STEPS[ev.op === 'madvise' ? `madvise ${String(ev.advice)}` : ev.op], holdsCpu: ev.op === 'switch' || ev.op === 'gup_fast' }, line);
  }

  /** A switch a trace may park between its steps (a context switch, interrupts off throughout). */
  private *switchTask(op: Op, cpu: number, mm: MmStruct): OpGen {
    yield* switchMm(this.kernel, op, cpu, mm);
    this.kernel.cpus[cpu].current = mm;
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
        throw ModelBugError.fromOperation(err, this.file, task.op.line);
      } finally {
        k.currentOp = undefined;
      }
      if (r.done) break;
      const y = r.value as { step?: string; wait?: Op; reason?: string };
      if (y.step !== undefined) {
        const park = task.until !== undefined && y.step === task.until;
        this.observer?.step(task.op, y.step, park);
        if (park) {
          task.until = undefined;
          task.at = y.step;
          this.parked.set(task.op.id, task);
          // A CPU parked in switch_mm_irqs_off or in a GUP-fast section runs nothing else (interrupts
          // off): its later events wait for the resume.
          if (task.holdsCpu && task.cpu !== undefined) {
            this.heldCpus.set(task.cpu, task);
            if (!this.cpuQueue.has(task.cpu)) this.cpuQueue.set(task.cpu, []);
          }
          return false;
        }
        continue;
      }
      // It must wait for another operation: queue it, and its CPU's later events behind it.
      task.blockedOn = y.wait!;
      this.waiting.push(task);
      this.report.waited.push({ line: task.op.line, behind: y.wait!.line, reason: y.reason! });
      this.observer?.waited(task.op, y.wait!, y.reason!);
      if (task.cpu !== undefined && task.cpu >= 0 && !this.cpuQueue.has(task.cpu)) this.cpuQueue.set(task.cpu, []);
      return false;
    }
    if (!task.keep) task.op.done = true;
    this.observer?.done(task.op);
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
      await this.window.flush();
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
      this.observer?.fault(line, cpu, undefined, va);
      const r = yield* handleMmFault(k, op, mm, va, rw);
      if (r === 'segv') break;
    }
    this.segv(line, cpu, undefined, va);
  }

  private segv(line: number, cpu: number | undefined, device: string | undefined, va: bigint): void {
    this.kernel.vmStats.segv++;
    if (cpu !== undefined) this.lastSegv.set(cpu, true);
    this.observer?.segv(line, cpu, device, va);
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
      this.observer?.fault(line, undefined, d.name, va);
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
      const thp = vma && !vma.isHugetlb ? thpMappedIn(k, mm, va, va + 1n) : undefined;
      if (thp !== undefined) throw new KernelRefusal(`${what} of the transparent huge page at ${hex(thp)} is not modelled`);
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
    } else if (ev.refusals !== undefined) {
      text = `${String(ev.refusals)} refused calls so far`;
      ok = this.oracle.refusals.length === ev.refusals;
    } else if (ev.refused !== undefined) {
      text = `a call refused with ${String(ev.refused)}`;
      ok = this.oracle.refusals.some((r) => r.error === ev.refused);
    } else {
      text = `the last access of CPU ${String(ev.cpu)} ended in a segmentation fault`;
      ok = this.lastSegv.get(ev.cpu as number) === true;
    }
    this.report.expectations.push({ line, ok: applies ? ok : true, applies, text });
  }

  // ---- the end ----

  /** Runs what the window still holds (the report then has it), errors aside: for a partial report. */
  async settle(): Promise<void> {
    if (this.window.stopped) return;
    try {
      await this.tail;
      await this.window.flush();
    } catch {
      // the error that stopped the replay is the one to report
    }
  }

  /** Events that have run (or begun): those read, less those still queued in the window or behind a parked operation. */
  eventsRun(): number {
    let queued = this.window.pendingEvents();
    for (const q of this.cpuQueue.values()) {
      for (const { ev } of q) queued += ev.op === 'access_run' ? (ev as AccessRunEvent).va.length : 1;
    }
    return this.eventCount - queued;
  }

  /** Ends the trace: an operation still parked, or an event still waiting, is an error. */
  async finish(lastLine: number): Promise<void> {
    await this.tail;
    this.window.line = lastLine;
    await this.window.flush();
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
      gupFast: { ...k.gupFastStats },
      vm: { ...k.vmStats },
      cycles: { total: cost.cycles, byKind: cost.byKind, model: cost.model },
      perCpu: k.perCpu.map((p, c) => ({
        cpu: c, ...p, accesses: Number(counters[c].accesses), walks: Number(counters[c].walks), walkLoads: Number(counters[c].walkLoads),
        cr3Flush: Number(counters[c].cr3Flush), invpcid: costs[c].invpcid, cycles: costs[c].cycles,
      })),
      devices: [...this.oracle.devices].map((d) => ({ device: d.name, kind: d.kind, mm: d.mm.name, ...d.stats })),
    };
    if (this.fidelity.any) this.report.fidelity = this.fidelity.result();
    return this.report;
  }

  /** How the replay ran (not part of the report: it depends on the machine, not the trace). */
  schedule(): { workers: number; phases: number; workerPhases: number } {
    return this.window.schedule();
  }

  /** True when every expectation held (a trace without expectations: no violation). */
  passed(): boolean {
    const ex = this.report.expectations;
    if (ex.length === 0) return this.oracle.violations.length === 0;
    return ex.every((e) => e.ok);
  }
}


/**
 * The field a kernel refusal is about, when its sentence says (the kernel's EINVAL/ENOMEM checks name
 * an address, a length, an offset or a size): the field of the event that holds it.
 */
function refusedField(ev: ReplayEvent, message: string): string | undefined {
  const has = (f: string) => Object.hasOwn(ev, f);
  if (/^length |size$| page size|lengths must/.test(message) && has('len')) return 'len';
  if (/offset|^the hole|past the end of file/.test(message) && has('offset')) return 'offset';
  if (/^truncate /.test(message) && has('size')) return 'size';
  if (/new range/.test(message) && has('newva')) return 'newva';
  if (/MADV_|advice/.test(message) && has('advice')) return 'advice';
  if (/^mremap is modelled/.test(message)) return 'va';
  if (has('va')) return 'va';
  return undefined;
}

function sameVa(v: bigint, want: bigint): boolean {
  if (v >> 12n === want >> 12n) return true;
  // A huge-page translation is reported at its base: any address inside it matches.
  return v % (1n << 21n) === 0n && want >= v && want < v + (1n << 21n);
}