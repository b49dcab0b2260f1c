// Typed errors of the hardware layer. Every misuse is detected before anything is written, so a
// caught error leaves the machine as it was.

export class MmuError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** A CPU index outside [0, ncpus). */
export class CpuRangeError extends MmuError {
  constructor(readonly cpu: number, readonly ncpus: number) {
    super(`CPU ${cpu} does not exist: this machine has CPUs 0..${ncpus - 1}`);
  }
}

/** A page-table address that is not a 4 KiB-aligned frame of the table pool, or an entry index out of range. */
export class TableAddressError extends MmuError {}

/** A machine configuration that cannot be laid out (sizes, geometry, memory limits). */
export class ConfigError extends MmuError {}

/** A value that is not an address, an access kind, a page size, ... */
export class ArgumentError extends MmuError {}

/** The table pool or the simulated physical memory has no free frame left. */
export class OutOfMemoryError extends MmuError {}

/** A CPU worker thread that could not start, threw, or stopped; the message names the worker and the cause. */
export class WorkerError extends MmuError {
  constructor(readonly worker: number, message: string, options?: { cause?: unknown }) {
    super(message);
    if (options && 'cause' in options) this.cause = options.cause;
  }
}
