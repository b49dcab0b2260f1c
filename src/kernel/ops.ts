// Kernel operations run as generators so that a trace can park one between two named steps
// (docs/trace-format.md, "Parking an operation in the middle"). An operation yields `{ step }` just before
// the step of that name, and `{ wait }` when it needs something another operation holds: the replay
// then runs it again after that operation completes. Locks live in the generator's frame, so a parked
// operation keeps holding them.

// This file is the bottom of src/kernel: it imports nothing of the kernel, so every other file may use it.
import { ModelBugError } from '../mmu/errors.ts';

/**
 * A PUD range that huge_pmd_unshare unlinked from an address space. `mm` is that address space's
 * MmStruct, typed loosely here so that this file stays below mm_types.ts (which needs RwSem).
 */
export interface UnsharedRange {
  readonly mm: object;
  readonly start: bigint;
  readonly end: bigint;
}

export type OpYield = { step: string } | { wait: Op; reason: string };
export type OpGen<T = void> = Generator<OpYield, T, void>;

/** One kernel operation in flight: the holder of the locks it takes. */
export class Op {
  done = false;
  /** PUD ranges huge_pmd_unshare unlinked from an address space during this operation: they changed too. */
  readonly unshared: UnsharedRange[] = [];
  constructor(
    readonly id: string,
    readonly name: string,
    readonly cpu: number,
    readonly line: number,
  ) {}
  describe(): string {
    return `${this.name} of line ${this.line}`;
  }
}

/** A reader-writer semaphore (mmap_lock, i_mmap_rwsem, the hugetlb VMA lock). Never blocks: it waits. */
export class RwSem {
  private writer: Op | undefined;
  private readonly readers = new Map<Op, number>();
  constructor(readonly name: string) {}

  private otherReader(op: Op): Op | undefined {
    for (const r of this.readers.keys()) if (r !== op && !r.done) return r;
    return undefined;
  }

  *downRead(op: Op): OpGen {
    while (this.writer && this.writer !== op && !this.writer.done) {
      yield { wait: this.writer, reason: `${this.name} is held for write by the ${this.writer.describe()}` };
    }
    this.readers.set(op, (this.readers.get(op) ?? 0) + 1);
  }
  upRead(op: Op): void {
    const n = this.readers.get(op) ?? 0;
    if (n <= 1) this.readers.delete(op);
    else this.readers.set(op, n - 1);
  }
  *downWrite(op: Op): OpGen {
    for (;;) {
      const holder = this.writer && this.writer !== op && !this.writer.done ? this.writer : this.otherReader(op);
      if (!holder) break;
      yield { wait: holder, reason: `${this.name} is held by the ${holder.describe()}` };
    }
    this.writer = op;
  }
  /** down_write_trylock: the rmap side of the hugetlb VMA lock may not wait (lock order). */
  tryWrite(op: Op): boolean {
    const busy = (this.writer && this.writer !== op && !this.writer.done) || this.otherReader(op);
    if (busy) return false;
    this.writer = op;
    return true;
  }
  upWrite(op: Op): void {
    if (this.writer === op) this.writer = undefined;
  }
  heldBy(op: Op): boolean {
    return this.writer === op || this.readers.has(op);
  }
}

/** Runs an operation that must not park or wait (setup paths called outside a trace's control). */
export function runToEnd<T>(gen: OpGen<T>): T {
  for (;;) {
    const r = gen.next();
    if (r.done) return r.value;
    if ('wait' in r.value) throw new ModelBugError(`an operation that may not park had to wait: ${r.value.reason}`);
  }
}
