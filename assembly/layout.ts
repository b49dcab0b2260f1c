// The memory map of the machine: the one place both languages read it from.
// This file is compiled by AssemblyScript into the core and imported as TypeScript by the host, so
// it holds plain integer constants only (no types, no arrays: an array would become a data segment,
// and data segments are re-applied on every instantiation, overwriting the shared memory).
// The layout is dynamic (CPU count, pool size, geometry); the host writes it into the header and
// the core reads it back in init().

export const LAYOUT_MAGIC = 0x554d4d57; // "WMMU"
export const LAYOUT_VERSION = 1;

// ---- Header, at offset 0 (u32 fields) ----
export const HEADER_BYTES = 4096;
export const HDR_MAGIC = 0;
export const HDR_VERSION = 4;
export const HDR_NCPUS = 8;
export const HDR_CPU_BASE = 12; // offset of CPU 0's block
export const HDR_CPU_STRIDE = 16; // bytes per CPU block
export const HDR_POOL_BASE = 20; // first byte of the page-table pool (= its physical address)
export const HDR_POOL_BYTES = 24; // size of the pool; grows at the end of memory
export const HDR_GEN_BASE = 28; // generation slots, u32 each
export const HDR_GEN_SLOTS = 32;
export const HDR_ZONE4K_PAGES = 36; // zone4k >> 12: slots are per 4 KiB below, per 2 MiB above
export const HDR_MAXPHYADDR = 40;
export const HDR_FLAGS = 44;
export const HDR_BATCH_CAP = 48; // accesses per CPU batch
export const HDR_EVENT_CAP = 52; // oracle events per CPU ring
export const HDR_BATCH_OFF = 56; // offsets inside a CPU block
export const HDR_RESULT_OFF = 60;
export const HDR_EVENT_OFF = 64;
export const HDR_PHYSMEM = 72; // u64, simulated physical memory in bytes
export const HDR_GEOM = 128; // N_ARRAYS records of GEOM_BYTES
export const GEOM_SETS = 0;
export const GEOM_WAYS = 4;
export const GEOM_OFF = 8; // offset of the array inside a CPU block
export const GEOM_BYTES = 12;

export const FLAG_PAGE1GB = 1; // CPUID.80000001H:EDX[26]
export const FLAG_RETENTIVE = 2;

// ---- The cache arrays of a CPU: five TLBs, four paging-structure caches ----
export const A_DTLB4K = 0;
export const A_DTLB2M = 1;
export const A_DTLB1G = 2;
export const A_STLB = 3; // 4 KiB and 2 MiB translations
export const A_STLB1G = 4;
export const A_PML5 = 5;
export const A_PML4 = 6;
export const A_PDPTE = 7;
export const A_PDE = 8;
export const N_ARRAYS = 9;
export const N_TLB_ARRAYS = 5;

// ---- A CPU block ----
export const CPU_CR0 = 0; // u64
export const CPU_CR3 = 8; // u64
export const CPU_CR4 = 16; // u64
export const CPU_EFER = 24; // u64
export const CPU_RFLAGS = 32; // u64
export const CPU_PKRU = 40; // u32
export const CPU_PCID = 44; // u32, derived: CR3[11:0] with PCIDE, else 0
export const CPU_RNG = 48; // u32, xorshift32 state for victim ways
export const CPU_STATUS = 52; // u32, ST_* of the last batch
export const CPU_VECTOR = 56; // u32, 14 (#PF) or 13 (#GP) after a fault
export const CPU_ERROR_CODE = 60; // u32
export const CPU_CR2 = 64; // u64
export const CPU_STOP_INDEX = 72; // u32, batch index where the last run stopped
export const CPU_EVENT_COUNT = 76; // u32, events in the ring
export const CPU_LEVELS = 80; // u32, 4 or 5
// u32, a hint: non-zero once a translation went into dtlb4k since reset. While it is zero the
// lookup does not probe dtlb4k (it could not hit): a hugetlb workload's accesses skip a set of a
// retentive 4 KiB array too big for the caches.
export const CPU_FILLED_4K = 84;
export const CPU_CANON_SHIFT = 96; // u32, derived: 16 (4-level) or 7 (5-level)
export const CPU_COUNTERS = 128; // u64 x N_COUNTERS
export const CPU_RSVD_LEVELS = 416; // u64 x 10, derived: reserved bits of an entry by (level << 1 | PS)
export const CPU_WALK = 512; // 5 x WALK_REC_BYTES: the entries one walk read, top first
export const WALK_REC_BYTES = 24; // u64 entry address, u64 value read, u64 rights accumulated down to it
export const CPU_PERM = 1024; // u8 x PERM_BYTES: access check table, rebuilt on register writes
export const PERM_BYTES = 2048;
export const CPU_FIXED_BYTES = 4096; // arrays, batch, results and events follow

// Access-check table: index = kind << 8 | D << 7 | U << 6 | W << 5 | XD << 4 | PK.
// Value 0: allowed; PERM_DIRTY: allowed but a write through a clean entry (re-walk);
// otherwise the page-fault error code.
export const PERM_DIRTY = 0x80;

// ---- Access kinds (batch records) ----
export const K_WRITE = 1;
export const K_FETCH = 2;
export const K_SUPERVISOR = 4;

// Batch record: u64 linear address, u32 kind, u32 unused. Result: u64 physical address.
// In column form (RUN_COLUMNS) the same bytes hold capacity u64 addresses, then capacity u8 kinds:
// a host that has its accesses as columns copies them in with two block copies.
export const BATCH_RECORD_BYTES = 16;
export const RESULT_BYTES = 8;

// runBatch flags: results wanted; accessed/dirty updates deferred (reported, not written); the batch
// area in column form.
export const RUN_RESULTS = 1;
export const RUN_DEFER_AD = 2;
export const RUN_COLUMNS = 4;

// ---- Batch status ----
export const ST_OK = 0;
export const ST_PAGE_FAULT = 1;
export const ST_GENERAL_PROTECTION = 2;
export const ST_EVENTS_FULL = 3;

export const VEC_GP = 13;
export const VEC_PF = 14;

// ---- Page-fault error code (SDM §4.7) ----
export const PF_P = 1;
export const PF_WR = 2;
export const PF_US = 4;
export const PF_RSVD = 8;
export const PF_ID = 16;
export const PF_PK = 32;

// ---- A TLB entry, 32 bytes ----
// tag = size << 61 | page number << 13 | PCID << 1 | 1 (valid); a global entry stores PCID 0 and
// mask = ~0x1FFE so that it matches under any PCID; a non-global entry has mask = ~0. The size is in
// the tag because the STLB holds 4 KiB and 2 MiB entries whose page numbers can be equal.
// pte = frame | P | W(1) | U(2) | D(6) | G(8) | size(10:9) | PK(62:59) | XD(63): the
// cached translation in the leaf entry's own format, with the rights accumulated over all levels.
export const ENTRY_BYTES = 32;
export const E_TAG = 0;
export const E_MASK = 8;
export const E_PTE = 16;
export const E_SLOT = 24;
export const E_STAMP = 28;
export const TAG_PCID_SHIFT = 1;
export const TAG_PAGE_SHIFT = 13;
export const TAG_SIZE_SHIFT = 61;
export const SIZE_SHIFT = 9; // page-size code in pte bits 10:9
export const SIZE_4K = 0;
export const SIZE_2M = 1;
export const SIZE_1G = 2;

// ---- A paging-structure-cache entry, 32 bytes ----
// tag as for the TLB (page number = LA >> the level's shift); entry = next table | W | U | XD
// accumulated down to this level; src = physical address of the entry it was filled from.
export const P_TAG = 0;
export const P_ENTRY = 8;
export const P_SRC = 16;
export const P_SLOT = 24;
export const P_STAMP = 28;

// ---- Oracle events, 32 bytes each ----
export const EVENT_BYTES = 32;
export const EV_KIND = 0; // u32
export const EV_INDEX = 4; // u32, batch index of the access
export const EV_VA = 8; // u64
export const EV_PA = 16; // u64, the frame (tlb-stale, write-in-copy) or the table (psc-stale)
export const EV_SLOT = 24; // u32
export const EV_STAMP = 28; // u32, what the entry remembered
export const EVK_TLB_STALE = 1;
export const EVK_PSC_STALE = 2;
export const EVK_WRITE_IN_COPY = 3;
// Not an oracle event: with RUN_DEFER_AD a walk reports the A/D bits it would have set here
// (EV_PA = the entry's physical address, EV_SLOT = the bits) instead of writing them.
export const EVK_ACCESSED_DIRTY = 4;

// Generation word: bit 31 marks a migration copy window, bits 30:0 the generation.
export const GEN_COPY_WINDOW = 0x80000000;

// ---- Counters, u64 each, at CPU_COUNTERS + 8 * index ----
export const C_ACCESSES = 0;
export const C_READS = 1;
export const C_WRITES = 2;
export const C_FETCHES = 3;
export const C_DTLB4K_HITS = 4;
export const C_DTLB2M_HITS = 5;
export const C_DTLB1G_HITS = 6;
export const C_STLB4K_HITS = 7;
export const C_STLB2M_HITS = 8;
export const C_STLB1G_HITS = 9;
export const C_TLB_MISSES = 10;
export const C_WALKS = 11;
export const C_WALK_LOADS = 12;
export const C_WALK_RESTARTS = 13;
export const C_PSC_PML5_HITS = 14;
export const C_PSC_PML4_HITS = 15;
export const C_PSC_PDPTE_HITS = 16;
export const C_PSC_PDE_HITS = 17;
export const C_A_SETS = 18;
export const C_D_SETS = 19;
export const C_DIRTY_REWALKS = 20;
export const C_PAGE_FAULTS = 21;
export const C_GP_FAULTS = 22;
export const C_INVLPG = 23;
export const C_INVPCID0 = 24;
export const C_INVPCID1 = 25;
export const C_INVPCID2 = 26;
export const C_INVPCID3 = 27;
export const C_CR3_FLUSH = 28;
export const C_CR3_NO_FLUSH = 29;
export const C_CR4_FLUSH = 30;
export const C_PF_INVALIDATIONS = 31;
export const C_TLB_STALE = 32;
export const C_PSC_STALE = 33;
export const C_WRITE_IN_COPY = 34;
export const C_RETENTION_OVERFLOWS = 35;
export const N_COUNTERS = 36;
