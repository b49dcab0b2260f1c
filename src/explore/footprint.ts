// What an event of a block touches, for the partial-order reduction: two events whose footprints are
// disjoint commute (running them in either order leaves the same page tables, caches and locks), so
// the explorer runs one order of them. The footprint is conservative, by construction from the trace
// alone:
// - address spaces that can share a page or a page table are one unit: a file links every address
//   space that maps it (shared PMD pages, the file's reverse map), a fork links parent and child
//   (COW pages, the anon_vma);
// - a syscall on a unit reaches every CPU that ever runs an address space of it (mm_cpumask, IPIs,
//   lazy TLB) and every device attached to one (MMU notifiers);
// - an access touches its CPU (its TLB) and its unit (a fault edits the unit's tables and takes its locks).
import type { BlockTrace, TraceLine } from './block.ts';

class Units {
  private readonly parent = new Map<string, string>();
  find(x: string): string {
    let p = this.parent.get(x) ?? x;
    if (p !== x) {
      p = this.find(p);
      this.parent.set(x, p);
    }
    return p;
  }
  union(a: string, b: string): void {
    const ra = this.find(a);
    const rb = this.find(b);
    if (ra !== rb) this.parent.set(ra, rb);
  }
}

const ACCESS_OPS = new Set(['access', 'accesses', 'device_access', 'gup_fast']);

export function blockFootprints(t: Omit<BlockTrace, 'blocks'>, blockEvents: TraceLine[][]): ReadonlySet<string>[][] {
  const units = new Units();
  const devicesOf = new Map<string, string>(); // device → mm
  const cpusOf = new Map<string, Set<number>>(); // mm → CPUs that run it anywhere in the trace
  const runs = (mm: string, cpu: number) => {
    if (!cpusOf.has(mm)) cpusOf.set(mm, new Set());
    cpusOf.get(mm)!.add(cpu);
  };
  const current = new Map<number, string>();
  for (const { event: e } of t.events) {
    const cpu = e.cpu as number | undefined;
    if (e.op === 'mmap' && e.file !== undefined) units.union(`mm:${String(e.mm ?? current.get(cpu!))}`, `file:${String(e.file)}`);
    if (e.op === 'fork') units.union(`mm:${current.get(cpu!)}`, `mm:${String(e.child)}`);
    if (e.op === 'attach') devicesOf.set(String(e.device), String(e.mm));
    if (e.op === 'switch') {
      current.set(cpu!, String(e.mm));
      runs(String(e.mm), cpu!);
    }
  }
  // Per block: each CPU's address space at each of its events follows its own switches (program order).
  const atBlock = new Map<number, string>();
  return blockEvents.map((events) => {
    // The CPUs' address spaces when the block starts: replay the switches before it.
    atBlock.clear();
    const first = events[0]?.line ?? Infinity;
    for (const { line, event: e } of t.events) {
      if (line >= first) break;
      if (e.op === 'switch') atBlock.set(e.cpu as number, String(e.mm));
    }
    const cur = new Map(atBlock);
    return events.map(({ event: e }) => {
      const fp = new Set<string>();
      const cpu = e.cpu as number | undefined;
      const unitOf = (mm: string | undefined) => (mm === undefined ? undefined : units.find(`mm:${mm}`));
      if (e.op === 'device_access') {
        const mm = devicesOf.get(String(e.device));
        fp.add(`device:${String(e.device)}`);
        const u = unitOf(mm);
        if (u) fp.add(u);
        return fp;
      }
      fp.add(`cpu:${cpu!}`);
      if (e.op === 'switch' || e.op === 'idle') {
        // The address space it leaves (lazily or not) and the one it enters.
        const before = unitOf(cur.get(cpu!));
        if (before) fp.add(before);
        if (e.op === 'switch') {
          cur.set(cpu!, String(e.mm));
          fp.add(unitOf(String(e.mm))!);
        }
        return fp;
      }
      const mm = e.mm !== undefined ? String(e.mm) : cur.get(cpu!);
      const u = e.file !== undefined && e.op !== 'mmap' ? units.find(`file:${String(e.file)}`) : unitOf(mm);
      if (u) fp.add(u);
      if (ACCESS_OPS.has(e.op)) return fp;
      // A syscall: every CPU and device that can cache a translation of its unit.
      for (const [m, cpus] of cpusOf) if (units.find(`mm:${m}`) === u) for (const c of cpus) fp.add(`cpu:${c}`);
      for (const [d, m] of devicesOf) if (units.find(`mm:${m}`) === u) fp.add(`device:${d}`);
      return fp;
    });
  });
}

export function independent(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  for (const x of a) if (b.has(x)) return false;
  return true;
}
