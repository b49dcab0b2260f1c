// A speculative reference on a page-table page: code that walks physical frames takes a reference on
// whatever folio a pfn holds, looks at it and drops it — split_huge_pages_all's folio_try_get and
// folio_put (v6.18 mm/huge_memory.c l.4263-4289) does so for every pfn of every zone, page tables
// included. The reference is a page reference like any other, so before 59d9094df3d7 (v6.13), which
// counted the sharers of a PMD page in that same page_count, it made an unshared PMD page look shared
// to huge_pmd_unshare (hugetlb.ts); and a page-table page is freed by whoever drops the last reference
// (pgtable.ts freeTable), possibly this one.
//
// The model's operation names the PMD page through an address: the page that holds the PMD entry for
// `va` in mm. Its one step, `put`, is the folio_put.
import type { Kernel } from './kernel.ts';
import type { MmStruct } from './mm_types.ts';
import type { Op, OpGen } from './ops.ts';
import { reallyFreeTable, tableOfEntry, walkTo } from './pgtable.ts';

export function* speculativeRef(k: Kernel, op: Op, mm: MmStruct, va: bigint): OpGen {
  const pmdEa = walkTo(k, mm, va, 'pmd');
  const d = pmdEa === undefined ? undefined : k.ptdescs.get(tableOfEntry(pmdEa));
  if (!d) {
    k.observer.kernelNote(op, `speculative_ref: ${mm.name} has no PMD page for 0x${va.toString(16)}; nothing to take a reference on`);
    return;
  }
  // folio_try_get: the page is in use (its count is not zero), so the reference is taken.
  d.refcount++;
  d.speculativeRefs++;
  yield { step: 'put' };
  d.speculativeRefs--;
  d.refcount--;
  if (d.refcount === 0) reallyFreeTable(k, d.pa, `the folio_put of the speculative reference of line ${op.line}`, op.cpu);
}
