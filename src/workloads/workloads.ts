// Generated workloads for `mmuwasm generate KIND` (database, kvm, migration-storm, random-anon):
// deterministic from the seed, written line by line into a TraceWriter so that any size streams out
// in bounded memory and the JSON Lines and binary forms hold the same events on the same lines.
// Accesses are explicit `access` events (access records in the binary form), in bursts of one CPU
// between the kernel events, or with `streams` one `accesses` stream event per burst.
import { ACCESS_CODE, type TraceWriter } from '../trace/binary.ts';

export const WORKLOAD_KINDS = ['database', 'kvm', 'migration-storm', 'random-anon'] as const;
export type WorkloadKind = (typeof WORKLOAD_KINDS)[number];

export interface WorkloadOptions {
  seed: number;
  /** CPU accesses in the whole trace (the few that set mappings up included). */
  accesses: number;
  cpus: number;
  processes: number;
  /** Bytes: the shared segment (database, migration-storm), guest memory (kvm), each process's region space (random-anon). */
  size: bigint;
  /** Accesses of one CPU in a row, between kernel events (0: chosen from the size of the trace). */
  burst: number;
  /** Kernel operations per round (migrations, or mmap/munmap/mprotect/madvise for random-anon). */
  ops: number;
  /** kvm: device accesses (the guest's vCPUs through the secondary MMU), in all. */
  deviceAccesses: number;
  /** kvm: guest memory from a hugetlbfs file (2M pages) or private anonymous memory (4K pages). */
  backing: 'hugetlb' | 'anon';
  /** Bursts as `accesses` stream events instead of explicit accesses. */
  streams: boolean;
}

export const WORKLOAD_DEFAULTS: Readonly<Record<WorkloadKind, WorkloadOptions>> = {
  database: { seed: 1, accesses: 1_000_000, cpus: 4, processes: 4, size: 2n << 30n, burst: 0, ops: 4, deviceAccesses: 0, backing: 'hugetlb', streams: false },
  kvm: { seed: 1, accesses: 1_000_000, cpus: 2, processes: 1, size: 4n << 30n, burst: 0, ops: 2, deviceAccesses: -1, backing: 'hugetlb', streams: false },
  'migration-storm': { seed: 1, accesses: 1_000_000, cpus: 4, processes: 3, size: 1n << 30n, burst: 0, ops: 16, deviceAccesses: 0, backing: 'hugetlb', streams: false },
  'random-anon': { seed: 1, accesses: 1_000_000, cpus: 4, processes: 2, size: 32n << 20n, burst: 0, ops: 4, deviceAccesses: 0, backing: 'anon', streams: false },
};

/** The fixes each kind needs to be clean (its expectations apply `with` them), by the bug it meets without. */
export const WORKLOAD_NEEDS: Readonly<Record<WorkloadKind, readonly string[]>> = {
  database: ['017b1660df89'],
  kvm: [],
  'migration-storm': ['017b1660df89'],
  'random-anon': [],
};

const K4 = 4096;
const M2 = 2 * 1024 * 1024;
const G1 = 1024 * 1024 * 1024;
const hex = (v: number) => `0x${v.toString(16)}`;

/** xoshiro128**, seeded by splitmix32: fast 32-bit arithmetic, the same numbers on every machine. */
export class Rng32 {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  constructor(seed: number) {
    let s = seed >>> 0;
    const next = () => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next() | 1;
  }
  u32(): number {
    const r = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return r;
  }
  /** A float in [0, 1). */
  float(): number {
    return this.u32() / 4294967296;
  }
  /** An integer in [0, n), n ≤ 2^32. */
  below(n: number): number {
    return Math.floor(this.float() * n);
  }
}
const rotl = (x: number, k: number) => (x << k) | (x >>> (32 - k));

/** Zipf over n ranks (∝ 1/r^theta), scattered over `pages` pages so hot pages are not adjacent. */
class ZipfPages {
  private readonly cdf: Float64Array;
  constructor(private readonly pages: number, theta: number) {
    const n = Math.min(pages, 1 << 20);
    this.cdf = new Float64Array(n);
    let s = 0;
    for (let r = 0; r < n; r++) this.cdf[r] = s += 1 / Math.pow(r + 1, theta);
    for (let r = 0; r < n; r++) this.cdf[r] /= s;
  }
  page(rng: Rng32): number {
    const u = rng.float();
    const cdf = this.cdf;
    let lo = 0;
    let hi = cdf.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid] < u) lo = mid + 1;
      else hi = mid;
    }
    return (lo * 0x9e3779b1) % this.pages;
  }
}

/** The writer with the workload's bookkeeping: how many accesses so far, JSON of events. */
class Out {
  accesses = 0;
  private streamSeed = 0;
  constructor(readonly w: TraceWriter, readonly o: WorkloadOptions) {}
  comment(text: string): void {
    this.w.comment(`# ${text}`);
  }
  ev(e: Record<string, unknown>): void {
    this.w.json(JSON.stringify(e));
  }
  access(cpu: number, va: number, write: boolean): void {
    this.w.access(cpu, va, write ? ACCESS_CODE.w : ACCESS_CODE.r);
    this.accesses++;
  }
  /** Accesses left for the bursts. */
  get left(): number {
    return Math.max(0, this.o.accesses - this.accesses);
  }
  /** How many accesses the next burst has. */
  burst(): number {
    return Math.min(this.left, this.o.burst);
  }
  /**
   * One CPU's burst of `n` accesses, from `next` (explicit), or as one `accesses` stream event over
   * [va, va + len) with the same pattern.
   */
  run(cpu: number, n: number, next: () => number, write: () => boolean, stream: { va: number; len: number; pattern: 'zipf' | 'random'; theta?: number; write: number }): void {
    if (n <= 0) return;
    if (this.o.streams) {
      this.ev({ op: 'accesses', cpu, va: hex(stream.va), len: hex(stream.len), count: n, pattern: stream.pattern, ...(stream.theta !== undefined ? { theta: stream.theta } : {}), write: stream.write, seed: ++this.streamSeed });
      this.accesses += n;
      return;
    }
    for (let i = 0; i < n; i++) this.access(cpu, next(), write());
  }
}

/** The default burst: about 16 rounds of every CPU, from 256 to 65536 accesses (a full access run). */
export function defaultBurst(o: WorkloadOptions): number {
  return Math.max(256, Math.min(65536, Math.floor(o.accesses / (o.cpus * 16))));
}

/** Writes the workload `kind` into `w` (the caller closes it). */
export function writeWorkload(kind: WorkloadKind, opts: WorkloadOptions, w: TraceWriter): { accesses: number } {
  const o: WorkloadOptions = {
    ...opts, burst: opts.burst || defaultBurst(opts),
    deviceAccesses: opts.deviceAccesses >= 0 ? opts.deviceAccesses : Math.floor(opts.accesses / 16),
  };
  const out = new Out(w, o);
  const rng = new Rng32(o.seed);
  switch (kind) {
    case 'database': database(out, o, rng); break;
    case 'kvm': kvm(out, o, rng); break;
    case 'migration-storm': migrationStorm(out, o, rng); break;
    case 'random-anon': randomAnon(out, o, rng); break;
  }
  return { accesses: out.accesses };
}

function header(out: Out, o: WorkloadOptions, kind: WorkloadKind, story: string[]): void {
  out.comment(`generated by: mmuwasm generate ${kind} --seed ${o.seed} --accesses ${o.accesses} --cpus ${o.cpus} --processes ${o.processes} --size ${o.size % (1n << 20n) ? o.size : `${o.size >> 20n}M`} --burst ${o.burst} --ops ${o.ops}${kind === 'kvm' ? ` --device-accesses ${o.deviceAccesses} --backing ${o.backing}` : ''}${o.streams ? ' --streams' : ''}`);
  for (const s of story) out.comment(s);
  out.ev({ format: 'mmuwasm-trace', version: 1, cpus: o.cpus, seed: o.seed });
}

/** The closing expectation: none applies without the fixes the workload needs (an old kernel's real bugs). */
function expectClean(out: Out, kind: WorkloadKind): void {
  const needs = WORKLOAD_NEEDS[kind];
  // Profiles are cumulative: the fix that came last is in every profile that has them all.
  out.ev({ op: 'expect', violations: 0, ...(needs.length ? { with: needs[needs.length - 1] } : {}) });
}

// ---- database ----

const SEGMENT_VA = 0x7f00_0000_0000; // PUD aligned

function database(out: Out, o: WorkloadOptions, rng: Rng32): void {
  const size = Number(o.size);
  const gib = Math.ceil(size / G1);
  header(out, o, 'database', [
    `database: ${o.processes} processes map one ${o.size >> 20n} MiB hugetlbfs segment (2 MiB pages) MAP_SHARED at the same`,
    `PUD-aligned address, so they share its PMD pages (huge_pmd_share); ${o.cpus} CPUs switch between them and run`,
    'zipf-distributed bursts over it (30% writes); between rounds the kernel migrates pages of the segment',
    '(by file offset, as compaction or NUMA balancing does), and at the end a checkpoint punches a hole.',
    'Clean with 017b1660df89 (migration unshares the PMD page and flushes every sharer); without it (v4.4)',
    'the other processes keep translations of the old frames (B1): the expectations apply with the fix only.',
  ]);
  out.ev({ op: 'hugetlbfs', file: 'shm', size: hex(size), pagesize: '2M' });
  const cpuOf = (p: number) => p % o.cpus;
  for (let p = 0; p < o.processes; p++) {
    out.ev({ op: 'mm', mm: `db${p}` });
    out.ev({ op: 'switch', cpu: cpuOf(p), mm: `db${p}` });
    out.ev({ op: 'mmap', cpu: cpuOf(p), va: hex(SEGMENT_VA), len: hex(size), prot: 'rw', flags: 'shared', file: 'shm', offset: 0 });
    // The first page of every GiB, so each process's tables exist (sharing happens here).
    for (let g = 0; g < gib; g++) out.access(cpuOf(p), SEGMENT_VA + g * G1, true);
  }
  const pages = size / K4;
  const theta = 0.99;
  const zipf = new ZipfPages(pages, theta);
  const next = () => SEGMENT_VA + zipf.page(rng) * K4 + (rng.u32() & 511) * 8;
  const write = () => rng.float() < 0.3;
  const stream = { va: SEGMENT_VA, len: size, pattern: 'zipf' as const, theta, write: 0.3 };
  const huge = size / M2;
  for (let round = 0; out.left > 0; round++) {
    for (let c = 0; c < o.cpus && out.left > 0; c++) {
      out.ev({ op: 'switch', cpu: c, mm: `db${(c + round) % o.processes}` });
      out.run(c, out.burst(), next, write, stream);
    }
    for (let m = 0; m < o.ops; m++) out.ev({ op: 'migrate', cpu: 0, file: 'shm', offset: hex(rng.below(huge) * M2) });
    if (round === 0) expectClean(out, 'database');
  }
  // The checkpoint frees the last 2 MiB page of the segment: every process loses it at once.
  out.ev({ op: 'fallocate', cpu: 0, file: 'shm', offset: hex(size - M2), len: '2M', mode: 'punch_hole' });
  expectClean(out, 'database');
}

// ---- kvm ----

const GUEST_VA = 0x7e00_0000_0000; // PUD aligned: the VMM's mapping of guest memory

function kvm(out: Out, o: WorkloadOptions, rng: Rng32): void {
  const size = Number(o.size);
  const hugetlb = o.backing === 'hugetlb';
  const page = hugetlb ? M2 : K4;
  header(out, o, 'kvm', [
    `kvm: ${o.processes > 1 ? `${o.processes} VMM processes, each holding` : 'a VMM process holding'} ${o.size >> 20n} MiB of guest memory (${hugetlb ? 'a hugetlbfs file of 2 MiB pages, MAP_SHARED' : 'private anonymous memory, 4 KiB pages'}) with a`,
    'kvm secondary MMU attached (the EPT: it caches guest translations and obeys the MMU notifiers). The',
    `guest's vCPUs touch memory through it (device_access); the VMM's threads on ${o.cpus} CPUs touch it directly`,
    `(I/O emulation, virtio rings). Between rounds the host migrates guest pages${hugetlb ? '' : ', kswapd reclaims some'}, and a`,
    `balloon returns pages (${hugetlb ? 'a hole punched in the file' : 'MADV_DONTNEED'}) that the guest later touches again.`,
  ]);
  if (hugetlb) for (let v = 0; v < o.processes; v++) out.ev({ op: 'hugetlbfs', file: `guest${v}`, size: hex(size), pagesize: '2M' });
  for (let v = 0; v < o.processes; v++) {
    const mm = `vm${v}`;
    out.ev({ op: 'mm', mm });
    if (v < o.cpus) out.ev({ op: 'switch', cpu: v, mm });
    out.ev(hugetlb
      ? { op: 'mmap', cpu: 0, mm, va: hex(GUEST_VA), len: hex(size), prot: 'rw', flags: 'shared', file: `guest${v}`, offset: 0 }
      : { op: 'mmap', cpu: 0, mm, va: hex(GUEST_VA), len: hex(size), prot: 'rw', flags: 'private' });
    out.ev({ op: 'attach', mm, device: `kvm${v}`, kind: 'kvm' });
  }
  const pages = size / page;
  const theta = 0.9;
  const zipf = new ZipfPages(size / K4, theta);
  const next = () => GUEST_VA + zipf.page(rng) * K4 + (rng.u32() & 511) * 8;
  const write = () => rng.float() < 0.4;
  const stream = { va: GUEST_VA, len: size, pattern: 'zipf' as const, theta, write: 0.4 };
  const rounds = Math.max(1, Math.ceil(out.left / (o.cpus * o.burst)));
  const totalDevice = o.deviceAccesses;
  // CPU c runs the VMM of VM c mod processes at first; with several VMs the CPUs rotate over them.
  const running = Array.from({ length: o.cpus }, (_, c) => (c < o.processes ? c : -1));
  for (let round = 0; round < rounds; round++) {
    // The vCPUs: device accesses over guest memory (zipf: a working set), spread evenly over the rounds.
    const nd = Math.floor((totalDevice * (round + 1)) / rounds) - Math.floor((totalDevice * round) / rounds);
    for (let i = 0; i < nd; i++) {
      const v = rng.below(o.processes);
      out.ev({ op: 'device_access', device: `kvm${v}`, va: hex(next()), rw: write() ? 'w' : 'r' });
    }
    // The VMM's threads.
    for (let c = 0; c < o.cpus && out.left > 0; c++) {
      const v = (c + round) % o.processes;
      if (running[c] !== v) out.ev({ op: 'switch', cpu: c, mm: `vm${v}` });
      running[c] = v;
      out.run(c, out.burst(), next, write, stream);
    }
    // The host: migrations (NUMA balancing) of guest pages, by address in the VMM.
    for (let m = 0; m < o.ops; m++) {
      const v = rng.below(o.processes);
      out.ev({ op: 'migrate', cpu: o.cpus - 1, mm: `vm${v}`, va: hex(GUEST_VA + rng.below(pages) * page) });
    }
    if (!hugetlb) {
      // kswapd (on the last CPU) reclaims a guest page.
      const v = rng.below(o.processes);
      out.ev({ op: 'reclaim', cpu: o.cpus - 1, mm: `vm${v}`, va: hex(GUEST_VA + rng.below(pages) * page) });
    }
    if (round % 4 === 3) {
      // The balloon gives a page back to the host.
      const v = rng.below(o.processes);
      const at = rng.below(pages) * page;
      if (hugetlb) out.ev({ op: 'fallocate', cpu: o.cpus - 1, file: `guest${v}`, offset: hex(at), len: hex(page), mode: 'punch_hole' });
      else out.ev({ op: 'madvise', cpu: o.cpus - 1, mm: `vm${v}`, va: hex(GUEST_VA + at), len: hex(page), advice: 'dontneed' });
    }
    if (round === 0) expectClean(out, 'kvm');
  }
  expectClean(out, 'kvm');
}

// ---- migration-storm ----

function migrationStorm(out: Out, o: WorkloadOptions, rng: Rng32): void {
  const size = Number(o.size);
  const hot = Math.min(size, 32 * M2); // the pages the CPUs use and the kernel migrates
  const hotPages = hot / M2;
  const users = Math.max(1, Math.min(o.processes, o.cpus > 1 ? o.cpus - 1 : 1));
  const kthread = o.cpus - 1;
  // Sharing needs the same offset inside the PUD: every process maps at a GiB boundary.
  const vaOf = (p: number) => 0x4000_0000 * (1 + 2 * p);
  header(out, o, 'migration-storm', [
    `migration-storm: ${o.processes} processes map one ${o.size >> 20n} MiB hugetlbfs file MAP_SHARED at PUD-aligned addresses, sharing its`,
    `PMD page; ${users} CPU${users > 1 ? 's' : ''} run them over the first ${hot >> 20} MiB and CPU ${kthread} migrates those pages without a pause,`,
    'a quarter of the migrations parked at `copy` while the other CPUs touch the page being copied (they fault,',
    'find the migration entry and wait). Clean with 017b1660df89; without it (v4.4) migration flushes only the',
    'first sharer: the other CPUs keep writing the old frames (B1).',
  ]);
  out.ev({ op: 'hugetlbfs', file: 'F', size: hex(size), pagesize: '2M' });
  for (let p = 0; p < o.processes; p++) out.ev({ op: 'mm', mm: `P${p}` });
  const cpuOf = (p: number) => p % users;
  for (let p = 0; p < o.processes; p++) {
    out.ev({ op: 'switch', cpu: cpuOf(p), mm: `P${p}` });
    out.ev({ op: 'mmap', cpu: cpuOf(p), va: hex(vaOf(p)), len: hex(size), prot: 'rw', flags: 'shared', file: 'F', offset: 0 });
    for (let h = 0; h < hotPages; h++) out.access(cpuOf(p), vaOf(p) + h * M2, true);
  }
  // Each user CPU runs the last process placed on it.
  const runs = new Array<number>(users);
  for (let p = 0; p < o.processes; p++) runs[cpuOf(p)] = p;
  const write = () => rng.float() < 0.5;
  let parked = 0;
  for (let round = 0; out.left > 0; round++) {
    for (let c = 0; c < users && out.left > 0; c++) {
      const p = (runs[c] + round * users) % o.processes;
      out.ev({ op: 'switch', cpu: c, mm: `P${p}` });
      runs[c] = p;
      const base = vaOf(p);
      out.run(c, out.burst(), () => base + rng.below(hot / 8) * 8, write, { va: base, len: hot, pattern: 'random', write: 0.5 });
    }
    for (let m = 0; m < o.ops; m++) {
      const h = rng.below(hotPages);
      if (m % 4 !== 3) {
        out.ev({ op: 'migrate', cpu: kthread, file: 'F', offset: hex(h * M2) });
        continue;
      }
      const id = `m${++parked}`;
      out.ev({ op: 'migrate', cpu: kthread, file: 'F', offset: hex(h * M2), id, until: 'copy' });
      for (let c = 0; c < users; c++) {
        const va = vaOf(runs[c]) + h * M2;
        for (let i = Math.min(4, out.left); i > 0; i--) out.access(c, va + rng.below(M2 / 8) * 8, write());
      }
      out.ev({ op: 'resume', id });
    }
    if (round === 0) expectClean(out, 'migration-storm');
  }
  expectClean(out, 'migration-storm');
}

// ---- random-anon ----

const ANON_BASE = 0x1000_0000;
const SLOT_PAGES = 256; // 1 MiB of address space per slot, 2 MiB apart

function randomAnon(out: Out, o: WorkloadOptions, rng: Rng32): void {
  const slots = Math.max(1, Math.floor(Number(o.size) / (SLOT_PAGES * K4)));
  header(out, o, 'random-anon', [
    `random-anon: ${o.processes} processes, each with ${slots} regions of up to 1 MiB of private anonymous memory (4 KiB pages);`,
    `${o.cpus} CPUs run them (CPU c runs process c mod ${o.processes}: threads of one process share its TLB shootdowns).`,
    'Between bursts of accesses (reads anywhere mapped, writes where writable) random ranges are mapped,',
    'unmapped, write-protected or made writable again, and discarded (MADV_DONTNEED), splitting and merging',
    'VMAs. No violation under any profile.',
  ]);
  // Page state per process: 0 unmapped, 1 read-only, 2 read-write.
  const state = Array.from({ length: o.processes }, () => new Uint8Array(slots * SLOT_PAGES));
  const slotVa = (s: number) => ANON_BASE + s * 2 * SLOT_PAGES * K4;
  const cpuOf = (p: number) => p % o.cpus;
  for (let p = 0; p < o.processes; p++) {
    out.ev({ op: 'mm', mm: `A${p}` });
    for (let c = 0; c < o.cpus; c++) if (c % o.processes === p) out.ev({ op: 'switch', cpu: c, mm: `A${p}` });
  }
  for (let p = 0; p < o.processes; p++) {
    for (let s = 0; s < slots; s += 2) {
      out.ev({ op: 'mmap', cpu: cpuOf(p), va: hex(slotVa(s)), len: hex(SLOT_PAGES * K4), prot: 'rw', flags: 'private' });
      state[p].fill(2, s * SLOT_PAGES, (s + 1) * SLOT_PAGES);
    }
  }
  // The mapped pages of each process, rebuilt after the operations of a round.
  const mapped = Array.from({ length: o.processes }, () => new Int32Array(slots * SLOT_PAGES));
  const mappedCount = new Array<number>(o.processes).fill(0);
  const rebuild = (p: number) => {
    let n = 0;
    const st = state[p];
    for (let i = 0; i < st.length; i++) if (st[i]) mapped[p][n++] = i;
    mappedCount[p] = n;
  };
  const vaOfPage = (i: number) => slotVa(Math.floor(i / SLOT_PAGES)) + (i % SLOT_PAGES) * K4;
  for (let p = 0; p < o.processes; p++) rebuild(p);
  for (let round = 0; out.left > 0; round++) {
    for (let c = 0; c < o.cpus && out.left > 0; c++) {
      const p = c % o.processes;
      const n = out.burst();
      if (mappedCount[p] === 0 || n === 0) continue;
      const st = state[p];
      const list = mapped[p];
      const count = mappedCount[p];
      for (let i = 0; i < n; i++) {
        const pg = list[rng.below(count)];
        out.access(c, vaOfPage(pg) + (rng.u32() & 511) * 8, st[pg] === 2 && rng.float() < 0.3);
      }
    }
    for (let m = 0; m < o.ops; m++) {
      const p = rng.below(o.processes);
      const st = state[p];
      const s = rng.below(slots);
      // A range of 1 to 64 pages inside the slot, small ones more often.
      const len = 1 + Math.floor(Math.pow(rng.float(), 2) * 64);
      const a = s * SLOT_PAGES + rng.below(SLOT_PAGES - len + 1);
      let set = 0;
      for (let i = a; i < a + len; i++) if (st[i]) set++;
      const range = { cpu: cpuOf(p), mm: `A${p}`, va: hex(vaOfPage(a)), len: hex(len * K4) };
      if (set === 0) {
        const prot = rng.float() < 0.8 ? 'rw' : 'r';
        out.ev({ op: 'mmap', cpu: cpuOf(p), mm: `A${p}`, va: range.va, len: range.len, prot, flags: 'private' });
        st.fill(prot === 'rw' ? 2 : 1, a, a + len);
      } else if (set < len) {
        out.ev({ op: 'munmap', ...range });
        st.fill(0, a, a + len);
      } else {
        const r = rng.float();
        if (r < 0.3) {
          out.ev({ op: 'munmap', ...range });
          st.fill(0, a, a + len);
        } else if (r < 0.65) {
          const prot = st[a] === 2 ? 'r' : 'rw';
          out.ev({ op: 'mprotect', ...range, prot });
          st.fill(prot === 'rw' ? 2 : 1, a, a + len);
        } else out.ev({ op: 'madvise', ...range, advice: 'dontneed' });
      }
      rebuild(p);
    }
    if (round % 16 === 15) expectClean(out, 'random-anon');
  }
  expectClean(out, 'random-anon');
}
