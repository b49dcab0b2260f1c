// mm/migrate.c: migrating one page (move_pages, soft offline) in the trace's steps `unmap`, `copy`,
// `remap`, `free`. From `copy` to `remap` the old frame is in its copy window: a write that reaches it
// then is lost. The page is found the way compaction finds it, without mmap_lock.
import type { Kernel } from './kernel.ts';
import { Page } from './mm_types.ts';
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
  yield { step: 'unmap' };
  page.migrating = op;
  const unmapped = yield* tryToUnmap(k, op, page, { purpose: 'migrate' });
  if (!unmapped) {
    // Still mapped somewhere: the entries installed so far go back to the old page.
    removeMigrationPtes(k, page, page);
    page.migrating = undefined;
    k.hugetlbStats.migrationsSkipped++;
    k.observer.kernelNote(op, `the page at 0x${page.pa.toString(16)} could not be unmapped everywhere and was not migrated`);
    return false;
  }
  yield { step: 'copy' };
  const fresh = new Page(k.phys.alloc(page.size), page.size, page.mapping, page.index);
  fresh.dirty = page.dirty;
  k.pages.set(fresh.pa, fresh);
  k.observer.copyBegin(page);
  yield { step: 'remap' };
  k.observer.copyEnd(page);
  let inCache = false;
  if (!page.isAnon) {
    const file = page.mapping as import('./mm_types.ts').HugetlbFile;
    if (file.pages.get(page.index) === page) {
      file.pages.set(page.index, fresh);
      inCache = true;
    }
  }
  // The page cache's reference, if the page was in it (not for private copies or anonymous hugetlb).
  fresh.refcount = inCache ? 1 : 0;
  removeMigrationPtes(k, page, fresh);
  page.migrating = undefined;
  k.hugetlbStats.migrations++;
  yield { step: 'free' };
  page.refcount = 0;
  page.mapcount = 0;
  k.freePage(page, why === 'soft_offline' ? 'soft offline of the old page' : 'the migrated-from page');
  return true;
}
