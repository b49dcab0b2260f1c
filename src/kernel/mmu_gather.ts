// struct mmu_gather (include/asm-generic/tlb.h, mm/mmu_gather.c): unmapping records the range it
// cleared and the pages and tables it unlinked; the flush comes first, the frees after it.
import type { Kernel } from './kernel.ts';
import type { MmStruct, Page } from './mm_types.ts';
import type { Op } from './ops.ts';
import { flushTlbMmRange, TLB_FLUSH_ALL } from './tlbflush.ts';
import { freeTable } from './pgtable.ts';

export class MmuGather {
  start = TLB_FLUSH_ALL;
  end = 0n;
  freedTables = false;
  /** cleared_ptes / cleared_pmds / cleared_puds: the stride of the flush (tlb_get_unmap_shift). */
  clearedShift = 0n;
  readonly pages: Page[] = [];
  readonly tables: bigint[] = [];
  readonly fullStart: bigint;
  readonly fullEnd: bigint;
  constructor(readonly mm: MmStruct, start: bigint, end: bigint, readonly fullmm: boolean) {
    this.fullStart = start;
    this.fullEnd = end;
  }
}

/** tlb_gather_mmu: also counts the gather as pending on the mm (inc_tlb_flush_pending). */
export function tlbGatherMmu(mm: MmStruct, start: bigint, end: bigint, fullmm = false): MmuGather {
  mm.tlbFlushPending++;
  return new MmuGather(mm, start, end, fullmm);
}

/** __tlb_adjust_range with the cleared_* level (tlb_remove_tlb_entry, tlb_flush_pmd_range, ...). */
export function tlbAdjustRange(tlb: MmuGather, addr: bigint, size: bigint, shift: bigint): void {
  if (tlb.start === TLB_FLUSH_ALL || addr < tlb.start) tlb.start = addr;
  if (addr + size > tlb.end) tlb.end = addr + size;
  if (tlb.clearedShift === 0n || shift < tlb.clearedShift) tlb.clearedShift = shift;
}

/** pte_free_tlb / pmd_free_tlb / pud_free_tlb: the table waits for the flush, which widens by one page only. */
export function tlbRemoveTable(tlb: MmuGather, table: bigint, addr: bigint): void {
  tlb.tables.push(table);
  tlb.freedTables = true;
  tlbAdjustRange(tlb, addr, 4096n, 12n);
}

/** tlb_flush_mmu_tlbonly: flush what was recorded (nothing recorded: no flush). */
export function tlbFlushMmuTlbonly(k: Kernel, cpu: number, tlb: MmuGather): void {
  if (tlb.fullmm) {
    // x86's tlb_flush: everything for a full-mm gather, but freed_tables as the gather has it (v6.18
    // arch/x86/include/asm/tlb.h l.13-24), false at the flush a4a118f2eead forces before
    // free_pgtables has run.
    flushTlbMmRange(k, cpu, tlb.mm, 0n, TLB_FLUSH_ALL, 12n, tlb.freedTables);
  } else {
    if (tlb.end === 0n) return;
    // Before a31acd3ee8f7 tlb_flush passed no VMA flags: a 4 KiB stride up to the ceiling.
    flushTlbMmRange(k, cpu, tlb.mm, tlb.start, tlb.end, tlb.clearedShift || 12n, tlb.freedTables);
  }
  tlb.start = TLB_FLUSH_ALL;
  tlb.end = 0n;
  tlb.clearedShift = 0n;
}

/** tlb_flush_mmu_free: the pages and tables the gather holds go, now that no TLB can reach them. */
export function tlbFlushMmuFree(k: Kernel, tlb: MmuGather, why: string): void {
  const pages = tlb.pages.splice(0);
  for (const p of pages) k.putPage(p, why);
  for (const t of tlb.tables.splice(0)) freeTable(k, t, why);
  tlb.freedTables = false;
}

/**
 * tlb_finish_mmu, split at the trace's `flush` and `free` steps. With 99baac21e458 a gather that
 * overlapped another one on the same mm (another thread is zapping too and may have skipped entries
 * this one cleared) flushes its whole range.
 */
export function tlbFinishMmuFlush(k: Kernel, op: Op, tlb: MmuGather): void {
  // The nested check reads the count once, here: a gather that another thread starts after it is not
  // seen, and the PTEs that gather clears are its own to flush (v4.19 include/linux/mm_types.h
  // l.598-607: mm_tlb_flush_nested answers only for the PTEs this thread saw under their PTL).
  if (k.fixes.has('99baac21e458') && tlb.mm.tlbFlushPending > 1) {
    tlbAdjustRange(tlb, tlb.fullStart, tlb.fullEnd - tlb.fullStart, 12n);
    tlb.freedTables = true;
  } else if (!k.fixes.has('99baac21e458') && tlb.mm.tlbFlushPending > 1 && tlb.end === 0n) {
    k.observer.missedFix('99baac21e458', {
      mms: [tlb.mm], start: tlb.fullStart, end: tlb.fullEnd,
      text: `this zap found the entries already cleared by another zap still in flight on ${tlb.mm.name} and flushed nothing; with fix 99baac21e458 a nested gather flushes its whole range`,
    });
  }
  tlbFlushMmuTlbonly(k, op.cpu, tlb);
  // A full-mm gather (exit) is not followed by a return whose range is audited.
  if (!tlb.fullmm) k.observer.gatherFlushed(op, tlb.mm, tlb.fullStart, tlb.fullEnd);
}

export function tlbFinishMmuFree(k: Kernel, tlb: MmuGather, why: string): void {
  tlbFlushMmuFree(k, tlb, why);
  tlb.mm.tlbFlushPending--;
}
