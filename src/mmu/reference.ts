// The reference model of the emulated MMU: plain TypeScript, written to be read, not to be fast.
// It follows docs/hardware.md (the contract shared with the WebAssembly core) rule by rule; where
// the contract fixes a choice the SDM leaves open (victim ways, lookup order, which entries an
// invalidation removes), this file does exactly what the contract says so the differential tests can
// compare every slot. Section numbers (§) are those of the Intel SDM volume 3A, chapter 4.
//
// Addresses and entries are BigInts throughout. Generations and stamps are u32 numbers.

import * as L from '../../assembly/layout.ts';
import {
  ARRAY_NAMES,
  CAPACITY_GEOMETRY,
  COUNTER_NAMES,
  PAGE_SHIFT,
  RETENTIVE_GEOMETRY,
  type AccessResult,
  type Counters,
  type Geometry,
  type MachineConfig,
  type MmuModel,
  type OracleEvent,
  type OracleEventKind,
  type PageSize,
  type PscEntry,
  type TlbEntry,
} from './model.ts';
import { ArgumentError, ConfigError, CpuRangeError, TableAddressError } from './errors.ts';

// ---- Architectural bits ----

// Paging-structure entry flags (§4.5, the entry-format tables for 4-level and 5-level paging).
const P = 1n << 0n;
const RW = 1n << 1n;
const US = 1n << 2n;
const A = 1n << 5n;
const D = 1n << 6n;
const PS = 1n << 7n;
const G = 1n << 8n;
const XD = 1n << 63n;
const PK_SHIFT = 59n; // protection key, leaf bits 62:59 (§4.6.2)

const CR0_WP = 1n << 16n;
const CR3_NOFLUSH = 1n << 63n; // §4.10.4.1: MOV to CR3 with bit 63 set and PCIDE = 1 keeps the PCID's entries
const CR4_PAE = 1n << 5n;
const CR4_PGE = 1n << 7n;
const CR4_LA57 = 1n << 12n;
const CR4_PCIDE = 1n << 17n;
const CR4_SMEP = 1n << 20n;
const CR4_SMAP = 1n << 21n;
const CR4_PKE = 1n << 22n;
const CR4_KNOWN = CR4_PGE | CR4_LA57 | CR4_PCIDE | CR4_SMEP | CR4_SMAP | CR4_PKE;
const EFER_NXE = 1n << 11n;
const RFLAGS_AC = 1n << 18n;

const U64_MASK = (1n << 64n) - 1n;
const PAGE_NUMBER_TOP = 57n; // TLB and PSC page numbers are LA[56:shift] (hardware.md, TLBs)
const COPY_WINDOW = L.GEN_COPY_WINDOW >>> 0;
const GEN_MASK = ~L.GEN_COPY_WINDOW >>> 0;
const XORSHIFT_SEED = 0x9e3779b9;

const RESET_CR0 = CR0_WP;
const RESET_CR4 = CR4_PGE;
const RESET_EFER = EFER_NXE;

/** Mask of bits hi..lo inclusive. */
function bits(hi: bigint, lo: bigint): bigint {
  return ((1n << (hi - lo + 1n)) - 1n) << lo;
}

// ---- The levels of a walk ----

type LevelName = 'pml5e' | 'pml4e' | 'pdpte' | 'pde' | 'pte';
interface Level {
  name: LevelName;
  /** LA bits shift..shift+8 index the table; also the shift of the PSC tag for this level. */
  shift: bigint;
  /** The paging-structure cache holding entries of this level (non-leaf only), or -1. */
  psc: number;
  /** The page this entry maps when it is a leaf (PS = 1, or always for a PTE), or null. */
  leafSize: PageSize | null;
}
const PML5E: Level = { name: 'pml5e', shift: 48n, psc: L.A_PML5, leafSize: null };
const PML4E: Level = { name: 'pml4e', shift: 39n, psc: L.A_PML4, leafSize: null };
const PDPTE: Level = { name: 'pdpte', shift: 30n, psc: L.A_PDPTE, leafSize: '1G' };
const PDE: Level = { name: 'pde', shift: 21n, psc: L.A_PDE, leafSize: '2M' };
const PTE: Level = { name: 'pte', shift: 12n, psc: -1, leafSize: '4K' };
const LEVELS_4: readonly Level[] = [PML4E, PDPTE, PDE, PTE];
const LEVELS_5: readonly Level[] = [PML5E, PML4E, PDPTE, PDE, PTE];

// ---- Cached state ----

/** Rights accumulated over the levels of a walk (§4.6.1): W and U are ANDs, XD is an OR. */
interface Rights {
  w: boolean;
  u: boolean;
  xd: boolean;
}

interface TlbSlot extends Rights {
  page: bigint; // LA[56:shift of size]
  pcid: number; // 0 when global
  global: boolean;
  frame: bigint;
  d: boolean;
  pk: number;
  size: PageSize;
  slot: number;
  stamp: number;
}

interface PscSlot extends Rights {
  page: bigint; // LA[56:shift of level]
  pcid: number;
  table: bigint; // the next table
  src: bigint; // the entry it was filled from
  slot: number;
  stamp: number;
}

/** One set-associative array; `slots[set * ways + way]`, null = invalid. */
class CacheArray<T> {
  readonly slots: (T | null)[];
  constructor(
    readonly index: number,
    readonly sets: number,
    readonly ways: number,
  ) {
    this.slots = new Array<T | null>(sets * ways).fill(null);
  }
  get present(): boolean {
    return this.sets > 0;
  }
  clear(): void {
    this.slots.fill(null);
  }
  /** Invalidates every valid entry for which `drop` is true. */
  removeWhere(drop: (entry: T) => boolean): void {
    for (let i = 0; i < this.slots.length; i++) {
      const entry = this.slots[i];
      if (entry !== null && drop(entry)) this.slots[i] = null;
    }
  }
}

type TlbArray = CacheArray<TlbSlot>;
type PscArray = CacheArray<PscSlot>;

interface Cpu {
  cr0: bigint;
  cr2: bigint;
  cr3: bigint;
  cr4: bigint;
  efer: bigint;
  rflags: bigint;
  pkru: number;
  rng: number;
  tlb: TlbArray[]; // indexed by A_DTLB4K..A_STLB1G
  psc: PscArray[]; // indexed by A_PML5 - N_TLB_ARRAYS ..
  counters: bigint[];
  events: OracleEvent[];
}

/** The outcome of one attempt at a page walk. */
type WalkAttempt =
  | { kind: 'ok'; translation: TlbSlot }
  | { kind: 'fault'; errorCode: number }
  | { kind: 'restart' };

/** One entry read by a walk: where, what was read, and the rights accumulated down to it. */
interface ReadEntry {
  level: Level;
  pa: bigint;
  value: bigint;
  rights: Rights;
}

// Misuse of the model throws the typed errors of errors.ts, checked in the order the WebAssembly
// Machine checks them (the CPU first, then the arguments in order) and before anything changes, so
// that a misuse behaves the same on both implementations.

const GiB = 1n << 30n;
/** Most entries an array may have (the Machine's layout limit). */
const MAX_ARRAY_ENTRIES = 1 << 20;

function resolveGeometry(config: MachineConfig): Geometry {
  const base = config.mode === 'capacity' ? CAPACITY_GEOMETRY : RETENTIVE_GEOMETRY;
  const geometry = {} as Geometry;
  for (const name of ARRAY_NAMES) {
    const g = config.geometry?.[name] ?? base[name];
    const { sets, ways } = g;
    if (!Number.isInteger(sets) || !Number.isInteger(ways) || sets < 0 || ways < 0) {
      throw new ConfigError(`geometry of ${name}: sets and ways must be whole numbers ≥ 0 (got ${sets} × ${ways})`);
    }
    if (sets !== 0 && ((sets & (sets - 1)) !== 0 || ways < 1)) {
      throw new ConfigError(`geometry of ${name}: sets must be a power of two and ways ≥ 1, or sets 0 for no array (got ${sets} × ${ways})`);
    }
    if (sets * ways > MAX_ARRAY_ENTRIES) throw new ConfigError(`geometry of ${name}: ${sets * ways} entries is more than 2^20`);
    geometry[name] = { sets, ways };
  }
  return geometry;
}

/** The configuration checks of the Machine's layout (memory.ts computeLayout), as ConfigErrors. */
function checkConfig(config: MachineConfig): void {
  const { ncpus } = config;
  if (!Number.isInteger(ncpus) || ncpus < 1 || ncpus > 256) throw new ConfigError(`ncpus must be 1..256 (got ${ncpus})`);
  const maxphyaddr = config.maxphyaddr ?? 46;
  if (!Number.isInteger(maxphyaddr) || maxphyaddr < 36 || maxphyaddr > 52) throw new ConfigError(`maxphyaddr must be 36..52 (got ${maxphyaddr})`);
  const physmem = config.physmem ?? 64n * GiB;
  const zone4k = config.zone4k ?? 16n * GiB;
  if (typeof physmem !== 'bigint' || physmem < 8n * GiB || physmem > 1n << BigInt(maxphyaddr)) {
    throw new ConfigError(`physmem must be at least 8 GiB and at most 2^maxphyaddr = ${1n << BigInt(maxphyaddr)} bytes (got ${String(physmem)})`);
  }
  if (typeof zone4k !== 'bigint' || zone4k < 4n * GiB || zone4k % GiB !== 0n || zone4k > physmem) {
    throw new ConfigError(`zone4k must be a multiple of 1 GiB from 4 GiB up to physmem (got ${String(zone4k)})`);
  }
  const batchCapacity = config.batchCapacity ?? 4096;
  const eventCapacity = config.eventCapacity ?? 256;
  if (!Number.isInteger(batchCapacity) || batchCapacity < 1 || batchCapacity > 1 << 20) throw new ConfigError(`batchCapacity must be 1..2^20 (got ${batchCapacity})`);
  if (!Number.isInteger(eventCapacity) || eventCapacity < 1 || eventCapacity > 1 << 16) throw new ConfigError(`eventCapacity must be 1..65536 (got ${eventCapacity})`);
  const poolFrames = config.poolFrames ?? 4096;
  if (!Number.isInteger(poolFrames) || poolFrames < 1) throw new ConfigError(`poolFrames must be a positive whole number (got ${poolFrames})`);
}

export class ReferenceMachine implements MmuModel {
  readonly ncpus: number;
  readonly geometry: Geometry;
  readonly maxphyaddr: number;
  readonly page1gb: boolean;
  readonly retentive: boolean;
  readonly physmem: bigint;
  readonly zone4k: bigint;
  readonly eventCapacity: number;

  private readonly poolBase: bigint;
  private readonly pool: Uint8Array;
  private readonly poolView: DataView;
  /** Generation of every slot that is not 0 (most are: a sparse table, not megabytes of zeros). */
  private readonly generations = new Map<number, number>();
  /** The slot of every frame at or above physmem (the last one). */
  private readonly sharedSlot: number;
  private readonly cpus: Cpu[];
  /** Bits M-1:12 of an entry or CR3: the physical address of a table or 4 KiB frame. */
  private readonly addressMask: bigint;

  constructor(config: MachineConfig, pool: { base: number; bytes: Uint8Array }) {
    checkConfig(config);
    this.ncpus = config.ncpus;
    this.maxphyaddr = config.maxphyaddr ?? 46;
    this.page1gb = config.page1gb ?? true;
    this.retentive = config.mode !== 'capacity';
    this.geometry = resolveGeometry(config);
    this.physmem = config.physmem ?? 64n * GiB;
    this.zone4k = config.zone4k ?? 16n * GiB;
    this.eventCapacity = config.eventCapacity ?? 256;
    this.addressMask = bits(BigInt(this.maxphyaddr) - 1n, 12n);

    // The pool: whole 4 KiB frames at a 4 KiB-aligned physical address.
    if (!Number.isSafeInteger(pool.base) || pool.base < 0 || pool.base % 4096 !== 0) throw new ConfigError(`the table pool must start at a 4 KiB-aligned physical address (got ${pool.base})`);
    if (!(pool.bytes instanceof Uint8Array) || pool.bytes.byteLength % 4096 !== 0) throw new ConfigError('the table pool must be a Uint8Array of whole 4 KiB frames');
    this.poolBase = BigInt(pool.base);
    this.pool = new Uint8Array(pool.bytes); // our own copy
    this.poolView = new DataView(this.pool.buffer, this.pool.byteOffset, this.pool.byteLength);
    // Slots cover [0, physmem) (one more than the slot of its last byte), then one shared slot for
    // every frame at or above physmem.
    this.sharedSlot = this.slotBelowPhysmem(this.physmem - 1n) + 1;

    this.cpus = [];
    for (let i = 0; i < this.ncpus; i++) {
      const cpu = {} as Cpu;
      this.cpus.push(cpu);
      this.resetCpu(cpu);
    }
  }

  // ---- Reset and paging mode ----

  reset(cpu: number): void {
    this.resetCpu(this.cpu(cpu));
  }

  private resetCpu(c: Cpu): void {
    c.cr0 = RESET_CR0;
    c.cr2 = 0n;
    c.cr3 = 0n;
    c.cr4 = RESET_CR4;
    c.efer = RESET_EFER;
    c.rflags = 0n;
    c.pkru = 0;
    c.rng = XORSHIFT_SEED;
    c.tlb = [];
    c.psc = [];
    ARRAY_NAMES.forEach((name, index) => {
      const { sets, ways } = this.geometry[name];
      if (index < L.N_TLB_ARRAYS) c.tlb.push(new CacheArray<TlbSlot>(index, sets, ways));
      else c.psc.push(new CacheArray<PscSlot>(index, sets, ways));
    });
    c.counters = new Array<bigint>(L.N_COUNTERS).fill(0n);
    c.events = [];
  }

  setPagingLevels(cpu: number, levels: 4 | 5): void {
    const c = this.cpu(cpu);
    if (levels !== 4 && levels !== 5) throw new ArgumentError(`paging levels must be 4 or 5 (got ${levels})`);
    // CR4.LA57 can change only outside IA-32e mode (§4.1.1); the contract models that as this
    // operation, which leaves every cached translation meaningless, so everything goes.
    c.cr4 = levels === 5 ? c.cr4 | CR4_LA57 : c.cr4 & ~CR4_LA57;
    this.flushAll(c);
    this.count(c, L.C_CR4_FLUSH); // a CR4 (LA57) change that flushes everything
  }

  // ---- Register writes (§4.10.4.1 for their invalidations) ----

  writeCr0(cpu: number, value: bigint): boolean {
    const c = this.cpu(cpu);
    // Rights are checked at use (TLB entries cache the paging-structure rights, not the verdict),
    // so a WP change needs no invalidation.
    c.cr0 = u64('CR0', value) & CR0_WP;
    return true;
  }

  writeCr3(cpu: number, value: bigint): boolean {
    const c = this.cpu(cpu);
    const v = u64('CR3', value);
    const pcide = (c.cr4 & CR4_PCIDE) !== 0n;
    // MOV to CR3 #GP: bits 62:M set (reserved physical-address bits), or bit 63 with PCIDE = 0.
    if ((v & bits(62n, BigInt(this.maxphyaddr))) !== 0n) return false;
    if ((v & CR3_NOFLUSH) !== 0n && !pcide) return false;
    c.cr3 = v & ~CR3_NOFLUSH;
    if (pcide && (v & CR3_NOFLUSH) !== 0n) {
      this.count(c, L.C_CR3_NO_FLUSH);
      return true;
    }
    // §4.10.4.1: non-global TLB entries and all PSC entries of the new PCID (PCID 0 with PCIDE = 0).
    const pcid = this.currentPcid(c);
    this.removeTlb(c, (e) => !e.global && e.pcid === pcid);
    this.removePsc(c, (e) => e.pcid === pcid);
    this.count(c, L.C_CR3_FLUSH);
    return true;
  }

  writeCr4(cpu: number, value: bigint): boolean {
    const c = this.cpu(cpu);
    const v = u64('CR4', value);
    // CR4.PAE is implied by IA-32e mode: accepted in v (Linux writes it) but not stored.
    if ((v & ~(CR4_KNOWN | CR4_PAE)) !== 0n) return false;
    const next = v & CR4_KNOWN;
    const old = c.cr4;
    const changed = next ^ old;
    // MOV to CR4 #GP: PCIDE 0 → 1 while CR3[11:0] != 0 (§4.10.1); LA57 changes in IA-32e mode.
    if ((changed & CR4_PCIDE) !== 0n && (next & CR4_PCIDE) !== 0n && (c.cr3 & 0xfffn) !== 0n) return false;
    if ((changed & CR4_LA57) !== 0n) return false;

    const pcidBefore = this.currentPcid(c);
    c.cr4 = next;
    if ((changed & CR4_PGE) !== 0n || ((old & CR4_PCIDE) !== 0n && (next & CR4_PCIDE) === 0n)) {
      // §4.10.4.1: a PGE change or PCIDE 1 → 0 invalidates everything, globals included.
      this.flushAll(c);
      this.count(c, L.C_CR4_FLUSH);
    } else if ((old & CR4_SMEP) === 0n && (next & CR4_SMEP) !== 0n) {
      // §4.10.4.1: SMEP 0 → 1 invalidates the entries of the current PCID, globals included
      // (a global entry belongs to every PCID). PCIDE cannot change PCID here: 1 → 0 took the branch
      // above and 0 → 1 requires CR3[11:0] = 0.
      this.removeTlb(c, (e) => e.global || e.pcid === pcidBefore);
      this.removePsc(c, (e) => e.pcid === pcidBefore);
      this.count(c, L.C_CR4_FLUSH);
    }
    return true;
  }

  writeEfer(cpu: number, value: bigint): boolean {
    const c = this.cpu(cpu);
    c.efer = u64('EFER', value) & EFER_NXE;
    return true;
  }

  writeRflags(cpu: number, value: bigint): boolean {
    const c = this.cpu(cpu);
    c.rflags = u64('RFLAGS', value) & RFLAGS_AC;
    return true;
  }

  writePkru(cpu: number, value: number): boolean {
    const c = this.cpu(cpu);
    if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new ArgumentError(`PKRU must be a u32 (got ${value})`);
    c.pkru = value;
    return true;
  }

  readCr(cpu: number): { cr0: bigint; cr3: bigint; cr4: bigint; efer: bigint; rflags: bigint; pkru: number; pcid: number } {
    const c = this.cpu(cpu);
    return { cr0: c.cr0, cr3: c.cr3, cr4: c.cr4, efer: c.efer, rflags: c.rflags, pkru: c.pkru, pcid: this.currentPcid(c) };
  }

  // ---- Invalidation instructions (§4.10.4.1) ----

  invlpg(cpu: number, la: bigint): void {
    const c = this.cpu(cpu);
    const la64 = u64('linear address', la);
    // INVLPG of a non-canonical address is a no-op (it does not fault).
    if (!this.isCanonical(c, la64)) return;
    const pcid = this.currentPcid(c);
    // Every size: the instruction does not know the page size the address was mapped with.
    this.removeTlb(c, (e) => this.tlbContains(e, la64) && (e.global || e.pcid === pcid));
    this.removePsc(c, (e) => e.pcid === pcid);
    this.count(c, L.C_INVLPG);
  }

  invpcid(cpu: number, type: number, pcid: number, la: bigint): boolean {
    const c = this.cpu(cpu);
    // Host-API misuse: the type and the PCID are register values, whole numbers.
    if (!Number.isInteger(type) || !Number.isInteger(pcid)) throw new ArgumentError('INVPCID type and PCID must be whole numbers');
    const la64 = u64('linear address', la);
    // INVPCID #GP(0) conditions (vol. 2, INVPCID): type > 3, PCID > 4095, a non-canonical address
    // for type 0; with PCIDE = 0, types 0 and 1 only for PCID 0.
    if (type < 0 || type > 3) return false;
    if (pcid < 0 || pcid > 4095) return false;
    if (type === 0 && !this.isCanonical(c, la64)) return false;
    if ((c.cr4 & CR4_PCIDE) === 0n && type <= 1 && pcid !== 0) return false;
    switch (type) {
      case 0: // individual address: never globals
        this.removeTlb(c, (e) => !e.global && e.pcid === pcid && this.tlbContains(e, la64));
        this.removePsc(c, (e) => e.pcid === pcid);
        this.count(c, L.C_INVPCID0);
        break;
      case 1: // single context
        this.removeTlb(c, (e) => !e.global && e.pcid === pcid);
        this.removePsc(c, (e) => e.pcid === pcid);
        this.count(c, L.C_INVPCID1);
        break;
      case 2: // all contexts, globals included
        this.flushAll(c);
        this.count(c, L.C_INVPCID2);
        break;
      case 3: // all contexts except globals
        this.removeTlb(c, (e) => !e.global);
        this.removePsc(c, () => true);
        this.count(c, L.C_INVPCID3);
        break;
    }
    return true;
  }

  // ---- Accesses ----

  access(cpu: number, la: bigint, kind: number): AccessResult {
    return this.accessBatch(cpu, [la], [kind]).results[0]!;
  }

  accessBatch(cpu: number, las: readonly bigint[], kinds: readonly number[]): { done: number; results: AccessResult[] } {
    const c = this.cpu(cpu);
    if (las.length !== kinds.length) throw new ArgumentError(`${las.length} addresses but ${kinds.length} kinds`);
    las.forEach((la, i) => u64(`linear address [${i}]`, la));
    kinds.forEach((kind, i) => checkKind(kind, i));
    const results: AccessResult[] = [];
    for (let index = 0; index < las.length; index++) {
      const eventsBefore = c.events.length;
      const result = this.accessOne(c, las[index]!, kinds[index]!, index);
      results.push(result);
      // A fault stops the run with the access not completed.
      if (result.status !== 'ok') return { done: index, results };
      // The access that fills the ring stops the run after it, so the host can drain the ring.
      // Nothing is lost: events of that access beyond the capacity are kept too.
      if (c.events.length > eventsBefore && c.events.length >= this.eventCapacity) return { done: index + 1, results };
    }
    return { done: las.length, results };
  }

  private accessOne(c: Cpu, la: bigint, kind: number, index: number): AccessResult {
    const write = (kind & L.K_WRITE) !== 0;
    const fetch = (kind & L.K_FETCH) !== 0;
    this.count(c, L.C_ACCESSES);
    this.count(c, write ? L.C_WRITES : fetch ? L.C_FETCHES : L.C_READS);

    // A non-canonical address raises #GP(0) before any paging activity (vol. 1 §3.3.7.1).
    if (!this.isCanonical(c, la)) {
      this.count(c, L.C_GP_FAULTS);
      return { status: 'general-protection' };
    }

    const hit = this.tlbLookup(c, la);
    if (hit === null) {
      this.count(c, L.C_TLB_MISSES);
      return this.walkAndFill(c, la, kind, index);
    }

    // §4.10.2.2: the TLB caches the rights of the translation; they are checked against the
    // current CR0/CR4/RFLAGS/PKRU at each use.
    const errorCode = this.checkAccess(c, kind, hit, hit.pk);
    if (errorCode !== 0) return this.pageFault(c, la, errorCode);

    if (write && !hit.d) {
      // §4.8: a write must set the D flag in memory, which a TLB entry with D = 0 cannot do; the
      // contract replaces the translation by a full walk, dropping the clean entries first.
      this.count(c, L.C_DIRTY_REWALKS);
      const pcid = this.currentPcid(c);
      this.removeTlb(c, (e) => e.size === hit.size && this.tlbContains(e, la) && (e.global || e.pcid === pcid));
      return this.walkAndFill(c, la, kind, index);
    }

    // Oracle: the entry remembers the generation of its frame; a change means the access went
    // through a translation that outlived its mapping (a copy window alone only matters to writes,
    // whose data would be lost). Checked only here, where the access completes through the entry:
    // a fault or a re-walk does not use the cached frame.
    const gen = this.genAt(hit.slot);
    if (gen !== hit.stamp && !(((gen ^ hit.stamp) >>> 0) === COPY_WINDOW && !write)) {
      this.event(c, 'tlb-stale', index, la, hit.frame, hit.slot, hit.stamp);
    }
    return { status: 'ok', pa: hit.frame | pageOffset(la, hit.size) };
  }

  /** A page walk (restarting while its A/D updates find changed entries), then the TLB fill. */
  private walkAndFill(c: Cpu, la: bigint, kind: number, index: number): AccessResult {
    this.count(c, L.C_WALKS);
    for (;;) {
      const attempt = this.walkOnce(c, la, kind, index);
      if (attempt.kind === 'restart') {
        // Terminates: within one model step only this walk's own A/D updates change memory
        // (tables mapping themselves), and each successful update sets a bit that stays set.
        this.count(c, L.C_WALK_RESTARTS);
        continue;
      }
      if (attempt.kind === 'fault') return this.pageFault(c, la, attempt.errorCode);
      const t = attempt.translation;
      this.fillTlb(c, la, t);
      return { status: 'ok', pa: t.frame | pageOffset(la, t.size) };
    }
  }

  /** One attempt at the walk of §4.5, with the PSC start of §4.10.3.2 and the A/D updates of §4.8. */
  private walkOnce(c: Cpu, la: bigint, kind: number, index: number): WalkAttempt {
    const write = (kind & L.K_WRITE) !== 0;
    const levels = this.levelsOf(c);
    const pcid = this.currentPcid(c);

    // Start from the deepest PSC hit, else from CR3 (§4.10.3.2).
    let first = 0;
    let table = c.cr3 & this.addressMask;
    let rights: Rights = { w: true, u: true, xd: false };
    const start = this.pscLookup(c, la, levels, pcid);
    if (start !== null) {
      const { entry, levelIndex } = start;
      this.count(c, pscHitCounter(levels[levelIndex]!));
      if (this.genAt(entry.slot) !== entry.stamp) {
        this.event(c, 'psc-stale', index, la, entry.table, entry.slot, entry.stamp);
      }
      first = levelIndex + 1;
      table = entry.table;
      rights = { w: entry.w, u: entry.u, xd: entry.xd };
    }

    const read: ReadEntry[] = [];
    let leafSize: PageSize | null = null;
    for (let i = first; leafSize === null; i++) {
      const level = levels[i]!;
      const pa = table + ((la >> level.shift) & 0x1ffn) * 8n;
      const value = this.loadWalkEntry(pa);
      this.count(c, L.C_WALK_LOADS);
      // §4.7: P = 0 is a not-present fault; reserved bits in a present entry a reserved-bit fault.
      if ((value & P) === 0n) return { kind: 'fault', errorCode: this.faultBits(c, kind) };
      if (this.hasReservedBits(c, level, value)) return { kind: 'fault', errorCode: L.PF_P | L.PF_RSVD | this.faultBits(c, kind) };
      // §4.6.1: rights combine over every level that controls the translation.
      rights = {
        w: rights.w && (value & RW) !== 0n,
        u: rights.u && (value & US) !== 0n,
        xd: rights.xd || (value & XD) !== 0n,
      };
      read.push({ level, pa, value, rights });
      if (level === PTE || (level.leafSize !== null && (value & PS) !== 0n)) leafSize = level.leafSize;
      else table = value & this.addressMask;
    }

    const leaf = read[read.length - 1]!;
    const pk = (c.cr4 & CR4_PKE) !== 0n ? Number((leaf.value >> PK_SHIFT) & 0xfn) : 0;
    const errorCode = this.checkAccess(c, kind, leaf.rights, pk);
    if (errorCode !== 0) return { kind: 'fault', errorCode };

    // §4.8: A in every entry read, top down, and D in the leaf for a write; each a locked
    // compare-and-swap against the value the walk used. A mismatch means the entry changed under
    // the walk: start over so the translation is built from what memory holds now.
    for (const r of read) {
      const isLeaf = r === leaf;
      const next = r.value | A | (isLeaf && write ? D : 0n);
      if (next === r.value) continue;
      if (!this.compareAndSwap(r.pa, r.value, next)) return { kind: 'restart' };
      if ((r.value & A) === 0n) this.count(c, L.C_A_SETS);
      if ((next & D) !== 0n && (r.value & D) === 0n) this.count(c, L.C_D_SETS);
    }

    // §4.10.3.1: PSC entries for the non-leaf entries this walk read (not those a PSC hit skipped).
    for (const r of read) {
      if (r === leaf) continue;
      const nextTable = r.value & this.addressMask;
      const slot = this.slotOf(nextTable);
      this.fillPsc(c, la, r.level, {
        page: pageNumber(la, r.level.shift),
        pcid,
        table: nextTable,
        ...r.rights,
        src: r.pa,
        slot,
        stamp: this.genAt(slot),
      });
    }

    const shift = PAGE_SHIFT[leafSize];
    const frame = leaf.value & this.addressMask & ~((1n << shift) - 1n);
    const slot = this.slotOf(frame);
    const gen = this.genAt(slot);
    const stamp = (gen & GEN_MASK) >>> 0;
    if (write && (gen & COPY_WINDOW) !== 0) this.event(c, 'write-in-copy', index, la, frame, slot, stamp);

    // §4.10.2.4: a translation is global only if the leaf has G = 1 and CR4.PGE = 1.
    const global = (leaf.value & G) !== 0n && (c.cr4 & CR4_PGE) !== 0n;
    return {
      kind: 'ok',
      translation: {
        page: pageNumber(la, shift),
        pcid: global ? 0 : pcid,
        global,
        frame,
        ...leaf.rights,
        d: ((leaf.value | (write ? D : 0n)) & D) !== 0n,
        pk,
        size: leafSize,
        slot,
        stamp,
      },
    };
  }

  /** Reserved bits of a present entry (§4.5, the entry-format tables; §4.7 RSVD). */
  private hasReservedBits(c: Cpu, level: Level, value: bigint): boolean {
    if (this.maxphyaddr < 52 && (value & bits(51n, BigInt(this.maxphyaddr))) !== 0n) return true;
    if ((c.efer & EFER_NXE) === 0n && (value & XD) !== 0n) return true;
    const ps = (value & PS) !== 0n;
    switch (level.name) {
      case 'pml5e':
      case 'pml4e':
        return ps;
      case 'pdpte':
        if (!ps) return false;
        // 1-GByte pages exist only with CPUID.80000001H:EDX.Page1GB[bit 26] = 1.
        return !this.page1gb || (value & bits(29n, 13n)) !== 0n;
      case 'pde':
        return ps && (value & bits(20n, 13n)) !== 0n;
      case 'pte':
        return false; // bit 7 of a PTE is PAT
    }
  }

  /**
   * The access-rights check of §4.6.1 and the protection-key check of §4.6.2 for rights `r` and
   * key `pk`. Returns 0 when allowed, else the error code of the protection #PF (§4.7).
   */
  private checkAccess(c: Cpu, kind: number, r: Rights, pk: number): number {
    const write = (kind & L.K_WRITE) !== 0;
    const fetch = (kind & L.K_FETCH) !== 0;
    const supervisor = (kind & L.K_SUPERVISOR) !== 0;
    const wp = (c.cr0 & CR0_WP) !== 0n;
    const smep = (c.cr4 & CR4_SMEP) !== 0n;
    const smap = (c.cr4 & CR4_SMAP) !== 0n;
    const ac = (c.rflags & RFLAGS_AC) !== 0n;

    let allowed: boolean;
    if (!supervisor) {
      // User-mode accesses reach user-mode addresses only.
      if (fetch) allowed = r.u && !r.xd;
      else if (write) allowed = r.u && r.w;
      else allowed = r.u;
    } else if (fetch) {
      // SMEP: no supervisor fetch from a user-mode address.
      allowed = !r.xd && (!r.u || !smep);
    } else {
      // SMAP: explicit supervisor data accesses to user-mode addresses need RFLAGS.AC = 1.
      const smapOk = !r.u || !smap || ac;
      allowed = write ? (r.w || !wp) && smapOk : smapOk;
    }

    // §4.6.2: PKRU governs data accesses to user-mode addresses, supervisor ones included.
    let pkDenied = false;
    if ((c.cr4 & CR4_PKE) !== 0n && r.u && !fetch) {
      const ad = ((c.pkru >>> (2 * pk)) & 1) !== 0;
      const wd = ((c.pkru >>> (2 * pk + 1)) & 1) !== 0;
      pkDenied = ad || (wd && write && (!supervisor || wp));
    }

    if (allowed && !pkDenied) return 0;
    return L.PF_P | this.faultBits(c, kind) | (pkDenied ? L.PF_PK : 0);
  }

  /** The W/R, U/S and I/D bits every #PF error code carries (§4.7). */
  private faultBits(c: Cpu, kind: number): number {
    let code = 0;
    if ((kind & L.K_WRITE) !== 0) code |= L.PF_WR;
    if ((kind & L.K_SUPERVISOR) === 0) code |= L.PF_US;
    // I/D is reported only when the fetch could have been refused for being a fetch.
    if ((kind & L.K_FETCH) !== 0 && ((c.efer & EFER_NXE) !== 0n || (c.cr4 & CR4_SMEP) !== 0n)) code |= L.PF_ID;
    return code;
  }

  /** Records a #PF and performs its invalidation (§4.10.4.1, "page-fault exceptions"). */
  private pageFault(c: Cpu, la: bigint, errorCode: number): AccessResult {
    c.cr2 = la;
    this.count(c, L.C_PAGE_FAULTS);
    const pcid = this.currentPcid(c);
    // The fault removes whatever could have produced it, so the handler's fix takes effect.
    this.removeTlb(c, (e) => this.tlbContains(e, la) && (e.global || e.pcid === pcid));
    for (const array of c.psc) {
      const level = pscLevel(array.index);
      array.removeWhere((e) => e.pcid === pcid && e.page === pageNumber(la, level.shift));
    }
    this.count(c, L.C_PF_INVALIDATIONS);
    return { status: 'page-fault', errorCode, cr2: la };
  }

  // ---- TLB lookup and fill (§4.10.2) ----

  /** The entry translating `la` for the current PCID, or null; STLB hits are copied to the L1. */
  private tlbLookup(c: Cpu, la: bigint): TlbSlot | null {
    const pcid = this.currentPcid(c);
    const probe = (arrayIndex: number, size: PageSize): TlbSlot | null => {
      const array = c.tlb[arrayIndex]!;
      if (!array.present) return null;
      const shift = PAGE_SHIFT[size];
      const set = setIndex(la, shift, array.sets);
      const page = pageNumber(la, shift);
      for (let way = 0; way < array.ways; way++) {
        const e = array.slots[set * array.ways + way]!;
        // §4.10.2.4: a global entry serves every PCID.
        if (e !== null && e.size === size && e.page === page && (e.global || e.pcid === pcid)) return e;
      }
      return null;
    };

    const l1: [number, PageSize, number][] = [
      [L.A_DTLB4K, '4K', L.C_DTLB4K_HITS],
      [L.A_DTLB2M, '2M', L.C_DTLB2M_HITS],
      [L.A_DTLB1G, '1G', L.C_DTLB1G_HITS],
    ];
    for (const [arrayIndex, size, counter] of l1) {
      const e = probe(arrayIndex, size);
      if (e !== null) {
        this.count(c, counter);
        return e;
      }
    }

    const stlb: [number, PageSize, number][] = [
      [L.A_STLB, '4K', L.C_STLB4K_HITS],
      [L.A_STLB, '2M', L.C_STLB2M_HITS],
      [L.A_STLB1G, '1G', L.C_STLB1G_HITS],
    ];
    for (const [arrayIndex, size, counter] of stlb) {
      const e = probe(arrayIndex, size);
      if (e !== null) {
        const copy = { ...e };
        this.fillArray(c, c.tlb[l1ArrayOf(size)]!, la, PAGE_SHIFT[size], copy);
        this.count(c, counter);
        return copy;
      }
    }
    return null;
  }

  /** Fills a translation into the L1 array of its size, then the STLB array of its size. */
  private fillTlb(c: Cpu, la: bigint, t: TlbSlot): void {
    const shift = PAGE_SHIFT[t.size];
    this.fillArray(c, c.tlb[l1ArrayOf(t.size)]!, la, shift, { ...t });
    this.fillArray(c, c.tlb[t.size === '1G' ? L.A_STLB1G : L.A_STLB]!, la, shift, { ...t });
  }

  private fillPsc(c: Cpu, la: bigint, level: Level, entry: PscSlot): void {
    this.fillArray(c, c.psc[level.psc - L.N_TLB_ARRAYS]!, la, level.shift, entry);
  }

  /** The first invalid way of the set, else the xorshift32 victim (an eviction). */
  private fillArray<T>(c: Cpu, array: CacheArray<T>, la: bigint, shift: bigint, entry: T): void {
    if (!array.present) return;
    const set = setIndex(la, shift, array.sets);
    let way = -1;
    for (let w = 0; w < array.ways; w++) {
      if (array.slots[set * array.ways + w] === null) {
        way = w;
        break;
      }
    }
    if (way < 0) {
      way = this.nextRandom(c) % array.ways;
      if (this.retentive) this.count(c, L.C_RETENTION_OVERFLOWS);
    }
    array.slots[set * array.ways + way] = entry;
  }

  /** xorshift32 (Marsaglia 2003), per CPU, on u32. */
  private nextRandom(c: Cpu): number {
    let x = c.rng;
    x = (x ^ (x << 13)) >>> 0;
    x = (x ^ (x >>> 17)) >>> 0;
    x = (x ^ (x << 5)) >>> 0;
    c.rng = x;
    return x;
  }

  // ---- Paging-structure caches (§4.10.3) ----

  /** The deepest PSC entry for `la` and the PCID: PDE, then PDPTE, PML4E, PML5E (with LA57). */
  private pscLookup(c: Cpu, la: bigint, levels: readonly Level[], pcid: number): { entry: PscSlot; levelIndex: number } | null {
    for (let levelIndex = levels.length - 2; levelIndex >= 0; levelIndex--) {
      const level = levels[levelIndex]!;
      const array = c.psc[level.psc - L.N_TLB_ARRAYS]!;
      if (!array.present) continue;
      const set = setIndex(la, level.shift, array.sets);
      const page = pageNumber(la, level.shift);
      for (let way = 0; way < array.ways; way++) {
        const e = array.slots[set * array.ways + way]!;
        // No global feature for the PSCs (§4.10.3.1): entries always belong to one PCID.
        if (e !== null && e.page === page && e.pcid === pcid) return { entry: e, levelIndex };
      }
    }
    return null;
  }

  // ---- Invalidation helpers ----

  private removeTlb(c: Cpu, drop: (e: TlbSlot) => boolean): void {
    for (const array of c.tlb) array.removeWhere(drop);
  }

  private removePsc(c: Cpu, drop: (e: PscSlot) => boolean): void {
    for (const array of c.psc) array.removeWhere(drop);
  }

  private flushAll(c: Cpu): void {
    for (const array of c.tlb) array.clear();
    for (const array of c.psc) array.clear();
  }

  private tlbContains(e: TlbSlot, la: bigint): boolean {
    return e.page === pageNumber(la, PAGE_SHIFT[e.size]);
  }

  // ---- Inspection ----

  tlbEntries(cpu: number): TlbEntry[] {
    const c = this.cpu(cpu);
    const out: TlbEntry[] = [];
    for (const array of c.tlb) {
      array.slots.forEach((e, i) => {
        if (e === null) return;
        out.push({
          array: ARRAY_NAMES[array.index]!,
          set: Math.floor(i / array.ways),
          way: i % array.ways,
          size: e.size,
          page: e.page,
          pcid: e.pcid,
          global: e.global,
          frame: e.frame,
          w: e.w,
          u: e.u,
          xd: e.xd,
          d: e.d,
          pk: e.pk,
          slot: e.slot,
          stamp: e.stamp,
        });
      });
    }
    return out;
  }

  pscEntries(cpu: number): PscEntry[] {
    const c = this.cpu(cpu);
    const out: PscEntry[] = [];
    for (const array of c.psc) {
      array.slots.forEach((e, i) => {
        if (e === null) return;
        out.push({
          array: ARRAY_NAMES[array.index]!,
          set: Math.floor(i / array.ways),
          way: i % array.ways,
          page: e.page,
          pcid: e.pcid,
          table: e.table,
          w: e.w,
          u: e.u,
          xd: e.xd,
          src: e.src,
          slot: e.slot,
          stamp: e.stamp,
        });
      });
    }
    return out;
  }

  counters(cpu: number): Counters {
    const c = this.cpu(cpu);
    const out = {} as Counters;
    COUNTER_NAMES.forEach((name, index) => {
      out[name] = c.counters[index]!;
    });
    return out;
  }

  drainEvents(cpu: number): OracleEvent[] {
    const c = this.cpu(cpu);
    const events = c.events;
    c.events = [];
    return events;
  }

  // ---- Oracle generations ----

  slotOf(pa: bigint): number {
    u64('physical address', pa);
    return pa >= this.physmem ? this.sharedSlot : this.slotBelowPhysmem(pa);
  }

  /** The contract's slot(pa) formula: per 4 KiB below zone4k, per 2 MiB above. */
  private slotBelowPhysmem(pa: bigint): number {
    if (pa < this.zone4k) return Number(pa >> 12n);
    return Number((this.zone4k >> 12n) + ((pa - this.zone4k) >> 21n));
  }

  readGeneration(slot: number): number {
    this.checkSlot(slot);
    return this.genAt(slot);
  }

  writeGeneration(slot: number, value: number): void {
    this.checkSlot(slot);
    if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new ArgumentError(`a generation is a u32 (got ${value})`);
    if (value === 0) this.generations.delete(slot);
    else this.generations.set(slot, value);
  }

  private genAt(slot: number): number {
    return this.generations.get(slot) ?? 0;
  }

  /** Slots 0..sharedSlot exist: those below physmem, then the shared one. */
  private checkSlot(slot: number): void {
    if (!Number.isInteger(slot) || slot < 0 || slot > this.sharedSlot) throw new ArgumentError(`generation slot ${slot} is outside 0..${this.sharedSlot}`);
  }

  private event(c: Cpu, kind: OracleEventKind, index: number, va: bigint, pa: bigint, slot: number, stamp: number): void {
    c.events.push({ kind, index, va, pa, slot, stamp });
    this.count(c, kind === 'tlb-stale' ? L.C_TLB_STALE : kind === 'psc-stale' ? L.C_PSC_STALE : L.C_WRITE_IN_COPY);
  }

  // ---- Physical memory of the page tables ----

  readEntry(pa: bigint): bigint {
    return this.poolView.getBigUint64(this.poolOffset(pa), true);
  }

  writeEntry(pa: bigint, value: bigint): void {
    const offset = this.poolOffset(pa);
    this.poolView.setBigUint64(offset, u64('entry value', value), true);
  }

  /** A copy of the pool's bytes (as Machine.poolBytes: for comparisons). */
  poolBytes(): Uint8Array {
    return this.pool.slice();
  }

  private inPool(pa: bigint): boolean {
    return pa >= this.poolBase && pa + 8n <= this.poolBase + BigInt(this.pool.byteLength);
  }

  /** Where the entry at `pa` is in the pool: an 8-byte aligned address inside it, or TableAddressError. */
  private poolOffset(pa: bigint): number {
    u64('entry address', pa);
    if ((pa & 7n) !== 0n) throw new TableAddressError(`entry address 0x${pa.toString(16)} is not 8-byte aligned`);
    if (!this.inPool(pa)) {
      const end = this.poolBase + BigInt(this.pool.byteLength);
      throw new TableAddressError(`entry address 0x${pa.toString(16)} is outside the table pool [0x${this.poolBase.toString(16)}, 0x${end.toString(16)})`);
    }
    return Number(pa - this.poolBase);
  }

  /** A walk's read: tables outside the pool read as zeros (not present). */
  private loadWalkEntry(pa: bigint): bigint {
    return this.inPool(pa) ? this.readEntry(pa) : 0n;
  }

  private compareAndSwap(pa: bigint, expected: bigint, value: bigint): boolean {
    if (this.readEntry(pa) !== expected) return false;
    this.writeEntry(pa, value);
    return true;
  }

  // ---- Small helpers ----

  private cpu(cpu: number): Cpu {
    if (!Number.isInteger(cpu) || cpu < 0 || cpu >= this.ncpus) throw new CpuRangeError(cpu, this.ncpus);
    return this.cpus[cpu]!;
  }

  private count(c: Cpu, counter: number): void {
    c.counters[counter]! += 1n;
  }

  /** §4.10.1: the current PCID is CR3[11:0] with CR4.PCIDE = 1, else 000H. */
  private currentPcid(c: Cpu): number {
    return (c.cr4 & CR4_PCIDE) !== 0n ? Number(c.cr3 & 0xfffn) : 0;
  }

  private levelsOf(c: Cpu): readonly Level[] {
    return (c.cr4 & CR4_LA57) !== 0n ? LEVELS_5 : LEVELS_4;
  }

  /** Bits 63:47 (4-level) or 63:56 (5-level) all equal. */
  private isCanonical(c: Cpu, la: bigint): boolean {
    const top = (c.cr4 & CR4_LA57) !== 0n ? 56n : 47n;
    const high = la >> top;
    return high === 0n || high === (U64_MASK >> top);
  }
}

// ---- Module helpers ----


/** Host-API argument check: addresses and register values are u64. */
function u64(name: string, v: bigint): bigint {
  if (typeof v !== 'bigint' || v < 0n || v > U64_MASK) throw new ArgumentError(`${name} must be a BigInt in [0, 2^64) (got ${String(v)})`);
  return v;
}

/** An access kind combines K_WRITE or K_FETCH (not both) with K_SUPERVISOR. */
function checkKind(kind: number, index: number): void {
  if (!Number.isInteger(kind) || kind < 0 || kind > 7 || (kind & L.K_WRITE && kind & L.K_FETCH)) {
    throw new ArgumentError(`access kind [${index}] must combine K_WRITE or K_FETCH (not both) with K_SUPERVISOR (got ${kind})`);
  }
}

/** LA[56:shift]: the page number of a TLB or PSC tag. */
function pageNumber(la: bigint, shift: bigint): bigint {
  return (la >> shift) & ((1n << (PAGE_NUMBER_TOP - shift)) - 1n);
}

/** (LA >> shift) mod sets, taken from the page number LA[56:shift] (the same for every geometry
 * whose sets fit in the page number). */
function setIndex(la: bigint, shift: bigint, sets: number): number {
  return Number(pageNumber(la, shift) & BigInt(sets - 1));
}

function pageOffset(la: bigint, size: PageSize): bigint {
  return la & ((1n << PAGE_SHIFT[size]) - 1n);
}

function l1ArrayOf(size: PageSize): number {
  return size === '4K' ? L.A_DTLB4K : size === '2M' ? L.A_DTLB2M : L.A_DTLB1G;
}

function pscLevel(arrayIndex: number): Level {
  switch (arrayIndex) {
    case L.A_PML5:
      return PML5E;
    case L.A_PML4:
      return PML4E;
    case L.A_PDPTE:
      return PDPTE;
    case L.A_PDE:
      return PDE;
  }
  throw new Error(`array ${arrayIndex} is not a paging-structure cache`);
}

function pscHitCounter(level: Level): number {
  switch (level.name) {
    case 'pml5e':
      return L.C_PSC_PML5_HITS;
    case 'pml4e':
      return L.C_PSC_PML4_HITS;
    case 'pdpte':
      return L.C_PSC_PDPTE_HITS;
    default:
      return L.C_PSC_PDE_HITS;
  }
}
