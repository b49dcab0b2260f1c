// The kernel's structures at the level the model needs: struct mm_struct, vm_area_struct, struct page
// (data pages), struct ptdesc (page-table pages), the hugetlbfs inode with its page cache and i_mmap,
// and the anon_vma. Names and fields follow include/linux/mm_types.h where they exist.
import { ResvMap } from './resv_map.ts';
import type { PageSize } from '../mmu/model.ts';
import { RwSem, type Op, type OpGen } from './ops.ts';
import { VmaTree } from './vma_tree.ts';

export interface Prot {
  r: boolean;
  w: boolean;
  x: boolean;
}

export type TableLevel = 'pgd' | 'p4d' | 'pud' | 'pmd' | 'pte';

/** struct ptdesc: what the kernel keeps beside a page-table page. */
/**
 * struct mmu_notifier_ops as a secondary MMU fills it in: the callbacks the notifier calls of
 * mmu_notifier.ts invoke. Declared beside mm_struct, which holds the registered ones.
 */
export interface MmuNotifier {
  readonly name: string;
  invalidatePage?(mm: MmStruct, address: bigint): void;
  invalidateRangeStart?(mm: MmStruct, start: bigint, end: bigint): void;
  invalidateRangeEnd?(mm: MmStruct, start: bigint, end: bigint): void;
  /** ->invalidate_range (3.19–6.5) and ->arch_invalidate_secondary_tlbs (6.6 on): hardware TLBs. */
  invalidateSecondaryTlbs?(mm: MmStruct, start: bigint, end: bigint): void;
}

export class PtDesc {
  /** page_count of the page: 1 for its owner, +1 per extra sharer of a PMD page before 59d9094df3d7. */
  refcount = 1;
  /** ptdesc->pt_share_count (59d9094df3d7): extra sharers, 0 when not shared. */
  ptShareCount = 0;
  /** The part of `refcount` that speculative references hold (folio_try_get by a pfn scanner). */
  speculativeRefs = 0;
  /** huge_pmd_unshare calls between their PUD clear and their share drop (waiting for GUP-fast, 1013af4f585f). */
  unsharesInFlight = 0;
  /** Its owner let go of it (free_pgtables, exit) while other references remained: the last put frees it. */
  released = false;
  /**
   * pmd_huge_pte of a PMD page: the PTE tables deposited for its transparent huge PMDs
   * (pgtable_trans_huge_deposit pushes, withdraw pops the latest; mm/pgtable-generic.c).
   */
  readonly pmdHugePte: bigint[] = [];
  constructor(
    readonly pa: bigint,
    readonly level: TableLevel,
    readonly owner: MmStruct,
    /** The first address it maps in its owner (what the entry that links it covers; mremap's move_normal_pmd moves it). */
    public base = 0n,
  ) {}
}

/** A data page: a frame of simulated physical memory (no contents) with its mapping state. */
export class Page {
  /** Page-table entries that map it (page_mapcount; one entry of a shared PMD page counts once). */
  mapcount = 0;
  /** References: the page cache, and one per mapping entry of an anonymous page. */
  refcount = 1;
  dirty = false;
  /** MADV_FREE made it clean: reclaim may drop it without writing it out. */
  lazyfree = false;
  /**
   * Isolated for migration (isolate_huge_page / isolate_lru_page took a reference): a fault that finds
   * its migration entry waits for this operation, and a second migration leaves it alone.
   */
  migrating: Op | undefined;
  /** PG_locked: the operation that holds the page lock (lock_page), if any. */
  lockedBy: Op | undefined;
  constructor(
    readonly pa: bigint,
    readonly size: PageSize,
    /** The file and its index (in units of the page size), or the anon_vma and the page offset. */
    readonly mapping: HugetlbFile | AnonVma,
    public index: number,
  ) {}
  get isAnon(): boolean {
    return this.mapping instanceof AnonVma;
  }
  /** lock_page: sleeps (here: waits) while another operation holds the page lock. */
  *lock(op: Op): OpGen {
    while (this.lockedBy && this.lockedBy !== op && !this.lockedBy.done) {
      yield { wait: this.lockedBy, reason: `the page at 0x${this.pa.toString(16)} is locked by the ${this.lockedBy.describe()}` };
    }
    this.lockedBy = op;
  }
  /** The page lock is held by another operation that has not finished (trylock_page would fail). */
  lockedByOther(op: Op): boolean {
    return this.lockedBy !== undefined && this.lockedBy !== op && !this.lockedBy.done;
  }
  unlock(op: Op): void {
    if (this.lockedBy === op) this.lockedBy = undefined;
  }
}

/** A hugetlbfs inode: its page cache, its i_mmap (the VMAs that map it, in creation order), its lock. */
export class HugetlbFile {
  readonly pages = new Map<number, Page>();
  /** The inode's resv_map: hugetlb page indices a shared mapping reserved (consumed once in the cache). */
  readonly resvMap = new ResvMap();
  readonly iMmap: VmArea[] = [];
  readonly iMmapRwsem: RwSem;
  constructor(
    readonly name: string,
    public size: bigint,
    readonly pagesize: '2M' | '1G',
    /** Anonymous hugetlb memory is an unnamed hugetlbfs file, as the kernel makes it. */
    readonly anonymous = false,
  ) {
    this.iMmapRwsem = new RwSem(`i_mmap_rwsem of ${anonymous ? 'anonymous hugetlb memory' : `file ${name}`}`);
  }
  get hpageBytes(): bigint {
    return this.pagesize === '2M' ? 1n << 21n : 1n << 30n;
  }
}

/** The anon_vma of private anonymous memory: every VMA that may map its pages (parent and children). */
export class AnonVma {
  readonly vmas: VmArea[] = [];
}

export class VmArea {
  /** The hugetlb VMA lock (40549ba8f8e0), for VMAs that may share PMD pages. */
  readonly vmaLock: RwSem;
  anonVma: AnonVma | undefined;
  /** Cleared on a VMA being torn down so it is no longer picked as a share source (d833352a4338). */
  mayShare: boolean;
  /**
   * A private hugetlb mapping's own reservations (HPAGE_RESV_OWNER): the page indices not yet
   * faulted in, shared with the VMAs a split makes of it; a forked copy owns none.
   */
  resvMap: ResvMap | undefined;
  /** VM_HUGEPAGE (madvise MADV_HUGEPAGE): its private anonymous memory may be mapped by 2 MiB THPs. */
  hugepage = false;
  constructor(
    readonly mm: MmStruct,
    public start: bigint,
    public end: bigint,
    public prot: Prot,
    /** VM_SHARED | VM_MAYSHARE. */
    readonly shared: boolean,
    readonly file: HugetlbFile | undefined,
    /** vm_pgoff: the offset of `start` in 4 KiB units (the file's, or start >> 12 for anonymous memory). */
    public pgoff: bigint,
  ) {
    this.mayShare = shared;
    this.vmaLock = new RwSem(`hugetlb VMA lock of ${mm.name} [0x${start.toString(16)}, 0x${end.toString(16)})`);
  }
  get isHugetlb(): boolean {
    return this.file !== undefined;
  }
  get hugeShift(): bigint {
    return this.file?.pagesize === '1G' ? 30n : this.file ? 21n : 12n;
  }
  contains(va: bigint): boolean {
    return va >= this.start && va < this.end;
  }
  /** The page offset (4 KiB units) that `va` maps (linear_page_index). */
  linearPageIndex(va: bigint): bigint {
    return ((va - this.start) >> 12n) + this.pgoff;
  }
  /** The address at which this VMA maps 4 KiB page offset `pgoff`, if it does (vma_address). */
  addressOf(pgoff: bigint): bigint | undefined {
    if (pgoff < this.pgoff) return undefined;
    const va = this.start + ((pgoff - this.pgoff) << 12n);
    return va < this.end ? va : undefined;
  }
}

let nextCtxId = 1n;

export class MmStruct {
  /** mm->mm_mt: the VMAs by address, O(log n) to find, insert and remove. */
  readonly mmMt = new VmaTree<VmArea>();
  readonly cpumask = new Set<number>();
  /** mm->context.ctx_id: names the mm in the per-CPU ASID slots (b0579ade7cd8). */
  readonly ctxId = nextCtxId++;
  /** mm->context.tlb_gen. */
  tlbGen = 0n;
  readonly mmapLock: RwSem;
  /** mm->tlb_flush_pending: gathers in progress (99baac21e458). */
  tlbFlushPending = 0;
  /** A reclaim flush deferred for this mm and not yet done (set_tlb_ubc_flush_pending, 3ea277194daa). */
  tlbFlushBatched = false;
  /** Secondary MMUs registered with mmu_notifier_register. */
  readonly notifiers: MmuNotifier[] = [];
  exited = false;
  constructor(readonly name: string, readonly pgd: bigint) {
    this.mmapLock = new RwSem(`mmap_lock of ${name}`);
  }
  /** Every VMA in address order (a copy: O(n), for walks over the whole address space). */
  get vmas(): VmArea[] {
    return [...this.mmMt];
  }
  /** The VMA that contains va (vma_lookup). */
  findVma(va: bigint): VmArea | undefined {
    return this.mmMt.find(va);
  }
  /** The VMAs that overlap [start, end), in address order. */
  vmasIn(start: bigint, end: bigint): VmArea[] {
    return [...this.mmMt.range(start, end)];
  }
  /** Whether a VMA overlaps [start, end). */
  hasVmaIn(start: bigint, end: bigint): boolean {
    return this.mmMt.overlaps(start, end);
  }
  insertVma(vma: VmArea): void {
    this.mmMt.insert(vma);
  }
  removeVma(vma: VmArea): void {
    this.mmMt.remove(vma);
  }
}
