// The reverse map (mm/rmap.c): from a page to every entry that maps it, and try_to_unmap_one as each
// release has it. A file page is found through the file's i_mmap in the order the mappings were made;
// an anonymous page through its anon_vma. The walk ends when the page's map count reaches 0
// (page_not_mapped) — which is why, without 017b1660df89, a page mapped once through a PMD page that
// several address spaces share is unmapped from the first of them only.
import type { Kernel } from './kernel.ts';
import { AnonVma, type Page, type VmArea } from './mm_types.ts';
import type { Op, OpGen } from './ops.ts';
import {
  hugePteOffset, isMigrationEntry, makeMigrationEntry, pteDirty, ptePresent, pteWrite, readEntry, setEntry,
  swpEntryToPte, SWP_SWAPFILE, tableOfEntry, walkTo, PTE_PFN_MASK,
} from './pgtable.ts';
import { adjustRangeIfPmdSharingPossible, hugePmdUnshare, pmdShared, PUD_SIZE } from './hugetlb.ts';
import { flushTlbPage, flushTlbRange, setTlbUbcFlushPending, shouldDeferFlush, type TlbflushUnmapBatch } from './tlbflush.ts';

export interface TtuFlags {
  /** What replaces the PTE: a migration entry, or a swap entry (reclaim). */
  purpose: 'migrate' | 'reclaim';
  /** TTU_BATCH_FLUSH: defer the flush into this batch where it pays. */
  batch?: TlbflushUnmapBatch;
  swapSlot?: bigint;
}

/** The entry that maps `page` at `address` in vma, if it does (page_check_address / page_vma_mapped_walk). */
export function pageVmaMappedWalk(k: Kernel, page: Page, vma: VmArea, address: bigint): bigint | undefined {
  const ea = page.size === '4K' ? walkTo(k, vma.mm, address, 'pte') : hugePteOffset(k, vma.mm, address, page.size);
  if (ea === undefined) return undefined;
  const e = readEntry(k, ea);
  if (!ptePresent(e)) return undefined;
  const shift = page.size === '4K' ? 12n : page.size === '2M' ? 21n : 30n;
  return (e & PTE_PFN_MASK & ~((1n << shift) - 1n)) === page.pa ? ea : undefined;
}

const levelOf = (page: Page) => (page.size === '4K' ? 'pte' : page.size === '2M' ? 'pmd' : 'pud');

/** try_to_unmap_one / try_to_migrate_one: unmap `page` from one VMA; false ends the rmap walk. */
export function* tryToUnmapOne(k: Kernel, op: Op, page: Page, vma: VmArea, address: bigint, flags: TtuFlags): OpGen<boolean> {
  const mm = vma.mm;
  const huge = page.size !== '4K';
  const psize = page.size === '4K' ? 4096n : page.size === '2M' ? 1n << 21n : 1n << 30n;
  const rangeNotifiers = k.notifiers.hasRangeSemantics;
  let start = address;
  let end = address + psize < vma.end ? address + psize : vma.end;
  if (huge && k.fixes.has('017b1660df89')) [start, end] = adjustRangeIfPmdSharingPossible(k, vma, start, end);
  if (rangeNotifiers) k.notifiers.invalidateRangeStart(mm, start, end);
  const done = (r: boolean) => {
    if (rangeNotifiers) k.notifiers.invalidateRangeEnd(mm, start, end);
    return r;
  };
  const ptep = pageVmaMappedWalk(k, page, vma, address);
  if (ptep === undefined) return done(true);
  const pmdPage = k.ptdescs.get(tableOfEntry(ptep));
  if (huge && k.fixes.has('017b1660df89')) {
    // v6.1 rmap callers may only try the VMA lock (lock order: VMA lock before i_mmap_rwsem).
    const vmaLocked = vma.shared && k.fixes.has('40549ba8f8e0');
    if (vmaLocked && !vma.vmaLock.tryWrite(op)) {
      k.observer.kernelNote(op, `the hugetlb VMA lock of ${mm.name} was busy: migration leaves the page mapped`);
      return done(false);
    }
    const unshared = yield* hugePmdUnshare(k, op, mm, vma, address, ptep);
    if (vmaLocked) vma.vmaLock.upWrite(op);
    if (unshared) {
      // The whole PUD range vanished from mm: no way to know which of its PMDs are cached, flush them all.
      flushTlbRange(k, op.cpu, mm, start, end, vma.hugeShift);
      if (rangeNotifiers) k.notifiers.invalidateRange(mm, start, end);
      else {
        k.notifiers.invalidatePage(mm, address); // the v4.4 backport keeps its only callback
        if (mm.notifiers.length) {
          k.observer.missedFix('369ea8242c0f', {
            mms: [mm], start, end, who: 'device',
            text: `the migration unshared ${mm.name}'s PMD page, so [0x${start.toString(16)}, 0x${end.toString(16)}) vanished from ${mm.name}, but its secondary MMUs heard only invalidate_page(0x${address.toString(16)}); with the range semantics of 369ea8242c0f they hear invalidate_range_start/end (and invalidate_range) over that whole range`,
          });
        }
      }
      return done(true);
    }
  } else if (huge && pmdPage && pmdShared(k, pmdPage)) {
    // Each sharer maps the PMD page at its own PUD-aligned address: the cause covers it there.
    for (const link of k.linksOf(pmdPage.pa)) {
      if (link.mm === mm) continue;
      k.observer.missedFix('017b1660df89', {
        mms: [link.mm], start: link.base, end: link.base + PUD_SIZE,
        text: `the migration unmapped the page in the PMD page ${mm.name} shares, flushed only ${mm.name}'s CPUs and ended the rmap walk there (map count 1); with fix 017b1660df89 ${mm.name} unshares first and every sharer is unmapped and flushed`,
      });
    }
  }
  // Clear the entry, flushing now or through the batch.
  const pteval = readEntry(k, ptep);
  setEntry(k, mm, address, levelOf(page), ptep, 0n, flags.purpose === 'migrate' ? 'try_to_migrate_one' : 'try_to_unmap_one');
  // A huge page is cleared with huge_ptep_clear_flush, which on x86 is ptep_clear_flush: flush_tlb_page,
  // one INVLPG that drops the whole huge TLB entry, freed_tables false (v6.18 mm/rmap.c l.2434,
  // include/asm-generic/hugetlb.h l.86-90, arch/x86/include/asm/tlbflush.h l.322-325; v4.19 mm/rmap.c
  // l.1498, v4.4 l.1373): lazy CPUs are skipped from 016c4d92cd16 on and catch up on their next switch.
  if (flags.batch && shouldDeferFlush(k, op.cpu, mm)) setTlbUbcFlushPending(k, flags.batch, mm, pteDirty(pteval));
  else flushTlbPage(k, op.cpu, mm, address);
  if (pteDirty(pteval)) page.dirty = true;
  const replacement = flags.purpose === 'migrate'
    ? makeMigrationEntry(k, page, pteWrite(pteval))
    : swpEntryToPte(k, SWP_SWAPFILE, flags.swapSlot ?? 0n);
  setEntry(k, mm, address, levelOf(page), ptep, replacement, flags.purpose === 'migrate' ? 'set_pte_at(migration entry)' : 'set_pte_at(swap entry)');
  if (rangeNotifiers) k.notifiers.invalidateRange(mm, address, address + psize);
  page.mapcount--;
  page.refcount--;
  // v4.4 tells the secondary MMUs after the ptl is dropped, one address, no size.
  if (!rangeNotifiers) k.notifiers.invalidatePage(mm, address);
  return done(true);
}

/** The VMAs that may map `page`, each with the address there, in rmap order. */
export function rmapTargets(page: Page): { vma: VmArea; address: bigint }[] {
  const out: { vma: VmArea; address: bigint }[] = [];
  if (page.mapping instanceof AnonVma) {
    for (const vma of page.mapping.vmas) {
      const address = vma.addressOf(BigInt(page.index));
      if (address !== undefined && !vma.mm.exited) out.push({ vma, address });
    }
    return out;
  }
  const file = page.mapping;
  const pgoff = BigInt(page.index) * (file.hpageBytes >> 12n);
  for (const vma of file.iMmap) {
    const address = vma.addressOf(pgoff);
    if (address !== undefined && !vma.mm.exited) out.push({ vma, address });
  }
  return out;
}

/**
 * try_to_unmap / try_to_migrate: rmap_walk with page_not_mapped as its end. For hugetlb pages the
 * callers hold i_mmap_rwsem for write from c0d0381ade79 (and v6.1), for read before.
 */
export function* tryToUnmap(k: Kernel, op: Op, page: Page, flags: TtuFlags): OpGen<boolean> {
  const file = page.mapping instanceof AnonVma ? undefined : page.mapping;
  const writeLock = file && (k.fixes.has('c0d0381ade79') || k.fixes.has('40549ba8f8e0'));
  if (file) {
    if (writeLock) yield* file.iMmapRwsem.downWrite(op);
    else yield* file.iMmapRwsem.downRead(op);
  }
  for (const { vma, address } of rmapTargets(page)) {
    if (!(yield* tryToUnmapOne(k, op, page, vma, address, flags))) break;
    if (page.mapcount === 0) break;
  }
  if (file) {
    if (writeLock) file.iMmapRwsem.upWrite(op);
    else file.iMmapRwsem.upRead(op);
  }
  return page.mapcount === 0;
}

/** remove_migration_ptes: every migration entry for `old` becomes a mapping of `fresh`. */
export function removeMigrationPtes(k: Kernel, old: Page, fresh: Page): void {
  for (const { vma, address } of rmapTargets(old)) {
    const ea = old.size === '4K' ? walkTo(k, vma.mm, address, 'pte') : hugePteOffset(k, vma.mm, address, old.size);
    if (ea === undefined) continue;
    const e = readEntry(k, ea);
    if (!isMigrationEntry(k, e) || (k.swpOffsetOf(e) << 12n) !== old.pa) continue;
    const write = k.isWriteMigrationEntry(e);
    setEntry(k, vma.mm, address, levelOf(old), ea, k.mkPteFor(vma, fresh, write, false), 'remove_migration_pte');
    fresh.mapcount++;
    fresh.refcount++;
    k.observer.mapped(vma.mm, address, fresh);
  }
}
