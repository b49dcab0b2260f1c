// A lane is one CPU's part of a replay window: its accesses (records of `access` events and access
// runs, generated `accesses` streams) up to the next event that only the main thread may run. The
// LaneRunner runs lanes for one phase on whatever thread it lives in — a CPU worker or the main
// thread: it is the same code with the same results (docs/parallel-replay.md). A lane's position is
// plain data (LanePlan), so a phase can run it anywhere; the runner changes the plan in place and
// hands it back.
//
// During a phase the runner writes no shared memory except the CPU's own block: batches run with
// A/D updates deferred (Machine.runBatch, deferAccessedDirty), so the accesses of a phase see the
// page tables as the phase found them, whichever CPUs run beside them and in whatever order.
import * as L from '../../assembly/layout.ts';
import type { Machine } from '../mmu/machine.ts';
import { fillStreamInto, type StreamParams, type StreamState } from './stream-cursor.ts';

/** The accesses of `access` events and access runs: records [at, end) of a registered RecordBuffer. */
export interface RecordsItem {
  t: 'records';
  buf: number;
  at: number;
  end: number;
  /**
   * -1: each record's line is in the buffer's line column (`access` events); otherwise record i's
   * line is line0 + (i - first) (an access run: consecutive lines, no column written).
   */
  line0: number;
  first: number;
}

/**
 * The columns of a lane's access records in shared memory: u64 linear addresses, u8 access kinds
 * (KIND bits), u32 trace lines. A runner knows them by id (registered once, not sent with every plan:
 * a SharedArrayBuffer in every message costs the receiver a new wrapper and its GC).
 */
export interface RecordBuffer {
  id: number;
  va: SharedArrayBuffer;
  kind: SharedArrayBuffer;
  line: SharedArrayBuffer;
}
export interface StreamItem {
  t: 'stream';
  params: StreamParams;
  state: StreamState;
}
/** A CPU-local event: the lane stops before it, the main thread runs it. */
export interface MarkerItem {
  t: 'marker';
}
export type RunItem = RecordsItem | StreamItem | MarkerItem;

export interface LanePlan {
  cpu: number;
  /** Records [pos, end) of the CPU's batch area are generated and not yet run. */
  pos: number;
  end: number;
  /**
   * Whether the batch area's records come from a records item: they count as single accesses, and
   * the area is in column form (Machine.batchColumns; a stream's batch is in record form).
   */
  fromRecords: boolean;
  /**
   * The trace lines of a records batch: record i's is `lines + i` (an access run), or, when `lines`
   * is -1, entry `lineAt + i` of the line column of record buffer `lineBuf` (`access` events).
   */
  lines: number;
  lineBuf: number;
  lineAt: number;
  /** The lane's next items, in trace order, up to and including its first marker. */
  items: RunItem[];
  /** Accesses the lane may still complete in this phase. */
  budget: number;
  /**
   * Accesses this call may complete at most (0: no limit): a phase may run in slices, on different
   * threads, with nothing applied in between — the same phase, the same results.
   */
  slice: number;
}

export type LaneStatus = 'idle' | 'budget' | 'slice' | 'marker' | 'page-fault' | 'general-protection' | 'interrupted';

export interface LaneResult {
  plan: LanePlan;
  /** Accesses completed in this phase. */
  done: number;
  /** Of which from records items (`access` events, access runs). */
  singles: number;
  status: LaneStatus;
  /** The CPU's events of this phase, EVENT_WORDS u32 each: kind, line, va lo/hi, pa lo/hi, slot, stamp. */
  events: Uint32Array;
}

export const EVENT_WORDS = 8;
/** The control block shared by every runner: word 0 non-zero asks them to stop after the batch they run. */
export const CONTROL_INTERRUPT = 0;

export class LaneRunner {
  private readonly buffers = new Map<number, { va: Uint8Array; kind: Uint8Array; line: Uint32Array }>();
  private control: Int32Array<ArrayBufferLike> = new Int32Array(1);

  constructor(private readonly machine: Machine) {}

  /** The control block shared with the main thread (CONTROL_INTERRUPT). */
  setControl(control: Int32Array): void {
    this.control = control;
  }

  register(buffers: readonly RecordBuffer[]): void {
    for (const b of buffers) this.buffers.set(b.id, { va: new Uint8Array(b.va), kind: new Uint8Array(b.kind), line: new Uint32Array(b.line) });
  }

  forget(ids: readonly number[]): void {
    for (const id of ids) this.buffers.delete(id);
  }

  /** Runs each lane until it stops (a fault, a marker, its budget or slice, no more work, an interrupt). */
  runPhase(plans: LanePlan[]): LaneResult[] {
    return plans.map((p) => this.runLane(p));
  }

  runLane(plan: LanePlan): LaneResult {
    const control = this.control;
    const m = this.machine;
    const cpu = plan.cpu;
    const { records, capacity } = m.batchArea(cpu);
    const columns = m.batchColumns(cpu);
    const columnVa = new Uint8Array(columns.va.buffer, columns.va.byteOffset, 8 * capacity);
    const dv = new DataView(m.memory.buffer);
    const block = m.layout.cpuBase + cpu * m.layout.cpuStride;
    const events: number[] = [];
    let done = 0;
    let singles = 0;
    let status: LaneStatus;
    const sliced = plan.slice > 0 && plan.slice < plan.budget;
    const cap = sliced ? plan.slice : plan.budget;
    const capped: LaneStatus = sliced ? 'slice' : 'budget';
    for (;;) {
      if (Atomics.load(control, CONTROL_INTERRUPT) !== 0) {
        status = 'interrupted';
        break;
      }
      if (plan.pos < plan.end) {
        const n = Math.min(plan.end - plan.pos, cap - done);
        if (n <= 0) {
          status = capped;
          break;
        }
        const stop = m.runBatch(cpu, plan.pos, n, false, true, plan.fromRecords);
        if (dv.getUint32(block + L.CPU_EVENT_COUNT, true) !== 0) this.drainEvents(dv, block, plan, records, events);
        plan.pos += stop.done;
        done += stop.done;
        if (plan.fromRecords) singles += stop.done;
        if (stop.status === 'page-fault' || stop.status === 'general-protection') {
          status = stop.status;
          break;
        }
        continue;
      }
      const item = plan.items[0];
      if (item === undefined) {
        status = 'idle';
        break;
      }
      if (item.t === 'marker') {
        status = 'marker';
        break;
      }
      if (done >= cap) {
        status = capped;
        break;
      }
      let n: number;
      if (item.t === 'records') {
        n = Math.min(capacity, item.end - item.at);
        const buf = this.buffers.get(item.buf);
        if (!buf) throw new Error(`internal: record buffer ${item.buf} is not registered with this runner`);
        // Two block copies into the batch area's columns; the lines stay where they are.
        columnVa.set(buf.va.subarray(8 * item.at, 8 * (item.at + n)));
        columns.kind.set(buf.kind.subarray(item.at, item.at + n));
        plan.lines = item.line0 < 0 ? -1 : item.line0 - item.first + item.at;
        plan.lineBuf = item.buf;
        plan.lineAt = item.at;
        item.at += n;
        if (item.at >= item.end) plan.items.shift();
        plan.fromRecords = true;
      } else {
        n = fillStreamInto(m.core, cpu, item.params, item.state, records, capacity);
        if (item.state.i >= item.params.count) plan.items.shift();
        plan.fromRecords = false;
      }
      plan.pos = 0;
      plan.end = n;
    }
    return { plan, done, singles, status, events: Uint32Array.from(events) };
  }

  /** The trace line of record `index` of the plan's batch area. */
  lineOf(plan: LanePlan, index: number): number {
    if (!plan.fromRecords) return this.machine.batchArea(plan.cpu).records[4 * index + 3];
    if (plan.lines >= 0) return plan.lines + index;
    const buf = this.buffers.get(plan.lineBuf);
    if (!buf) throw new Error(`internal: record buffer ${plan.lineBuf} is not registered with this runner`);
    return buf.line[plan.lineAt + index];
  }

  /** The linear address and kind of record `index` of the plan's batch area (a lane's stop). */
  accessOf(plan: LanePlan, index: number): { va: bigint; kind: number } {
    if (plan.fromRecords) {
      const { va, kind } = this.machine.batchColumns(plan.cpu);
      return { va: va[index], kind: kind[index] };
    }
    const { records } = this.machine.batchArea(plan.cpu);
    return { va: BigInt(records[4 * index]) | (BigInt(records[4 * index + 1]) << 32n), kind: records[4 * index + 2] };
  }

  /** Moves the CPU's event ring into `out`, each event's batch index turned into its trace line. */
  private drainEvents(dv: DataView, b: number, plan: LanePlan, records: Uint32Array, out: number[]): void {
    const { layout } = this.machine;
    const count = dv.getUint32(b + L.CPU_EVENT_COUNT, true);
    for (let e = 0; e < count; e++) {
      const p = b + layout.eventOff + e * L.EVENT_BYTES;
      const index = dv.getUint32(p + L.EV_INDEX, true);
      out.push(
        dv.getUint32(p + L.EV_KIND, true), plan.fromRecords ? this.lineOf(plan, index) : records[4 * index + 3],
        dv.getUint32(p + L.EV_VA, true), dv.getUint32(p + L.EV_VA + 4, true),
        dv.getUint32(p + L.EV_PA, true), dv.getUint32(p + L.EV_PA + 4, true),
        dv.getUint32(p + L.EV_SLOT, true), dv.getUint32(p + L.EV_STAMP, true),
      );
    }
    dv.setUint32(b + L.CPU_EVENT_COUNT, 0, true);
  }
}
