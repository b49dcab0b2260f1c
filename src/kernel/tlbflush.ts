// The x86 TLB-flush policy (arch/x86/mm/tlb.c): which CPUs hold an mm, how a switch loads CR3, which
// CPUs an IPI reaches, and what each does on receipt. Every invalidation is the machine's own
// instruction (INVLPG, a CR3 write), run on the target CPU's state, and counted.
import type { Machine } from '../mmu/machine.ts';
import type { FixSet } from './fixes.ts';
import type { MmStruct } from './mm_types.ts';
import type { MmuNotifiers } from './mmu_notifier.ts';

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
  readonly cpus: CpuTlbState[];
  readonly perCpu: PerCpuStats[];
  readonly flushStats: FlushStats;
  readonly notifiers: MmuNotifiers;
  /** Told of each flush and its IPIs (a report's timeline); none by default. */
  readonly flushObserver?: FlushObserver;
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

/** struct tlb_state (per CPU). */
export class CpuTlbState {
  loadedMm: MmStruct;
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

/** switch_mm_irqs_off: the CPU now runs `next`. */
export function switchMmIrqsOff(k: TlbflushKernel, cpu: number, next: MmStruct): void {
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
    next.cpumask.add(cpu);
    loadCr3(k, cpu, next, 0, true);
    prev.cpumask.delete(cpu);
    s.loadedMm = next;
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
  if (next !== k.initMm) next.cpumask.add(cpu);
  const nextTlbGen = next.tlbGen;
  const { asid, needFlush } = chooseNewAsid(k, s, next, nextTlbGen);
  loadCr3(k, cpu, next, asid, needFlush);
  traceTlbFlush(k, cpu, 'task-switch', needFlush ? -1 : 0);
  s.ctxs[asid] = { ctxId: next.ctxId, tlbGen: nextTlbGen };
  s.loadedAsid = asid;
  s.loadedMm = next;
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
    // 016c4d92cd16 series: a lazy CPU only needs the IPI when page tables are freed under it.
    if (k.fixes.has('016c4d92cd16') && k.cpus[cpu].isLazy && !f.freedTables) continue;
    // should_flush_tlb (209954cbc7d0): a CPU still in the mask but on another mm gets no IPI unless tables were freed.
    if (k.fixes.has('209954cbc7d0') && f.mm && k.cpus[cpu].loadedMm !== f.mm && !f.freedTables) continue;
    k.flushStats.ipisSent++;
    if (self >= 0) k.perCpu[self].ipisSent++;
    k.perCpu[cpu].ipisReceived++;
    reached.push(cpu);
    flushTlbFunc(k, cpu, f);
  }
  return reached;
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
  // 209954cbc7d0: on_each_cpu_mask also runs the handler here when this CPU, no longer on the mm, is still in its mask.
  else if (here && k.fixes.has('209954cbc7d0') && f.freedTables && mm.cpumask.has(cpu) && [...mm.cpumask].some((c) => c !== cpu)) flushTlbFunc(k, cpu, f);
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
      if (s.isLazy) leaveMm(k, c);
      else if (batch.mms.has(s.loadedMm)) localFlushTlb(k, c);
    }
  } else {
    if ([...batch.cpumask].some((c) => c !== cpu)) traceTlbFlush(k, cpu, 'remote-ipi', -1);
    if (batch.cpumask.has(cpu)) flushTlbFunc(k, cpu, f);
    for (const c of [...batch.cpumask].sort((a, b) => a - b)) {
      if (c === cpu) continue;
      k.flushStats.ipisSent++;
      k.perCpu[cpu].ipisSent++;
      k.perCpu[c].ipisReceived++;
      flushTlbFunc(k, c, f);
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
