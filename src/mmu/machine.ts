// The WebAssembly machine as the host sees it: N CPUs over one shared memory. Control operations go
// through the core's exports; accesses go through the batch areas in memory, one call per batch.
import * as L from '../../assembly/layout.ts';
import {
  ARRAY_NAMES, COUNTER_NAMES, TLB_ARRAYS,
  type AccessResult, type ArrayName, type Counters, type Geometry, type MachineConfig, type MmuModel,
  type OracleEvent, type OracleEventKind, type PageSize, type PscEntry, type TlbEntry,
} from './model.ts';
import { computeLayout, readLayout, slotOf, writeHeader, WASM_PAGE, MAX_WASM_PAGES, type Layout } from './memory.ts';
import { compileCore, instantiateCore, type CoreExports, type CoreSource } from './loader.ts';
import { ArgumentError, CpuRangeError, OutOfMemoryError, TableAddressError } from './errors.ts';

const U64 = (1n << 64n) - 1n;
const FRAME_BITS = 0x000f_ffff_ffff_f000n;
const PAGE_FIELD = (1n << BigInt(L.TAG_SIZE_SHIFT - L.TAG_PAGE_SHIFT)) - 1n; // a TLB tag's page number
const SIZES: PageSize[] = ['4K', '2M', '1G'];
/** LA[56:0], the linear-address bits tags are made of (assembly LA_BITS). */
const LA_MASK = (1n << 57n) - 1n;
/** The page sizes (shifts) each TLB array holds, in A_* order: the STLB holds 4 KiB and 2 MiB pages. */
const TLB_SHIFTS: readonly (readonly number[])[] = [[12], [21], [30], [12, 21], [30]];
/** The linear-address bits above each paging-structure cache's tag (PML5, PML4, PDPTE, PDE). */
const PSC_SHIFTS: readonly number[] = [48, 39, 30, 21];
/** The event ring's kind codes (assembly/layout.ts EVK_*), as the host names them. */
export const EVENT_KINDS: Record<number, OracleEventKind> = {
  [L.EVK_TLB_STALE]: 'tlb-stale',
  [L.EVK_PSC_STALE]: 'psc-stale',
  [L.EVK_WRITE_IN_COPY]: 'write-in-copy',
  [L.EVK_ACCESSED_DIRTY]: 'accessed-dirty',
};

export interface BatchStop {
  /** How many accesses completed. */
  done: number;
  status: 'ok' | 'page-fault' | 'general-protection' | 'events-full';
  errorCode: number;
  cr2: bigint;
}

export class Machine implements MmuModel {
  readonly layout: Layout;
  private u8!: Uint8Array;
  private dv!: DataView;
  private u32!: Uint32Array;
  private i64!: BigInt64Array;

  private constructor(
    readonly core: CoreExports,
    readonly memory: WebAssembly.Memory,
    layout: Layout,
    /** The compiled core this machine runs (workers attach with the same). */
    readonly module: WebAssembly.Module,
  ) {
    this.layout = layout;
    this.refreshViews();
  }

  /**
   * A new machine: lays out a fresh shared memory and resets every CPU. `options.core` gives the
   * WebAssembly core — a URL (in a page fetched and compiled as it streams; in Node read from its
   * file), its bytes, or a compiled WebAssembly.Module; by default build/mmu.wasm next to the package.
   */
  static async create(config: MachineConfig, options: { core?: CoreSource } = {}): Promise<Machine> {
    const layout = computeLayout(config);
    const bytes = layout.poolBase + layout.poolBytes;
    const memory = new WebAssembly.Memory({ initial: Math.ceil(bytes / WASM_PAGE), maximum: MAX_WASM_PAGES, shared: true });
    writeHeader(memory.buffer, layout);
    const module = await compileCore(options.core);
    const core = await instantiateCore(module, memory);
    const machine = new Machine(core, memory, layout, module);
    for (let cpu = 0; cpu < layout.ncpus; cpu++) core.cpuReset(cpu);
    return machine;
  }

  /** Attaches to a machine another thread created (the header says how the memory is laid out). */
  static async attach(memory: WebAssembly.Memory, module?: WebAssembly.Module): Promise<Machine> {
    const layout = readLayout(memory.buffer);
    const compiled = module ?? (await compileCore());
    const core = await instantiateCore(compiled, memory);
    return new Machine(core, memory, layout, compiled);
  }

  get ncpus(): number {
    return this.layout.ncpus;
  }
  get geometry(): Geometry {
    return this.layout.geometry;
  }

  /** Typed views keep the length they were made with: make new ones after the memory grew. */
  private refreshViews(): void {
    const buf = this.memory.buffer;
    if (this.u8 && this.u8.byteLength === buf.byteLength) return;
    this.u8 = new Uint8Array(buf);
    this.dv = new DataView(buf);
    this.u32 = new Uint32Array(buf);
    this.i64 = new BigInt64Array(buf);
  }

  private block(cpu: number): number {
    if (!Number.isInteger(cpu) || cpu < 0 || cpu >= this.layout.ncpus) throw new CpuRangeError(cpu, this.layout.ncpus);
    this.refreshViews();
    return this.layout.cpuBase + cpu * this.layout.cpuStride;
  }

  private static u64(name: string, v: bigint): bigint {
    if (typeof v !== 'bigint' || v < 0n || v > U64) throw new ArgumentError(`${name} must be a BigInt in [0, 2^64) (got ${String(v)})`);
    return v;
  }

  // ---- registers ----
  reset(cpu: number): void {
    this.block(cpu);
    this.core.cpuReset(cpu);
  }
  setPagingLevels(cpu: number, levels: 4 | 5): void {
    this.block(cpu);
    if (levels !== 4 && levels !== 5) throw new ArgumentError(`paging levels must be 4 or 5 (got ${levels})`);
    this.core.setPagingLevels(cpu, levels);
  }
  writeCr0(cpu: number, value: bigint): boolean {
    this.block(cpu);
    return this.core.writeCr0(cpu, Machine.u64('CR0', value)) === 1;
  }
  writeCr3(cpu: number, value: bigint): boolean {
    this.block(cpu);
    return this.core.writeCr3(cpu, Machine.u64('CR3', value)) === 1;
  }
  writeCr4(cpu: number, value: bigint): boolean {
    this.block(cpu);
    return this.core.writeCr4(cpu, Machine.u64('CR4', value)) === 1;
  }
  writeEfer(cpu: number, value: bigint): boolean {
    this.block(cpu);
    return this.core.writeEfer(cpu, Machine.u64('EFER', value)) === 1;
  }
  writeRflags(cpu: number, value: bigint): boolean {
    this.block(cpu);
    return this.core.writeRflags(cpu, Machine.u64('RFLAGS', value)) === 1;
  }
  writePkru(cpu: number, value: number): boolean {
    this.block(cpu);
    if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new ArgumentError(`PKRU must be a u32 (got ${value})`);
    return this.core.writePkru(cpu, value) === 1;
  }
  readCr(cpu: number) {
    const b = this.block(cpu);
    const q = (off: number) => this.dv.getBigUint64(b + off, true);
    return {
      cr0: q(L.CPU_CR0), cr3: q(L.CPU_CR3), cr4: q(L.CPU_CR4), efer: q(L.CPU_EFER), rflags: q(L.CPU_RFLAGS),
      pkru: this.dv.getUint32(b + L.CPU_PKRU, true), pcid: this.dv.getUint32(b + L.CPU_PCID, true),
    };
  }

  // ---- invalidations ----
  invlpg(cpu: number, la: bigint): void {
    this.block(cpu);
    this.core.invlpg(cpu, Machine.u64('linear address', la));
  }
  invpcid(cpu: number, type: number, pcid: number, la: bigint): boolean {
    this.block(cpu);
    if (!Number.isInteger(type) || !Number.isInteger(pcid)) throw new ArgumentError('INVPCID type and PCID must be whole numbers');
    return this.core.invpcid(cpu, type, pcid, Machine.u64('linear address', la)) === 1;
  }

  // ---- accesses ----
  /** The batch area of a CPU: records of 4 u32 (LA low, LA high, kind, unused) and u64 results. */
  batchArea(cpu: number): { records: Uint32Array; results: BigUint64Array; capacity: number } {
    const b = this.block(cpu);
    const cap = this.layout.batchCapacity;
    return {
      records: new Uint32Array(this.memory.buffer, b + this.layout.batchOff, cap * 4),
      results: new BigUint64Array(this.memory.buffer, b + this.layout.resultOff, cap),
      capacity: cap,
    };
  }

  /**
   * The same batch area in column form: `capacity` u64 linear addresses, then `capacity` u8 kinds.
   * A host that holds its accesses as columns fills it with two block copies and runs it with
   * runBatch(…, columns = true); it is one area, so one form at a time.
   */
  batchColumns(cpu: number): { va: BigUint64Array; kind: Uint8Array; capacity: number } {
    const b = this.block(cpu);
    const cap = this.layout.batchCapacity;
    return {
      va: new BigUint64Array(this.memory.buffer, b + this.layout.batchOff, cap),
      kind: new Uint8Array(this.memory.buffer, b + this.layout.batchOff + 8 * cap, cap),
      capacity: cap,
    };
  }

  /**
   * Runs records [start, start + count) of the CPU's batch area; one call into the core. With
   * `deferAccessedDirty` the batch writes no A/D bit: each update it would make is an
   * 'accessed-dirty' event in the CPU's ring (pa = the entry, slot = the bits) for the host to apply
   * (docs/hardware.md, "Deferred A/D updates"). `columns`: the area is in column form (batchColumns).
   */
  runBatch(cpu: number, start: number, count: number, wantResults = false, deferAccessedDirty = false, columns = false): BatchStop {
    const b = this.block(cpu);
    if (!Number.isInteger(start) || !Number.isInteger(count) || start < 0 || count < 0 || start + count > this.layout.batchCapacity) {
      throw new ArgumentError(`batch range [${start}, ${start + count}) is outside the batch area of ${this.layout.batchCapacity} records`);
    }
    const done = this.core.runBatch(cpu, start, count, (wantResults ? L.RUN_RESULTS : 0) | (deferAccessedDirty ? L.RUN_DEFER_AD : 0) | (columns ? L.RUN_COLUMNS : 0));
    return this.stopOf(b, done);
  }

  private stopOf(b: number, done: number): BatchStop {
    const st = this.dv.getUint32(b + L.CPU_STATUS, true);
    const status = st === L.ST_OK ? 'ok' : st === L.ST_PAGE_FAULT ? 'page-fault' : st === L.ST_GENERAL_PROTECTION ? 'general-protection' : 'events-full';
    return { done, status, errorCode: this.dv.getUint32(b + L.CPU_ERROR_CODE, true), cr2: this.dv.getBigUint64(b + L.CPU_CR2, true) };
  }

  access(cpu: number, la: bigint, kind: number): AccessResult {
    return this.accessBatch(cpu, [la], [kind]).results[0];
  }

  accessBatch(cpu: number, las: readonly bigint[], kinds: readonly number[]): { done: number; results: AccessResult[] } {
    const b = this.block(cpu);
    if (las.length !== kinds.length) throw new ArgumentError(`${las.length} addresses but ${kinds.length} kinds`);
    las.forEach((la, i) => Machine.u64(`linear address [${i}]`, la));
    kinds.forEach((k, i) => {
      if (k !== 0 && k !== 1 && k !== 2 && k !== 4 && k !== 5 && k !== 6) throw new ArgumentError(`access kind [${i}] must combine K_WRITE or K_FETCH (not both) with K_SUPERVISOR (got ${k})`);
    });
    const results: AccessResult[] = [];
    const cap = this.layout.batchCapacity;
    let done = 0;
    // The column form (batchColumns): the differential tests hold it to the reference model.
    const { va, kind } = this.batchColumns(cpu);
    for (let at = 0; at < las.length; ) {
      const n = Math.min(cap, las.length - at);
      for (let i = 0; i < n; i++) {
        va[i] = las[at + i];
        kind[i] = kinds[at + i];
      }
      const eventsBefore = this.dv.getUint32(b + L.CPU_EVENT_COUNT, true);
      const k = this.core.runBatch(cpu, 0, n, L.RUN_RESULTS | L.RUN_COLUMNS);
      const stop = this.stopOf(b, k);
      // The core numbers events by their index in this chunk; the caller's index counts from the
      // start of the call.
      if (at > 0) {
        const eventsAfter = this.dv.getUint32(b + L.CPU_EVENT_COUNT, true);
        for (let e = eventsBefore; e < eventsAfter; e++) {
          const p = b + this.layout.eventOff + e * L.EVENT_BYTES + L.EV_INDEX;
          this.dv.setUint32(p, this.dv.getUint32(p, true) + at, true);
        }
      }
      for (let i = 0; i < k; i++) results.push({ status: 'ok', pa: this.dv.getBigUint64(b + this.layout.resultOff + 8 * i, true) });
      done += k;
      if (stop.status === 'page-fault') results.push({ status: 'page-fault', errorCode: stop.errorCode, cr2: stop.cr2 });
      if (stop.status === 'general-protection') results.push({ status: 'general-protection' });
      // A full event ring stops the batch after the access that filled it, as the contract says.
      if (stop.status !== 'ok') return { done, results };
      at += n;
    }
    return { done, results };
  }

  // ---- cached state ----
  tlbEntries(cpu: number): TlbEntry[] {
    return this.scanTlb(cpu, undefined);
  }

  /**
   * The TLB entries whose frame lies in one of the ranges [start, end) (physical addresses as
   * Numbers): what an audit before a free asks for, without decoding every entry.
   */
  tlbEntriesInFrames(cpu: number, ranges: readonly (readonly [number, number])[]): TlbEntry[] {
    const b = this.block(cpu);
    // The core scans the slots (tlbScanFrames); only the matches are decoded here.
    const offsets = new Set<number>();
    for (const [lo, hi] of ranges) {
      const n = this.core.tlbScanFrames(cpu, BigInt(lo), BigInt(hi));
      if (n < 0) return this.scanTlb(cpu, ranges);
      const at = (b + this.layout.resultOff) >> 2;
      for (let i = 0; i < n; i++) offsets.add(this.u32[at + i]);
    }
    const out: TlbEntry[] = [];
    for (const off of [...offsets].sort((x, y) => x - y)) {
      let a = 0;
      while (a + 1 < TLB_ARRAYS.length && this.layout.arrayOffsets[a + 1] <= off) a++;
      out.push(this.decodeTlb(b, TLB_ARRAYS[a], a, (off - this.layout.arrayOffsets[a]) / L.ENTRY_BYTES));
    }
    return out;
  }

  /**
   * The TLB entries whose page lies in the linear range [start, end): what an audit of a range asks
   * for. An array keeps page p in set p mod sets, so a range of fewer pages than the array has sets
   * is looked up in those sets only; a larger one is scanned slot by slot, filtered on the tag. Only
   * the matches are decoded. Same order as tlbEntries (array, then slot). `slotsLooked` counts the
   * slots examined (tests check that an audit costs what its range covers, not what the TLB holds).
   */
  tlbEntriesInRange(cpu: number, start: bigint, end: bigint): TlbEntry[] {
    const b = this.block(cpu);
    const out: TlbEntry[] = [];
    TLB_ARRAYS.forEach((array, a) => {
      for (const i of this.slotsInRange(b, a, start, end, L.E_TAG, TLB_SHIFTS[a])) out.push(this.decodeTlb(b, array, a, i));
    });
    return out;
  }

  /** The paging-structure-cache entries for linear addresses in [start, end), as tlbEntriesInRange. */
  pscEntriesInRange(cpu: number, start: bigint, end: bigint): PscEntry[] {
    const b = this.block(cpu);
    const out: PscEntry[] = [];
    for (let a = L.N_TLB_ARRAYS; a < ARRAY_NAMES.length; a++) {
      for (const i of this.slotsInRange(b, a, start, end, L.P_TAG, [PSC_SHIFTS[a - L.N_TLB_ARRAYS]])) out.push(this.decodePsc(b, ARRAY_NAMES[a], a, i));
    }
    return out;
  }

  /** Slots examined by tlbEntriesInRange and pscEntriesInRange since the machine was made. */
  slotsLooked = 0;
  /** TLB and paging-structure-cache entries decoded for the host since the machine was made. */
  entriesDecoded = 0;

  /**
   * The valid slots (set-major indexes, ascending) of array `a` whose tag names a page of one of the
   * sizes `shifts` (the array's; for the STLB, 4 KiB and 2 MiB) inside [start, end).
   */
  private slotsInRange(b: number, a: number, start: bigint, end: bigint, tagOff: number, shifts: readonly number[]): number[] {
    const { sets, ways } = this.layout.geometry[ARRAY_NAMES[a]];
    if (sets === 0 || end <= start) return [];
    const u32 = this.u32;
    const off = b + this.layout.arrayOffsets[a];
    const multi = shifts.length > 1;
    // Page bounds per size code (tag bits 62:61 in a TLB tag; a PSC tag has none: code 0).
    const lo: number[] = [];
    const hi: number[] = [];
    let pages = 0;
    for (const sh of shifts) {
      const code = sh === 12 ? 0 : sh === 21 ? 1 : sh === 30 ? 2 : 0;
      lo[code] = Number((start & LA_MASK) >> BigInt(sh));
      hi[code] = Number(((end - 1n) & LA_MASK) >> BigInt(sh));
      pages += hi[code] - lo[code] + 1;
    }
    const matches = (q: number): boolean => {
      const tlo = u32[q];
      if ((tlo & 1) === 0) return false;
      const thi = u32[q + 1];
      const code = multi ? (thi >>> 29) & 3 : shifts[0] === 12 ? 0 : shifts[0] === 21 ? 1 : shifts[0] === 30 ? 2 : 0;
      if (lo[code] === undefined) return false;
      // The page number: tag bits 60:13 (below 2^48, exact in a Number).
      const page = (thi & 0x1fffffff) * 524288 + (tlo >>> 13);
      return page >= lo[code] && page <= hi[code];
    };
    const out: number[] = [];
    if (pages >= sets) {
      this.slotsLooked += sets * ways;
      for (let i = 0, q = (off + tagOff) >> 2, n = sets * ways; i < n; i++, q += L.ENTRY_BYTES >> 2) if (matches(q)) out.push(i);
      return out;
    }
    const seen = new Set<number>();
    for (const sh of shifts) {
      const code = sh === 12 ? 0 : sh === 21 ? 1 : sh === 30 ? 2 : 0;
      for (let p = lo[code]; p <= hi[code]; p++) {
        const set = p & (sets - 1);
        if (seen.has(set)) continue;
        seen.add(set);
        this.slotsLooked += ways;
        for (let w = 0; w < ways; w++) {
          const i = set * ways + w;
          if (matches((off + i * L.ENTRY_BYTES + tagOff) >> 2)) out.push(i);
        }
      }
    }
    return out.sort((x, y) => x - y);
  }

  /** The paging-structure-cache entries that point at one of these tables (physical addresses as Numbers). */
  pscEntriesOfTables(cpu: number, tables: ReadonlySet<number>): PscEntry[] {
    return this.scanPsc(cpu, (table) => tables.has(table));
  }

  private scanTlb(cpu: number, ranges: readonly (readonly [number, number])[] | undefined): TlbEntry[] {
    const b = this.block(cpu);
    const out: TlbEntry[] = [];
    const u32 = this.u32;
    TLB_ARRAYS.forEach((array, a) => {
      const { sets, ways } = this.layout.geometry[array];
      const off = b + this.layout.arrayOffsets[a];
      // The valid bit is bit 0 of the tag: test it on a u32 first (audits scan every slot of every CPU).
      for (let i = 0, q = (off + L.E_TAG) >> 2, n = sets * ways; i < n; i++, q += L.ENTRY_BYTES >> 2) {
        if ((u32[q] & 1) === 0) continue;
        const p = off + i * L.ENTRY_BYTES;
        if (ranges) {
          // The frame is pte bits 51:12 (FRAME_BITS): below 2^52, a Number holds it exactly.
          const frame = (u32[(p + L.E_PTE + 4) >> 2] & 0x000fffff) * 4294967296 + ((u32[(p + L.E_PTE) >> 2] & 0xfffff000) >>> 0);
          let hit = false;
          for (let r = 0; r < ranges.length && !hit; r++) hit = frame >= ranges[r][0] && frame < ranges[r][1];
          if (!hit) continue;
        }
        out.push(this.decodeTlb(b, array, a, i));
      }
    });
    return out;
  }

  /** TLB entry `i` (set-major) of array `a` of the CPU block at `b`. */
  private decodeTlb(b: number, array: TlbEntry['array'], a: number, i: number): TlbEntry {
    this.entriesDecoded++;
    const { ways } = this.layout.geometry[array];
    const set = Math.floor(i / ways);
    const way = i - set * ways;
    const p = b + this.layout.arrayOffsets[a] + i * L.ENTRY_BYTES;
    const tag = this.dv.getBigUint64(p + L.E_TAG, true);
    const pte = this.dv.getBigUint64(p + L.E_PTE, true);
    return {
      array, set, way,
      size: SIZES[Number((pte >> BigInt(L.SIZE_SHIFT)) & 3n)],
      page: (tag >> BigInt(L.TAG_PAGE_SHIFT)) & PAGE_FIELD,
      pcid: Number((tag >> BigInt(L.TAG_PCID_SHIFT)) & 0xfffn),
      global: this.dv.getBigUint64(p + L.E_MASK, true) !== U64,
      frame: pte & FRAME_BITS,
      w: (pte & 2n) !== 0n, u: (pte & 4n) !== 0n, xd: (pte >> 63n) === 1n, d: (pte & 0x40n) !== 0n,
      pk: Number((pte >> 59n) & 15n),
      slot: this.dv.getUint32(p + L.E_SLOT, true),
      stamp: this.dv.getUint32(p + L.E_STAMP, true),
    };
  }

  pscEntries(cpu: number): PscEntry[] {
    return this.scanPsc(cpu, undefined);
  }

  private scanPsc(cpu: number, tableFilter: ((table: number) => boolean) | undefined): PscEntry[] {
    const b = this.block(cpu);
    const out: PscEntry[] = [];
    const u32 = this.u32;
    ARRAY_NAMES.forEach((array: ArrayName, a) => {
      if (a < L.N_TLB_ARRAYS) return;
      const { sets, ways } = this.layout.geometry[array];
      const off = b + this.layout.arrayOffsets[a];
      for (let i = 0, q = (off + L.P_TAG) >> 2, n = sets * ways; i < n; i++, q += L.ENTRY_BYTES >> 2) {
        if ((u32[q] & 1) === 0) continue;
        const p = off + i * L.ENTRY_BYTES;
        if (tableFilter && !tableFilter((u32[(p + L.P_ENTRY + 4) >> 2] & 0x000fffff) * 4294967296 + ((u32[(p + L.P_ENTRY) >> 2] & 0xfffff000) >>> 0))) continue;
        out.push(this.decodePsc(b, array, a, i));
      }
    });
    return out;
  }

  /** Paging-structure-cache entry `i` (set-major) of array `a` of the CPU block at `b`. */
  private decodePsc(b: number, array: ArrayName, a: number, i: number): PscEntry {
    this.entriesDecoded++;
    const { ways } = this.layout.geometry[array];
    const set = Math.floor(i / ways);
    const way = i - set * ways;
    const p = b + this.layout.arrayOffsets[a] + i * L.ENTRY_BYTES;
    const tag = this.dv.getBigUint64(p + L.P_TAG, true);
    const entry = this.dv.getBigUint64(p + L.P_ENTRY, true);
    return {
      array, set, way,
      page: tag >> BigInt(L.TAG_PAGE_SHIFT),
      pcid: Number((tag >> BigInt(L.TAG_PCID_SHIFT)) & 0xfffn),
      table: entry & FRAME_BITS,
      w: (entry & 2n) !== 0n, u: (entry & 4n) !== 0n, xd: (entry >> 63n) === 1n,
      src: this.dv.getBigUint64(p + L.P_SRC, true),
      slot: this.dv.getUint32(p + L.P_SLOT, true),
      stamp: this.dv.getUint32(p + L.P_STAMP, true),
    };
  }

  counters(cpu: number): Counters {
    const b = this.block(cpu);
    const c = {} as Counters;
    COUNTER_NAMES.forEach((name, i) => {
      c[name] = this.dv.getBigUint64(b + L.CPU_COUNTERS + 8 * i, true);
    });
    return c;
  }

  drainEvents(cpu: number): OracleEvent[] {
    const b = this.block(cpu);
    const n = this.dv.getUint32(b + L.CPU_EVENT_COUNT, true);
    const out: OracleEvent[] = [];
    for (let i = 0; i < n; i++) {
      const p = b + this.layout.eventOff + i * L.EVENT_BYTES;
      out.push({
        kind: EVENT_KINDS[this.dv.getUint32(p + L.EV_KIND, true)],
        index: this.dv.getUint32(p + L.EV_INDEX, true),
        va: this.dv.getBigUint64(p + L.EV_VA, true),
        pa: this.dv.getBigUint64(p + L.EV_PA, true),
        slot: this.dv.getUint32(p + L.EV_SLOT, true),
        stamp: this.dv.getUint32(p + L.EV_STAMP, true),
      });
    }
    this.dv.setUint32(b + L.CPU_EVENT_COUNT, 0, true);
    return out;
  }

  // ---- oracle generations ----
  slotOf(pa: bigint): number {
    return slotOf(this.layout, Machine.u64('physical address', pa));
  }
  readGeneration(slot: number): number {
    this.checkSlot(slot);
    this.refreshViews();
    return Atomics.load(this.u32, (this.layout.genBase >> 2) + slot);
  }
  writeGeneration(slot: number, value: number): void {
    this.checkSlot(slot);
    if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new ArgumentError(`a generation is a u32 (got ${value})`);
    this.refreshViews();
    Atomics.store(this.u32, (this.layout.genBase >> 2) + slot, value);
  }
  private checkSlot(slot: number): void {
    if (!Number.isInteger(slot) || slot < 0 || slot >= this.layout.genSlots) throw new ArgumentError(`generation slot ${slot} is outside 0..${this.layout.genSlots - 1}`);
  }

  // ---- page-table memory ----
  /** Physical address range of the table pool. */
  get pool(): { base: bigint; bytes: bigint } {
    this.refreshViews();
    // Another thread may have grown the pool: the header is the truth.
    this.layout.poolBytes = this.dv.getUint32(L.HDR_POOL_BYTES, true);
    return { base: BigInt(this.layout.poolBase), bytes: BigInt(this.layout.poolBytes) };
  }

  private entryIndex(pa: bigint): number {
    Machine.u64('entry address', pa);
    const { base, bytes } = this.pool;
    if ((pa & 7n) !== 0n) throw new TableAddressError(`entry address 0x${pa.toString(16)} is not 8-byte aligned`);
    if (pa < base || pa >= base + bytes) {
      throw new TableAddressError(`entry address 0x${pa.toString(16)} is outside the table pool [0x${base.toString(16)}, 0x${(base + bytes).toString(16)})`);
    }
    return Number(pa >> 3n);
  }
  readEntry(pa: bigint): bigint {
    return BigInt.asUintN(64, Atomics.load(this.i64, this.entryIndex(pa)));
  }
  writeEntry(pa: bigint, value: bigint): void {
    const i = this.entryIndex(pa);
    Atomics.store(this.i64, i, BigInt.asIntN(64, Machine.u64('entry value', value)));
  }
  /**
   * Zeroes the 512 entries of the table frame at `pa` in one fill: a table just taken from the pool,
   * linked nowhere yet, so no CPU can walk it while it is written (and the workers wait at a barrier
   * while the kernel runs). 512 checked atomic stores made every new table cost as much as a walk.
   */
  zeroTable(pa: bigint): void {
    if ((pa & 4095n) !== 0n) throw new TableAddressError(`table address 0x${pa.toString(16)} is not 4 KiB aligned`);
    const i = this.entryIndex(pa);
    this.entryIndex(pa + 4088n);
    this.i64.fill(0n, i, i + 512);
  }
  /** Atomic compare-and-swap of an entry; returns the value found. */
  compareExchangeEntry(pa: bigint, expected: bigint, replacement: bigint): bigint {
    const i = this.entryIndex(pa);
    return BigInt.asUintN(64, Atomics.compareExchange(this.i64, i, BigInt.asIntN(64, expected), BigInt.asIntN(64, replacement)));
  }
  /** Sets `bits` in an entry (atomic OR): the host applying A/D updates a batch deferred (runBatch). */
  orEntry(pa: bigint, bits: bigint): void {
    const i = this.entryIndex(pa);
    Atomics.or(this.i64, i, BigInt.asIntN(64, Machine.u64('entry bits', bits)));
  }
  /** A copy of the pool's bytes (for the reference model and for comparisons). */
  poolBytes(): Uint8Array {
    void this.pool;
    return this.u8.slice(this.layout.poolBase, this.layout.poolBase + this.layout.poolBytes);
  }

  /** Adds `frames` 4 KiB frames at the end of the pool; returns the physical address of the first. */
  growPool(frames: number): bigint {
    if (!Number.isInteger(frames) || frames < 1) throw new ArgumentError(`growPool needs a positive number of frames (got ${frames})`);
    void this.pool;
    const first = this.layout.poolBase + this.layout.poolBytes;
    const end = first + frames * 4096;
    const have = this.memory.buffer.byteLength;
    if (end > have) {
      const pages = Math.ceil((end - have) / WASM_PAGE);
      if (have / WASM_PAGE + pages > MAX_WASM_PAGES) throw new OutOfMemoryError(`the table pool cannot grow by ${frames} frames: the memory would pass 4 GiB`);
      this.memory.grow(pages);
    }
    this.refreshViews();
    this.dv.setUint32(L.HDR_POOL_BYTES, this.layout.poolBytes + frames * 4096, true);
    this.layout.poolBytes += frames * 4096;
    return BigInt(first);
  }
}

