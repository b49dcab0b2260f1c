// The accesses of an `accesses` stream, written straight into a CPU's batch area: the same numbers
// as patterns.ts's accessStream (the definition, written with BigInt for clarity), computed with
// 32-bit halves so that a worker fills 4096 records in a few microseconds. The stream's position is
// plain data (StreamState) so that a CPU's stream can go on in any thread after any stop.
// test/parallel-replay.test.ts checks both give the same addresses and kinds.
import type { StreamSpec } from '../trace/patterns.ts';
import type { CoreExports } from '../mmu/loader.ts';

export const PATTERN = { random: 0, sequential: 1, stride: 2, zipf: 3 } as const;

/** What a stream is: fixed for its life, structured-cloneable (it crosses to the workers). */
export interface StreamParams {
  pattern: number;
  vaLo: number;
  vaHi: number;
  /** Bytes of the range (below 2^53). */
  len: number;
  slots: number; // len >> 3
  count: number;
  write: number;
  stride: number; // stride mod len
  theta: number;
  /** The trace line of the stream: the records carry it. */
  line: number;
}

/** Where a stream is: the generator's state after `i` accesses. */
export interface StreamState {
  sHi: number;
  sLo: number;
  cursor: number;
  i: number;
}

const MASK64 = (1n << 64n) - 1n;
const TWO32 = 4294967296;

/** The parameters and initial state of a stream (patterns.ts's Rng seeding, exactly). */
export function streamStart(ev: StreamSpec, traceSeed: number, line: number): { params: StreamParams; state: StreamState } {
  const va = BigInt.asUintN(64, ev.va as bigint);
  const len = ev.len as bigint;
  if (len >= 1n << 53n) throw new RangeError(`an access stream of ${len} bytes is beyond what the replay generates (below 2^53)`);
  const seed = (BigInt(traceSeed) << 32n) ^ BigInt(Number(ev.seed ?? 0)) ^ (BigInt(line) << 16n);
  const s = (seed ^ 0x9e3779b97f4a7c15n) & MASK64 || 1n;
  const pattern = PATTERN[String(ev.pattern) as keyof typeof PATTERN];
  const lenN = Number(len);
  const stride = ev.stride !== undefined ? Number((ev.stride as bigint) % len) : 8;
  return {
    params: {
      pattern, vaLo: Number(va & 0xffffffffn), vaHi: Number(va >> 32n), len: lenN, slots: Math.floor(lenN / 8),
      count: Number(ev.count), write: Number(ev.write ?? 0), stride, theta: Number(ev.theta ?? 0), line,
    },
    state: { sHi: Number(s >> 32n), sLo: Number(s & 0xffffffffn), cursor: 0, i: 0 },
  };
}

// ---- Zipf tables, cached per (pages, theta) in each thread ----

interface ZipfTable {
  cdf: Float64Array;
  /** guide[k]: the first rank whose cdf is ≥ k / buckets (a start for the search). */
  guide: Uint32Array;
  buckets: number;
  /** The range's pages, over which the ranks are spread (more than the ranks above 2^20). */
  pages: number;
}
const zipfTables = new Map<string, ZipfTable>();

function zipfTable(pages: number, theta: number): ZipfTable {
  const n = pages < 1 << 20 ? pages : 1 << 20;
  const key = `${pages}:${theta}`;
  let t = zipfTables.get(key);
  if (t) return t;
  // Exactly accessStream's table: s accumulates 1/(r+1)^theta in rank order, then every entry / s.
  const cdf = new Float64Array(n);
  let s = 0;
  for (let r = 0; r < n; r++) cdf[r] = s += 1 / Math.pow(r + 1, theta);
  for (let r = 0; r < n; r++) cdf[r] /= s;
  const buckets = n;
  const guide = new Uint32Array(buckets + 1);
  let r = 0;
  for (let k = 0; k <= buckets; k++) {
    const at = k / buckets;
    while (r < n - 1 && cdf[r] < at) r++;
    guide[k] = r;
  }
  t = { cdf, guide, buckets, pages };
  if (zipfTables.size > 16) zipfTables.clear();
  zipfTables.set(key, t);
  return t;
}

/** The first rank r with cdf[r] ≥ u (the last rank if none): accessStream's binary search. */
function zipfRank(t: ZipfTable, u: number): number {
  const { cdf, guide } = t;
  const last = cdf.length - 1;
  const k = Math.floor(u * t.buckets);
  let lo = guide[k < t.buckets ? k : t.buckets - 1];
  let hi = guide[k + 1 <= t.buckets ? k + 1 : t.buckets];
  // The guide is computed in floating point: widen the window until it surely holds the answer.
  while (lo > 0 && cdf[lo - 1] >= u) lo--;
  while (hi < last && cdf[hi] < u) hi++;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cdf[mid] < u) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** xorshift64* in 32-bit halves: r = [state hi, state lo, output hi, output lo]; moves the state, writes the output. */
function xorshift(r: Uint32Array): void {
  let h = r[0];
  let l = r[1];
  // x ^= x >> 12; x ^= x << 25; x ^= x >> 27 (on u64)
  l = (l ^ ((l >>> 12) | (h << 20))) >>> 0;
  h = (h ^ (h >>> 12)) >>> 0;
  h = (h ^ ((h << 25) | (l >>> 7))) >>> 0;
  l = (l ^ (l << 25)) >>> 0;
  l = (l ^ ((l >>> 27) | (h << 5))) >>> 0;
  h = (h ^ (h >>> 27)) >>> 0;
  r[0] = h;
  r[1] = l;
  // output = x * 0x2545f4914f6cdd1d mod 2^64, with 16-bit limbs for the high half of l * 0x4f6cdd1d
  const a0 = l & 0xffff;
  const a1 = l >>> 16;
  const p00 = a0 * 0xdd1d;
  const p01 = a0 * 0x4f6c;
  const p10 = a1 * 0xdd1d;
  const mid = (p00 >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  r[3] = ((mid & 0xffff) * 65536 + (p00 & 0xffff)) >>> 0;
  r[2] = (a1 * 0x4f6c + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16) + (Math.imul(l, 0x2545f491) >>> 0) + (Math.imul(h, 0x4f6cdd1d) >>> 0)) >>> 0;
}

/** The next output as a float in [0, 1): Rng.next(). */
function unit(r: Uint32Array): number {
  xorshift(r);
  return (r[2] * 2097152 + (r[3] >>> 11)) / 9007199254740992;
}

/**
 * Writes the stream's next accesses into `out` (batch records of 4 u32: LA low, LA high, kind, line)
 * from record `at`, at most `max`; returns how many. `state` moves on.
 */
export function fillStream(p: StreamParams, state: StreamState, out: Uint32Array, at: number, max: number): number {
  const n = Math.min(max, p.count - state.i);
  if (n <= 0) return 0;
  const r = new Uint32Array(4);
  r[0] = state.sHi;
  r[1] = state.sLo;
  const write = p.write;
  const vaLo = p.vaLo;
  const vaHi = p.vaHi;
  const line = p.line;
  const len = p.len;
  let w = at * 4;
  // Each record: the range's base plus an offset below 2^53 (as a Number), carried into the high word.
  if (p.pattern === PATTERN.random) {
    const slots = p.slots;
    const pow2 = slots <= TWO32 && (slots & (slots - 1)) === 0;
    const mask = slots - 1;
    const below = pow2 ? undefined : belowFn(slots);
    for (let i = 0; i < n; i++, w += 4) {
      xorshift(r);
      const off = (pow2 ? (slots === TWO32 ? r[3] : (r[3] & mask) >>> 0) : below!(r[2], r[3])) * 8;
      const offHi = Math.floor(off / TWO32);
      const lo = vaLo + (off - offHi * TWO32);
      out[w] = lo >>> 0;
      out[w + 1] = (vaHi + offHi + (lo >= TWO32 ? 1 : 0)) >>> 0;
      out[w + 2] = write > 0 && unit(r) < write ? 1 : 0;
      out[w + 3] = line;
    }
  } else if (p.pattern === PATTERN.sequential || p.pattern === PATTERN.stride) {
    const sequential = p.pattern === PATTERN.sequential;
    const wrap = sequential ? p.slots * 8 : len;
    const stride = sequential ? 8 : p.stride;
    let cursor = state.cursor;
    for (let i = 0; i < n; i++, w += 4) {
      const off = cursor - (cursor % 8);
      cursor = (cursor + stride) % wrap;
      const offHi = Math.floor(off / TWO32);
      const lo = vaLo + (off - offHi * TWO32);
      out[w] = lo >>> 0;
      out[w + 1] = (vaHi + offHi + (lo >= TWO32 ? 1 : 0)) >>> 0;
      out[w + 2] = write > 0 && unit(r) < write ? 1 : 0;
      out[w + 3] = line;
    }
    state.cursor = cursor;
  } else {
    const t = zipfTable(Math.ceil(len / 4096), p.theta);
    for (let i = 0; i < n; i++, w += 4) {
      const u = unit(r);
      xorshift(r);
      const slot = r[3] & 511;
      zipfAccess(p, t, u, slot, write > 0 && unit(r) < write ? 1 : 0, out, w);
      out[w + 3] = line;
    }
  }
  state.sHi = r[0];
  state.sLo = r[1];
  state.i += n;
  return n;
}

/**
 * fillStream into the CPU's batch area through the WebAssembly core (assembly/stream.ts: the same
 * records, a u64 multiply per step instead of 16-bit limbs); a zipf stream's draws come from the core
 * and their pages from the table here (finishZipf); ranges of fewer than 8 bytes are generated here.
 * `records` is the CPU's batch area (for the host's generator).
 */
export function fillStreamInto(core: CoreExports, cpu: number, p: StreamParams, state: StreamState, records: Uint32Array, max: number): number {
  const n = Math.min(max, p.count - state.i);
  if (n <= 0) return 0;
  if (p.slots >= 1) {
    const done = core.fillStream(cpu, p.pattern, p.vaLo, p.vaHi, p.len, p.slots, p.write, p.stride, p.line, state.sHi, state.sLo, state.cursor, 0, n);
    if (done === n) {
      if (p.pattern === PATTERN.zipf) finishZipf(p, records, n);
      state.sHi = core.streamOut(0);
      state.sLo = core.streamOut(1);
      state.cursor = core.streamOut(2);
      state.i += n;
      return n;
    }
  }
  return fillStream(p, state, records, 0, max);
}

/**
 * Turns the core's half-made zipf records (the draw u where the address goes, the slot | kind << 16
 * where the kind goes) into accesses.
 */
function finishZipf(p: StreamParams, records: Uint32Array, n: number): void {
  const draws = new Float64Array(records.buffer, records.byteOffset, 2 * n);
  const t = zipfTable(Math.ceil(p.len / 4096), p.theta);
  for (let i = 0, w = 0; i < n; i++, w += 4) {
    const word = records[w + 2];
    zipfAccess(p, t, draws[2 * i], word & 511, word >>> 16, records, w);
  }
}

/** A zipf access from its draw: the rank's page (spread over the range), the slot in it, the kind. */
function zipfAccess(p: StreamParams, t: ZipfTable, u: number, slot: number, kind: number, out: Uint32Array, w: number): void {
  const pages = t.pages;
  // (rank · 0x9e3779b1) mod pages, exactly: the product is below 2^52, and a quotient that
  // rounded to a neighbour is put right (a double's % is a library call, several times slower).
  const x = zipfRank(t, u) * 0x9e3779b1;
  let page = x - Math.floor(x / pages) * pages;
  if (page < 0) page += pages;
  else if (page >= pages) page -= pages;
  let off = page * 4096 + slot * 8;
  // Only the last page can reach past the range: then its last whole slot.
  if (off >= p.len) off = p.len - 8 - ((p.len - 8) % 8);
  const offHi = Math.floor(off / TWO32);
  const lo = p.vaLo + (off - offHi * TWO32);
  out[w] = lo >>> 0;
  out[w + 1] = (p.vaHi + offHi + (lo >= TWO32 ? 1 : 0)) >>> 0;
  out[w + 2] = kind;
}

/** x mod n for x = hi·2^32 + lo and 1 ≤ n < 2^53, exactly (BigInt's `%`). */
function belowFn(n: number): (hi: number, lo: number) => number {
  if (n <= TWO32 && (n & (n - 1)) === 0) {
    const m = n - 1;
    return n === TWO32 ? (_hi, lo) => lo : (_hi, lo) => (lo & m) >>> 0;
  }
  if (n <= 2 ** 21) return (hi, lo) => ((hi % n) * TWO32 + lo) % n;
  if (n <= 2 ** 37) return (hi, lo) => (((((hi % n) * 65536 + (lo >>> 16)) % n) * 65536) + (lo & 0xffff)) % n;
  if (n <= 2 ** 45) {
    return (hi, lo) => {
      let r = hi % n;
      r = (r * 256 + (lo >>> 24)) % n;
      r = (r * 256 + ((lo >>> 16) & 255)) % n;
      r = (r * 256 + ((lo >>> 8) & 255)) % n;
      return (r * 256 + (lo & 255)) % n;
    };
  }
  const bn = BigInt(n);
  return (hi, lo) => Number(((BigInt(hi) << 32n) | BigInt(lo)) % bn);
}
