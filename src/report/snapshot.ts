// What every CPU and device caches for one address at one moment (a violation), next to what the page
// tables say: the TLB entries that translate it, the paging-structure-cache entries a walk of it would
// start from (SDM 4.10.3), each with the frame or table it points at, and whether the page tables
// still agree. Read from the machine's TLB/PSC arrays and the devices' own TLBs; nothing is changed.
import type { Kernel } from '../kernel/kernel.ts';
import type { MmStruct } from '../kernel/mm_types.ts';
import type { SecondaryMmu } from '../devices/secondary-mmu.ts';
import { kernPcid } from '../kernel/tlbflush.ts';
import { isMigrationEntry } from '../kernel/pgtable.ts';
import type { PageSize } from '../mmu/model.ts';

const SIZE: Record<PageSize, bigint> = { '4K': 1n << 12n, '2M': 1n << 21n, '1G': 1n << 30n };
const SHIFT: Record<PageSize, bigint> = { '4K': 12n, '2M': 21n, '1G': 30n };
/** The address bits a paging-structure-cache entry of each array is tagged with (SDM 4.10.3.1). */
const PSC_SHIFT: Record<string, bigint> = { pml5: 48n, pml4: 39n, pdpte: 30n, pde: 21n };
/** The table level a PSC entry of each array points at. */
const PSC_TARGET: Record<string, string> = { pml5: 'p4d', pml4: 'pud', pdpte: 'pmd', pde: 'pte' };
const FRAME = 0x000f_ffff_ffff_f000n;
const hex = (v: bigint) => `0x${v.toString(16)}`;

export interface CachedTlbEntry {
  array: string;
  size: PageSize;
  va: string;
  pcid: number;
  /** The address space whose context the PCID holds on that CPU (undefined: none, or init_mm). */
  mm?: string;
  frame: string;
  writable: boolean;
  dirty: boolean;
  global: boolean;
  /** The page tables of `mm` translate va to this frame (with at least these rights). */
  agrees: boolean;
  /** The frame was freed or reused since the entry was filled (its generation moved on). */
  freed: boolean;
}

export interface CachedPscEntry {
  array: string;
  va: string;
  pcid: number;
  mm?: string;
  /** The page table it points at (a walk continues there), and that table's level. */
  table: string;
  level: string;
  agrees: boolean;
  freed: boolean;
}

export interface CpuView {
  cpu: number;
  /** The address space in CR3, and whether the CPU runs a task of it or holds it lazily. */
  loaded: string;
  lazy: boolean;
  tlb: CachedTlbEntry[];
  psc: CachedPscEntry[];
}

export interface DeviceView {
  device: string;
  kind: string;
  mm: string;
  entries: { va: string; size: PageSize; frame: string; writable: boolean; filledAt: number; agrees: boolean; freed: boolean }[];
}

export interface TableLevel {
  level: string;
  /** The table read, the index in it, the entry found. */
  table: string;
  index: number;
  entry: string;
  present: boolean;
  /** The entry maps a page (PS at PDPTE/PDE level, or a PTE). */
  leaf: boolean;
  /** A non-present entry that holds a migration entry (the page is being migrated). */
  migration?: boolean;
}

export interface TableView {
  mm: string;
  walk: TableLevel[];
  /** The frame the tables translate va to, with its page size and writability; none when unmapped. */
  maps?: { frame: string; size: PageSize; writable: boolean };
}

export interface Snapshot {
  /** The index of the violation in the report's violations, its line and the timeline moment. */
  violation: number;
  line: number;
  t: number;
  va: string;
  cpus: CpuView[];
  devices: DeviceView[];
  tables: TableView[];
}

function mmByCtx(k: Kernel, ctx: bigint): MmStruct | undefined {
  for (const mm of k.mms.values()) if (mm.ctxId === ctx) return mm;
  return undefined;
}

/** The address space whose translations PCID `pcid` holds on the CPU. */
function mmOfPcid(k: Kernel, cpu: number, pcid: number): MmStruct | undefined {
  const s = k.cpus[cpu];
  if (!k.usesPcid) return pcid === 0 && s.loadedMm !== k.initMm ? s.loadedMm : undefined;
  const asid = pcid - 1;
  const slot = s.ctxs[asid];
  if (!slot || kernPcid(asid) !== pcid) return undefined;
  const mm = mmByCtx(k, slot.ctxId);
  return mm === k.initMm ? undefined : mm;
}

/** The walk of mm's tables for va, level by level. */
export function walkTables(k: Kernel, mm: MmStruct, va: bigint): TableView {
  const names = k.levels === 5 ? ['pgd', 'p4d', 'pud', 'pmd', 'pte'] : ['pgd', 'pud', 'pmd', 'pte'];
  const shifts = k.levels === 5 ? [48n, 39n, 30n, 21n, 12n] : [39n, 30n, 21n, 12n];
  const walk: TableLevel[] = [];
  let table = mm.pgd;
  for (let i = 0; i < names.length; i++) {
    const index = Number((va >> shifts[i]) & 511n);
    const e = k.machine.readEntry(table + BigInt(index) * 8n);
    const present = (e & 1n) !== 0n;
    const leaf = present && (names[i] === 'pte' || ((names[i] === 'pud' || names[i] === 'pmd') && (e & 0x80n) !== 0n));
    walk.push({ level: names[i], table: hex(table), index, entry: hex(e), present, leaf, ...(!present && e !== 0n && isMigrationEntry(k, e) ? { migration: true } : {}) });
    if (!present) return { mm: mm.name, walk };
    if (leaf) {
      const size: PageSize = names[i] === 'pte' ? '4K' : names[i] === 'pmd' ? '2M' : '1G';
      return { mm: mm.name, walk, maps: { frame: hex(e & FRAME & ~(SIZE[size] - 1n)), size, writable: (e & 2n) !== 0n } };
    }
    table = e & FRAME;
  }
  return { mm: mm.name, walk };
}

function tableAt(view: TableView, level: string): string | undefined {
  return view.walk.find((l) => l.level === level)?.table;
}

/** The caches of every CPU and device for va, and the tables of every address space mapping it. */
export function takeSnapshot(k: Kernel, devices: readonly SecondaryMmu[], va: bigint, at: { violation: number; line: number; t: number }): Snapshot {
  const tables = new Map<MmStruct, TableView>();
  for (const mm of k.mms.values()) if (!mm.exited && mm.findVma(va)) tables.set(mm, walkTables(k, mm, va));
  const viewOf = (mm: MmStruct) => {
    let v = tables.get(mm);
    if (!v && !mm.exited) tables.set(mm, (v = walkTables(k, mm, va)));
    return v;
  };
  const freed = (slot: number, stamp: number) => ((k.machine.readGeneration(slot) & 0x7fffffff) >>> 0) !== stamp;
  const cpus: CpuView[] = [];
  for (let cpu = 0; cpu < k.cpus.length; cpu++) {
    const s = k.cpus[cpu];
    const tlb: CachedTlbEntry[] = [];
    for (const e of k.machine.tlbEntries(cpu)) {
      const base = e.page << SHIFT[e.size];
      if (va < base || va >= base + SIZE[e.size]) continue;
      const mm = mmOfPcid(k, cpu, e.pcid);
      const view = mm && viewOf(mm);
      const agrees = !!view?.maps && view.maps.frame === hex(e.frame) && (view.maps.writable || !e.w);
      tlb.push({ array: e.array, size: e.size, va: hex(base), pcid: e.pcid, mm: mm?.name, frame: hex(e.frame), writable: e.w, dirty: e.d, global: e.global, agrees, freed: freed(e.slot, e.stamp) });
    }
    const psc: CachedPscEntry[] = [];
    for (const p of k.machine.pscEntries(cpu)) {
      const shift = PSC_SHIFT[p.array];
      if (va >> shift !== p.page) continue;
      const mm = mmOfPcid(k, cpu, p.pcid);
      const view = mm && viewOf(mm);
      const level = PSC_TARGET[p.array];
      psc.push({ array: p.array, va: hex(p.page << shift), pcid: p.pcid, mm: mm?.name, table: hex(p.table), level, agrees: !!view && tableAt(view, level) === hex(p.table), freed: freed(p.slot, p.stamp) });
    }
    cpus.push({ cpu, loaded: s.loadedMm.name, lazy: s.isLazy, tlb, psc });
  }
  const devs: DeviceView[] = devices.map((d) => {
    const view = viewOf(d.mm);
    const entries = [...d.entries.values()]
      .filter((e) => va >= e.va && va < e.va + d.sizeOf(e))
      .map((e) => ({
        va: hex(e.va), size: e.size, frame: hex(e.pa), writable: e.writable, filledAt: e.line,
        agrees: !!view?.maps && view.maps.frame === hex(e.pa) && (view.maps.writable || !e.writable), freed: freed(e.slot, e.stamp),
      }));
    return { device: d.name, kind: d.kind, mm: d.mm.name, entries };
  });
  return { ...at, va: hex(va), cpus, devices: devs, tables: [...tables.values()] };
}
