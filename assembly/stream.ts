// The accesses of an `accesses` stream (random, sequential, stride, and zipf's draws), written into a
// CPU's batch area as src/replay/stream-cursor.ts's fillStream writes them: the same numbers, record
// for record. The JavaScript generator builds each 64-bit step from 32-bit halves and 16-bit limbs;
// here one u64 multiply does it, which is what makes the workers' streams cheap
// (test/parallel-replay.test.ts, "the streams' generator", compares both generators over every
// pattern and edge of the range).
//
// The generator's state goes out through streamOut(): xorshift64*'s state and the cursor of the
// sequential and stride patterns, both numbers the host keeps between calls.
import { cpuBlock, ncpus, batchOff } from './machine';
import * as L from './layout';

const PATTERN_RANDOM: i32 = 0;
const PATTERN_SEQUENTIAL: i32 = 1;
const PATTERN_STRIDE: i32 = 2;
const PATTERN_ZIPF: i32 = 3;

let outHi: u32 = 0;
let outLo: u32 = 0;
let outCursor: f64 = 0;

/** After fillStream: 0 the state's high word, 1 its low word, 2 the cursor. */
export function streamOut(which: i32): f64 {
  return which == 0 ? <f64>outHi : which == 1 ? <f64>outLo : outCursor;
}

/** xorshift64*'s state step (Marsaglia's xorshift); the output is the new state times MUL. */
@inline function step(s: u64): u64 {
  s ^= s >> 12;
  s ^= s << 25;
  return s ^ (s >> 27);
}
const MUL: u64 = 0x2545f4914f6cdd1d;

/** A float in [0, 1) from the top 53 bits of an output (patterns.ts's Rng.next()). */
@inline function unit(s: u64): f64 {
  return <f64>((s * MUL) >> 11) / 9007199254740992.0;
}

/**
 * Writes `n` records of the stream from record `at` of the CPU's batch area: base address
 * (vaHi:vaLo), the range's length and its number of 8-byte slots (both below 2^53, as the host's
 * numbers), the write fraction, the stride (mod len), the trace line, the generator state (sHi:sLo)
 * and the cursor. Returns n, or -1 for a CPU or a record range out of bounds or a pattern it does not
 * generate (a range of fewer than 8 bytes stays with the host).
 * A zipf stream's records come out half made: the draw u as an f64 where the address goes, and the
 * slot in the page (9 bits) | the kind << 16 where the kind goes. The host, which holds the zipf table,
 * turns u into the page and finishes each record (src/replay/stream-cursor.ts, finishZipf).
 */
export function fillStream(
  cpu: i32, pattern: i32, vaLo: u32, vaHi: u32, len: f64, slots: f64, write: f64, stride: f64,
  line: u32, sHi: u32, sLo: u32, cursor: f64, at: i32, n: i32,
): i32 {
  if (cpu < 0 || cpu >= ncpus || at < 0 || n < 0 || at + n > load<i32>(L.HDR_BATCH_CAP)) return -1;
  if (slots < 1) return -1;
  const base = (<u64>vaHi << 32) | <u64>vaLo;
  let s = (<u64>sHi << 32) | <u64>sLo;
  let rec = cpuBlock(cpu) + batchOff + (<usize>at << 4);
  const writes = write > 0;
  if (pattern == PATTERN_RANDOM) {
    const m = <u64>slots;
    for (let i: i32 = 0; i < n; i++, rec += 16) {
      s = step(s);
      const va = base + ((s * MUL) % m) * 8;
      // The write draw moves the state only when the stream writes at all (as the host's does).
      let kind: u32 = 0;
      if (writes) kind = <u32>(unit((s = step(s))) < write);
      store<u64>(rec, va);
      store<u32>(rec, kind, 8);
      store<u32>(rec, line, 12);
    }
  } else if (pattern == PATTERN_SEQUENTIAL || pattern == PATTERN_STRIDE) {
    // The cursor is a double, as in the host, so that its sums round exactly as the host's do.
    const wrap = pattern == PATTERN_SEQUENTIAL ? slots * 8 : len;
    const advance = pattern == PATTERN_SEQUENTIAL ? 8.0 : stride;
    for (let i: i32 = 0; i < n; i++, rec += 16) {
      const off = cursor - (cursor % 8);
      cursor = (cursor + advance) % wrap;
      let kind: u32 = 0;
      if (writes) kind = <u32>(unit((s = step(s))) < write);
      store<u64>(rec, base + <u64>off);
      store<u32>(rec, kind, 8);
      store<u32>(rec, line, 12);
    }
  } else if (pattern == PATTERN_ZIPF) {
    for (let i: i32 = 0; i < n; i++, rec += 16) {
      s = step(s);
      const u = unit(s);
      s = step(s);
      const slot = <u32>(s * MUL) & 511;
      let kind: u32 = 0;
      if (writes) kind = <u32>(unit((s = step(s))) < write);
      store<f64>(rec, u);
      store<u32>(rec, slot | (kind << 16), 8);
      store<u32>(rec, line, 12);
    }
  } else return -1;
  outHi = <u32>(s >> 32);
  outLo = <u32>s;
  outCursor = cursor;
  return n;
}
