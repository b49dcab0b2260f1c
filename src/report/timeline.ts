// The timeline of a replay: what each CPU and device did, in the order the replay did it — the
// operations with their steps, parking and waits, the accesses as runs, faults, switches, each flush
// with the CPUs its IPIs reached, the notifier calls each device received, and every stale use — and,
// at each violation, a snapshot of the cached translations of its address (snapshot.ts). The recorder
// is the replay's observer (src/replay/observer.ts) and the kernel's flush observer; an HTML report
// draws what it collects, and `report.timeline` carries it in the JSON report.
//
// Time is a sequence: every item takes the next moment `t`, so the items of one event (a migration's
// steps, its flushes, the IPIs) keep their order. The size stays bounded for any trace: consecutive
// accesses of a CPU are one run (first/last line, count, TLB hits and misses), repeats of a fault, a
// flush or a notifier call on one lane with nothing between them are one item with a count, and after
// `maxItems` items only their number is kept (per kind); violations and their snapshots are capped too.
import type { Replay } from '../replay/engine.ts';
import type { ReplayObserver } from '../replay/observer.ts';
import type { Op } from '../kernel/ops.ts';
import type { FlushRecord } from '../kernel/tlbflush.ts';
import type { NotifierCall } from '../kernel/mmu_notifier.ts';
import type { ReplayEvent } from '../trace/events.ts';
import type { Counters } from '../mmu/model.ts';
import { takeSnapshot, type Snapshot } from './snapshot.ts';
import { fixById } from '../kernel/fixes.ts';

const hex = (v: bigint) => `0x${v.toString(16)}`;

export interface Lane {
  id: string;
  label: string;
  kind: 'cpu' | 'device' | 'trace';
}

interface Base {
  t: number;
  line: number;
  lane: string;
}

/** An operation of the trace (a system call, a migration, a parkable access, a setup event). */
export interface OpItem extends Base {
  k: 'op';
  op: string;
  id?: string;
  /** The trace line as the replay read it. */
  text: string;
  /** The moment it completed (undefined: it never did, e.g. the trace stopped). */
  end?: number;
  steps: { t: number; step: string; parked: boolean }[];
  resumed: { t: number; line: number }[];
  waited: { t: number; behind: number; reason: string }[];
}

export interface AccessItem extends Base {
  k: 'access';
  /** The last line of the run (`line` is the first). */
  last: number;
  count: number;
  /** TLB hits (by page size) and misses, and walks, counted on the CPU since its previous run. */
  hits: { '4K': number; '2M': number; '1G': number };
  misses: number;
  walks: number;
  /** Page faults taken inside the run (a run that faults page after page is one item, not thousands). */
  faults: number;
  end: number;
}

export interface FaultItem extends Base {
  k: 'fault' | 'segv';
  va: string;
  count: number;
}

export interface SwitchItem extends Base {
  k: 'switch' | 'idle';
  mm?: string;
  text: string;
}

export interface FlushItem extends Base {
  k: 'flush';
  kind: FlushRecord['kind'];
  mm?: string;
  start: string;
  end: string;
  local: boolean;
  /** The CPUs an IPI reached (arrows from `lane`). */
  ipis: number[];
  batched?: boolean;
  count: number;
}

export interface NotifyItem extends Base {
  k: 'notify';
  call: NotifierCall;
  mm: string;
  start: string;
  end: string;
  /** The CPU of the operation that called it. */
  from?: number;
  count: number;
}

export interface StaleItem extends Base {
  k: 'stale';
  /** Index into the report's violations. */
  v: number;
  kind: string;
  va: string;
}

export type TimelineItem = OpItem | AccessItem | FaultItem | SwitchItem | FlushItem | NotifyItem | StaleItem;

export interface Timeline {
  lanes: Lane[];
  items: TimelineItem[];
  /** The moment after the last item. */
  end: number;
  /** Items left out past the cap, by kind. */
  omitted: Record<string, number>;
  snapshots: Snapshot[];
  maxItems: number;
  /** Each CPU's TLB hits by page size, misses and walks over the whole replay (the charts). */
  cpuTlb: { cpu: number; hits: { '4K': number; '2M': number; '1G': number }; misses: number; walks: number }[];
  /** Flushes by kind over the whole replay (not capped), `batched` the reclaim's deferred ones among the full. */
  flushKinds: { page: number; range: number; full: number; sync: number; batched: number };
  /** The titles of the fixes the violations name. */
  fixTitles: Record<string, string>;
}

export interface TimelineOptions {
  /** Items kept before only their number is (default 20000: a few MB of HTML at most). */
  maxItems?: number;
  /** Violations given a snapshot of the caches (default 64). */
  maxSnapshots?: number;
}

const HIT_COUNTERS: [keyof Counters, '4K' | '2M' | '1G'][] = [
  ['dtlb4kHits', '4K'], ['stlb4kHits', '4K'], ['dtlb2mHits', '2M'], ['stlb2mHits', '2M'], ['dtlb1gHits', '1G'], ['stlb1gHits', '1G'],
];

/** The trace line of an event as the reader parsed it (addresses in hex, as the trace writes them). */
export function eventText(ev: ReplayEvent): string {
  return JSON.stringify(ev, (k, v) => {
    if (typeof v === 'bigint') return hex(v);
    // A protection as the trace writes it ("rw"), not the reader's flags.
    if (k === 'prot' && v && typeof v === 'object') return `${v.r ? 'r' : ''}${v.w ? 'w' : ''}${v.x ? 'x' : ''}` || 'none';
    return v;
  });
}

export class TimelineRecorder implements ReplayObserver {
  private replay!: Replay;
  private readonly lanes: Lane[] = [];
  private readonly items: TimelineItem[] = [];
  private readonly omitted: Record<string, number> = {};
  private readonly snapshots: Snapshot[] = [];
  private readonly maxItems: number;
  private readonly maxSnapshots: number;
  private t = 0;
  /** The last item of each lane (runs and repeats merge into it). */
  private readonly lastOf = new Map<string, TimelineItem>();
  private readonly ops = new Map<Op, OpItem>();
  /** The span of the event that started last, until its operation first reports. */
  private pending: OpItem | undefined;
  private readonly base = new Map<number, Counters>();
  /** The last line of each CPU's latest run (a run's records may start on an earlier event's line). */
  private readonly lastRunLine = new Map<number, number>();
  private violationsSeen = 0;
  private readonly flushKinds = { page: 0, range: 0, full: 0, sync: 0, batched: 0 };
  /** Runs that began right after a fault of their CPU: the faults that follow them join them. */
  private readonly afterFault = new WeakSet<AccessItem>();

  constructor(opts: TimelineOptions = {}) {
    this.maxItems = opts.maxItems ?? 20000;
    this.maxSnapshots = opts.maxSnapshots ?? 64;
  }

  attach(replay: Replay): void {
    this.replay = replay;
    const k = replay.kernel;
    for (let c = 0; c < k.cpus.length; c++) {
      this.lanes.push({ id: `cpu${c}`, label: `CPU ${c}`, kind: 'cpu' });
      this.base.set(c, replay.machine.counters(c));
    }
    k.flushObserver = { flush: (f) => this.flush(f) };
    k.notifiers.observe = (call, mm, n, start, end) => this.notify(call, mm.name, n.name, start, end);
  }

  // ---- items ----

  private add<T extends TimelineItem>(item: T): T | undefined {
    this.checkViolations();
    if (this.items.length >= this.maxItems && item.k !== 'stale') {
      this.omitted[item.k] = (this.omitted[item.k] ?? 0) + 1;
      return undefined;
    }
    this.items.push(item);
    this.lastOf.set(item.lane, item);
    return item;
  }

  private laneFor(cpu: number | undefined, device?: string): string {
    if (device !== undefined) return this.deviceLane(device);
    if (cpu === undefined || cpu < 0) return this.traceLane();
    return `cpu${cpu}`;
  }

  private deviceLane(name: string): string {
    const id = `dev:${name}`;
    if (!this.lanes.some((l) => l.id === id)) this.lanes.push({ id, label: `device ${name}`, kind: 'device' });
    return id;
  }

  private traceLane(): string {
    if (!this.lanes.some((l) => l.id === 'trace')) this.lanes.unshift({ id: 'trace', label: 'setup', kind: 'trace' });
    return 'trace';
  }

  private get line(): number {
    return this.replay.oracle.line;
  }

  /** New violations get their mark on the timeline and, while there is room, a snapshot of the caches. */
  private checkViolations(): void {
    const vs = this.replay?.oracle.violations;
    if (!vs) return;
    while (this.violationsSeen < vs.length) {
      const i = this.violationsSeen++;
      const v = vs[i];
      const lane = v.device !== undefined ? this.deviceLane(v.device) : this.laneFor(v.cpu);
      const t = this.t++;
      this.items.push({ k: 'stale', t, line: v.line, lane, v: i, kind: v.kind, va: v.va });
      if (this.snapshots.length < this.maxSnapshots) {
        this.snapshots.push(takeSnapshot(this.replay.kernel, this.replay.oracle.devices, BigInt(v.va), { violation: i, line: v.line, t }));
      }
    }
  }

  // ---- the replay's calls ----

  event(line: number, ev: ReplayEvent): void {
    if (ev.op === 'expect') return;
    const cpu = typeof ev.cpu === 'number' ? ev.cpu : undefined;
    // A switch a trace parks is drawn as an operation, with its steps and resumes.
    if ((ev.op === 'switch' && ev.id === undefined && ev.until === undefined) || ev.op === 'idle') {
      this.add<SwitchItem>({ k: ev.op, t: this.t++, line, lane: this.laneFor(cpu), mm: ev.op === 'switch' ? String(ev.mm) : undefined, text: eventText(ev) });
      return;
    }
    if (ev.op === 'resume') return; // resumed() puts it on the operation
    const lane = ev.op === 'device_access' ? this.deviceLane(String(ev.device)) : ev.op === 'attach' ? this.deviceLane(String(ev.device)) : this.laneFor(cpu);
    const item = this.add<OpItem>({
      k: 'op', t: this.t++, line, lane, op: ev.op === 'madvise' ? `madvise(${String(ev.advice)})` : ev.op,
      ...(ev.id !== undefined ? { id: String(ev.id) } : {}), text: eventText(ev), steps: [], resumed: [], waited: [],
    });
    this.pending = item;
    // Setup events run to their end at once: they have no operation to report their completion.
    if (item && (ev.op === 'mm' || ev.op === 'hugetlbfs' || ev.op === 'mmap' || ev.op === 'attach')) item.end = this.t;
  }

  private opItem(op: Op): OpItem | undefined {
    let item = this.ops.get(op);
    if (!item && this.pending && this.pending.line === op.line) {
      item = this.pending;
      this.pending = undefined;
      this.ops.set(op, item);
    }
    return item;
  }

  step(op: Op, step: string, parked: boolean): void {
    this.checkViolations();
    this.opItem(op)?.steps.push({ t: this.t++, step, parked });
  }

  resumed(op: Op, line: number): void {
    this.checkViolations();
    this.opItem(op)?.resumed.push({ t: this.t++, line });
  }

  waited(op: Op, behind: Op, reason: string): void {
    this.checkViolations();
    const item = this.opItem(op) ?? (this.lastOf.get(this.laneFor(op.cpu)) as TimelineItem | undefined);
    if (item?.k === 'op') item.waited.push({ t: this.t++, behind: behind.line, reason });
    else if (item?.k === 'fault' || item?.k === 'access') {
      // A fault that waits (on a migration entry, a lock): it shows on the fault's operation.
      const span = this.add<OpItem>({ k: 'op', t: this.t++, line: op.line, lane: item.lane, op: 'fault', text: `the fault of line ${op.line}${item.k === 'fault' ? ` at ${item.va}` : ''}`, steps: [], resumed: [], waited: [{ t: this.t, behind: behind.line, reason }] });
      if (span) this.ops.set(op, span);
    }
  }

  done(op: Op): void {
    this.checkViolations();
    const item = this.ops.get(op) ?? this.opItem(op);
    if (item && item.end === undefined) item.end = this.t++;
    this.ops.delete(op);
  }

  accesses(cpu: number, first: number, last: number, count: number): void {
    const now = this.replay.machine.counters(cpu);
    const was = this.base.get(cpu)!;
    this.base.set(cpu, now);
    const hits = { '4K': 0, '2M': 0, '1G': 0 };
    for (const [name, size] of HIT_COUNTERS) hits[size] += Number(now[name] - was[name]);
    const misses = Number(now.tlbMisses - was.tlbMisses);
    const walks = Number(now.walks - was.walks);
    const lane = `cpu${cpu}`;
    const before = this.lastRunLine.get(cpu) ?? 0;
    if (first <= before) first = Math.min(before + 1, last);
    this.lastRunLine.set(cpu, last);
    const prev = this.lastOf.get(lane);
    if (prev?.k === 'access' && this.onlyAccessesSince(prev)) {
      prev.last = last;
      prev.count += count;
      prev.hits['4K'] += hits['4K'];
      prev.hits['2M'] += hits['2M'];
      prev.hits['1G'] += hits['1G'];
      prev.misses += misses;
      prev.walks += walks;
      prev.end = this.t++;
      this.checkViolations();
      return;
    }
    const t = this.t++;
    const item = this.add<AccessItem>({ k: 'access', t, line: first, lane, last, count, hits, misses, walks, faults: 0, end: t });
    if (item && prev?.k === 'fault') this.afterFault.add(item);
  }

  /** Nothing but other CPUs' access runs came after this run: the CPU's accesses go on as one run. */
  private onlyAccessesSince(run: AccessItem): boolean {
    for (let i = this.items.length - 1; i >= 0; i--) {
      const it = this.items[i];
      if (it === run) return true;
      if (it.k !== 'access') return false;
    }
    return false;
  }

  fault(line: number, cpu: number | undefined, device: string | undefined, va: bigint): void {
    const lane = this.laneFor(cpu, device);
    const prev = this.lastOf.get(lane);
    // Fault, run, fault, run…: a CPU populating its memory. The faults count in the run they interrupt.
    if (prev?.k === 'access' && (prev.faults > 0 || this.afterFault.has(prev)) && this.onlyAccessesSince(prev)) {
      prev.faults++;
      return;
    }
    this.repeat('fault', line, lane, va);
  }

  segv(line: number, cpu: number | undefined, device: string | undefined, va: bigint): void {
    this.repeat('segv', line, this.laneFor(cpu, device), va);
  }

  private repeat(k: 'fault' | 'segv', line: number, lane: string, va: bigint): void {
    const prev = this.lastOf.get(lane);
    if (prev?.k === k && prev.line === line && prev.va === hex(va)) {
      prev.count++;
      return;
    }
    this.add<FaultItem>({ k, t: this.t++, line, lane, va: hex(va), count: 1 });
  }

  // ---- the kernel's calls ----

  private flush(f: FlushRecord): void {
    this.flushKinds[f.kind]++;
    if (f.batched) this.flushKinds.batched++;
    const lane = `cpu${f.cpu}`;
    const start = hex(f.start);
    const end = f.end === -1n ? 'all' : hex(f.end);
    const prev = this.lastOf.get(lane);
    if (prev?.k === 'flush' && prev.kind === f.kind && prev.mm === f.mm?.name && prev.start === start && prev.end === end && prev.ipis.join() === f.ipis.join()) {
      prev.count++;
      return;
    }
    this.add<FlushItem>({
      k: 'flush', t: this.t++, line: this.line, lane, kind: f.kind, ...(f.mm ? { mm: f.mm.name } : {}), start, end, local: f.local, ipis: f.ipis,
      ...(f.batched ? { batched: true } : {}), count: 1,
    });
  }

  private notify(call: NotifierCall, mm: string, device: string, start: bigint, end: bigint): void {
    const lane = this.deviceLane(device);
    const from = this.replay.kernel.currentOp?.cpu;
    const s = hex(start);
    const e = end === -1n ? 'all' : hex(end);
    const prev = this.lastOf.get(lane);
    if (prev?.k === 'notify' && prev.call === call && prev.start === s && prev.end === e && prev.line === this.line) {
      prev.count++;
      return;
    }
    this.add<NotifyItem>({
      k: 'notify', t: this.t++, line: this.line, lane, call, mm, start: s, end: e,
      ...(from !== undefined && from >= 0 ? { from } : {}), count: 1,
    });
  }

  /** The timeline so far (call it when the replay has finished or stopped). */
  result(): Timeline {
    this.checkViolations();
    const cpuTlb = !this.replay ? [] : this.replay.kernel.cpus.map((_, cpu) => {
      const c = this.replay.machine.counters(cpu);
      const hits = { '4K': 0, '2M': 0, '1G': 0 };
      for (const [name, size] of HIT_COUNTERS) hits[size] += Number(c[name]);
      return { cpu, hits, misses: Number(c.tlbMisses), walks: Number(c.walks) };
    });
    const fixTitles: Record<string, string> = {};
    for (const v of this.replay?.oracle.violations ?? []) if (v.fix) fixTitles[v.fix] = fixById(v.fix)?.title ?? v.fix;
    return {
      lanes: this.lanes, items: this.items, end: this.t, omitted: this.omitted, snapshots: this.snapshots, maxItems: this.maxItems,
      cpuTlb, flushKinds: { ...this.flushKinds }, fixTitles,
    };
  }
}
