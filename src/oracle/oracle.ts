// The oracle: observes the kernel model (KernelObserver) and the hardware's event rings, and reports
// every cached translation that is used, or still held at a coherence point, when a correct kernel
// would have invalidated it. Coherence points: an operation returns (its range must be coherent in the
// address spaces it changed), and a frame or page table is about to be freed (nothing may cache it).
import type { Kernel, KernelObserver } from '../kernel/kernel.ts';
import type { MmStruct, Page } from '../kernel/mm_types.ts';
import type { Op } from '../kernel/ops.ts';
import type { Refusal } from '../kernel/errno.ts';
import type { SecondaryMmu } from '../devices/secondary-mmu.ts';
import type { OracleEvent, PageSize, TlbEntry, PscEntry } from '../mmu/model.ts';
import { fixById } from '../kernel/fixes.ts';
import { kernPcid } from '../kernel/tlbflush.ts';
import type { Violation, ViolationKind } from './violation.ts';

const SIZE: Record<PageSize, bigint> = { '4K': 1n << 12n, '2M': 1n << 21n, '1G': 1n << 30n };
const SHIFT: Record<PageSize, bigint> = { '4K': 12n, '2M': 21n, '1G': 30n };
const PSC_SHIFT: Record<string, bigint> = { pml5: 48n, pml4: 39n, pdpte: 30n, pde: 21n };
const PSC_LEVEL: Record<string, 'p4d' | 'pud' | 'pmd' | 'pte'> = { pml5: 'p4d', pml4: 'pud', pdpte: 'pmd', pde: 'pte' };
const hex = (v: bigint) => `0x${v.toString(16)}`;
const FRAME = 0x000f_ffff_ffff_f000n;

interface FlushPoint {
  mm: MmStruct;
  start: bigint;
  end: bigint;
  stale: Set<string>;
}

/** A CPU's cached entry that grants more than the tables do (a TLB or a paging-structure-cache entry). */
interface StaleCpuEntry {
  cpu: number;
  /** The entry itself: context, array, page and frame (and writability for a TLB entry). */
  key: string;
  va: bigint;
  frame: bigint;
  what: (when: string) => string;
}

interface MissedFix {
  id: string;
  mms: MmStruct[];
  start: bigint;
  end: bigint;
  text: string;
  line: number;
  who?: 'cpu' | 'device';
}

export class Oracle implements KernelObserver {
  readonly violations: Violation[] = [];
  readonly notes: { line: number; text: string }[] = [];
  /** Calls the kernel refused and faults it answered with a signal: events of the trace, not errors of it. */
  readonly refusals: ({ line: number; op: string } & Omit<Refusal, 'call'>)[] = [];
  private readonly seen = new Set<string>();
  private readonly missed: MissedFix[] = [];
  /** The trace line being replayed (set by the replay). */
  line = 0;
  /** Copy windows open: the page and the line that opened it. */
  private readonly copying = new Map<bigint, { page: Page; line: number }>();
  readonly devices: SecondaryMmu[] = [];
  /**
   * Each operation's gathers as tlb_finish_mmu left them (gatherFlushed): the range, and the CPU
   * entries in it that were stale right after the flush (keys of staleCpuEntries), latest last.
   */
  private readonly flushPoints = new WeakMap<Op, FlushPoint[]>();

  constructor(private readonly k: Kernel) {}

  // ---- reporting ----

  private report(kind: ViolationKind, who: { cpu?: number; device?: string }, mm: string, va: bigint, frame: bigint, what: string, mms: MmStruct[] = []): void {
    const key = `${kind}|${who.cpu ?? ''}|${who.device ?? ''}|${mm}|${va >> 12n}|${frame}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    const cause = this.causeFor(mms, va, who.device !== undefined ? 'device' : 'cpu');
    const v: Violation = { kind, ...who, mm, va: hex(va), line: this.line, detail: cause ? `${what}. Why: ${cause.text}.` : `${what}.` };
    if (cause?.id) v.fix = cause.id;
    this.violations.push(v);
  }

  /** The latest pre-fix code path that covers this address in one of these address spaces. */
  private causeFor(mms: MmStruct[], va: bigint, who: 'cpu' | 'device'): MissedFix | undefined {
    for (let i = this.missed.length - 1; i >= 0; i--) {
      const m = this.missed[i];
      if (va < m.start || va >= m.end) continue;
      if (m.who && m.who !== who) continue;
      if (mms.length && !m.mms.some((x) => mms.includes(x))) continue;
      return m;
    }
    return undefined;
  }

  // ---- which cached entries can still be used ----

  /** The address space whose translations PCID `pcid` holds on `cpu`, and whether the CPU may use them without a flush first. */
  private contextOf(cpu: number, pcid: number): { mm: MmStruct; live: boolean } | undefined {
    const s = this.k.cpus[cpu];
    // A CPU parked inside switch_mm_irqs_off runs no user code until the switch ends, and a flush IPI
    // sent to it meanwhile is handled first (its sender waits for that): what it caches is judged
    // when the switch has ended, by the rules below (a flush it missed leaves its slot behind while
    // the mm is loaded: live).
    if (s.irqsOff) return undefined;
    if (!this.k.usesPcid) {
      if (pcid !== 0 || s.loadedMm === this.k.initMm) return undefined;
      // Without PCIDs a switch to another mm reloads CR3: only the loaded mm's entries survive. A lazy
      // CPU that flushes skipped (016c4d92cd16) is behind the mm's tlb_gen in its ASID-0 slot, and
      // switch_mm_irqs_off flushes before it uses the mm again, with or without PCID (v6.18
      // arch/x86/mm/tlb.c l.880-900: the was_lazy catch-up compares ctxs[prev_asid].tlb_gen, which
      // is slot 0 without PCID). Before b0579ade7cd8 a lazy CPU leaves the mm at the first flush instead.
      const mm = s.loadedMm;
      const behind = this.k.fixes.has('b0579ade7cd8') && s.isLazy && s.ctxs[s.loadedAsid].tlbGen < mm.tlbGen;
      return { mm, live: !mm.exited && !behind };
    }
    const asid = pcid - 1;
    const slot = s.ctxs[asid];
    if (!slot || pcid !== kernPcid(asid)) return undefined;
    const mm = this.mmByCtx(slot.ctxId);
    if (!mm || mm === this.k.initMm) return undefined;
    const loaded = s.loadedMm === mm && s.loadedAsid === asid;
    // Entries of a slot that is behind the mm's tlb_gen are flushed before the CPU uses the mm again.
    const live = !mm.exited && ((loaded && !s.isLazy) || slot.tlbGen >= mm.tlbGen);
    return { mm, live };
  }

  /** The CPU has this context in CR3 now (lazily or not): the hardware may walk through its caches. */
  private walksNow(cpu: number, pcid: number, mm: MmStruct): boolean {
    const s = this.k.cpus[cpu];
    return !mm.exited && !s.irqsOff && s.loadedMm === mm && (!this.k.usesPcid || kernPcid(s.loadedAsid) === pcid);
  }

  private mmByCtx(ctx: bigint): MmStruct | undefined {
    // Indexed: an audit asks once per cached entry, and there may be 10^5 address spaces.
    const mm = this.k.mmsByCtx.get(ctx);
    return mm && this.k.mms.get(mm.name) === mm ? mm : undefined;
  }

  private who(cpu: number, mm: MmStruct): string {
    const s = this.k.cpus[cpu];
    const running = s.loadedMm === mm ? (s.isLazy ? `lazily holding ${mm.name}` : `running ${mm.name}`) : `with ${mm.name}'s PCID`;
    return `CPU ${cpu} (${running})`;
  }

  /** What mm's tables say for va now: the frame and writability, or nothing. */
  private translate(mm: MmStruct, va: bigint): { pa: bigint; size: PageSize; writable: boolean } | undefined {
    const t = this.k.tables.lookup(mm.pgd, va, this.k.levels);
    if (!t) return undefined;
    return { pa: t.pa - (va & (SIZE[t.size] - 1n)), size: t.size, writable: (t.leaf & 2n) !== 0n };
  }

  private tableAt(mm: MmStruct, va: bigint, level: 'p4d' | 'pud' | 'pmd' | 'pte'): bigint | undefined {
    // The table a walk of mm reaches for va at `level` (what a PSC entry of the level above points to).
    const order = this.k.levels === 5 ? ['pgd', 'p4d', 'pud', 'pmd', 'pte'] : ['pgd', 'pud', 'pmd', 'pte'];
    const shifts: Record<string, bigint> = { pgd: this.k.levels === 5 ? 48n : 39n, p4d: 39n, pud: 30n, pmd: 21n, pte: 12n };
    let table = mm.pgd;
    for (const l of order) {
      if (l === level) return table;
      const e = this.k.machine.readEntry(table + ((va >> shifts[l]) & 511n) * 8n);
      if ((e & 1n) === 0n || (e & 0x80n) !== 0n) return undefined;
      table = e & FRAME;
    }
    return undefined;
  }

  refused(op: Op | undefined, r: Refusal): void {
    this.refusals.push({ line: op?.line ?? this.line, op: r.call, error: r.error, why: r.why });
  }

  // ---- coherence points ----

  gatherFlushed(op: Op, mm: MmStruct, start: bigint, end: bigint): void {
    const stale = new Set(this.staleCpuEntries(mm, start, end).map((e) => e.key));
    const points = this.flushPoints.get(op);
    if (points) points.push({ mm, start, end, stale });
    else this.flushPoints.set(op, [{ mm, start, end, stale }]);
  }

  opReturned(op: Op, mms: MmStruct[], start: bigint, end: bigint): void {
    for (const mm of mms) {
      this.auditRange(mm, start, end, `after the ${op.describe()} returned`, op);
      // An unshare took the whole PUD range out of mm's tables, beyond the range asked for.
      for (const u of op.unshared) {
        if (u.mm === mm && (u.start < start || u.end > end)) this.auditRange(mm, u.start, u.end, `after the ${op.describe()} returned`, op);
      }
    }
  }

  /**
   * An entry that was not stale when op's gather flushed (the entry was filled later, or the tables
   * still granted it then) became stale through a PTE another operation changed afterwards. While a
   * flush is still pending on mm that change is the other operation's to flush, and its return is
   * audited: a zap's tlb_finish_mmu answers for the PTEs it saw (with 99baac21e458 also those a gather
   * in flight at its nested check had cleared), not for those a gather started after the check clears
   * (v4.19 mm/memory.c l.420-434, include/linux/mm_types.h l.531-607; v6.18 mm/mmu_gather.c
   * l.469-503, include/linux/mm_inline.h l.458-535). An entry already stale right after op's flush
   * is op's to answer for: a nested gather that flushed nothing (B10 before the fix) stays reported.
   */
  private staleSinceFlush(op: Op, mm: MmStruct, e: StaleCpuEntry): boolean {
    if (mm.tlbFlushPending === 0) return false;
    const points = this.flushPoints.get(op);
    if (!points) return false;
    for (let i = points.length - 1; i >= 0; i--) {
      const p = points[i];
      if (p.mm === mm && e.va >= p.start && e.va < p.end) return !p.stale.has(e.key);
    }
    return false;
  }

  private auditRange(mm: MmStruct, start: bigint, end: bigint, when: string, op?: Op): void {
    for (const e of this.staleCpuEntries(mm, start, end)) {
      if (op && this.staleSinceFlush(op, mm, e)) continue;
      this.report('stale-tlb', { cpu: e.cpu }, mm.name, e.va, e.frame, e.what(when), [mm]);
    }
    for (const d of this.devices) {
      if (d.mm !== mm) continue;
      for (const e of d.entries.values()) {
        if (e.va >= end || e.va + d.sizeOf(e) <= start) continue;
        const t = this.translate(mm, e.va);
        if (t && t.pa === e.pa && (t.writable || !e.writable)) continue;
        const what = t ? (t.pa !== e.pa ? `map it to ${hex(t.pa)}` : 'make it read-only') : 'map nothing there';
        this.report('stale-device', { device: d.name }, mm.name, e.va, e.pa,
          `device ${d.name} (${d.kind}) still caches ${hex(e.va)} → ${hex(e.pa)}${e.writable ? ' (writable)' : ''} ${when}, though ${mm.name}'s page tables ${what}`, [mm]);
      }
    }
  }

  /** The CPU entries for [start, end) of mm, live in their context, that grant more than mm's tables. */
  private staleCpuEntries(mm: MmStruct, start: bigint, end: bigint): StaleCpuEntry[] {
    const out: StaleCpuEntry[] = [];
    for (let cpu = 0; cpu < this.k.cpus.length; cpu++) {
      // Only the entries for the range: an audit costs what the range covers, not what the TLB holds
      // (a retentive TLB holds an entry for every page an address space ever touched).
      for (const e of this.k.machine.tlbEntriesInRange(cpu, start, end)) {
        const ctx = this.contextOf(cpu, e.pcid);
        if (!ctx || ctx.mm !== mm || !ctx.live) continue;
        const va = e.page << SHIFT[e.size];
        if (va >= end || va + SIZE[e.size] <= start) continue;
        const t = this.translate(mm, va);
        if (t && t.pa === e.frame && (t.writable || !e.w || !e.d) ) continue;
        const what = t ? (t.pa !== e.frame ? `maps it to ${hex(t.pa)}` : 'make it read-only') : 'map nothing there';
        out.push({
          cpu, va, frame: e.frame, key: `${cpu}|${e.pcid}|${e.size}|${va}|${e.frame}|${e.w}`,
          what: (when) => `${this.who(cpu, mm)} still caches ${hex(va)} → ${hex(e.frame)}${e.w ? ' (writable)' : ''} ${when}, though ${mm.name}'s page tables ${what}`,
        });
      }
      for (const p of this.k.machine.pscEntriesInRange(cpu, start, end)) {
        const ctx = this.contextOf(cpu, p.pcid);
        if (!ctx || ctx.mm !== mm || !ctx.live) continue;
        const shift = PSC_SHIFT[p.array];
        const va = p.page << shift;
        if (va >= end || va + (1n << shift) <= start) continue;
        if (this.tableAt(mm, va, PSC_LEVEL[p.array]) === p.table) continue;
        out.push({
          cpu, va, frame: p.table, key: `${cpu}|${p.pcid}|${p.array}|${va}|${p.table}`,
          what: (when) => `${this.who(cpu, mm)} still caches a ${p.array.toUpperCase()} paging-structure entry for ${hex(va)} pointing at the page table ${hex(p.table)} ${when}, though ${mm.name} no longer links that table there`,
        });
      }
    }
    return out;
  }

  beforeFree(e: { frames: bigint[]; tables: bigint[]; why: string }): void {
    const frames = e.frames.map((pa) => ({ pa, size: SIZE[this.k.phys.sizeOf(pa) ?? '4K'] }));
    const inFrame = (pa: bigint) => frames.find((f) => pa >= f.pa && pa < f.pa + f.size);
    const tables = new Set(e.tables);
    // Only the entries that point into what is freed are decoded (a retentive TLB holds thousands).
    const ranges = frames.map((f) => [Number(f.pa), Number(f.pa + f.size)] as const);
    const tableSet = new Set(e.tables.map(Number));
    for (let cpu = 0; cpu < this.k.cpus.length; cpu++) {
      if (frames.length) {
        for (const t of this.k.machine.tlbEntriesInFrames(cpu, ranges)) {
          if (!inFrame(t.frame)) continue;
          const ctx = this.contextOf(cpu, t.pcid);
          if (!ctx || !ctx.live) continue;
          const va = t.page << SHIFT[t.size];
          this.report('stale-tlb', { cpu }, ctx.mm.name, va, t.frame,
            `${this.who(cpu, ctx.mm)} still caches ${hex(va)} → ${hex(t.frame)} when that frame is freed (${e.why})`, [ctx.mm]);
        }
      }
      if (tables.size) {
        for (const p of this.k.machine.pscEntriesOfTables(cpu, tableSet)) {
          if (!tables.has(p.table)) continue;
          const ctx = this.contextOf(cpu, p.pcid);
          // A lazy CPU still runs on the mm's CR3: its paging-structure caches feed speculative walks
          // whatever its tlb_gen says, which is why a flush that frees tables must reach it (B13).
          if (!ctx || !(ctx.live || this.walksNow(cpu, p.pcid, ctx.mm))) continue;
          const va = p.page << PSC_SHIFT[p.array];
          this.report('stale-tlb', { cpu }, ctx.mm.name, va, p.table,
            `${this.who(cpu, ctx.mm)} still caches a ${p.array.toUpperCase()} paging-structure entry for ${hex(va)} pointing at the page table ${hex(p.table)} when that table is freed (${e.why})`, [ctx.mm]);
        }
      }
    }
    for (const d of this.devices) {
      for (const en of d.entries.values()) {
        if (!inFrame(en.pa)) continue;
        this.report('stale-device', { device: d.name }, d.mm.name, en.va, en.pa,
          `device ${d.name} (${d.kind}) still caches ${hex(en.va)} → ${hex(en.pa)} when that frame is freed (${e.why})`, [d.mm]);
      }
    }
  }

  foreignTableWrite(e: { mm: MmStruct; va: bigint; table: bigint; by: string; freed: boolean }): void {
    const owner = this.k.sharersOf(e.table).filter((m) => m !== e.mm).map((m) => m.name);
    const whose = e.freed ? 'a freed page table' : owner.length ? `a page table that only ${owner.join(', ')} still links` : 'a page table no longer linked there';
    this.report('foreign-table-write', { cpu: this.k.currentOp?.cpu }, e.mm.name, e.va, e.table,
      `${e.by} for ${e.mm.name} at ${hex(e.va)} wrote into ${whose} (${hex(e.table)})`, [e.mm]);
  }

  missedFix(id: string, e: { mms: MmStruct[]; start: bigint; end: bigint; text: string; who?: 'cpu' | 'device' }): void {
    this.missed.push({ id, ...e, line: this.line, text: id ? `${e.text} (${fixById(id)?.title ?? id})` : e.text });
  }

  mapped(): void {}

  kernelNote(op: Op, text: string): void {
    this.notes.push({ line: op.line, text });
  }

  copyBegin(page: Page): void {
    this.copying.set(page.pa, { page, line: this.line });
    this.k.phys.beginCopy(page.pa);
  }

  copyEnd(page: Page): void {
    this.copying.delete(page.pa);
    this.k.phys.endCopy(page.pa);
  }

  // ---- uses, as the hardware and the devices report them ----

  /** Events of one CPU's ring, for accesses of CPU `cpu` running `mm` (line per batch index). */
  hardwareEvents(cpu: number, mm: MmStruct, events: OracleEvent[], lineOf: (index: number) => number): void {
    const saved = this.line;
    for (const ev of events) {
      if (ev.kind === 'accessed-dirty') continue; // the replay applies those; they are no use of a translation
      this.line = lineOf(ev.index);
      const va = ev.va & ~0xfffn;
      // The hit path reports a write in a copy window as tlb-stale whose stamp differs by the flag only.
      const inCopy = ev.kind === 'write-in-copy' || (ev.kind === 'tlb-stale' && this.k.machine.readGeneration(ev.slot) >>> 0 === (ev.stamp | 0x80000000) >>> 0);
      if (inCopy) {
        const c = this.copying.get(ev.pa) ?? [...this.copying.values()].find((x) => ev.pa >= x.page.pa && ev.pa < x.page.pa + SIZE[x.page.size]);
        this.report('lost-write', { cpu }, mm.name, va, ev.pa,
          `CPU ${cpu} (running ${mm.name}) wrote ${hex(ev.va)} into frame ${hex(ev.pa)} through a cached translation while migration${c ? ` (line ${c.line})` : ''} was copying that frame: the new copy will not have the write`, [mm]);
      } else if (ev.kind === 'tlb-stale') {
        this.report('use-after-free', { cpu }, mm.name, va, ev.pa,
          `CPU ${cpu} (running ${mm.name}) accessed ${hex(ev.va)} through a cached translation to frame ${hex(ev.pa)}, which was freed or reused since it was cached`, [mm]);
      } else {
        this.report('stale-walk', { cpu }, mm.name, va, ev.pa,
          `CPU ${cpu} (running ${mm.name}) walked ${hex(ev.va)} from a cached paging-structure entry into page table ${hex(ev.pa)}, which was freed or reused since it was cached`, [mm]);
      }
    }
    this.line = saved;
  }

  /** A device used its cached entry: compare its generation as the CPU's hit path does. */
  deviceUse(d: SecondaryMmu, va: bigint, write: boolean): void {
    const e = d.lookup(va)!;
    const gen = this.k.machine.readGeneration(e.slot);
    const COPY = 0x80000000;
    if ((gen & ~COPY) >>> 0 !== e.stamp) {
      this.report('use-after-free', { device: d.name }, d.mm.name, e.va, e.pa,
        `device ${d.name} (${d.kind}) of ${d.mm.name} accessed ${hex(va)} through its cached translation to frame ${hex(e.pa)}, which was freed or reused since it was cached (line ${e.line})`, [d.mm]);
    } else if (write && (gen & COPY) !== 0) {
      this.report('lost-write', { device: d.name }, d.mm.name, e.va, e.pa,
        `device ${d.name} (${d.kind}) of ${d.mm.name} wrote ${hex(va)} into frame ${hex(e.pa)} while migration was copying it: the new copy will not have the write`, [d.mm]);
    } else if (write && d.mm.tlbFlushPending === 0) {
      // The frame is still allocated, but the address space maps another one at va now (a
      // copy-on-write break gave it its own copy): the write lands in a page it no longer owns,
      // after a child's or the page cache's. With a flush pending on the mm (a zap or mprotect in
      // flight) the old translation may still be used, by CPUs and devices alike, until that flush.
      const t = this.translate(d.mm, e.va);
      if (t && t.pa !== e.pa) {
        this.report('stale-write', { device: d.name }, d.mm.name, e.va, e.pa,
          `device ${d.name} (${d.kind}) of ${d.mm.name} wrote ${hex(va)} into frame ${hex(e.pa)} through its cached translation (line ${e.line}), though ${d.mm.name} maps ${hex(t.pa)} there now: the write went to a page ${d.mm.name} no longer owns`, [d.mm]);
      }
    }
  }
}

export type { TlbEntry, PscEntry };
