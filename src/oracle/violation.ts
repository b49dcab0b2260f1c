// A violation: a translation that a correct kernel would have made impossible to use, with the
// sentence that explains it (docs/trace-format.md, "Violations").

export type ViolationKind =
  | 'lost-write' | 'use-after-free' | 'stale-walk' | 'stale-tlb' | 'stale-device' | 'foreign-table-write' | 'stale-write'
  | 'foreign-table-pin' | 'live-table-free';
export const VIOLATION_KINDS: readonly ViolationKind[] = [
  'lost-write', 'use-after-free', 'stale-walk', 'stale-tlb', 'stale-device', 'foreign-table-write', 'stale-write', 'foreign-table-pin', 'live-table-free',
];

export interface Violation {
  kind: ViolationKind;
  cpu?: number;
  device?: string;
  mm: string;
  va: string; // hex
  line: number;
  detail: string;
  /** The fix whose code path was not taken, when the oracle can name it. */
  fix?: string;
}
