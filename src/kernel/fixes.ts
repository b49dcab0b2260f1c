// The fixes the model knows: each is a difference of behaviour that one upstream commit made, keyed by
// the first 12 hex digits of its id. The model reads `k.fixes.has(id)` at the place the commit changed,
// so grepping an id finds every effect of it. `where` names those places for the profiles table.

export interface Fix {
  id: string;
  title: string;
  /** The release whose merge window brought it. */
  release: string;
  /** The functions of the model whose behaviour it changes. */
  where: string;
  /** What the model does differently with it. */
  effect: string;
  /** Fixes it cannot work without (the combination is refused otherwise). */
  needs?: string[];
}

export const FIXES: readonly Fix[] = [
  {
    // In tip's x86/mm for the v6.14 merge window (the 2024-11-28 test-robot report names that branch,
    // and 6db2526c1d69, its follow-up, was committed there on 2024-12-06).
    id: '209954cbc7d0', release: 'v6.14', needs: ['b0579ade7cd8'],
    title: 'x86/mm/tlb: Update mm_cpumask lazily',
    where: 'switchMmIrqsOff, flushTlbMmRange, flushTlbFunc',
    effect: 'a CPU leaving an mm stays in its mm_cpumask: flushes still trace an IPI send for it, and a flush that reaches it takes it out of the mask',
  },
  {
    // Also taken into the 5.15, 6.1, 6.6 and 6.12 stable series in February 2025 without 209954cbc7d0:
    // there it brought the switch_mm window of fea4e317f9e7 as well (CVE-2025-37964 lists their fixes
    // in 5.15.183, 6.1.139, 6.6.91, 6.12.29).
    id: '6db2526c1d69', release: 'v6.14', needs: ['016c4d92cd16'],
    title: 'x86/mm/tlb: Only trim the mm_cpumask once a second',
    where: 'nativeFlushTlbMulti (should_flush_tlb), flushTlbMmRange',
    effect: 'a flush that frees no page table sends its IPI only to CPUs whose loaded_mm is the flushed mm (should_flush_tlb), not to every CPU of the mask that is not lazy; the once-a-second trim is left out (the model has no clock)',
  },
  {
    id: 'fea4e317f9e7', release: 'v6.15', needs: ['6db2526c1d69'],
    title: 'x86/mm: Eliminate window where TLB flushes may be inadvertently skipped',
    where: 'nativeFlushTlbMulti (should_flush_tlb)',
    effect: 'a CPU inside switch_mm_irqs_off (loaded_mm is LOADED_MM_SWITCHING) gets the flush IPI; without it a CPU that has read the tlb_gen of the mm it switches to, and chosen an up-to-date ASID, misses the flush and uses its old translations (CVE-2025-37964)',
  },
  {
    id: '4a18419f71cd', release: 'v5.19',
    title: 'mm/mprotect: use mmu_gather',
    where: 'sysMprotect',
    effect: 'mprotect flushes once for the whole call, the span of the PTEs it changed, instead of each VMA range in which one changed',
  },
  {
    id: 'd833352a4338', release: 'v3.6',
    title: 'mm: hugetlbfs: close race during teardown of hugetlbfs shared page tables',
    where: 'hugetlbChangeProtection, __unmapHugepageRangeFinal, pageTableShareable',
    effect: 'mprotect of a hugetlb range flushes before it releases i_mmap_rwsem; a VMA being unmapped stops being a share source',
  },
  {
    id: 'b0579ade7cd8', release: 'v4.14',
    title: "x86/mm: Track the TLB's tlb_gen and update the flushing algorithm",
    where: 'flushTlbMmRange, flushTlbFunc, switchMmIrqsOff',
    effect: 'every flush bumps mm->context.tlb_gen; a CPU catches up to it, partially only when one generation behind',
  },
  {
    id: '10af6235e0d3', release: 'v4.14', needs: ['b0579ade7cd8'],
    title: 'x86/mm: Implement PCID based optimization: try to preserve old TLB entries using PCID',
    where: 'switchMmIrqsOff, chooseNewAsid',
    effect: 'CR4.PCIDE on; six dynamic ASIDs per CPU; a switch to an up-to-date ASID writes CR3 with the no-flush bit',
  },
  {
    id: 'b528e4b6405b', release: 'v4.10',
    title: 'mm/hugetlb: add tlb_remove_hugetlb_entry for handling hugetlb pages',
    where: '__unmapHugepageRange (the mmu_gather range)',
    effect: 'a zapped huge page widens the gather by the huge page size; before it by one 4 KiB page (__tlb_adjust_range), so a zap of a single huge page flushes with one INVLPG instead of a full flush',
  },
  {
    id: 'b5bc66b71310', release: 'v4.10',
    title: 'mm: update mmu_gather range correctly',
    where: 'zapHugePmd (tlb_remove_pmd_tlb_entry)',
    effect: 'a zapped transparent huge PMD widens the gather by HPAGE_PMD_SIZE; before it by one 4 KiB page (__tlb_adjust_range), so the zap of one THP flushes with a single INVLPG at its base',
  },
  {
    id: '3ea277194daa', release: 'v4.13',
    title: 'mm, mprotect: flush TLB if potentially racing with a parallel reclaim leaving stale TLB entries',
    where: 'flushTlbBatchedPending (mprotect, munmap, madvise, mremap)',
    effect: 'syscalls that change PTEs first flush a reclaim flush still deferred for the mm',
  },
  {
    id: '99baac21e458', release: 'v4.13',
    title: 'mm: fix MADV_[FREE|DONTNEED] TLB flush miss problem',
    where: 'tlbFinishMmu',
    effect: 'a gather that ran while another one was pending on the mm (tlb_flush_pending > 1) flushes its whole range',
  },
  {
    id: '369ea8242c0f', release: 'v4.13',
    title: 'mm/rmap: update to new mmu_notifier semantic v2',
    where: 'tryToUnmapOne, mmu notifier calls',
    effect: 'page-table changes are bracketed by invalidate_range_start/end with invalidate_range after the TLB flush; invalidate_page is no longer called',
  },
  {
    id: '5f32b265400d', release: 'v4.13', needs: ['369ea8242c0f'],
    title: 'mm/mmu_notifier: kill invalidate_page',
    where: 'mmuNotifierInvalidatePage',
    effect: 'the invalidate_page callback is gone: devices only hear range start/end and invalidate_range',
  },
  {
    id: '017b1660df89', release: 'v4.19',
    title: 'mm: migration: fix migration of huge PMD shared pages',
    where: 'tryToUnmapOne, adjustRangeIfPmdSharingPossible',
    effect: 'migration first unshares a shared PMD page and flushes the whole PUD range of that mm, then walks on to the other sharers',
  },
  {
    id: 'dff11abe280b', release: 'v4.19',
    title: 'hugetlb: take PMD sharing into account when flushing tlb/caches',
    where: 'hugetlbChangeProtection, unmapHugepageRange, __unmapHugepageRange',
    effect: 'flush and notifier ranges of hugetlb unmap and mprotect are widened to the PUD when PMD sharing is possible',
  },
  {
    id: 'eb66ae030829', release: 'v4.19',
    title: 'mremap: properly flush TLB before releasing the page',
    where: 'sysMremap (move_ptes)',
    effect: 'mremap flushes each moved extent of the old range before dropping its page-table locks, when it moved a present entry',
  },
  {
    // Not a fix: the x86 switch for move_normal_pmd, which 2c91bd4a4e2e ("mm: speed up mremap by 20x
    // on large regions") added just before it; both in v5.0.
    id: '9f132f7e1455', release: 'v5.0',
    title: 'mm: select HAVE_MOVE_PMD on x86 for faster mremap',
    where: 'sysMremap (move_normal_pmd)',
    effect: 'an extent of a whole PMD into an empty PMD entry moves the page table itself, and flushes the old PMD range whether or not an entry was present',
  },
  {
    id: '9b553bf5eb99', release: 'v5.0',
    title: 'mm/hugetlb: enable PUD level huge page migration',
    where: 'migratePage (hugepage_migration_supported)',
    effect: 'a 1 GiB hugetlb page can be migrated; before it unmap_and_move_huge_page refuses it with ENOSYS and the page stays',
  },
  {
    id: 'a31acd3ee8f7', release: 'v4.20', needs: ['b0579ade7cd8'],
    title: 'x86/mm: Page size aware flush_tlb_mm_range()',
    where: 'flushTlbMmRange',
    effect: 'range flushes step by the page size (stride_shift) instead of treating every hugetlb VMA as a full flush',
  },
  {
    id: '016c4d92cd16', release: 'v4.20', needs: ['b0579ade7cd8'],
    title: 'x86/mm/tlb: Add freed_tables argument to flush_tlb_mm_range',
    where: 'flushTlbMmRange, nativeFlushTlbMulti',
    effect: 'flushes say whether page tables were freed; from this series on, lazy CPUs are sent an IPI only when they were',
  },
  {
    id: '75802ca66354', release: 'v5.9', needs: ['017b1660df89'],
    title: 'mm/hugetlb: fix calculation of adjust_range_if_pmd_sharing_possible',
    where: 'adjustRangeIfPmdSharingPossible',
    effect: 'the widened range is the PUD-aligned range clamped to the VMA (the old loop could stop one PUD short)',
  },
  {
    id: 'c0d0381ade79', release: 'v5.7',
    title: 'hugetlbfs: use i_mmap_rwsem for more pmd sharing synchronization',
    where: 'hugetlbFault, tryToUnmapOne (rmap callers)',
    effect: 'faults hold i_mmap_rwsem for read across huge_pte_alloc..install; rmap callers that may unshare hold it for write',
  },
  {
    id: '550a7d60bd5e', release: 'v5.16',
    title: 'mm, hugepages: add mremap() support for hugepage backed vma',
    where: 'sysMremap, moveHugetlbPageTables',
    effect: 'mremap moves a hugetlb mapping (move_hugetlb_page_tables: a shared PMD page is unshared, not moved); before it vma_to_resize refuses a hugetlb VMA with EINVAL',
  },
  {
    id: '3d0b95cd87b2', release: 'v5.19', needs: ['550a7d60bd5e'],
    title: 'mm: hugetlb: considering PMD sharing when flushing cache/TLBs',
    where: 'moveHugetlbPageTables',
    effect: 'a hugetlb mremap that unshared a PMD page flushes the PUD-wide range (adjust_range_if_pmd_sharing_possible), not only the moved range',
  },
  {
    id: 'a4a118f2eead', release: 'v5.16',
    title: 'hugetlbfs: flush TLBs correctly after huge_pmd_unshare',
    where: '__unmapHugepageRange',
    effect: 'an unshare during zap records the whole PUD range in the mmu_gather and flushes it before i_mmap_rwsem is released',
  },
  {
    id: '90e7e7f5ef3f', release: 'v5.18',
    title: 'mm: enable MADV_DONTNEED for hugetlb mappings',
    where: 'sysMadvise (madvise_dontneed_free_valid_vma)',
    effect: 'MADV_DONTNEED zaps hugetlb VMAs (start huge-page aligned, end rounded down to a huge page); before it the call returns EINVAL on a hugetlb VMA',
  },
  {
    id: '40549ba8f8e0', release: 'v6.1',
    title: 'hugetlb: use new vma_lock for pmd sharing synchronization',
    where: 'hugetlbFault, hugePmdUnshare callers, hugePmdShare',
    effect: 'faults hold the hugetlb VMA lock for read; every path that may unshare holds it for write (replaces c0d0381ade79 in faults)',
  },
  {
    id: '6bbd42e2df8f', release: 'v6.6',
    title: 'mmu_notifiers: call invalidate_range() when invalidating TLBs',
    where: 'flushTlbMmRange, archTlbbatchAddPending',
    effect: 'secondary TLBs are invalidated from the architecture flush (arch_invalidate_secondary_tlbs), not from range_end',
  },
  {
    id: '59d9094df3d7', release: 'v6.13',
    title: 'mm: hugetlb: independent PMD page table shared count',
    where: 'hugePmdShare, hugePmdUnshare, pmdShared',
    effect: 'sharing is counted in ptdesc->pt_share_count (0 = not shared) instead of the PMD page refcount, so a speculative reference on the page (speculative_ref) no longer makes huge_pmd_unshare unlink a PMD page its mm alone uses, leaving its entries in a table the last put frees',
  },
  {
    id: '3ef938c35035', release: 'v6.15', needs: ['016c4d92cd16'],
    title: 'x86/mm: Fix flush_tlb_range() when used for zapping normal PMDs',
    where: 'flushTlbRange (hugetlb unshare flushes, pmdpCollapseFlush)',
    effect: 'flush_tlb_range says freed_tables, so lazy CPUs get the IPI too (khugepaged\'s pmdp_collapse_flush unlinks a PTE table through it)',
  },
  {
    id: '081056dc00a2', release: 'v6.16',
    title: 'mm/hugetlb: unshare page tables during VMA split, not before',
    where: 'hugetlbSplit (munmap and mprotect splitting a hugetlb VMA)',
    effect: 'splitting a VM_MAYSHARE hugetlb VMA inside a PUD-sized region unshares that region\'s PMD page and flushes the whole PUD range, under the VMA lock and i_mmap_rwsem (b30c14cd6102, v6.3, had unshared before taking them); without it the halves keep the shared page and later unshares flush only their own part',
  },
  {
    id: '1013af4f585f', release: 'v6.16',
    title: 'mm/hugetlb: fix huge_pmd_unshare() vs GUP-fast race',
    where: 'hugePmdUnshare',
    effect: 'unshare sends an IPI to every CPU (tlb_remove_table_sync_one) before it drops the share count, and so waits for a GUP-fast walk (gup_fast) inside its interrupts-off section that read a PUD entry pointing at the page; without it the walk may go on through a page table another process now uses alone and pin that process\'s page',
  },
];

const BY_ID = new Map(FIXES.map((f) => [f.id, f]));

export function fixById(id: string): Fix | undefined {
  return BY_ID.get(id);
}

/** The fixes one replay runs with. */
export class FixSet {
  private readonly on: Set<string>;
  constructor(ids: Iterable<string>) {
    this.on = new Set(ids);
  }
  has(id: string): boolean {
    if (!BY_ID.has(id)) throw new Error(`internal: the model asks for unknown fix ${id}`);
    return this.on.has(id);
  }
  /** Every known fix with whether it is on, in registry order. */
  toRecord(): Record<string, boolean> {
    return Object.fromEntries(FIXES.map((f) => [f.id, this.on.has(f.id)]));
  }
  get ids(): string[] {
    return FIXES.filter((f) => this.on.has(f.id)).map((f) => f.id);
  }
}
