// What an MMU implementation looks like from the outside: the WebAssembly machine (machine.ts) and
// the reference model (reference.ts) both implement MmuModel, so tests and benchmarks can drive
// either and compare them. Semantics: docs/hardware.md.
import * as L from '../../assembly/layout.ts';

export type ArrayName = 'dtlb4k' | 'dtlb2m' | 'dtlb1g' | 'stlb' | 'stlb1g' | 'pml5' | 'pml4' | 'pdpte' | 'pde';
/** Array names in layout order (index = A_* constant). */
export const ARRAY_NAMES: readonly ArrayName[] = ['dtlb4k', 'dtlb2m', 'dtlb1g', 'stlb', 'stlb1g', 'pml5', 'pml4', 'pdpte', 'pde'];
export const TLB_ARRAYS: readonly ArrayName[] = ARRAY_NAMES.slice(0, L.N_TLB_ARRAYS);
export const PSC_ARRAYS: readonly ArrayName[] = ARRAY_NAMES.slice(L.N_TLB_ARRAYS);

export interface ArrayGeometry {
  sets: number; // a power of two, or 0 for an absent array
  ways: number;
}
export type Geometry = Record<ArrayName, ArrayGeometry>;

/** Skylake (Intel 248966-045 table 2-15) TLBs; small paging-structure caches. */
export const CAPACITY_GEOMETRY: Geometry = {
  dtlb4k: { sets: 16, ways: 4 },
  dtlb2m: { sets: 8, ways: 4 },
  dtlb1g: { sets: 1, ways: 4 },
  stlb: { sets: 128, ways: 12 },
  stlb1g: { sets: 4, ways: 4 },
  pml5: { sets: 1, ways: 2 },
  pml4: { sets: 1, ways: 4 },
  pdpte: { sets: 1, ways: 8 },
  pde: { sets: 8, ways: 4 },
};

/** Large enough that nothing is evicted in practice: the oracle's view of the hardware. */
export const RETENTIVE_GEOMETRY: Geometry = {
  dtlb4k: { sets: 4096, ways: 8 },
  dtlb2m: { sets: 512, ways: 8 },
  dtlb1g: { sets: 16, ways: 8 },
  stlb: { sets: 0, ways: 0 },
  stlb1g: { sets: 0, ways: 0 },
  pml5: { sets: 1, ways: 8 },
  pml4: { sets: 16, ways: 8 },
  pdpte: { sets: 64, ways: 8 },
  pde: { sets: 512, ways: 8 },
};

export type PageSize = '4K' | '2M' | '1G';
export const PAGE_SHIFT: Record<PageSize, bigint> = { '4K': 12n, '2M': 21n, '1G': 30n };

/** Access kinds: combine K_WRITE / K_FETCH / K_SUPERVISOR from the layout. */
export const KIND = { read: 0, write: L.K_WRITE, fetch: L.K_FETCH, supervisor: L.K_SUPERVISOR } as const;

export type AccessResult =
  | { status: 'ok'; pa: bigint }
  | { status: 'page-fault'; errorCode: number; cr2: bigint }
  | { status: 'general-protection' };

/** A cached translation, decoded. `page` is LA[56:shift] (the page number of its size). */
export interface TlbEntry {
  array: ArrayName;
  set: number;
  way: number;
  size: PageSize;
  page: bigint;
  pcid: number; // 0 for a global entry
  global: boolean;
  frame: bigint; // physical address of the page
  w: boolean;
  u: boolean;
  xd: boolean;
  d: boolean;
  pk: number;
  slot: number; // oracle generation slot of the frame
  stamp: number; // generation remembered (bit 31 clear)
}

/** A paging-structure-cache entry, decoded. `page` is LA[56:shift] for the level's shift. */
export interface PscEntry {
  array: ArrayName;
  set: number;
  way: number;
  page: bigint;
  pcid: number;
  table: bigint; // physical address of the next table
  w: boolean;
  u: boolean;
  xd: boolean;
  src: bigint; // physical address of the entry it was filled from
  slot: number;
  stamp: number;
}

/** 'accessed-dirty' is not the oracle's: a deferred A/D update (Machine.runBatch with deferAccessedDirty). */
export type OracleEventKind = 'tlb-stale' | 'psc-stale' | 'write-in-copy' | 'accessed-dirty';
export interface OracleEvent {
  kind: OracleEventKind;
  index: number; // batch index of the access (0 for single accesses)
  va: bigint;
  pa: bigint; // frame for tlb-stale / write-in-copy, table for psc-stale
  slot: number;
  stamp: number;
}

export type CounterName =
  | 'accesses' | 'reads' | 'writes' | 'fetches'
  | 'dtlb4kHits' | 'dtlb2mHits' | 'dtlb1gHits' | 'stlb4kHits' | 'stlb2mHits' | 'stlb1gHits'
  | 'tlbMisses' | 'walks' | 'walkLoads' | 'walkRestarts'
  | 'pscPml5Hits' | 'pscPml4Hits' | 'pscPdpteHits' | 'pscPdeHits'
  | 'aSets' | 'dSets' | 'dirtyRewalks' | 'pageFaults' | 'gpFaults'
  | 'invlpg' | 'invpcid0' | 'invpcid1' | 'invpcid2' | 'invpcid3'
  | 'cr3Flush' | 'cr3NoFlush' | 'cr4Flush' | 'pfInvalidations'
  | 'tlbStale' | 'pscStale' | 'writeInCopy' | 'retentionOverflows';

/** Counter names in layout order, derived from the C_* constants (C_DTLB4K_HITS → dtlb4kHits). */
export const COUNTER_NAMES: readonly CounterName[] = (() => {
  const names: CounterName[] = [];
  for (const [key, value] of Object.entries(L)) {
    if (!key.startsWith('C_')) continue;
    const camel = key.slice(2).toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
    names[value as number] = camel as CounterName;
  }
  if (names.length !== L.N_COUNTERS || names.some((n) => n === undefined)) throw new Error('layout: counter indexes are not dense');
  return names;
})();
export type Counters = Record<CounterName, bigint>;

export interface MachineConfig {
  ncpus: number;
  maxphyaddr?: number; // default 46
  page1gb?: boolean; // default true
  mode?: 'capacity' | 'retentive'; // default 'retentive' geometry choice when geometry is not given
  geometry?: Partial<Geometry>;
  physmem?: bigint; // simulated physical memory, default 64 GiB
  zone4k?: bigint; // generation slots per 4 KiB below this, per 2 MiB above; default 16 GiB
  poolFrames?: number; // initial page-table frames, default 4096 (16 MiB)
  batchCapacity?: number; // accesses per batch, default 4096
  eventCapacity?: number; // oracle events per CPU ring, default 256
}

/** The operations both implementations provide (docs/hardware.md). Register writes return false on #GP. */
export interface MmuModel {
  readonly ncpus: number;
  readonly geometry: Geometry;
  reset(cpu: number): void;
  setPagingLevels(cpu: number, levels: 4 | 5): void;
  writeCr0(cpu: number, value: bigint): boolean;
  writeCr3(cpu: number, value: bigint): boolean;
  writeCr4(cpu: number, value: bigint): boolean;
  writeEfer(cpu: number, value: bigint): boolean;
  writeRflags(cpu: number, value: bigint): boolean;
  writePkru(cpu: number, value: number): boolean;
  readCr(cpu: number): { cr0: bigint; cr3: bigint; cr4: bigint; efer: bigint; rflags: bigint; pkru: number; pcid: number };
  invlpg(cpu: number, la: bigint): void;
  invpcid(cpu: number, type: number, pcid: number, la: bigint): boolean;
  access(cpu: number, la: bigint, kind: number): AccessResult;
  /** Runs accesses in order, stopping at the first fault; returns how many completed and how it stopped. */
  accessBatch(cpu: number, las: readonly bigint[], kinds: readonly number[]): { done: number; results: AccessResult[] };
  tlbEntries(cpu: number): TlbEntry[];
  pscEntries(cpu: number): PscEntry[];
  counters(cpu: number): Counters;
  /** Takes the oracle events recorded so far (and empties the ring). */
  drainEvents(cpu: number): OracleEvent[];
  /** Generation slots (oracle). */
  slotOf(pa: bigint): number;
  readGeneration(slot: number): number;
  writeGeneration(slot: number, value: number): void;
  /** Physical memory holding the page tables: 8-byte entries at physical addresses. */
  readEntry(pa: bigint): bigint;
  writeEntry(pa: bigint, value: bigint): void;
}
