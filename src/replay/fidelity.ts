// Fidelity: the model's flushes held against the real kernel's (docs/fidelity.md). An event that
// carries `observed` (a recording's) is compared with what the model traced while it ran: the same
// flushes — reason (so whether it reached other CPUs), and full or how many pages — in any order,
// since the kernel's CPUs trace them concurrently.
import type { TlbFlushReason } from '../kernel/tlbflush.ts';

export interface Flush {
  reason: string;
  pages: number;
}

export interface FidelityMismatch {
  line: number;
  op: string;
  observed: Flush[];
  model: Flush[];
}

export interface FidelityReport {
  events: number;
  matching: number;
  mismatches: FidelityMismatch[];
}

const key = (f: Flush) => `${f.reason} ${f.pages}`;

export class Fidelity {
  private readonly observed = new Map<number, { op: string; flushes: Flush[] }>();
  private readonly model = new Map<number, Flush[]>();

  /** An event with what the real kernel did during it. */
  expect(line: number, op: string, flushes: Flush[]): void {
    this.observed.set(line, { op, flushes });
  }

  /** A flush the model traced while the event of `line` ran. */
  traced(line: number, reason: TlbFlushReason, pages: number): void {
    let l = this.model.get(line);
    if (!l) this.model.set(line, (l = []));
    l.push({ reason, pages });
  }

  get any(): boolean {
    return this.observed.size > 0;
  }

  result(): FidelityReport {
    const mismatches: FidelityMismatch[] = [];
    for (const [line, o] of [...this.observed].sort((a, b) => a[0] - b[0])) {
      const model = this.model.get(line) ?? [];
      const a = o.flushes.map(key).sort(), b = model.map(key).sort();
      if (a.length !== b.length || a.some((x, i) => x !== b[i])) mismatches.push({ line, op: o.op, observed: o.flushes, model });
    }
    return { events: this.observed.size, matching: this.observed.size - mismatches.length, mismatches };
  }
}

/** The short human form of a flush: `remote-ipi 4096`, `local-mm all`. */
export function flushText(f: Flush): string {
  return `${f.reason} ${f.pages === -1 ? 'all' : f.pages}`;
}

/** The summary's table: matching events per op, and the first mismatches. */
export function fidelityTable(r: FidelityReport, shown = 10): string[] {
  const out = [`  fidelity: ${r.matching} of ${r.events} observed events flush as the kernel did`];
  for (const m of r.mismatches.slice(0, shown)) {
    out.push(`    line ${m.line} ${m.op}: kernel [${m.observed.map(flushText).join(', ')}] model [${m.model.map(flushText).join(', ')}]`);
  }
  if (r.mismatches.length > shown) out.push(`    … ${r.mismatches.length - shown} more mismatches (--json has them all)`);
  return out;
}
