// The generated access streams of the `accesses` event: deterministic from the trace's seed, the
// event's own seed and its line, so the same trace always makes the same accesses.

/** xorshift64*: small, fast and good enough to spread addresses; never 0. */
export class Rng {
  private s: bigint;
  constructor(seed: bigint) {
    this.s = (seed ^ 0x9e3779b97f4a7c15n) & 0xffff_ffff_ffff_ffffn || 1n;
  }
  nextU64(): bigint {
    let x = this.s;
    x ^= x >> 12n;
    x ^= (x << 25n) & 0xffff_ffff_ffff_ffffn;
    x ^= x >> 27n;
    this.s = x;
    return (x * 0x2545f4914f6cdd1dn) & 0xffff_ffff_ffff_ffffn;
  }
  /** A float in [0, 1). */
  next(): number {
    return Number(this.nextU64() >> 11n) / 2 ** 53;
  }
  below(n: bigint): bigint {
    return this.nextU64() % n;
  }
}

export interface StreamSpec {
  va?: unknown;
  len?: unknown;
  count?: unknown;
  pattern?: unknown;
  stride?: unknown;
  theta?: unknown;
  write?: unknown;
  seed?: unknown;
}

/** The accesses of one `accesses` event, 8-byte aligned, inside [va, va + len). */
export function* accessStream(ev: StreamSpec, traceSeed: number, line: number): Generator<{ va: bigint; write: boolean }> {
  const va = ev.va as bigint;
  const len = ev.len as bigint;
  const count = Number(ev.count);
  const writeFraction = Number(ev.write ?? 0);
  const rng = new Rng((BigInt(traceSeed) << 32n) ^ BigInt(Number(ev.seed ?? 0)) ^ (BigInt(line) << 16n));
  const slots = len >> 3n;
  const pattern = String(ev.pattern);
  // Zipf over pages: rank r is drawn with probability ∝ 1/r^theta (inverse CDF over a table).
  let cdf: Float64Array | undefined;
  const pages = (len + 4095n) >> 12n;
  if (pattern === 'zipf') {
    const n = Number(pages < 1n << 20n ? pages : 1n << 20n);
    const theta = Number(ev.theta);
    cdf = new Float64Array(n);
    let s = 0;
    for (let r = 0; r < n; r++) cdf[r] = s += 1 / Math.pow(r + 1, theta);
    for (let r = 0; r < n; r++) cdf[r] /= s;
  }
  let cursor = 0n;
  const stride = ev.stride !== undefined ? (ev.stride as bigint) : 8n;
  for (let i = 0; i < count; i++) {
    let off: bigint;
    if (pattern === 'random') off = rng.below(slots) << 3n;
    else if (pattern === 'sequential') {
      off = cursor;
      cursor = (cursor + 8n) % (slots << 3n);
    } else if (pattern === 'stride') {
      off = cursor;
      cursor = (cursor + stride) % len;
    } else {
      const u = rng.next();
      let lo = 0;
      let hi = cdf!.length - 1;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (cdf![mid] < u) lo = mid + 1;
        else hi = mid;
      }
      // Scatter ranks over the pages so hot pages are not all adjacent.
      const page = (BigInt(lo) * 0x9e3779b1n) % pages;
      off = (page << 12n) + (rng.below(512n) << 3n);
      if (off >= len) off = len - 8n;
    }
    yield { va: va + (off & ~7n), write: writeFraction > 0 && rng.next() < writeFraction };
  }
}
