// The kernel model's state: the machine it runs on, its address spaces, files, pages and page-table
// descriptors, the per-CPU TLB state, the notifier chains, and the observer (the oracle) it reports to.
// The operations themselves live in the files named after the kernel code they model.
import type { Machine } from '../mmu/machine.ts';
import { PageTables } from '../mmu/builder.ts';
import { PhysicalMemory } from '../mmu/physmem.ts';
import { ModelBugError } from '../mmu/errors.ts';
import type { FixSet } from './fixes.ts';
import { AnonVma, HugetlbFile, MmStruct, PtDesc, type Page, type VmArea } from './mm_types.ts';
import { CpuTlbState, flushTlbBatchedPending, flushTlbRange, switchMm, type FlushObserver, type FlushStats, type PerCpuStats } from './tlbflush.ts';
import { MmuNotifiers } from './mmu_notifier.ts';
import { mkPte, pteToSwpEntry, SWP_MIGRATION_WRITE, _PAGE_PRESENT, _PAGE_RW, _PAGE_TABLE } from './pgtable.ts';
import { quietObserver, type KernelObserver } from './observer.ts';
import { runToEnd, type Op } from './ops.ts';
import { Hstates, type HugePageSize } from './hstate.ts';

// kernel.ts is the top of src/kernel: the files below it take the narrow part of the Kernel they use
// (PgtableKernel, TlbflushKernel) and never import this file.
export type { KernelObserver } from './observer.ts';
export type { PerCpuStats } from './tlbflush.ts';

export interface KernelOptions {
  levels?: 4 | 5;
  /** Overrides the profile's PCID use (the trace header's `pcid: false`). */
  pcid?: boolean;
}

// CR0.PG | CR0.WP | CR0.PE; CR4.PAE | CR4.PGE (| CR4.PCIDE); EFER.LME | EFER.LMA | EFER.NXE.
const CR0 = (1n << 31n) | (1n << 16n) | 1n;
const CR4_PGE = 1n << 7n;
const CR4_PAE = 1n << 5n;
const CR4_PCIDE = 1n << 17n;
const CR4_LA57 = 1n << 12n;
const EFER = (1n << 8n) | (1n << 10n) | (1n << 11n);

export class Kernel {
  readonly tables: PageTables;
  readonly phys: PhysicalMemory;
  readonly levels: 4 | 5;
  readonly usesPcid: boolean;
  readonly initMm: MmStruct;
  /** LOADED_MM_SWITCHING ((struct mm_struct *)1 in the kernel): no address space, never loaded. */
  readonly loadedMmSwitching: MmStruct;
  readonly mms = new Map<string, MmStruct>();
  /** The live address spaces by mm->context.ctx_id (what a CPU's ASID slot names): O(1) for the oracle. */
  readonly mmsByCtx = new Map<bigint, MmStruct>();
  readonly files = new Map<string, HugetlbFile>();
  readonly pages = new Map<bigint, Page>();
  readonly ptdescs = new Map<bigint, PtDesc>();
  readonly cpus: CpuTlbState[];
  readonly perCpu: PerCpuStats[];
  readonly notifiers: MmuNotifiers;
  readonly swap = new Map<bigint, true>();
  /** The hugetlb pools and their reservations (struct hstate per page size). */
  readonly hstates: Hstates;
  private nextSwapSlot = 1n;
  observer: KernelObserver = quietObserver;
  /** Told of each flush and its IPIs (a report's timeline); none by default. */
  flushObserver: FlushObserver | undefined;
  /** The operation being run (notifier callbacks that must know who invalidates read it). */
  currentOp: Op | undefined;
  readonly flushStats: FlushStats = { flushes: 0, ipisSent: 0, invlpg: 0, fullFlushes: 0, cr3Switches: 0, cr3NoFlush: 0, lazyLeaves: 0, batchedFlushes: 0, syncIpis: 0 };
  readonly hugetlbStats = { pmdShares: 0, pmdUnshares: 0, migrations: 0, migrationsSkipped: 0 };
  readonly vmStats = { faults: 0, segv: 0, cowCopies: 0, swapIns: 0, swapOuts: 0, pagesFreed: 0, tablesFreed: 0 };
  private flushedPendingThisOp = new WeakSet<MmStruct>();

  constructor(readonly machine: Machine, readonly fixes: FixSet, opts: KernelOptions = {}) {
    this.tables = new PageTables(machine);
    this.phys = new PhysicalMemory(machine);
    this.levels = opts.levels ?? 4;
    this.usesPcid = (opts.pcid ?? true) && fixes.has('10af6235e0d3');
    this.initMm = new MmStruct('init_mm', this.tables.newRoot());
    this.loadedMmSwitching = new MmStruct('LOADED_MM_SWITCHING', 0n);
    this.hstates = new Hstates(machine.layout.zone4k, machine.layout.physmem);
    this.notifiers = new MmuNotifiers(fixes);
    this.cpus = [];
    this.perCpu = [];
    for (let cpu = 0; cpu < machine.ncpus; cpu++) {
      this.cpus.push(new CpuTlbState(this.initMm));
      this.perCpu.push({ ipisSent: 0, ipisReceived: 0, invlpg: 0, fullFlushes: 0, cr3Writes: 0 });
      machine.setPagingLevels(cpu, this.levels);
      machine.writeEfer(cpu, EFER);
      machine.writeCr0(cpu, CR0);
      machine.writeCr4(cpu, CR4_PAE | CR4_PGE | (this.levels === 5 ? CR4_LA57 : 0n));
      machine.writeCr3(cpu, this.initMm.pgd);
      if (this.usesPcid) machine.writeCr4(cpu, CR4_PAE | CR4_PGE | CR4_PCIDE | (this.levels === 5 ? CR4_LA57 : 0n));
      this.cpus[cpu].isLazy = true;
    }
  }

  // ---- address spaces ----

  mmAlloc(name: string): MmStruct {
    const mm = new MmStruct(name, this.tables.newRoot());
    this.ptdescs.set(mm.pgd, new PtDesc(mm.pgd, 'pgd', mm));
    this.mms.set(name, mm);
    this.mmsByCtx.set(mm.ctxId, mm);
    return mm;
  }

  /** The CPU now runs a task of `mm` in user mode (a context switch that no trace parks). */
  switchTo(cpu: number, mm: MmStruct): void {
    runToEnd(switchMm(this, undefined, cpu, mm));
    this.cpus[cpu].current = mm;
  }

  newAnonVma(vma: VmArea): AnonVma {
    const av = new AnonVma();
    av.vmas.push(vma);
    return av;
  }

  newHugetlbFile(name: string, size: bigint, pagesize: '2M' | '1G', anonymous = false): HugetlbFile {
    return new HugetlbFile(name, size, pagesize, anonymous);
  }

  // ---- pages ----

  /** put_page: the last reference frees the frame (the oracle audits it first). */
  putPage(page: Page, why: string): void {
    page.refcount--;
    this.putPageIfUnused(page, why);
  }

  putPageIfUnused(page: Page, why: string): void {
    if (page.refcount > 0 || page.mapcount > 0) return;
    if (!page.isAnon) {
      const file = page.mapping as HugetlbFile;
      if (file.pages.get(page.index) === page) return; // the page cache still holds it
    }
    this.freePage(page, why);
  }

  /**
   * A hugetlb page from the pool, or undefined when the pool has none to give (the caller decides what
   * that means: SIGBUS for a fault, ENOMEM for a migration). `reserved`: a reservation of the mapping
   * pays for it, so the pages promised to other mappings may not be counted against it.
   * `evenIfReserved`: take a page promised to someone else (a migration that checked before it parked).
   */
  allocHugePage(size: HugePageSize, reserved: boolean, evenIfReserved = false): bigint | undefined {
    const left = reserved || evenIfReserved ? this.hstates.freeHugePages(size) : this.hstates.unreserved(size);
    if (left <= 0) return undefined;
    const pa = this.phys.alloc(size);
    this.hstates.noteAlloc(pa, size);
    if (reserved) this.hstates.resvHugePages[size]--;
    return pa;
  }

  freePage(page: Page, why: string): void {
    // A page is freed once, by whoever drops its last reference: freeing one the kernel does not
    // hold (freed already, or never allocated) means the model lost count of its references.
    if (this.pages.get(page.pa) !== page || this.phys.sizeOf(page.pa) !== page.size) {
      throw new ModelBugError(`free of the ${page.size} page at 0x${page.pa.toString(16)} (${why}): the kernel does not hold it (freed already?)`);
    }
    this.observer.beforeFree({ frames: [page.pa], tables: [], why });
    this.pages.delete(page.pa);
    if (page.size !== '4K') this.hstates.noteFree(page.pa, page.size);
    this.phys.free(page.pa);
    this.vmStats.pagesFreed++;
  }

  allocSwapSlot(): bigint {
    const slot = this.nextSwapSlot++;
    this.swap.set(slot, true);
    return slot;
  }

  swpOffsetOf(e: bigint): bigint {
    return pteToSwpEntry(this, e)?.offset ?? 0n;
  }
  isWriteMigrationEntry(e: bigint): boolean {
    return pteToSwpEntry(this, e)?.type === SWP_MIGRATION_WRITE;
  }
  mkPteFor(vma: VmArea, page: Page, write: boolean, dirty: boolean): bigint {
    return mkPte(vma, page, write && vma.prot.w, dirty);
  }

  // ---- page tables ----

  /** The address spaces whose PUD entries link the PMD page (ground truth, by walking their tables). */
  sharersOf(pmdPage: bigint): MmStruct[] {
    return [...new Set(this.linksOf(pmdPage).map((l) => l.mm))];
  }

  /** Every PUD entry that links the PMD page: the address space and the PUD-aligned address it maps there. */
  linksOf(pmdPage: bigint): { mm: MmStruct; base: bigint }[] {
    const out: { mm: MmStruct; base: bigint }[] = [];
    for (const mm of this.mms.values()) {
      if (mm.exited) continue;
      const seen = new Set<bigint>();
      for (const vma of mm.vmas) {
        if (vma.file?.pagesize !== '2M') continue;
        for (let a = vma.start & ~((1n << 30n) - 1n); a < vma.end; a += 1n << 30n) {
          if (seen.has(a)) continue;
          const pud = this.walkPud(mm, a);
          if (pud !== undefined && (pud & 0x000f_ffff_ffff_f000n) === pmdPage && (pud & _PAGE_PRESENT) !== 0n) {
            seen.add(a);
            out.push({ mm, base: a });
          }
        }
      }
    }
    return out;
  }

  private walkPud(mm: MmStruct, va: bigint): bigint | undefined {
    let table = mm.pgd;
    const shifts = this.levels === 5 ? [48n, 39n, 30n] : [39n, 30n];
    for (let i = 0; i < shifts.length; i++) {
      const e = this.machine.readEntry(table + ((va >> shifts[i]) & 511n) * 8n);
      if (i === shifts.length - 1) return e;
      if ((e & _PAGE_PRESENT) === 0n) return undefined;
      table = e & 0x000f_ffff_ffff_f000n;
    }
    return undefined;
  }

  // ---- flush helpers shared by several operations ----

  flushTlbRangeOf(cpu: number, vma: VmArea, start: bigint, end: bigint): void {
    flushTlbRange(this, cpu, vma.mm, start, end, vma.hugeShift);
  }

  /** flush_tlb_batched_pending, once per operation and mm (it runs under the first PTL taken). */
  flushTlbBatchedPendingOnce(cpu: number, mm: MmStruct): void {
    if (this.flushedPendingThisOp.has(mm)) return;
    this.flushedPendingThisOp.add(mm);
    if (!this.fixes.has('3ea277194daa') && mm.tlbFlushBatched) {
      this.observer.missedFix('3ea277194daa', {
        mms: [mm], start: 0n, end: 1n << 57n,
        text: `reclaim had cleared ${mm.name}'s entry and deferred the flush; this operation saw the entry already gone and did not flush; fix 3ea277194daa makes it flush the pending batch first (flush_tlb_batched_pending)`,
      });
    }
    flushTlbBatchedPending(this, cpu, mm);
  }

  /** Called by the replay as each operation starts. */
  beginOp(): void {
    this.flushedPendingThisOp = new WeakSet();
  }

  /** The table entry value an upper level gets, exported for tests. */
  static readonly PAGE_TABLE = _PAGE_TABLE;
  static readonly PAGE_RW = _PAGE_RW;
}
