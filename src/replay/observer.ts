// What a replay tells an observer as it runs (the timeline of an HTML report, src/report/): one call
// per event, per step of a kernel operation, per window phase's accesses of a CPU. The replay calls
// nothing when no observer is given, and an observer changes nothing in the replay or its report.
import type { Op } from '../kernel/ops.ts';
import type { ReplayEvent } from '../trace/events.ts';
import type { Replay } from './engine.ts';

export interface ReplayObserver {
  /** The replay is built: its machine, kernel and oracle can be read from now on. */
  attach(replay: Replay): void;
  /** An event starts to run (a kernel operation, a setup event, a CPU-local switch or idle). */
  event(line: number, ev: ReplayEvent): void;
  /** The operation reached one of its named steps (docs/trace-format.md), and parks there when `parked`. */
  step(op: Op, step: string, parked: boolean): void;
  /** A parked operation runs on (the `resume` event of `line`). */
  resumed(op: Op, line: number): void;
  /** The operation must wait for another one (a lock, a migration entry). */
  waited(op: Op, behind: Op, reason: string): void;
  /** The operation completed. */
  done(op: Op): void;
  /** A window phase completed `count` accesses of the CPU, of trace lines first..last. */
  accesses(cpu: number, first: number, last: number, count: number): void;
  /** An access faulted and the kernel handles it (a CPU's, or a device's when `device` is given). */
  fault(line: number, cpu: number | undefined, device: string | undefined, va: bigint): void;
  /** An access ended in a segmentation fault. */
  segv(line: number, cpu: number | undefined, device: string | undefined, va: bigint): void;
}
