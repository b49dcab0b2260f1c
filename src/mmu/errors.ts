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

/**
 * An internal invariant of mmuwasm broke: a layer was asked for something its own bookkeeping says
 * cannot happen (a frame freed that is not allocated, a page freed twice, an operation that may not
 * wait had to). It is a bug in mmuwasm, never a fault of the input, so it is not an MmuError (those
 * are the caller's misuse): a replay reports it with its own exit status (3), the trace line, and
 * what is needed to reproduce it, and keeps the partial report.
 */
export class ModelBugError extends Error {
  /** Where in a trace it happened, when a replay knows (the line of the operation that ran into it). */
  trace: { file: string; line: number } | undefined;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message);
    this.name = 'ModelBugError';
    if (options && 'cause' in options) this.cause = options.cause;
  }

  /**
   * What an error thrown out of the kernel model while it runs a trace's operation is. Errors of the
   * input (a trace error, a kernel refusal, resources running out, a machine that cannot be built)
   * are returned as they are; a ModelBugError, a misuse of the hardware layer's API (an address
   * that is not an allocated frame or a table, a CPU that does not exist) or a JavaScript error
   * (TypeError, RangeError, ReferenceError) can only be a bug of the model: it comes back as a
   * ModelBugError that names the trace line, once (the innermost line wins).
   */
  static fromOperation(err: unknown, file: string, line: number): unknown {
    let bug: ModelBugError | undefined;
    if (err instanceof ModelBugError) bug = err;
    else if (err instanceof ArgumentError || err instanceof TableAddressError || err instanceof CpuRangeError) {
      bug = new ModelBugError(`the kernel model misused the hardware layer: ${err.message}`, { cause: err });
    } else if (err instanceof TypeError || err instanceof RangeError || err instanceof ReferenceError) {
      bug = new ModelBugError(`${err.name}: ${err.message}`, { cause: err });
    }
    if (!bug) return err;
    bug.trace ??= { file, line };
    return bug;
  }
}
