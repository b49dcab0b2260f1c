// mm/migrate.c: migrating one page (move_pages, soft offline) in the trace's steps `unmap`, `copy`,
// `remap`, `free`. From `copy` to `remap` the old frame is in its copy window: a write that reaches it
// then is lost. The page is found the way compaction finds it, without mmap_lock.
//
// References, as the kernel counts them: isolation (isolate_huge_page, isolate_lru_page) takes one
// on the page where the migration finds it, before `unmap`, and putback_active_hugepage /
// putback_lru_page drops it at the end. So whatever else lets go of the page while the migration is
// parked — a hole punch drops the page cache's reference and unmaps it, an exit zaps the mappings —
// the frame stays allocated until the migration is done with it. The page lock (lock_page in
// unmap_and_move_huge_page / __unmap_and_move) is held from `unmap` until the migration entries are
// gone: truncation (remove_inode_hugepages) and hugetlb_no_page sleep on it in the meantime.
import type { Kernel } from './kernel.ts';
import { HugetlbFile, Page } from './mm_types.ts';
import type { Op, OpGen } from './ops.ts';
import { removeMigrationPtes, tryToUnmap } from './rmap.ts';

/** unmap_and_move / unmap_and_move_huge_page for one page. Returns false when the page stayed. */
export function* migratePage(k: Kernel, op: Op, page: Page, why: 'migrate' | 'soft_offline'): OpGen<boolean> {
  if (page.size === '1G' && !k.fixes.has('9b553bf5eb99')) {
    // hugepage_migration_supported: PMD_SHIFT only (v4.4 include/linux/hugetlb.h l.459-466), PMD_SHIFT
    // or PGDIR_SHIFT (v4.19 l.496-507); unmap_and_move_huge_page puts the page back and returns ENOSYS
    // before unmapping anything (v4.4 mm/migrate.c l.1041-1044, v4.19 l.1281-1284).
    k.observer.refused(op, { call: why === 'migrate' ? 'migrate' : 'madvise(MADV_SOFT_OFFLINE)', error: 'ENOSYS', why: `the page at 0x${page.pa.toString(16)} is a 1 GiB hugetlb page, which this kernel cannot migrate before 9b553bf5eb99 (v5.0)` });
    return false;
  }
  if (page.size !== '4K' && k.hstates.unreserved(page.size) <= 0) {
    // The target page comes from the pool, outside every reservation, before anything is unmapped
    // (v4.4 mm/migrate.c l.1046: get_new_page; alloc_huge_page_node takes a free page only while
    // free_huge_pages exceeds resv_huge_pages). migrate_pages gives up on it with ENOMEM.
    k.observer.refused(op, { call: why === 'migrate' ? 'migrate' : 'madvise(MADV_SOFT_OFFLINE)', error: 'ENOMEM', why: `no unreserved ${page.size} hugetlb page to migrate the page at 0x${page.pa.toString(16)} to` });
    return false;
  }
  const whyFreed = why === 'soft_offline' ? 'soft offline of the old page' : 'the migrated-from page';
  page.refcount++;
  page.migrating = op;
  yield { step: 'unmap' };
  if (page.refcount === 1 && page.mapcount === 0 && page.size === '4K') {
    // unmap_and_move (v4.4 mm/migrate.c, and every release since): only the isolation reference is
    // left, "the page was freed from under us": put it back, which frees it. v4.4 and v4.19
    // unmap_and_move_huge_page have no such check: a hugetlb page punched out of its file meanwhile
    // is copied to a new page that nobody maps, and both are freed at the end (below). v6.18 checks
    // the count there too; freeing at the end instead of here changes no translation, since the
    // punch unmapped the page and flushed before it let go of it.
    page.migrating = undefined;
    k.hugetlbStats.migrationsSkipped++;
    k.observer.kernelNote(op, `the page at 0x${page.pa.toString(16)} lost every other reference while it was isolated: the migration puts it back, which frees it`);
    k.putPage(page, whyFreed);
    return false;
  }
  yield* page.lock(op);
  const unmapped = yield* tryToUnmap(k, op, page, { purpose: 'migrate' });
  if (!unmapped) {
    // Still mapped somewhere: the entries installed so far go back to the old page.
    removeMigrationPtes(k, page, page);
    page.unlock(op);
    page.migrating = undefined;
    k.hugetlbStats.migrationsSkipped++;
    k.observer.kernelNote(op, `the page at 0x${page.pa.toString(16)} could not be unmapped everywhere and was not migrated`);
    k.putPage(page, whyFreed);
    return false;
  }
  yield { step: 'copy' };
  // The new page's own reference (the allocation's), dropped by putback_active_hugepage(new_hpage) /
  // put_page(newpage) at the end: what maps it or caches it by then keeps it. A huge target was there
  // at the start; a fault may have taken the last one while the migration was parked, and then the
  // kernel (which allocated first) would not be here: take it regardless.
  const pa = page.size === '4K' ? k.phys.alloc('4K') : k.allocHugePage(page.size, false, true)!;
  const fresh = new Page(pa, page.size, page.mapping, page.index);
  fresh.refcount = 1;
  fresh.dirty = page.dirty;
  k.pages.set(fresh.pa, fresh);
  k.observer.copyBegin(page);
  yield { step: 'remap' };
  k.observer.copyEnd(page);
  if (page.mapping instanceof HugetlbFile && page.mapping.pages.get(page.index) === page) {
    // migrate_huge_page_move_mapping: the page cache's reference moves to the new page. A page a
    // hole punch removed from the page cache before `unmap` is not put back there.
    page.mapping.pages.set(page.index, fresh);
    fresh.refcount++;
    page.refcount--;
  }
  removeMigrationPtes(k, page, fresh);
  page.unlock(op);
  page.migrating = undefined;
  k.hugetlbStats.migrations++;
  yield { step: 'free' };
  // putback_active_hugepage(hpage) / putback_lru_page: the isolation reference was the last one.
  k.putPage(page, whyFreed);
  k.putPage(fresh, 'the new page of a migration that nothing maps any more');
  return true;
}
