/*
 * The native baseline of the hardware benchmarks: the same batch of accesses over the same page
 * tables as the WebAssembly core, in plain C compiled with gcc -O2 at bench time (bench/native.ts).
 *
 * It does the work docs/hardware.md asks of the hot path and nothing more clever: per access the
 * canonical check, the L1 TLB probes (tag = page << 13 | PCID << 1 | valid, a mask that hides the
 * PCID of global entries), the rights verdict from the same 2 KiB table the core builds, the oracle's
 * generation compare; on a miss the 4-level (or 5-level) walk with atomic loads, reserved-bit
 * checks, accumulated rights, the A/D compare-and-swap of SDM §4.8 (only where a bit is missing),
 * the generation of the frame (TLB stamp, write-in-copy check) and the L1 fill (first invalid way,
 * else the xorshift32 victim). Entries are 32 bytes in the core's format.
 *
 * Two loops run the batch, chosen by the key overlap: run_batch, the serial loop (overlap=0), one
 * access after the other, each walk waiting for its load at one level before it reads the next;
 * and run_batch_overlapped (overlap=N, 2 to 32), which descends the tables for N accesses at once,
 * level by level, then finishes them in access order (the comment above it says how it stays
 * exact). Both use the same steps (walk_step, walk_finish, run_access), so they check the same
 * things: present and reserved bits at every level, the accumulated rights and the rights verdict,
 * A (every level) and D (the leaf, on a write) by compare-and-swap where missing; the host checks
 * that both produce the same checksum and the same counters.
 *
 * Deliberately absent from both, compared with the WebAssembly core's batch and walk, because
 * neither benchmark exercises them in its timed loop: the STLB and the paging-structure caches
 * (the tlb-hit batch hits the L1 dTLB every time; the walk batch runs with every TLB array and PSC
 * absent), fault delivery and invalidation (no access faults: the batch stops at a fault, CR2 and
 * the error code are not written, the host checks the count), the oracle's event ring (a stale TLB
 * use or a write in a copy window is only counted; generations never move), the deferred A/D mode
 * (the core reports the updates as events instead of writing them), and the per-access results
 * (the core's timed batches run with results off; the walker sums the physical addresses). The
 * reserved bits come from a per-level table in the core and are computed per level here.
 *
 * Usage: walker DIR SECONDS key=value...
 *   DIR holds pool.bin (the table pool's bytes, physical address = pool_base + offset),
 *   records.bin (16-byte batch records: u64 LA, u32 kind, u32 unused) and perm.bin (the CPU's
 *   2048-byte rights table). Keys: pool_base cr3 pcid levels maxphyaddr page1gb nxe pge pke
 *   gen_slots zone4k_pages l1_4k_sets l1_4k_ways l1_2m_sets l1_2m_ways l1_1g_sets l1_1g_ways overlap.
 * Output: one JSON object: the timed samples (ns per access, one batch each), the overlap, a hash
 * of the tables after all batches, the checksum of the last batch's physical addresses and the
 * counters of that batch, and the same of the first (untimed) pass under "first".
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef uint64_t u64;
typedef uint32_t u32;

#define PTE_P (1ull << 0)
#define PTE_RW (1ull << 1)
#define PTE_US (1ull << 2)
#define PTE_A (1ull << 5)
#define PTE_D (1ull << 6)
#define PTE_PS (1ull << 7)
#define PTE_G (1ull << 8)
#define PTE_XD (1ull << 63)
#define RSVD_1G_LEAF 0x3fffe000ull
#define RSVD_2M_LEAF 0x001fe000ull
#define LA_BITS 0x01ffffffffffffffull
#define FRAME_BITS 0x000ffffffffff000ull
#define GEN_COPY_WINDOW 0x80000000u
#define TAG_PAGE_SHIFT 13
#define TAG_PCID_SHIFT 1
#define SIZE_SHIFT 9
#define K_WRITE 1u
#define K_FETCH 2u
#define K_SUPERVISOR 4u
#define PERM_DIRTY 0x80u
#define PF_P 1u
#define PF_WR 2u
#define PF_US 4u
#define PF_RSVD 8u
#define PF_ID 16u
#define WALK_FAULT 0x100u

typedef struct { u64 la; u32 kind; u32 unused; } record_t;
typedef struct { u64 tag; u64 mask; u64 pte; u32 slot; u32 stamp; } entry_t; /* 32 bytes, as the core's */
typedef struct { entry_t *e; u32 sets, ways; } tlb_array_t;

/* The machine: the same tables and registers as the core's CPU 0. */
static uint8_t *pool;
static u64 pool_base, pool_bytes;
static uint8_t perm[2048];
static u32 *gen;
static u32 gen_slots;
static u64 zone4k;
static u64 cr3, addr_mask, rsvd;
static u32 pcid, levels, page1gb, nxe, pge, pke, rng = 0x9E3779B9u;
static tlb_array_t l1[3]; /* 4K, 2M, 1G */

/* Counters of the last batch (a hardware counter block, as the core keeps). */
static struct { u64 accesses, writes, fetches, hits[3], misses, walks, walk_loads, restarts, a_sets, d_sets, write_in_copy, tlb_stale; } c;

static u64 pa; /* the physical address of the last access */

static inline u64 tag_of(u64 page, u32 p) { return (page << TAG_PAGE_SHIFT) | ((u64)p << TAG_PCID_SHIFT) | 1; }
static inline u32 rights_index(u32 kind, u64 pte) {
  return (kind << 8) | ((u32)(pte >> 6) & 1) << 7 | ((u32)pte & 6) << 4 | (u32)(pte >> 59);
}
static inline u32 slot_of(u64 a) {
  u64 s = a < zone4k ? a >> 12 : (zone4k >> 12) + ((a - zone4k) >> 21);
  return s < gen_slots ? (u32)s : gen_slots - 1;
}
static inline u32 generation(u32 slot) { return __atomic_load_n(&gen[slot], __ATOMIC_SEQ_CST); }

static inline u64 read_entry(u64 ea) {
  /* A table outside the pool has no contents: not present. */
  return ea - pool_base < pool_bytes ? __atomic_load_n((u64 *)(pool + (ea - pool_base)), __ATOMIC_SEQ_CST) : 0;
}

static inline entry_t *probe(const tlb_array_t *a, u64 page, u64 key) {
  if (a->sets == 0) return 0;
  entry_t *p = a->e + (size_t)((u32)page & (a->sets - 1)) * a->ways;
  for (entry_t *end = p + a->ways; p < end; p++)
    if ((key & p->mask) == p->tag) return p;
  return 0;
}

static void fill(tlb_array_t *a, u64 la, u64 pte, int global, u32 slot, u32 stamp) {
  if (a->sets == 0) return;
  u32 size = (u32)(pte >> SIZE_SHIFT) & 3;
  u64 page = (la & LA_BITS) >> (12 + 9 * size);
  entry_t *set = a->e + (size_t)((u32)page & (a->sets - 1)) * a->ways, *p = 0;
  for (u32 w = 0; w < a->ways; w++)
    if ((set[w].tag & 1) == 0) { p = &set[w]; break; }
  if (!p) {
    rng ^= rng << 13; rng ^= rng >> 17; rng ^= rng << 5;
    p = &set[rng % a->ways];
  }
  p->tag = tag_of(page, global ? 0 : pcid);
  p->mask = global ? ~(0xfffull << TAG_PCID_SHIFT) : ~0ull;
  p->pte = pte;
  p->slot = slot;
  p->stamp = stamp;
}

static u32 fault_bits(u32 kind) {
  u32 code = 0;
  if (kind & K_WRITE) code |= PF_WR;
  if (!(kind & K_SUPERVISOR)) code |= PF_US;
  if ((kind & K_FETCH) && nxe) code |= PF_ID;
  return code;
}

/* One walk in progress: the entries read so far (for the A/D pass) and what they add up to. */
typedef struct {
  u64 la, table, rights, e; /* e: the last entry read, the leaf once the descent has ended */
  u32 kind, level, n, loads, status; /* status: WALK_FAULT | error code, or 0 */
  struct { u64 ea, v; } read[5];
} walk_t;

#define WALK_RESTART 0x200u /* walk_finish lost a compare-and-swap: the tables changed, walk again */

static inline void walk_begin(walk_t *w, u64 la, u32 kind) {
  w->la = la;
  w->kind = kind;
  w->level = levels - 1;
  w->table = cr3 & addr_mask;
  w->rights = PTE_RW | PTE_US;
  w->n = 0;
  w->loads = 0;
  w->status = 0;
}

/* SDM §4.5: one level of the descent, one load. Returns 1 while another level follows; 0 once the
   walk holds its leaf (w->level is then its size: 0 4K, 1 2M, 2 1G) or has faulted (w->status). */
static inline __attribute__((always_inline)) int walk_step(walk_t *w) {
  u32 level = w->level;
  u64 ea = w->table + (((w->la >> (12 + 9 * level)) & 511) << 3);
  u64 e = read_entry(ea);
  w->loads++;
  if (!(e & PTE_P)) { w->status = WALK_FAULT | fault_bits(w->kind); return 0; }
  u64 r = rsvd;
  if (level >= 3) r |= PTE_PS;
  else if (level == 2 && (e & PTE_PS)) r |= page1gb ? RSVD_1G_LEAF : PTE_PS;
  else if (level == 1 && (e & PTE_PS)) r |= RSVD_2M_LEAF;
  if (e & r) { w->status = WALK_FAULT | PF_P | PF_RSVD | fault_bits(w->kind); return 0; }
  w->rights = (w->rights & (e | ~(PTE_RW | PTE_US))) | (e & PTE_XD);
  w->read[w->n].ea = ea;
  w->read[w->n].v = e;
  w->n++;
  w->e = e;
  if (level == 0 || (e & PTE_PS)) return 0; /* PS above level 2 faulted as reserved */
  w->table = e & addr_mask;
  w->level = level - 1;
  return 1;
}

/* §4.6 rights of the whole translation, then §4.8 A/D by compare-and-swap from the values read,
   the frame's generation, the L1 fill and the physical address. */
static inline __attribute__((always_inline)) u32 walk_finish(walk_t *w) {
  u32 size = w->level, shift = 12 + 9 * size, n = w->n;
  int write = (w->kind & K_WRITE) != 0;
  u64 e = w->e;
  u64 frame = e & addr_mask & ~((1ull << shift) - 1);
  int global = (e & PTE_G) && pge;
  u64 pk = pke ? (e >> 59) & 15 : 0;
  u64 pte = frame | PTE_P | w->rights | (pk << 59) | (global ? PTE_G : 0) | ((u64)size << SIZE_SHIFT);
  u32 code = perm[rights_index(w->kind, pte | PTE_D)];
  if (code) return WALK_FAULT | code;

  for (u32 i = 0; i < n; i++) {
    u64 v = w->read[i].v, want = v | PTE_A;
    if (i == n - 1 && write) want |= PTE_D;
    if (want == v) continue;
    u64 expected = v;
    u64 *ptr = (u64 *)(pool + (w->read[i].ea - pool_base));
    if (!__atomic_compare_exchange_n(ptr, &expected, want, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) return WALK_RESTART;
    if (!(v & PTE_A)) c.a_sets++;
    if (want & ~v & PTE_D) c.d_sets++;
    w->read[i].v = want;
  }
  if (w->read[n - 1].v & PTE_D) pte |= PTE_D;

  u32 slot = slot_of(frame), g = generation(slot), stamp = g & ~GEN_COPY_WINDOW;
  fill(&l1[size], w->la, pte, global, slot, stamp);
  if (write && (g & GEN_COPY_WINDOW)) c.write_in_copy++;
  pa = frame | (w->la & ((1ull << shift) - 1));
  return 0;
}

/* The walk of one access, counted by the caller; `descended`: w already holds a descent that is
   still true of the tables (the overlapped batch's), else the first attempt reads the tables now. */
static inline __attribute__((always_inline)) u32 walk_attempts(walk_t *w, int descended) {
  for (;;) {
    if (!descended) {
      walk_begin(w, w->la, w->kind);
      while (walk_step(w)) {}
    }
    descended = 0;
    c.walk_loads += w->loads;
    if (w->status) return w->status;
    u32 r = walk_finish(w);
    if (r != WALK_RESTART) return r;
    c.restarts++;
  }
}

/* SDM §4.5 walk, §4.6 rights, §4.8 A/D by compare-and-swap (restart on a lost race). */
static u32 walk(u64 la, u32 kind) {
  walk_t w;
  c.walks++;
  w.la = la;
  w.kind = kind;
  return walk_attempts(&w, 0);
}

/* A hit: the rights verdict, then the physical address and the oracle's generation compare. */
static inline u32 use_entry(entry_t *p, u64 la, u32 kind, u64 off_mask) {
  u32 verdict = perm[rights_index(kind, p->pte)];
  if (verdict) {
    if (verdict != PERM_DIRTY) return 1; /* a protection fault: stop */
    p->tag = 0;                          /* the dirty re-walk: drop the clean entry, walk, fill */
    p->mask = ~0ull;
    return walk(la, kind) ? 1 : 0;
  }
  pa = (p->pte & FRAME_BITS) | (la & off_mask);
  if (generation(p->slot) != p->stamp) c.tlb_stale++; /* the core records an event; never here */
  return 0;
}

/* Has the descent phase 1 of the overlapped batch made for this access become out of date by the
   time the access's turn comes? The only writes to the tables during a batch are the walks' own A/D
   updates, which only ever set A or D. An entry read with A set (and the leaf with D) can therefore
   only have gained D in a non-leaf position, which nothing in the walk looks at (D is no reserved
   bit, no rights bit and no address bit there): the serial walk would read the same translation
   and write nothing. A fault found in the descent (not present, reserved bits) rests on bits no A/D
   update changes, so it stands too. Any other descent is out of date: its walk reads the tables
   again at its turn, as the serial walk does. */
static inline int descent_stands(const walk_t *w) {
  if (w->status) return 1;
  u64 all = PTE_A;
  for (u32 i = 0; i < w->n; i++) all &= w->read[i].v;
  return all && (w->e & PTE_D);
}

/* One access, exactly as the serial loop runs it: 1 means the batch stops here (#GP or a fault).
   `descended`: the access's walk as phase 1 of the overlapped batch read it, or 0 (walk now). */
static inline __attribute__((always_inline)) u32 run_access(u64 la, u32 kind, u32 canon, walk_t *descended) {
  c.writes += kind & K_WRITE;
  c.fetches += (kind >> 1) & 1;
  if ((u64)((int64_t)(la << canon) >> canon) != la) return 1; /* #GP */
  u64 page = (la & LA_BITS) >> 12;
  entry_t *p;
  if ((p = probe(&l1[0], page, tag_of(page, pcid)))) { c.hits[0]++; return use_entry(p, la, kind, 0xfff); }
  if ((p = probe(&l1[1], page >> 9, tag_of(page >> 9, pcid)))) { c.hits[1]++; return use_entry(p, la, kind, 0x1fffff); }
  if ((p = probe(&l1[2], page >> 18, tag_of(page >> 18, pcid)))) { c.hits[2]++; return use_entry(p, la, kind, 0x3fffffff); }
  c.misses++;
  if (!descended) return walk(la, kind) != 0;
  c.walks++;
  return walk_attempts(descended, descent_stands(descended)) != 0;
}

/* Runs the batch; returns how many accesses completed and the sum of their physical addresses. */
static __attribute__((noinline)) u32 run_batch(const record_t *rec, u32 n, u64 *sum) {
  u64 s = 0;
  u32 i = 0;
  u32 canon = levels == 5 ? 7 : 16;
  memset(&c, 0, sizeof c);
  for (; i < n; i++) {
    if (run_access(rec[i].la, rec[i].kind & 7, canon, 0)) break;
    s += pa;
  }
  c.accesses = i;
  *sum = s;
  return i;
}

/*
 * The same batch with `overlap` walks in flight: memory-level parallelism, the way an out-of-order
 * core with several outstanding misses (or a walker that batches its TLB misses) overlaps the cache
 * misses of independent walks, where the serial loop waits for each load before the next.
 *
 * Phase 1 descends the tables for the next `overlap` accesses level by level, interleaved: the
 * top-level entries of all of them, then the next level of all that go on, and so on. Each step is
 * walk_step, the serial walk's own, so the checks (present, reserved bits, PS) and the rights
 * accumulation are the same; phase 1 only loads, it writes nothing. Phase 2 then runs the accesses
 * one by one in access order through the serial loop's run_access: the canonical check, the TLB
 * probes, and on a miss walk_finish from the phase-1 descent (rights verdict, A/D by
 * compare-and-swap, generation, fill, physical address), or a fresh walk when the descent is out
 * of date (descent_stands). So every access sees the tables and TLBs in the state the serial loop
 * gives it, and the batch computes the same translations, checksum and counters (walk_loads counts
 * the loads of the descents used; a descent read again is not counted twice). Phase 1 descends for
 * every access of a group, hit or miss: the variant is made for the walk benchmark, where every
 * access misses; on the TLB-hit batch its loads would be wasted.
 *
 * Measured on the project's 2-core machine (2026-12-06, gcc 12 -O2, a load average of 11 to 13),
 * this loop runs the walk batch at about three quarters of the serial one's rate (26.7-29.9 against
 * 34.6-38.4 M accesses/s in six runs of the benchmark): that batch's tables (2 MiB of PTEs)
 * and generation slots stay in the caches, successive serial walks do not depend on one another so
 * the out-of-order core already overlaps their loads, and keeping 8 walks' state in memory costs
 * about 130 instructions per access more (callgrind: 505 against 373), which is more than the
 * overlap hides. With no cache miss at all (the 2 MiB half of the batch only) it is 20 ns against
 * 13.7 ns per access; 4 and 16 walks in flight measure the same as 8.
 */
#define MAX_OVERLAP 32
static u32 overlap;

static __attribute__((noinline)) u32 run_batch_overlapped(const record_t *rec, u32 n, u64 *sum) {
  walk_t w[MAX_OVERLAP];
  u64 s = 0;
  u32 i = 0;
  u32 canon = levels == 5 ? 7 : 16;
  memset(&c, 0, sizeof c);
  while (i < n) {
    u32 g = n - i < overlap ? n - i : overlap;
    for (u32 k = 0; k < g; k++) walk_begin(&w[k], rec[i + k].la, rec[i + k].kind & 7);
    /* Phase 1: one level of every walk still descending, then the next level. */
    u32 active = (u32)((1ull << g) - 1);
    while (active) {
      u32 next = 0;
      for (u32 left = active; left; left &= left - 1) {
        u32 k = (u32)__builtin_ctz(left);
        if (walk_step(&w[k])) next |= 1u << k;
      }
      active = next;
    }
    /* Phase 2: the accesses in order. */
    for (u32 k = 0; k < g; k++, i++) {
      if (run_access(w[k].la, w[k].kind, canon, &w[k])) goto stop;
      s += pa;
    }
  }
stop:
  c.accesses = i;
  *sum = s;
  return i;
}

/* The counters of the last batch and its checksum, as JSON members. */
static void print_batch(u64 sum) {
  printf("\"checksum\":\"%llu\",\"hits4k\":%llu,\"hits2m\":%llu,\"hits1g\":%llu,"
         "\"misses\":%llu,\"walks\":%llu,\"walkLoads\":%llu,\"restarts\":%llu,\"aSets\":%llu,\"dSets\":%llu",
         (unsigned long long)sum,
         (unsigned long long)c.hits[0], (unsigned long long)c.hits[1], (unsigned long long)c.hits[2],
         (unsigned long long)c.misses, (unsigned long long)c.walks, (unsigned long long)c.walk_loads,
         (unsigned long long)c.restarts, (unsigned long long)c.a_sets, (unsigned long long)c.d_sets);
}

static void *read_file(const char *dir, const char *name, size_t *len) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "rb");
  if (!f) { perror(path); exit(2); }
  fseek(f, 0, SEEK_END);
  *len = (size_t)ftell(f);
  fseek(f, 0, SEEK_SET);
  void *buf = aligned_alloc(4096, (*len + 4095) & ~(size_t)4095);
  if (!buf || fread(buf, 1, *len, f) != *len) { fprintf(stderr, "cannot read %s\n", path); exit(2); }
  fclose(f);
  return buf;
}

static u64 param(int argc, char **argv, const char *key) {
  size_t k = strlen(key);
  for (int i = 3; i < argc; i++)
    if (!strncmp(argv[i], key, k) && argv[i][k] == '=') return strtoull(argv[i] + k + 1, 0, 0);
  fprintf(stderr, "missing parameter %s\n", key);
  exit(2);
}

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}


int main(int argc, char **argv) {
  if (argc < 3) { fprintf(stderr, "usage: walker DIR SECONDS key=value...\n"); return 2; }
  const char *dir = argv[1];
  double budget_ns = atof(argv[2]) * 1e9;
  size_t len;
  pool = read_file(dir, "pool.bin", &len);
  pool_bytes = len;
  record_t *rec = read_file(dir, "records.bin", &len);
  u32 n = (u32)(len / sizeof(record_t));
  uint8_t *p = read_file(dir, "perm.bin", &len);
  if (len != sizeof perm) { fprintf(stderr, "perm.bin must be 2048 bytes\n"); return 2; }
  memcpy(perm, p, sizeof perm);

  pool_base = param(argc, argv, "pool_base");
  cr3 = param(argc, argv, "cr3");
  pcid = (u32)param(argc, argv, "pcid");
  levels = (u32)param(argc, argv, "levels");
  u32 m = (u32)param(argc, argv, "maxphyaddr");
  page1gb = (u32)param(argc, argv, "page1gb");
  nxe = (u32)param(argc, argv, "nxe");
  pge = (u32)param(argc, argv, "pge");
  pke = (u32)param(argc, argv, "pke");
  gen_slots = (u32)param(argc, argv, "gen_slots");
  zone4k = param(argc, argv, "zone4k_pages") << 12;
  overlap = (u32)param(argc, argv, "overlap");
  if (overlap == 1 || overlap > MAX_OVERLAP) { fprintf(stderr, "overlap must be 0 (the serial loop) or 2 to %d walks in flight\n", MAX_OVERLAP); return 2; }
  u32 (*batch)(const record_t *, u32, u64 *) = overlap ? run_batch_overlapped : run_batch;
  addr_mask = ((1ull << m) - 1) & ~0xfffull;
  rsvd = (m >= 52 ? 0 : ((1ull << 52) - 1) & ~((1ull << m) - 1)) | (nxe ? 0 : PTE_XD);
  /* Every generation 0, as in the core's memory, and written so that each slot has its own memory
     (untouched calloc memory would all read from the kernel's one shared zero page). */
  gen = malloc((size_t)gen_slots * sizeof *gen);
  if (gen) memset(gen, 0, (size_t)gen_slots * sizeof *gen);
  const char *keys[3][2] = {{"l1_4k_sets", "l1_4k_ways"}, {"l1_2m_sets", "l1_2m_ways"}, {"l1_1g_sets", "l1_1g_ways"}};
  for (int a = 0; a < 3; a++) {
    l1[a].sets = (u32)param(argc, argv, keys[a][0]);
    l1[a].ways = (u32)param(argc, argv, keys[a][1]);
    size_t entries = (size_t)l1[a].sets * l1[a].ways;
    l1[a].e = aligned_alloc(64, entries ? entries * sizeof(entry_t) : 64);
    for (size_t i = 0; i < entries; i++) { l1[a].e[i].tag = 0; l1[a].e[i].mask = ~0ull; }
  }
  if (!gen || !n) { fprintf(stderr, "no memory or no records\n"); return 2; }

  /* The first pass fills the TLB (tlb-hit) or sets the upper levels' A bits (walk), as the host does. */
  u64 sum = 0;
  u32 done = batch(rec, n, &sum);
  if (done != n) { printf("{\"error\":\"the first pass stopped at access %u of %u\"}\n", done, n); return 1; }
  u64 first_sum = sum;
  typeof(c) first = c;

  /* One batch per sample, as tinybench times the WebAssembly core's batches, until the time budget
     is spent (at least 5 samples). The statistics are the host's (bench/hardware.ts). */
  size_t cap = 1 << 16, count = 0;
  double *ns_per_op = malloc(cap * sizeof(double));
  double start = now_ns();
  while (count < 5 || (now_ns() - start < budget_ns && count < cap)) {
    double t0 = now_ns();
    done = batch(rec, n, &sum);
    ns_per_op[count++] = (now_ns() - t0) / n;
  }
  printf("{\"samplesNsPerOp\":[");
  for (size_t i = 0; i < count; i++) printf("%s%.4f", i ? "," : "", ns_per_op[i]);
  /* The tables as the batches left them (A/D bits), FNV-1a over the pool's bytes: two loops that
     update the same entries the same way leave the same hash. */
  u64 tables = 0xcbf29ce484222325ull;
  for (u64 i = 0; i < pool_bytes; i++) tables = (tables ^ pool[i]) * 0x100000001b3ull;
  printf("],\"overlap\":%u,\"accesses\":%u,\"done\":%u,\"tablesHash\":\"%llu\",", overlap, n, done, (unsigned long long)tables);
  print_batch(sum);
  c = first;
  printf(",\"first\":{");
  print_batch(first_sum);
  printf("}}\n");
  return 0;
}
