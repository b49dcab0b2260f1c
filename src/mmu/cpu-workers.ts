// The host's side of the CPU threads: worker threads that each instantiate the core against the
// machine's shared memory and run the batches of the CPUs they are given. comlink carries only
// control (attach, run records [start, start + count) of a CPU, read counters); the accesses and
// their results move through the CPUs' batch areas (Machine.batchArea), which the host fills before
// `run` and reads after it (the port's message queue orders those plain stores and loads with the
// call and its reply). A round trip costs ~80 µs (~35 µs each when pipelined), so a call should carry
// a large batch.
//
// A CPU's state (registers, TLBs, walk scratch, counters) is not locked: one thread at a time may act
// on a CPU. `run` refuses a CPU that is running on another worker (calls to one worker are queued and
// run in order, so several batches of a CPU may be in flight on the same worker); the host must
// itself not touch a CPU (invalidate, write its registers) while a worker runs it.
//
// The threads are the platform's (src/platform/): worker threads in Node, module Web Workers in a
// page, which must be cross-origin isolated for them to share the memory. In Node an idle worker does
// not keep the process alive (it is held only while calls are in flight); `close` ends them.
import * as Comlink from 'comlink';
import { platform, type WorkerKind, type WorkerThread } from '../platform/platform.ts';
import type { BatchStop, Machine } from './machine.ts';
import type { Counters } from './model.ts';
import type { CpuWorkerApi } from './cpu-worker.ts';
import { ArgumentError, MmuError, WorkerError } from './errors.ts';

export interface CpuWorkersOptions {
  /** Which API the workers offer: 'cpu' (default, src/mmu/cpu-worker.ts) or a replay's 'lane' workers. */
  kind?: WorkerKind;
  /** A script of the caller's to run instead, which exposes the API itself (comlink on the thread's endpoint). */
  entry?: URL;
}

interface Thread {
  readonly index: number;
  readonly thread: WorkerThread;
  readonly remote: Comlink.Remote<CpuWorkerApi>;
  pending: number; // calls in flight: while there are any, the worker keeps the process alive
}

/** "Name: message" of whatever a thread threw (comlink rebuilds errors with their name and message). */
function explain(err: unknown): string {
  if (err instanceof Error) return err.name && err.name !== 'Error' ? `${err.name}: ${err.message}` : err.message;
  return String(err);
}

function spawn(index: number, what: WorkerKind | URL): Thread {
  const thread = platform().startWorker(what, `mmuwasm-${what instanceof URL ? 'cpu' : what}-worker-${index}`);
  return { index, thread, remote: Comlink.wrap<CpuWorkerApi>(thread.endpoint), pending: 0 };
}

export class CpuWorkers {
  private readonly running = new Map<number, { worker: number; batches: number }>(); // CPUs with batches in flight
  private closed = false;

  private constructor(
    private current: Machine,
    private readonly threads: readonly Thread[],
    private readonly module: WebAssembly.Module,
  ) {}

  /** The machine the workers are attached to. */
  get machine(): Machine {
    return this.current;
  }

  /** Starts `count` worker threads, each attached to the machine's memory with the compiled core. */
  static async start(machine: Machine, count: number, options: CpuWorkersOptions = {}): Promise<CpuWorkers> {
    if (!Number.isInteger(count) || count < 1 || count > 256) throw new ArgumentError(`the number of CPU workers must be 1..256 (got ${count})`);
    const unavailable = platform().workersUnavailable();
    if (unavailable !== undefined) throw new ArgumentError(`CPU workers cannot run here: ${unavailable}`);
    if (!(machine.memory.buffer instanceof SharedArrayBuffer)) throw new ArgumentError('CPU workers need a machine over a shared memory');
    const module = machine.module;
    const what = options.entry ?? options.kind ?? 'cpu';
    const threads: Thread[] = [];
    const workers = new CpuWorkers(machine, threads, module);
    try {
      for (let i = 0; i < count; i++) threads.push(spawn(i, what));
    } catch (err) {
      await workers.close();
      throw new WorkerError(threads.length, `CPU worker ${threads.length} failed to start: ${explain(err)}`, { cause: err });
    }
    const attached = await Promise.allSettled(threads.map((t) => workers.call(t, 'attach', () => t.remote.attach(machine.memory, module))));
    const failed = attached.findIndex((r) => r.status === 'rejected');
    if (failed >= 0) {
      await workers.close();
      const cause = ((attached[failed] as PromiseRejectedResult).reason as WorkerError).cause;
      throw new WorkerError(failed, `CPU worker ${failed} failed to start: ${explain(cause)}`, { cause });
    }
    return workers;
  }

  /**
   * Attaches every worker to another machine (a new replay reuses the threads instead of starting
   * new ones). No batch may be in flight.
   */
  async reattach(machine: Machine): Promise<void> {
    if (!(machine.memory.buffer instanceof SharedArrayBuffer)) throw new ArgumentError('CPU workers need a machine over a shared memory');
    if (this.running.size) throw new ArgumentError('CPU workers cannot change machines while batches are in flight');
    this.current = machine;
    await Promise.all(this.threads.map((t) => this.call(t, 'attach', () => t.remote.attach(machine.memory, this.module))));
  }

  /**
   * Calls a method of worker `workerIndex` that the default API does not have (a worker entry may
   * offer more, e.g. the replay's lanes): `f` gets the thread's comlink proxy. Failures come as
   * WorkerError naming the worker and `what`, as for run().
   */
  async request<T, Api = unknown>(workerIndex: number, what: string, f: (remote: Comlink.Remote<Api>) => Promise<T>): Promise<T> {
    const t = this.thread(workerIndex);
    return this.call(t, what, () => f(t.remote as unknown as Comlink.Remote<Api>));
  }

  /** How many worker threads there are. */
  get size(): number {
    return this.threads.length;
  }

  /**
   * Runs records [start, start + count) of `cpu`'s batch area on worker `workerIndex` and returns how
   * the batch stopped (Machine.runBatch). With `wantResults`, the PAs are in the batch area's results.
   */
  async run(workerIndex: number, cpu: number, start: number, count: number, wantResults = false): Promise<BatchStop> {
    const t = this.thread(workerIndex);
    const running = this.running.get(cpu) ?? { worker: workerIndex, batches: 0 };
    if (running.worker !== workerIndex) {
      throw new ArgumentError(`CPU ${cpu} is already running on CPU worker ${running.worker}: one thread at a time may run a CPU`);
    }
    running.batches++;
    this.running.set(cpu, running);
    try {
      return await this.call(t, `runBatch(cpu ${cpu}, records ${start}..${start + count})`, () => t.remote.runBatch(cpu, start, count, wantResults));
    } finally {
      if (--running.batches === 0) this.running.delete(cpu);
    }
  }

  /** The CPU's counters as worker `workerIndex` reads them (the host's Machine reads the same memory). */
  async counters(workerIndex: number, cpu: number): Promise<Counters> {
    const t = this.thread(workerIndex);
    return this.call(t, `counters(cpu ${cpu})`, () => t.remote.counters(cpu));
  }

  /** Terminates every worker; calls still pending reject. Safe to call more than once. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(
      this.threads.map((t) => t.thread.terminate()),
    );
  }

  private thread(workerIndex: number): Thread {
    if (this.closed) throw new MmuError('the CPU workers are closed');
    const t = this.threads[workerIndex];
    if (!Number.isInteger(workerIndex) || t === undefined) {
      throw new ArgumentError(`CPU worker ${workerIndex} does not exist: there are workers 0..${this.threads.length - 1}`);
    }
    return t;
  }

  /** One call to a worker: it fails with the worker's error, or as soon as the thread is gone. */
  private async call<T>(t: Thread, what: string, f: () => Promise<T>): Promise<T> {
    if (t.pending++ === 0) t.thread.hold(true);
    try {
      await Promise.race([t.thread.ready, t.thread.gone]);
      return await Promise.race([f(), t.thread.gone]);
    } catch (err) {
      throw new WorkerError(t.index, `CPU worker ${t.index}: ${what} failed: ${explain(err)}`, { cause: err });
    } finally {
      if (--t.pending === 0) t.thread.hold(false);
    }
  }
}
