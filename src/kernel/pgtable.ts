// Page-table entries as x86-64 Linux writes them (arch/x86/include/asm/pgtable*.h), and the walks the
// kernel does in software over the real tables in the machine's pool: pgd → (p4d) → pud → pmd → pte.
// Every entry the kernel writes goes through setEntry, which lets the oracle check that the table
// still belongs to the address space being edited.
import type { Machine } from '../mmu/machine.ts';
import type { PageTables } from '../mmu/builder.ts';
import { PtDesc, type MmStruct, type Page, type TableLevel, type VmArea } from './mm_types.ts';
import type { KernelObserver } from './observer.ts';

/** What the page-table helpers use of the kernel (the Kernel of kernel.ts provides it). */
export interface PgtableKernel {
  readonly machine: Machine;
  readonly tables: PageTables;
  readonly levels: 4 | 5;
  readonly ptdescs: Map<bigint, PtDesc>;
  readonly observer: KernelObserver;
}

export const _PAGE_PRESENT = 1n;
export const _PAGE_RW = 1n << 1n;
export const _PAGE_USER = 1n << 2n;
export const _PAGE_ACCESSED = 1n << 5n;
export const _PAGE_DIRTY = 1n << 6n;
export const _PAGE_PSE = 1n << 7n;
export const _PAGE_NX = 1n << 63n;
/** _PAGE_TABLE: what an upper-level entry carries; rights are decided at the leaf. */
export const _PAGE_TABLE = _PAGE_PRESENT | _PAGE_RW | _PAGE_USER | _PAGE_ACCESSED | _PAGE_DIRTY;
export const PTE_PFN_MASK = 0x000f_ffff_ffff_f000n;

const U64 = (1n << 64n) - 1n;

export const pteNone = (e: bigint) => e === 0n;
export const ptePresent = (e: bigint) => (e & _PAGE_PRESENT) !== 0n;
export const pteWrite = (e: bigint) => (e & _PAGE_RW) !== 0n;
export const pteDirty = (e: bigint) => (e & _PAGE_DIRTY) !== 0n;
export const pteYoung = (e: bigint) => (e & _PAGE_ACCESSED) !== 0n;
export const pteLeafFrame = (e: bigint, shift: bigint) => e & PTE_PFN_MASK & ~((1n << shift) - 1n);

// ---- swap and migration entries ----
// Types as include/linux/swap.h numbers them with MAX_SWAPFILES_SHIFT 5: 29 is hwpoison, 30 and 31
// the read and write migration entries; 0 is the swap device.
export const SWP_SWAPFILE = 0;
export const SWP_MIGRATION_READ = 30;
export const SWP_MIGRATION_WRITE = 31;
const SWP_TYPE_BITS = 5n;

/**
 * __swp_entry_to_pte in the layout of the L1TF mitigation (v4.18, backported to the stable v4.4
 * series): the type in bits 63:59 and the offset stored inverted in bits 58:9, so a non-present entry
 * never points at real memory; P, PSE and the protnone bit 8 stay clear. Every profile writes this
 * layout: the older one differs only in where the bits sit, which no walk or flush looks at.
 */
export function swpEntryToPte(_k: PgtableKernel, type: number, offset: bigint): bigint {
  const inv = (~offset << 14n) & U64;
  return ((inv >> SWP_TYPE_BITS) & ((1n << 59n) - 1n) & ~0x1ffn) | (BigInt(type) << 59n);
}

export function pteToSwpEntry(_k: PgtableKernel, e: bigint): { type: number; offset: bigint } | undefined {
  if (pteNone(e) || ptePresent(e)) return undefined;
  const type = Number(e >> 59n);
  const offset = (((~e & U64) << SWP_TYPE_BITS) & U64) >> 14n;
  return { type, offset };
}

export function isMigrationEntry(k: PgtableKernel, e: bigint): boolean {
  const s = pteToSwpEntry(k, e);
  return s !== undefined && (s.type === SWP_MIGRATION_READ || s.type === SWP_MIGRATION_WRITE);
}

export function makeMigrationEntry(k: PgtableKernel, page: Page, write: boolean): bigint {
  return swpEntryToPte(k, write ? SWP_MIGRATION_WRITE : SWP_MIGRATION_READ, page.pa >> 12n);
}

// ---- making leaf entries ----

/** mk_pte / make_huge_pte: a user page with the VMA's protection; huge pages are made young and PSE. */
export function mkPte(vma: VmArea, page: Page, writable: boolean, dirty: boolean): bigint {
  let e = page.pa | _PAGE_PRESENT | _PAGE_USER | _PAGE_ACCESSED;
  if (writable) e |= _PAGE_RW;
  if (dirty) e |= _PAGE_DIRTY;
  if (!vma.prot.x) e |= _PAGE_NX;
  if (page.size !== '4K') e |= _PAGE_PSE;
  return e;
}

// ---- walking and allocating tables ----

const ORDER_4: TableLevel[] = ['pgd', 'pud', 'pmd', 'pte'];
const ORDER_5: TableLevel[] = ['pgd', 'p4d', 'pud', 'pmd', 'pte'];

export function levelShift(k: PgtableKernel, level: TableLevel): bigint {
  switch (level) {
    case 'pgd': return k.levels === 5 ? 48n : 39n;
    case 'p4d': return 39n;
    case 'pud': return 30n;
    case 'pmd': return 21n;
    case 'pte': return 12n;
  }
}

/** Physical address of the entry for `va` at `level` of mm's tables; with `create`, pud_alloc/pmd_alloc/pte_alloc. */
export function walkTo(k: PgtableKernel, mm: MmStruct, va: bigint, level: TableLevel, create = false): bigint | undefined {
  const order = k.levels === 5 ? ORDER_5 : ORDER_4;
  const target = k.levels === 4 && level === 'p4d' ? 'pgd' : level;
  let table = mm.pgd;
  for (let i = 0; i < order.length; i++) {
    const l = order[i];
    const ea = table + ((va >> levelShift(k, l)) & 511n) * 8n;
    if (l === target) return ea;
    const e = k.machine.readEntry(ea);
    if (!ptePresent(e)) {
      if (!create || !pteNone(e)) return undefined;
      const t = allocTable(k, mm, order[i + 1], va & ~((1n << levelShift(k, l)) - 1n));
      k.machine.writeEntry(ea, t | _PAGE_TABLE);
      table = t;
      continue;
    }
    if ((e & _PAGE_PSE) !== 0n) return undefined; // a huge leaf: nothing below it
    table = e & PTE_PFN_MASK;
  }
  return undefined;
}

/** huge_pte_offset: the entry that maps a huge page of `size` at va, if the levels above exist. */
export function hugePteOffset(k: PgtableKernel, mm: MmStruct, va: bigint, size: '2M' | '1G'): bigint | undefined {
  return walkTo(k, mm, va, size === '2M' ? 'pmd' : 'pud');
}

export function allocTable(k: PgtableKernel, mm: MmStruct, level: TableLevel, base = 0n): bigint {
  const pa = k.tables.allocTable();
  k.ptdescs.set(pa, new PtDesc(pa, level, mm, base));
  return pa;
}

/**
 * Frees a page-table page; the oracle audits the CPUs that may still cache a pointer to it. The free
 * drops the owner's reference only: pagetable_free is __free_pages, which frees the page when that was
 * the last one (v6.18 include/linux/mm.h l.3000-3005, mm/page_alloc.c l.5250-5259); a speculative
 * reference still held (speculative_ref.ts) frees it at its put.
 */
export function freeTable(k: PgtableKernel, pa: bigint, why: string): void {
  const d = k.ptdescs.get(pa);
  if (d && d.refcount > 1) {
    d.refcount--;
    d.released = true;
    return;
  }
  reallyFreeTable(k, pa, why, undefined);
}

/** The last reference of a page-table page went: the page goes back to the allocator, whatever it holds. */
export function reallyFreeTable(k: PgtableKernel, pa: bigint, why: string, cpu: number | undefined): void {
  const d = k.ptdescs.get(pa);
  if (d && d.level !== 'pgd') {
    let entries = 0;
    let first = -1n;
    for (let i = 0n; i < 512n; i++) {
      if (pteNone(k.machine.readEntry(pa + i * 8n))) continue;
      entries++;
      if (first < 0n) first = i;
    }
    if (entries) {
      const va = d.base + (first << levelShift(k, d.level));
      k.observer.liveTableFree({ cpu, mm: d.owner, va, table: pa, entries, why });
    }
  }
  k.observer.beforeFree({ tables: [pa], frames: [], why });
  k.ptdescs.delete(pa);
  k.tables.freeTable(pa);
}

export const tableOfEntry = (ea: bigint) => ea & ~0xfffn;

/**
 * set_pte_at / set_huge_pte_at / pud_clear: every entry the kernel writes for mm at va. The oracle is
 * told when the table is not (or no longer) part of mm's tables at that address.
 */
export function setEntry(k: PgtableKernel, mm: MmStruct, va: bigint, level: TableLevel, ea: bigint, value: bigint, by: string): void {
  const linked = walkTo(k, mm, va, level);
  if (linked !== ea) k.observer.foreignTableWrite({ mm, va, table: tableOfEntry(ea), by, freed: !k.ptdescs.has(tableOfEntry(ea)) });
  if (k.ptdescs.has(tableOfEntry(ea))) k.machine.writeEntry(ea, value);
}

export function readEntry(k: PgtableKernel, ea: bigint): bigint {
  return k.machine.readEntry(ea);
}
