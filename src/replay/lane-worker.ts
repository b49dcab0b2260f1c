// A replay worker thread: an instance of the core on the machine's shared memory (as a CPU worker,
// src/mmu/cpu-worker.ts, whose API it offers too) that runs lanes of a replay window (lanes.ts).
// Only the plans cross the message port; accesses, results and events stay in shared memory until
// the phase ends. The platform's worker entry (src/node/worker-thread.ts, or src/platform/web-worker.ts
// in a page) exposes it on the thread's endpoint and hands it comlink's `transfer` (this module imports
// no package: a Web Worker does not see the page's import map).
import { Machine, type BatchStop } from '../mmu/machine.ts';
import type { Counters } from '../mmu/model.ts';
import { MmuError } from '../mmu/errors.ts';
import { platform } from '../platform/platform.ts';
import { LaneRunner, type LanePlan, type LaneResult, type RecordBuffer } from './lanes.ts';

export class LaneWorker {
  private machine: Machine | undefined;
  private runner: LaneRunner | undefined;

  /** `transfer` marks the buffers a reply moves instead of copying (comlink's Comlink.transfer). */
  constructor(private readonly transfer: <T>(value: T, buffers: Transferable[]) => T = (v) => v) {}

  /** Instantiates the compiled core against the machine's memory (again, for a new machine). */
  async attach(memory: WebAssembly.Memory, module: WebAssembly.Module): Promise<void> {
    this.machine = await Machine.attach(memory, module);
    this.runner = new LaneRunner(this.machine);
  }

  runBatch(cpu: number, start: number, count: number, wantResults: boolean): BatchStop {
    return this.attached().runBatch(cpu, start, count, wantResults);
  }

  counters(cpu: number): Counters {
    return this.attached().counters(cpu);
  }

  /** The shared control block (the interrupt word). */
  setControl(control: Int32Array): void {
    this.attached();
    this.runner!.setControl(control);
  }

  /** Record buffers the plans will name. */
  register(buffers: RecordBuffer[]): void {
    this.attached();
    this.runner!.register(buffers);
  }

  forget(ids: number[]): void {
    this.runner?.forget(ids);
  }

  /** Runs one phase of these lanes (LaneRunner.runPhase). */
  runLanes(plans: LanePlan[]): LaneResult[] {
    this.attached();
    const results = this.runner!.runPhase(plans);
    return this.transfer(results, results.map((r) => r.events.buffer as ArrayBuffer));
  }

  /** This thread's CPU time so far, in nanoseconds (undefined where the platform cannot tell). */
  cpuTime(): number | undefined {
    return platform().threadCpuNs();
  }

  private attached(): Machine {
    if (this.machine === undefined) throw new MmuError('this replay worker is not attached to a machine yet (attach first)');
    return this.machine;
  }
}

export type LaneWorkerApi = Pick<LaneWorker, 'attach' | 'runBatch' | 'counters' | 'setControl' | 'register' | 'forget' | 'runLanes' | 'cpuTime'>;
