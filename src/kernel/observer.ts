// The narrow hook through which the kernel model tells its observer (the oracle) what it did: frames
// about to be freed, entries written, fixes a code path went without, coherence points. The kernel
// knows nothing of the oracle; the oracle implements this interface.
import type { MmStruct, Page } from './mm_types.ts';
import type { Op } from './ops.ts';
import type { Refusal } from './errno.ts';

/** What the kernel tells its observer (the oracle). The default observer ignores everything. */
export interface KernelObserver {
  /** Frames and page tables about to be freed: nothing may still cache them. */
  beforeFree(e: { frames: bigint[]; tables: bigint[]; why: string }): void;
  /** The kernel wrote an entry into a table that is not part of mm's tables at va. */
  foreignTableWrite(e: { mm: MmStruct; va: bigint; table: bigint; by: string; freed: boolean }): void;
  /**
   * A code path ran the way it did before fix `id`: what the fix would have done, where. An empty id:
   * a path no fix of the model closes (a finding of the model against the release's source).
   */
  /** `who`: the fix concerns only CPU translations or only secondary MMUs' (default: both). */
  missedFix(id: string, e: { mms: MmStruct[]; start: bigint; end: bigint; text: string; who?: 'cpu' | 'device' }): void;
  /** A page became mapped at va (the oracle tracks fills against it). */
  mapped(mm: MmStruct, va: bigint, page: Page): void;
  /** Something the report should say about an operation (a skipped migration, a waited lock). */
  kernelNote(op: Op, text: string): void;
  copyBegin(page: Page): void;
  copyEnd(page: Page): void;
  /**
   * The kernel refused a call (it returns `error`) or a fault delivered a signal other than SIGSEGV.
   * `op` is undefined for calls that run outside an operation (mmap).
   */
  refused(op: Op | undefined, r: Refusal): void;
  /**
   * tlb_finish_mmu of op's gather over [start, end) of mm has flushed: what the gather owed is settled
   * as of now. PTEs another operation changes later are that operation's to flush.
   */
  gatherFlushed(op: Op, mm: MmStruct, start: bigint, end: bigint): void;
  /** An operation returned: it promised that [start, end) of these address spaces is coherent. */
  opReturned(op: Op, mms: MmStruct[], start: bigint, end: bigint): void;
}

export const quietObserver: KernelObserver = {
  beforeFree() {}, foreignTableWrite() {}, missedFix() {}, mapped() {}, kernelNote() {}, refused() {}, copyBegin() {}, copyEnd() {}, gatherFlushed() {}, opReturned() {},
};
