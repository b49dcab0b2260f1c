// Runs one schedule's plain events through the replay and returns what the oracle found. A schedule
// the replay cannot run as written (an operation the kernel refuses in that order, a resume of an
// operation still waiting) is infeasible: status 2.
//
// Speed: a new machine costs tens of milliseconds (a fresh shared memory of tens of MiB and a module
// instance), so one machine serves every schedule, put back between them into the state a new kernel
// leaves it in (measured, not assumed: the first schedule runs on a fresh machine, and its state right
// after the kernel's set-up is the snapshot):
// - the page-table pool needs nothing: a new kernel hands out the same frames again, and allocTable
//   zeroes each frame it hands out;
// - the oracle's generations: the slots written are noted (a wrapper on this machine's
//   writeGeneration) and set back to 0;
// - each CPU: INVPCID type 2 empties its TLB and paging-structure caches (SDM §4.10.4.1), and its
//   fixed block (registers, derived tables, counters) is copied back from the snapshot — so the
//   kernel's register set-up, which would rebuild the same derived tables, is skipped.
// The kernel model's JS state is rebuilt by replaying the prefix, which is small beside a machine.
import { Replay, type ReplayOptions } from '../replay/engine.ts';
import { Machine } from '../mmu/machine.ts';
import { CPU_FIXED_BYTES } from '../../assembly/layout.ts';
import type { Violation } from '../oracle/violation.ts';
import type { BlockTrace } from './block.ts';
import type { ResolvedEvent } from './resolve.ts';

export interface ScheduleOutcome {
  status: 0 | 1 | 2;
  violations: Violation[];
  /** Why the replay stopped (status 2), and the line of the written schedule it names. */
  error?: string;
  errorLine?: number;
}

export class ScheduleRunner {
  private readonly dirty = new Set<number>();
  private constructor(private readonly t: BlockTrace, private readonly opts: ReplayOptions, private readonly machine: Machine) {
    const write = machine.writeGeneration.bind(machine);
    this.restoreGeneration = write;
    machine.writeGeneration = (slot: number, value: number) => {
      write(slot, value);
      this.dirty.add(slot);
    };
  }
  private readonly restoreGeneration: (slot: number, value: number) => void;

  static async create(t: BlockTrace, opts: Pick<ReplayOptions, 'kernel' | 'fixes'>): Promise<ScheduleRunner> {
    const h = t.header;
    // The machine Replay.create would make for this header.
    const machine = await Machine.create({
      ncpus: h.cpus, mode: 'retentive', geometry: h.tlb, physmem: h.physmem ?? 64n << 30n, maxphyaddr: 46, eventCapacity: 4096,
    });
    return new ScheduleRunner(t, { kernel: opts.kernel, fixes: opts.fixes, machine }, machine);
  }

  /** Each CPU's fixed block right after the kernel's set-up, taken on the first schedule. */
  private snapshot: Uint8Array[] | undefined;

  private cpuBlock(cpu: number): Uint8Array {
    const { cpuBase, cpuStride } = this.machine.layout;
    return new Uint8Array(this.machine.memory.buffer, cpuBase + cpu * cpuStride, CPU_FIXED_BYTES);
  }

  /** A replay on the machine as a new kernel leaves it. */
  private async fresh(): Promise<Replay> {
    const m = this.machine;
    for (const slot of this.dirty) this.restoreGeneration(slot, 0);
    this.dirty.clear();
    if (!this.snapshot) {
      const replay = await Replay.create(this.t.header, this.opts, this.t.file);
      this.snapshot = Array.from({ length: m.ncpus }, (_, cpu) => this.cpuBlock(cpu).slice());
      return replay;
    }
    for (let cpu = 0; cpu < m.ncpus; cpu++) {
      m.invpcid(cpu, 2, 0, 0n);
      this.cpuBlock(cpu).set(this.snapshot[cpu]);
    }
    // The kernel's register set-up would write what the snapshot holds already.
    const saved = { setPagingLevels: m.setPagingLevels, writeEfer: m.writeEfer, writeCr0: m.writeCr0, writeCr4: m.writeCr4, writeCr3: m.writeCr3 };
    m.setPagingLevels = () => {};
    m.writeEfer = m.writeCr0 = m.writeCr4 = m.writeCr3 = () => true;
    try {
      return await Replay.create(this.t.header, this.opts, this.t.file);
    } finally {
      Object.assign(m, saved);
    }
  }

  async run(events: ResolvedEvent[]): Promise<ScheduleOutcome> {
    const replay = await this.fresh();
    try {
      for (const e of events) {
        const r = replay.run(e.line, e.event);
        if (r) await r;
      }
      await replay.finish(events.length ? events[events.length - 1].line : 1);
      const violations = replay.oracle.violations;
      return { status: violations.length ? 1 : 0, violations };
    } catch (err) {
      if (err instanceof Error && typeof (err as { line?: unknown }).line === 'number') {
        const reason = (err as { reason?: unknown }).reason;
        const field = (err as { field?: unknown }).field;
        const why = typeof reason === 'string' ? `${typeof field === 'string' ? `field "${field}": ` : ''}${reason}` : err.message;
        return { status: 2, violations: [], error: why, errorLine: (err as unknown as { line: number }).line };
      }
      throw err;
    } finally {
      await replay.close();
      replay.kernel.phys.recycle();
    }
  }

  async close(): Promise<void> {}
}
