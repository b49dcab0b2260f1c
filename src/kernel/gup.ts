// GUP-fast (mm/gup.c gup_fast): get_user_pages without mmap_lock or page-table locks. The walker
// disables interrupts, reads the page-table entries of the current mm top-down with READ_ONCE, takes a
// reference on the page it finds (try_grab_folio_fast) and checks that the leaf entry did not change;
// it never re-reads the levels above (v6.18 mm/gup.c l.2935-2975, l.3022-3077, l.3140-3185). Page
// tables are kept alive under it by the interrupts being off: a free of a page table waits for the
// section (RCU table freeing or the flush IPI, gup_fast's own comment at l.3156-3166). A PMD page
// that stops being shared is not freed, though: it stays its remaining user's page table, which may
// install unrelated entries in it while the walker still holds the PUD entry it read. Only an IPI
// the unsharer sends keeps that walk from going on: its own flush, where that is a native IPI to the
// walker's CPU before i_mmap_rwsem is released, or 1013af4f585f's tlb_remove_table_sync_one
// (hugetlb.ts hugePmdUnshare).
//
// The model's operation has one step, `pmd`: the walk of the PMD page that the PUD entry (read when
// the operation starts) pointed at. The pin is dropped when the operation ends, as a caller that did
// its I/O would.
import type { Kernel } from './kernel.ts';
import type { MmStruct, PtDesc, HugetlbFile } from './mm_types.ts';
import type { Op, OpGen } from './ops.ts';
import { _PAGE_PSE, _PAGE_RW, _PAGE_USER, PTE_PFN_MASK, ptePresent, readEntry, walkTo } from './pgtable.ts';

/** A GUP-fast walker between its PUD read and the end of its walk (interrupts off on its CPU). */
export interface GupFastSection {
  readonly op: Op;
  readonly cpu: number;
  readonly mm: MmStruct;
  readonly va: bigint;
  /** The PMD page the PUD entry pointed at when it was read. */
  readonly pmdPage: bigint;
  /** Its descriptor then: a different one (or none) later means that page was freed meanwhile. */
  readonly ptdesc: PtDesc | undefined;
  /** The hugetlb file page mm's mapping at va stood for when the walk began, if it maps one. */
  readonly expected: { file: HugetlbFile; index: number } | undefined;
}

const HPAGE_2M = 1n << 21n;

/** pmd_access_permitted / pte_access_permitted: present, user, and writable for a write. */
function accessPermitted(e: bigint, write: boolean): boolean {
  return ptePresent(e) && (e & _PAGE_USER) !== 0n && (!write || (e & _PAGE_RW) !== 0n);
}

/** gup_fast for the one page at va of the CPU's current mm. */
export function* gupFast(k: Kernel, op: Op, mm: MmStruct, va: bigint, write: boolean): OpGen {
  k.gupFastStats.walks++;
  const pudEa = walkTo(k, mm, va, 'pud');
  const pud = pudEa === undefined ? 0n : readEntry(k, pudEa);
  if (!ptePresent(pud)) return gaveUp(k, op, `no PUD entry for 0x${va.toString(16)} in ${mm.name}`);
  if ((pud & _PAGE_PSE) !== 0n) {
    // gup_fast_pud_leaf: a 1 GiB page, pinned from the entry just read (no PMD page to walk).
    return pin(k, op, mm, va, pud & PTE_PFN_MASK, write, pud, undefined);
  }
  const vma = mm.findVma(va);
  const file = vma?.file;
  const section: GupFastSection = {
    op, cpu: op.cpu, mm, va, pmdPage: pud & PTE_PFN_MASK, ptdesc: k.ptdescs.get(pud & PTE_PFN_MASK),
    expected: file ? { file, index: Number(vma.linearPageIndex(va) / (file.hpageBytes >> 12n)) } : undefined,
  };
  k.gupFastSections.add(section);
  try {
    yield { step: 'pmd' };
    if (k.ptdescs.get(section.pmdPage) !== section.ptdesc) {
      // Only reachable if a free did not wait for the section; the model's frees run after it.
      return gaveUp(k, op, `the PMD page 0x${section.pmdPage.toString(16)} was freed under the walk`);
    }
    const pmdEa = section.pmdPage + ((va >> 21n) & 511n) * 8n;
    const pmd = readEntry(k, pmdEa);
    if (!ptePresent(pmd)) return gaveUp(k, op, `no PMD entry for 0x${va.toString(16)} in the page table it walked`);
    if ((pmd & _PAGE_PSE) !== 0n) return pin(k, op, mm, va, pmd & PTE_PFN_MASK & ~(HPAGE_2M - 1n), write, pmd, section);
    // gup_fast_pte_range: one level further down, through whatever table that PMD page links.
    const pte = readEntry(k, (pmd & PTE_PFN_MASK) + ((va >> 12n) & 511n) * 8n);
    if (!ptePresent(pte)) return gaveUp(k, op, `no PTE for 0x${va.toString(16)} in the page table it walked`);
    return pin(k, op, mm, va, pte & PTE_PFN_MASK, write, pte, section);
  } finally {
    k.gupFastSections.delete(section);
  }
}

/** GUP-fast pins nothing: the caller falls back to the slow path (get_user_pages, not modelled). */
function gaveUp(k: Kernel, op: Op, why: string): void {
  k.gupFastStats.fallbacks++;
  k.observer.kernelNote(op, `GUP-fast pinned nothing (${why}): the caller falls back to the slow path`);
}

/** try_grab_folio_fast, the recheck of the leaf entry (unchanged: nothing runs in between), the pin and its release. */
function pin(k: Kernel, op: Op, mm: MmStruct, va: bigint, frame: bigint, write: boolean, leaf: bigint, section: GupFastSection | undefined): void {
  if (!accessPermitted(leaf, write)) return gaveUp(k, op, `the entry for 0x${va.toString(16)} does not allow a ${write ? 'write' : 'read'}`);
  const page = k.pages.get(frame);
  if (!page) return gaveUp(k, op, `no page at 0x${frame.toString(16)}`);
  page.refcount++;
  k.gupFastStats.pins++;
  if (section && walkTo(k, mm, va, 'pmd') !== section.pmdPage + ((va >> 21n) & 511n) * 8n) {
    // mm no longer links the page table the walk went through. Benign when the page is still the one
    // mm's own mapping stood for (the walk raced an unshare of a page still shared, or an unmap).
    const e = section.expected;
    const same = e !== undefined && page.mapping === e.file && page.index === e.index;
    if (!same) {
      k.observer.foreignTablePin({ cpu: op.cpu, mm, va, table: section.pmdPage, page, owners: k.sharersOf(section.pmdPage) });
    }
  }
  k.putPage(page, 'unpin_user_page');
}
