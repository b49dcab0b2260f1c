// The items a trace reader hands to the replay: the header, then each event with its line. Events
// are plain objects whose fields the reader has already checked (addresses as BigInts).
import type { Geometry } from '../mmu/model.ts';

/** The events the replay runs, as the trace reader gives them (addresses already BigInts). */
export type ReplayEvent = { op: string; [field: string]: unknown };
export interface ReplayHeader {
  cpus: number;
  kernel?: string;
  fixes?: Record<string, boolean>;
  paging?: 4 | 5;
  pcid?: boolean;
  /** How the kernel reaches other CPUs' TLBs: native IPIs (the default) or a hypervisor's hypercall. */
  remoteFlush?: 'ipi' | 'hypercall';
  physmem?: bigint;
  tlb?: Partial<Geometry>;
  seed?: number;
  /** The machine the trace was recorded on (`record`), as the header gives it. */
  recorded?: Record<string, unknown>;
}


export type TraceItem =
  | { kind: 'header'; line: number; header: ReplayHeader; bytes: number }
  | { kind: 'event'; line: number; event: ReplayEvent; bytes: number };
