// The worker's side of a CPU thread: an instance of the core attached to the machine's shared
// memory, which runs the batches the host names. Only control crosses the message port (which CPU,
// which records); the accesses and their results stay in the CPU's batch area in shared memory.
// The host side is cpu-workers.ts; the platform's worker entry (src/node/worker-thread.ts, or
// src/platform/web-worker.ts in a page) exposes it on the thread's endpoint.
import { Machine, type BatchStop } from './machine.ts';
import type { Counters } from './model.ts';
import { MmuError } from './errors.ts';

export class CpuWorker {
  private machine: Machine | undefined;

  /** Instantiates the compiled core against the machine's memory (the header gives the layout). */
  async attach(memory: WebAssembly.Memory, module: WebAssembly.Module): Promise<void> {
    this.machine = await Machine.attach(memory, module);
  }

  /** Runs records [start, start + count) of the CPU's batch area (Machine.runBatch). */
  runBatch(cpu: number, start: number, count: number, wantResults: boolean): BatchStop {
    return this.attached().runBatch(cpu, start, count, wantResults);
  }

  counters(cpu: number): Counters {
    return this.attached().counters(cpu);
  }

  private attached(): Machine {
    if (this.machine === undefined) throw new MmuError('this CPU worker is not attached to a machine yet (attach first)');
    return this.machine;
  }
}

/** What the host sees through comlink. */
export type CpuWorkerApi = Pick<CpuWorker, 'attach' | 'runBatch' | 'counters'>;
