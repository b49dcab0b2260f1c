// The x86 TLB-flush policy (arch/x86/mm/tlb.c): which CPUs hold an mm, how a switch loads CR3, which
// CPUs an IPI reaches, and what each does on receipt. Every invalidation is the machine's own
// instruction (INVLPG, a CR3 write), run on the target CPU's state, and counted.
import type { Machine } from '../mmu/machine.ts';
import type { FixSet } from './fixes.ts';
import type { MmStruct } from './mm_types.ts';
import type { MmuNotifiers } from './mmu_notifier.ts';
import type { KernelObserver } from './observer.ts';
import { runToEnd, type Op, type OpGen } from './ops.ts';

export const TLB_FLUSH_ALL = -1n;
/** tlb_single_page_flush_ceiling: more strides than this and a range flush becomes a full flush. */
export const TLB_SINGLE_PAGE_FLUSH_CEILING = 33n;
/** TLB_NR_DYN_ASIDS (10af6235e0d3). */
export const TLB_NR_DYN_ASIDS = 6;
const CR3_NOFLUSH = 1n << 63n;

/** A flush as a timeline draws it: who flushed what, and which CPUs an IPI reached. */
export interface FlushRecord {
  cpu: number;
  mm: MmStruct | undefined;
  kind: 'page' | 'range' | 'full' | 'sync';
  start: bigint;
  end: bigint;
  /** The CPU flushed its own TLB too (it had the mm loaded). */
  local: boolean;
  ipis: number[];
  /** try_to_unmap_flush: a reclaim's deferred flush. */
  batched?: boolean;
}

/** Told of each flush (the timeline of an HTML report); the kernel runs the same without one. */
export interface FlushObserver {
  flush(f: FlushRecord): void;
}

export interface FlushStats {
  flushes: number; // flush_tlb_mm_range calls
  ipisSent: number;
  invlpg: number;
  fullFlushes: number; // CR3 reloads that flush
  cr3Switches: number; // CR3 writes by switch_mm
  cr3NoFlush: number; // of which with the no-flush bit
  lazyLeaves: number; // lazy CPUs switched to init_mm by a flush
  batchedFlushes: number; // try_to_unmap_flush with work to do
  syncIpis: number; // tlb_remove_table_sync_one
}

export interface PerCpuStats {
  ipisSent: number;
  ipisReceived: number;
  invlpg: number;
  fullFlushes: number;
  cr3Writes: number;
}

/** What the flush policy uses of the kernel (the Kernel of kernel.ts provides it). */
export interface TlbflushKernel {
  readonly machine: Machine;
  readonly fixes: FixSet;
  readonly usesPcid: boolean;
  readonly initMm: MmStruct;
  /** LOADED_MM_SWITCHING: what loaded_mm says while switch_mm_irqs_off changes CR3 (never loaded, never flushed). */
  readonly loadedMmSwitching: MmStruct;
  readonly cpus: CpuTlbState[];
  readonly perCpu: PerCpuStats[];
  readonly flushStats: FlushStats;
  readonly notifiers: MmuNotifiers;
  /** Told of each flush and its IPIs (a report's timeline); none by default. */
  readonly flushObserver?: FlushObserver;
  /** Told of a flush a CPU missed for want of a fix (the oracle names it). */
  readonly observer: Pick<KernelObserver, 'missedFix'>;
}

/** The reasons of the tlb_flush tracepoint (enum tlb_flush_reason, include/linux/mm_types.h). */
export type TlbFlushReason = 'task-switch' | 'remote-shootdown' | 'local-shootdown' | 'local-mm' | 'remote-ipi' | 'remote-wrong-cpu';
/** A listener on the model's tlb_flush tracepoint: what the kernel would trace, on which CPU. */
export type TlbFlushTrace = (cpu: number, reason: TlbFlushReason, pages: number) => void;
const tlbFlushTraces = new WeakMap<TlbflushKernel, TlbFlushTrace>();

/** Listens to the model's trace_tlb_flush, as `record` listens to the real kernel's (replay's fidelity). */
export function setTlbFlushTrace(k: TlbflushKernel, fn: TlbFlushTrace): void {
  tlbFlushTraces.set(k, fn);
}

/** trace_tlb_flush, at the points arch/x86/mm/tlb.c (v6.18) calls it; `pages` -1 is TLB_FLUSH_ALL. */
function traceTlbFlush(k: TlbflushKernel, cpu: number, reason: TlbFlushReason, pages: number): void {
  tlbFlushTraces.get(k)?.(cpu, reason, pages);
}

/**
 * A CPU inside context_switch's switch_mm_irqs_off, interrupts off: a flush IPI sent to it now runs its
 * handler only when interrupts come back on, after the switch, and the sender waits for that. Only a
 * switch parked between its steps (docs/trace-format.md) is ever seen in this state by another CPU.
 */
export interface IrqsOff {
  /** The address space it switches to. */
  next: MmStruct;
  /** The switch's operation (undefined for a switch that runs in one piece). */
  op: Op | undefined;
  /** The handlers of the IPIs that reached it meanwhile, in the order they were sent. */
  pending: (() => void)[];
}

/** struct tlb_state (per CPU). */
export class CpuTlbState {
  loadedMm: MmStruct;
  /** Set while the CPU is in context_switch's switch_mm_irqs_off (interrupts off). */
  irqsOff: IrqsOff | undefined;
  loadedAsid = 0;
  isLazy = false;
  /** The user address space of the task running, undefined when the CPU is idle. */
  current: MmStruct | undefined;
  readonly ctxs = Array.from({ length: TLB_NR_DYN_ASIDS }, () => ({ ctxId: 0n, tlbGen: 0n }));
  nextAsid = 1;
  constructor(initMm: MmStruct) {
    this.loadedMm = initMm;
  }
}

/** kern_pcid: PCID 0 stays unused by dynamic ASIDs. */
export const kernPcid = (asid: number) => asid + 1;

function loadCr3(k: TlbflushKernel, cpu: number, mm: MmStruct, asid: number, needFlush: boolean): void {
  const pcid = k.usesPcid ? BigInt(kernPcid(asid)) : 0n;
  k.machine.writeCr3(cpu, mm.pgd | pcid | (k.usesPcid && !needFlush ? CR3_NOFLUSH : 0n));
  k.flushStats.cr3Switches++;
  if (k.usesPcid && !needFlush) k.flushStats.cr3NoFlush++;
  else k.flushStats.fullFlushes++;
  k.perCpu[cpu].cr3Writes++;
}

/** choose_new_asid (10af6235e0d3): reuse the slot the mm already has, else take the next one. */
function chooseNewAsid(k: TlbflushKernel, s: CpuTlbState, next: MmStruct, nextTlbGen: bigint): { asid: number; needFlush: boolean } {
  if (!k.usesPcid) return { asid: 0, needFlush: true };
  for (let asid = 0; asid < TLB_NR_DYN_ASIDS; asid++) {
    if (s.ctxs[asid].ctxId !== next.ctxId) continue;
    return { asid, needFlush: s.ctxs[asid].tlbGen < nextTlbGen };
  }
  let asid = s.nextAsid++;
  if (asid >= TLB_NR_DYN_ASIDS) {
    asid = 0;
    s.nextAsid = 1;
  }
  return { asid, needFlush: true };
}

/**
 * switch_mm_irqs_off: the CPU now runs `next`. Between LOADED_MM_SWITCHING and `loaded_mm = next` it
 * yields two steps a trace can park it before: `cr3` (the tlb_gen of `next` is read and the ASID chosen;
 * CR3 is not written yet) and `loaded` (CR3 is written; loaded_mm still says LOADED_MM_SWITCHING).
 */
export function* switchMmIrqsOffSteps(k: TlbflushKernel, cpu: number, next: MmStruct): OpGen {
  const s = k.cpus[cpu];
  const prev = s.loadedMm;
  const wasLazy = s.isLazy;
  s.isLazy = false;
  if (!k.fixes.has('b0579ade7cd8')) {
    // v4.4 switch_mm: a CPU that leave_mm() took out of the mask reloads CR3; one that stayed keeps its TLB.
    if (prev === next) {
      if (!next.cpumask.has(cpu)) {
        next.cpumask.add(cpu);
        loadCr3(k, cpu, next, 0, true);
      }
      return;
    }
    // v4.4 arch/x86/mm/tlb.c l.107-109: active_mm is next before the CPU joins next's mask, so an IPI
    // handled after the switch flushes next (and the CR3 write flushes everything anyway).
    s.loadedMm = next;
    next.cpumask.add(cpu);
    yield { step: 'cr3' };
    loadCr3(k, cpu, next, 0, true);
    prev.cpumask.delete(cpu);
    // v4.4 writes nothing after CR3: `loaded` parks where later kernels write loaded_mm.
    yield { step: 'loaded' };
    return;
  }
  if (prev === next) {
    if (!wasLazy) return;
    // Back from lazy mode: flushes may have skipped us; catch up with the mm's tlb_gen.
    next.cpumask.add(cpu);
    const slot = s.ctxs[s.loadedAsid];
    if (slot.tlbGen === next.tlbGen) return;
    const gen = next.tlbGen;
    loadCr3(k, cpu, next, s.loadedAsid, true);
    traceTlbFlush(k, cpu, 'task-switch', -1);
    slot.tlbGen = gen;
    return;
  }
  // Stop remote flushes for the previous mm (4.19 clears the bit at once). With 209954cbc7d0 the bit
  // stays until a flush finds the CPU on another mm (flushTlbFunc), so the sender keeps tracing the IPI.
  if (prev !== k.initMm && !k.fixes.has('209954cbc7d0')) prev.cpumask.delete(cpu);
  // The CPU joins next's mask before it reads next's tlb_gen (v4.19 l.302-304, v6.18 l.934-939): a
  // flush either bumps tlb_gen before the read or finds the CPU in the mask.
  if (next !== k.initMm) next.cpumask.add(cpu);
  const nextTlbGen = next.tlbGen;
  const { asid, needFlush } = chooseNewAsid(k, s, next, nextTlbGen);
  // loaded_mm = LOADED_MM_SWITCHING (v4.19 l.309, just before CR3; v6.18 l.913, before the mask):
  // should_flush_tlb (6db2526c1d69) reads it, and only fea4e317f9e7 counts it as "flush".
  s.loadedMm = k.loadedMmSwitching;
  yield { step: 'cr3' };
  // The slot is written only when the CR3 write flushes (v4.19 l.312-315, v6.18 l.946-949): an
  // up-to-date ASID keeps its generation, the one the tlb_gen read above found.
  if (needFlush) s.ctxs[asid] = { ctxId: next.ctxId, tlbGen: nextTlbGen };
  loadCr3(k, cpu, next, asid, needFlush);
  traceTlbFlush(k, cpu, 'task-switch', needFlush ? -1 : 0);
  yield { step: 'loaded' };
  s.loadedAsid = asid;
  s.loadedMm = next;
}

/** switch_mm_irqs_off in one piece (leave_mm, exit, and a switch no trace parks). */
export function switchMmIrqsOff(k: TlbflushKernel, cpu: number, next: MmStruct): void {
  runToEnd(switchMmIrqsOffSteps(k, cpu, next));
}

/**
 * context_switch's switch_mm: interrupts are off across switch_mm_irqs_off (the scheduler holds the
 * runqueue lock), so a flush IPI that reaches the CPU meanwhile is handled when they come back on, once
 * loaded_mm is `next` (v6.18 arch/x86/mm/tlb.c l.1123-1150: flush_tlb_func then reads loaded_mm).
 */
export function* switchMm(k: TlbflushKernel, op: Op | undefined, cpu: number, next: MmStruct): OpGen {
  const s = k.cpus[cpu];
  const irqs: IrqsOff = { next, op, pending: [] };
  s.irqsOff = irqs;
  yield* switchMmIrqsOffSteps(k, cpu, next);
  s.irqsOff = undefined;
  for (const handler of irqs.pending) handler();
}

/** An IPI's handler runs on `cpu` now, or when the CPU turns interrupts back on. */
function onCpu(k: TlbflushKernel, cpu: number, handler: () => void): void {
  const off = k.cpus[cpu].irqsOff;
  if (off) off.pending.push(handler);
  else handler();
}

/** enter_lazy_tlb: a kernel thread keeps the last mm loaded. */
export function enterLazyTlb(k: TlbflushKernel, cpu: number): void {
  k.cpus[cpu].isLazy = true;
  k.cpus[cpu].current = undefined;
}

/** leave_mm (v4.4) / switch to init_mm: a lazy CPU that receives a flush stops using the mm. */
function leaveMm(k: TlbflushKernel, cpu: number): void {
  const s = k.cpus[cpu];
  k.flushStats.lazyLeaves++;
  if (!k.fixes.has('b0579ade7cd8')) {
    s.loadedMm.cpumask.delete(cpu);
    loadCr3(k, cpu, k.initMm, 0, true);
    s.loadedMm = k.initMm;
    return;
  }
  switchMmIrqsOff(k, cpu, k.initMm);
  s.isLazy = true;
}

export interface FlushTlbInfo {
  mm: MmStruct | undefined; // undefined: whatever each CPU has loaded (the batched reclaim flush)
  start: bigint;
  end: bigint; // TLB_FLUSH_ALL for a full flush
  strideShift: bigint;
  freedTables: boolean;
  newTlbGen: bigint;
  initiatingCpu: number;
}

function invlpgRange(k: TlbflushKernel, cpu: number, f: FlushTlbInfo): void {
  for (let a = f.start; a < f.end; a += 1n << f.strideShift) {
    k.machine.invlpg(cpu, a);
    k.flushStats.invlpg++;
    k.perCpu[cpu].invlpg++;
  }
}

function localFlushTlb(k: TlbflushKernel, cpu: number): void {
  const cr3 = k.machine.readCr(cpu).cr3;
  k.machine.writeCr3(cpu, cr3 & ~CR3_NOFLUSH);
  k.flushStats.fullFlushes++;
  k.perCpu[cpu].fullFlushes++;
}

/** flush_tlb_func: what a CPU does for a flush request, locally or in the IPI handler. */
function flushTlbFunc(k: TlbflushKernel, cpu: number, f: FlushTlbInfo): void {
  const s = k.cpus[cpu];
  if (!k.fixes.has('b0579ade7cd8')) {
    // v4.4: only the mm this CPU has active; a lazy one leaves it instead of flushing.
    if (f.mm !== s.loadedMm) return;
    if (s.isLazy) return leaveMm(k, cpu);
    if (f.end === TLB_FLUSH_ALL) localFlushTlb(k, cpu);
    else invlpgRange(k, cpu, f);
    return;
  }
  const loaded = s.loadedMm;
  if (f.mm && f.mm !== loaded) {
    // 209954cbc7d0: the CPU was left in the mask of an mm it no longer runs; it takes itself out.
    if (k.fixes.has('209954cbc7d0')) f.mm.cpumask.delete(cpu);
    return traceTlbFlush(k, cpu, 'remote-wrong-cpu', 0);
  }
  if (loaded === k.initMm) return;
  if (s.isLazy) return leaveMm(k, cpu);
  const slot = s.ctxs[s.loadedAsid];
  const localGen = slot.tlbGen;
  const mmGen = loaded.tlbGen;
  if (localGen >= mmGen) return;
  // A partial flush is enough only if this request is the one generation the CPU is missing.
  const partial = f.mm && f.end !== TLB_FLUSH_ALL && f.newTlbGen === localGen + 1n && f.newTlbGen === mmGen;
  if (partial) invlpgRange(k, cpu, f);
  else localFlushTlb(k, cpu);
  slot.tlbGen = mmGen;
  const reason = cpu !== f.initiatingCpu ? 'remote-shootdown' : f.mm ? 'local-mm' : 'local-shootdown';
  traceTlbFlush(k, cpu, reason, partial ? Number((f.end - f.start) >> f.strideShift) : -1);
}

/** native_flush_tlb_multi / flush_tlb_others: the IPIs, and the handler run on each target. */
function flushTlbOthers(k: TlbflushKernel, self: number, cpumask: Iterable<number>, f: FlushTlbInfo): number[] {
  const reached: number[] = [];
  const cpus = [...cpumask].sort((a, b) => a - b);
  // native_flush_tlb_multi traces the send once, in 4K pages, whichever CPUs then get the IPI.
  if (cpus.some((c) => c !== self)) traceTlbFlush(k, self, 'remote-ipi', f.end === TLB_FLUSH_ALL ? -1 : Number((f.end - f.start) >> 12n));
  for (const cpu of cpus) {
    if (cpu === self) continue;
    if (!ipiWanted(k, cpu, f)) continue;
    k.flushStats.ipisSent++;
    if (self >= 0) k.perCpu[self].ipisSent++;
    k.perCpu[cpu].ipisReceived++;
    reached.push(cpu);
    onCpu(k, cpu, () => flushTlbFunc(k, cpu, f));
  }
  return reached;
}

/**
 * Whether a CPU of the mask gets the IPI. Every one of them before the 016c4d92cd16 series
 * (smp_call_function_many, v4.19 l.574-609), and every one when page tables were freed
 * (on_each_cpu_mask); otherwise tlb_is_not_lazy, which 6db2526c1d69 replaced with should_flush_tlb.
 */
function ipiWanted(k: TlbflushKernel, cpu: number, f: FlushTlbInfo): boolean {
  if (!k.fixes.has('016c4d92cd16') || f.freedTables) return true;
  // A lazy CPU catches up with tlb_gen at its next switch.
  if (k.cpus[cpu].isLazy) return false;
  if (!k.fixes.has('6db2526c1d69')) return true;
  return shouldFlushTlb(k, cpu, f);
}

/** should_flush_tlb for a CPU that is not lazy (v6.18 arch/x86/mm/tlb.c l.1296-1332). */
function shouldFlushTlb(k: TlbflushKernel, cpu: number, f: FlushTlbInfo): boolean {
  if (!f.mm) return true;
  const s = k.cpus[cpu];
  if (s.loadedMm === k.loadedMmSwitching) {
    // The switching CPU may have read f.mm's tlb_gen before this flush bumped it and chosen an ASID
    // it thinks up to date: only the IPI, handled after the switch, catches it up.
    if (k.fixes.has('fea4e317f9e7')) return true;
    const next = s.irqsOff?.next;
    if (next === f.mm) {
      const range = f.end === TLB_FLUSH_ALL ? 'all of it' : `[0x${f.start.toString(16)}, 0x${f.end.toString(16)})`;
      k.observer.missedFix('fea4e317f9e7', {
        mms: [f.mm], start: f.end === TLB_FLUSH_ALL ? 0n : f.start, end: f.end === TLB_FLUSH_ALL ? 1n << 57n : f.end, who: 'cpu',
        text: `CPU ${cpu} was inside switch_mm_irqs_off switching to ${f.mm.name} (loaded_mm = LOADED_MM_SWITCHING) when CPU ${f.initiatingCpu} flushed ${range} of ${f.mm.name}; should_flush_tlb sent it no IPI because loaded_mm was not ${f.mm.name} yet, and the CPU had read ${f.mm.name}'s tlb_gen before the flush bumped it, so it went on with its ASID's old translations; fix fea4e317f9e7 sends the IPI to a CPU whose loaded_mm is LOADED_MM_SWITCHING`,
      });
    }
    return false;
  }
  if (s.loadedMm === f.mm) return true;
  // In the mask but on another mm: trim_cpumask sends the IPI once a second (should_trim_cpumask);
  // the model has no clock, so such a CPU is reached only when page tables are freed.
  return false;
}

/**
 * flush_tlb_mm_range(mm, start, end, stride_shift, freed_tables), called on CPU `cpu`. Before
 * a31acd3ee8f7 the stride was always 4 KiB and a hugetlb VMA always meant a full flush (`hugetlb`).
 */
export function flushTlbMmRange(k: TlbflushKernel, cpu: number, mm: MmStruct, start: bigint, end: bigint, strideShift: bigint, freedTables: boolean, hugetlb = false): void {
  k.flushStats.flushes++;
  let stride = strideShift;
  let full = end === TLB_FLUSH_ALL;
  if (!k.fixes.has('a31acd3ee8f7')) {
    stride = 12n;
    if (hugetlb) full = true;
  }
  if (!full && (end - start) >> stride > TLB_SINGLE_PAGE_FLUSH_CEILING) full = true;
  const f: FlushTlbInfo = {
    mm, start: full ? 0n : start, end: full ? TLB_FLUSH_ALL : end, strideShift: stride,
    freedTables: k.fixes.has('016c4d92cd16') ? freedTables : true,
    newTlbGen: k.fixes.has('b0579ade7cd8') ? ++mm.tlbGen : 0n, initiatingCpu: cpu,
  };
  // A fault taken for a device (cpu -1: the driver's thread, on no CPU of the trace) flushes no TLB of
  // its own; every CPU of the mm gets the IPI.
  const here = cpu >= 0 ? k.cpus[cpu] : undefined;
  const local = here?.loadedMm === mm;
  if (local) flushTlbFunc(k, cpu, f);
  // 209954cbc7d0: on_each_cpu_mask (and on_each_cpu_cond_mask, whose condition passes here when this CPU
  // is not lazy, before should_flush_tlb) also runs the handler here when this CPU, no longer on the mm,
  // is still in its mask.
  else if (here && k.fixes.has('209954cbc7d0') && (f.freedTables || (!k.fixes.has('6db2526c1d69') && !here.isLazy)) && mm.cpumask.has(cpu) && [...mm.cpumask].some((c) => c !== cpu)) flushTlbFunc(k, cpu, f);
  const ipis = flushTlbOthers(k, cpu, mm.cpumask, f);
  k.flushObserver?.flush({ cpu, mm, kind: full ? 'full' : (f.end - f.start) >> stride <= 1n ? 'page' : 'range', start: f.start, end: f.end, local, ipis });
  // 6bbd42e2df8f: secondary TLBs that share the CPU page tables are invalidated with the CPU's, over
  // the range the caller asked for, not the full flush the CPUs may have been promoted to (v6.18
  // arch/x86/mm/tlb.c l.1482).
  if (k.fixes.has('6bbd42e2df8f')) k.notifiers.archInvalidateSecondaryTlbs(mm, start, end);
}

/** flush_tlb_range(vma, start, end): the stride of the VMA's pages; freed_tables since 3ef938c35035. */
export function flushTlbRange(k: TlbflushKernel, cpu: number, mm: MmStruct, start: bigint, end: bigint, hugeShift: bigint): void {
  flushTlbMmRange(k, cpu, mm, start, end, hugeShift, k.fixes.has('3ef938c35035'), hugeShift > 12n);
}

/** flush_tlb_page(vma, addr). */
export function flushTlbPage(k: TlbflushKernel, cpu: number, mm: MmStruct, addr: bigint): void {
  flushTlbMmRange(k, cpu, mm, addr, addr + 4096n, 12n, false);
}

/** flush_tlb_mm(mm): everything, page tables freed. */
export function flushTlbMm(k: TlbflushKernel, cpu: number, mm: MmStruct): void {
  flushTlbMmRange(k, cpu, mm, 0n, TLB_FLUSH_ALL, 12n, true);
}

/** tlb_remove_table_sync_one (1013af4f585f): an empty IPI to every CPU, to wait out GUP-fast walkers. */
export function tlbRemoveTableSyncOne(k: TlbflushKernel, cpu: number): void {
  const ipis: number[] = [];
  for (let c = 0; c < k.cpus.length; c++) {
    if (c === cpu) continue;
    ipis.push(c);
    k.flushStats.syncIpis++;
    k.flushStats.ipisSent++;
    k.perCpu[cpu].ipisSent++;
    k.perCpu[c].ipisReceived++;
  }
  k.flushObserver?.flush({ cpu, mm: undefined, kind: 'sync', start: 0n, end: 0n, local: false, ipis });
}

/** struct tlbflush_unmap_batch: a reclaim's deferred flush (set_tlb_ubc_flush_pending). */
export class TlbflushUnmapBatch {
  readonly cpumask = new Set<number>();
  readonly mms = new Set<MmStruct>();
  flushRequired = false;
  writable = false;
}

/** set_tlb_ubc_flush_pending / arch_tlbbatch_add_pending. */
export function setTlbUbcFlushPending(k: TlbflushKernel, batch: TlbflushUnmapBatch, mm: MmStruct, writable: boolean): void {
  if (k.fixes.has('b0579ade7cd8')) ++mm.tlbGen;
  for (const c of mm.cpumask) batch.cpumask.add(c);
  batch.mms.add(mm);
  batch.flushRequired = true;
  batch.writable ||= writable;
  if (k.fixes.has('6bbd42e2df8f')) k.notifiers.archInvalidateSecondaryTlbs(mm, 0n, TLB_FLUSH_ALL);
  // 3ea277194daa: the mm remembers that a flush of it is still owed.
  mm.tlbFlushBatched = true;
}

/** should_defer_flush: batching pays only when another CPU would need an IPI. */
export function shouldDeferFlush(k: TlbflushKernel, cpu: number, mm: MmStruct): boolean {
  for (const c of mm.cpumask) if (c !== cpu) return true;
  return false;
}

/** try_to_unmap_flush / arch_tlbbatch_flush: one full flush of every CPU the batch collected. */
export function tryToUnmapFlush(k: TlbflushKernel, cpu: number, batch: TlbflushUnmapBatch): void {
  if (!batch.flushRequired) return;
  k.flushStats.batchedFlushes++;
  const ipis = [...batch.cpumask].filter((c) => c !== cpu).sort((a, b) => a - b);
  k.flushObserver?.flush({ cpu, mm: undefined, kind: 'full', start: 0n, end: TLB_FLUSH_ALL, local: batch.cpumask.has(cpu), ipis, batched: true });
  const f: FlushTlbInfo = { mm: undefined, start: 0n, end: TLB_FLUSH_ALL, strideShift: 12n, freedTables: false, newTlbGen: 0n, initiatingCpu: cpu };
  if (!k.fixes.has('b0579ade7cd8')) {
    // v4.4 flushes whatever each CPU has active, the same way.
    for (const c of batch.cpumask) {
      if (c !== cpu) {
        k.flushStats.ipisSent++;
        k.perCpu[cpu].ipisSent++;
        k.perCpu[c].ipisReceived++;
      }
      const s = k.cpus[c];
      const mms = [...batch.mms];
      onCpu(k, c, () => {
        if (s.isLazy) leaveMm(k, c);
        else if (mms.includes(s.loadedMm)) localFlushTlb(k, c);
      });
    }
  } else {
    if ([...batch.cpumask].some((c) => c !== cpu)) traceTlbFlush(k, cpu, 'remote-ipi', -1);
    if (batch.cpumask.has(cpu)) flushTlbFunc(k, cpu, f);
    for (const c of [...batch.cpumask].sort((a, b) => a - b)) {
      if (c === cpu) continue;
      k.flushStats.ipisSent++;
      k.perCpu[cpu].ipisSent++;
      k.perCpu[c].ipisReceived++;
      onCpu(k, c, () => flushTlbFunc(k, c, f));
    }
  }
  for (const mm of batch.mms) mm.tlbFlushBatched = false;
  batch.cpumask.clear();
  batch.mms.clear();
  batch.flushRequired = false;
  batch.writable = false;
}

/** flush_tlb_batched_pending (3ea277194daa): pay a reclaim's deferred flush before changing PTEs. */
export function flushTlbBatchedPending(k: TlbflushKernel, cpu: number, mm: MmStruct): void {
  if (!k.fixes.has('3ea277194daa')) return;
  if (!mm.tlbFlushBatched) return;
  flushTlbMm(k, cpu, mm);
  mm.tlbFlushBatched = false;
}
