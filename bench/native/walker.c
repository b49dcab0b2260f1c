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
 * Deliberately absent, because neither benchmark exercises them in its timed loop: the STLB and the
 * paging-structure caches (the tlb-hit batch hits the L1 dTLB every time; the walk batch runs with
 * every TLB array and PSC absent), fault delivery and invalidation (no access faults: the batch
 * stops at a fault, the host checks the count), the oracle's event ring (generations never move).
 *
 * Usage: walker DIR SECONDS key=value...
 *   DIR holds pool.bin (the table pool's bytes, physical address = pool_base + offset),
 *   records.bin (16-byte batch records: u64 LA, u32 kind, u32 unused) and perm.bin (the CPU's
 *   2048-byte rights table). Keys: pool_base cr3 pcid levels maxphyaddr page1gb nxe pge pke
 *   gen_slots zone4k_pages l1_4k_sets l1_4k_ways l1_2m_sets l1_2m_ways l1_1g_sets l1_1g_ways.
 * Output: one JSON object: the timed samples (ns per access, one batch each), the checksum of the
 * last batch's physical addresses, and the counters of that batch.
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

/* SDM §4.5 walk, §4.6 rights, §4.8 A/D by compare-and-swap (restart on a lost race). */
static u32 walk(u64 la, u32 kind) {
  struct { u64 ea, v; } read[5];
  int write = (kind & K_WRITE) != 0;
  c.walks++;
  for (;;) {
    u32 level = levels - 1, n = 0, size = 0;
    u64 table = cr3 & addr_mask, rights = PTE_RW | PTE_US, e;
    for (;;) {
      u64 ea = table + (((la >> (12 + 9 * level)) & 511) << 3);
      e = read_entry(ea);
      c.walk_loads++;
      if (!(e & PTE_P)) return WALK_FAULT | fault_bits(kind);
      u64 r = rsvd;
      if (level >= 3) r |= PTE_PS;
      else if (level == 2 && (e & PTE_PS)) r |= page1gb ? RSVD_1G_LEAF : PTE_PS;
      else if (level == 1 && (e & PTE_PS)) r |= RSVD_2M_LEAF;
      if (e & r) return WALK_FAULT | PF_P | PF_RSVD | fault_bits(kind);
      rights = (rights & (e | ~(PTE_RW | PTE_US))) | (e & PTE_XD);
      read[n].ea = ea;
      read[n].v = e;
      n++;
      if (level == 0) break;
      if (e & PTE_PS) { size = level == 2 ? 2 : 1; break; }
      table = e & addr_mask;
      level--;
    }
    u32 shift = 12 + 9 * size;
    u64 frame = e & addr_mask & ~((1ull << shift) - 1);
    int global = (e & PTE_G) && pge;
    u64 pk = pke ? (e >> 59) & 15 : 0;
    u64 pte = frame | PTE_P | rights | (pk << 59) | (global ? PTE_G : 0) | ((u64)size << SIZE_SHIFT);
    u32 code = perm[rights_index(kind, pte | PTE_D)];
    if (code) return WALK_FAULT | code;

    int lost = 0;
    for (u32 i = 0; i < n; i++) {
      u64 v = read[i].v, want = v | PTE_A;
      if (i == n - 1 && write) want |= PTE_D;
      if (want == v) continue;
      u64 expected = v;
      u64 *ptr = (u64 *)(pool + (read[i].ea - pool_base));
      if (!__atomic_compare_exchange_n(ptr, &expected, want, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) { lost = 1; break; }
      if (!(v & PTE_A)) c.a_sets++;
      if (want & ~v & PTE_D) c.d_sets++;
      read[i].v = want;
    }
    if (lost) { c.restarts++; continue; }
    if (read[n - 1].v & PTE_D) pte |= PTE_D;

    u32 slot = slot_of(frame), g = generation(slot), stamp = g & ~GEN_COPY_WINDOW;
    fill(&l1[size], la, pte, global, slot, stamp);
    if (write && (g & GEN_COPY_WINDOW)) c.write_in_copy++;
    pa = frame | (la & ((1ull << shift) - 1));
    return 0;
  }
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

/* Runs the batch; returns how many accesses completed and the sum of their physical addresses. */
static __attribute__((noinline)) u32 run_batch(const record_t *rec, u32 n, u64 *sum) {
  u64 s = 0;
  u32 i = 0;
  u32 canon = levels == 5 ? 7 : 16;
  memset(&c, 0, sizeof c);
  for (; i < n; i++) {
    u64 la = rec[i].la;
    u32 kind = rec[i].kind & 7, st;
    c.writes += kind & K_WRITE;
    c.fetches += (kind >> 1) & 1;
    if ((u64)((int64_t)(la << canon) >> canon) != la) break; /* #GP */
    u64 page = (la & LA_BITS) >> 12;
    entry_t *p;
    if ((p = probe(&l1[0], page, tag_of(page, pcid)))) { c.hits[0]++; st = use_entry(p, la, kind, 0xfff); }
    else if ((p = probe(&l1[1], page >> 9, tag_of(page >> 9, pcid)))) { c.hits[1]++; st = use_entry(p, la, kind, 0x1fffff); }
    else if ((p = probe(&l1[2], page >> 18, tag_of(page >> 18, pcid)))) { c.hits[2]++; st = use_entry(p, la, kind, 0x3fffffff); }
    else { c.misses++; st = walk(la, kind); }
    if (st) break;
    s += pa;
  }
  c.accesses = i;
  *sum = s;
  return i;
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
  u32 done = run_batch(rec, n, &sum);
  if (done != n) { printf("{\"error\":\"the first pass stopped at access %u of %u\"}\n", done, n); return 1; }

  /* One batch per sample, as tinybench times the WebAssembly core's batches, until the time budget
     is spent (at least 5 samples). The statistics are the host's (bench/hardware.ts). */
  size_t cap = 1 << 16, count = 0;
  double *ns_per_op = malloc(cap * sizeof(double));
  double start = now_ns();
  while (count < 5 || (now_ns() - start < budget_ns && count < cap)) {
    double t0 = now_ns();
    done = run_batch(rec, n, &sum);
    ns_per_op[count++] = (now_ns() - t0) / n;
  }
  printf("{\"samplesNsPerOp\":[");
  for (size_t i = 0; i < count; i++) printf("%s%.4f", i ? "," : "", ns_per_op[i]);
  printf("],\"accesses\":%u,\"done\":%u,\"checksum\":\"%llu\",\"hits4k\":%llu,\"hits2m\":%llu,\"hits1g\":%llu,"
         "\"misses\":%llu,\"walks\":%llu,\"walkLoads\":%llu,\"restarts\":%llu,\"aSets\":%llu,\"dSets\":%llu}\n",
         n, done, (unsigned long long)sum,
         (unsigned long long)c.hits[0], (unsigned long long)c.hits[1], (unsigned long long)c.hits[2],
         (unsigned long long)c.misses, (unsigned long long)c.walks, (unsigned long long)c.walk_loads,
         (unsigned long long)c.restarts, (unsigned long long)c.a_sets, (unsigned long long)c.d_sets);
  return 0;
}
