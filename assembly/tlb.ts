// Translation lookaside buffers (SDM §4.10.2): set-associative arrays of 32-byte entries, tagged by
// page number and PCID. A global entry carries a mask that hides the PCID from the compare, so one
// AND and one compare decide a way whatever the entry's kind.
import * as L from './layout';
import { LA_BITS, arraySets, arrayWays, arrayOff, nextRandom, count, retentive } from './machine';

export const TAG_VALID: u64 = 1;
export const GLOBAL_MASK: u64 = ~(<u64>0xfff << L.TAG_PCID_SHIFT);

@inline export function pageShift(size: u32): u64 {
  return 12 + 9 * <u64>size;
}

@inline export function tagOf(page: u64, pcid: u32): u64 {
  return (page << L.TAG_PAGE_SHIFT) | (<u64>pcid << L.TAG_PCID_SHIFT) | TAG_VALID;
}

/** A TLB tag also says the page size: the STLB holds 4 KiB and 2 MiB pages whose numbers can be equal. */
@inline export function tlbTag(page: u64, pcid: u32, size: u32): u64 {
  return (<u64>size << L.TAG_SIZE_SHIFT) | tagOf(page, pcid);
}

/** The tag bits that name a page of a size (everything but the PCID and the valid bit). */
const TAG_PAGE_BITS: u64 = ~(<u64>0x1fff);

/**
 * The way of the set at `base` whose tag matches `key`, or 0: one AND and one compare per way (a
 * global entry's mask hides the PCID). Every way is compared and the match selected without a branch,
 * because which way hits is data: a loop that exits at the hit mispredicts on nearly every access.
 * Scanning from the last way down leaves the first matching way selected, as the contract says.
 */
@inline export function probeSet(base: usize, ways: usize, key: u64): usize {
  let found: usize = 0;
  for (let p = base + (ways << 5); p > base; ) {
    p -= L.ENTRY_BYTES;
    found = select<usize>(p, found, (key & load<u64>(p, L.E_MASK)) == load<u64>(p, L.E_TAG));
  }
  return found;
}

/** The matching way of `page` in an array, or 0. `key` is the tag wanted under the current PCID. */
@inline export function probe(cb: usize, off: usize, sets: u32, ways: u32, page: u64, key: u64): usize {
  if (sets == 0) return 0;
  return probeSet(cb + off + ((<usize>(<u32>page & (sets - 1)) * ways) << 5), ways, key);
}

/** Probes array `a` for an entry of `size` for the page of `la`. */
export function probeArray(cb: usize, a: i32, la: u64, size: u32, pcid: u32): usize {
  const page = (la & LA_BITS) >> pageShift(size);
  return probe(cb, arrayOff(a), arraySets(a), arrayWays(a), page, tlbTag(page, pcid, size));
}

/** The way a fill of `page` goes to: the first invalid way of its set, else the CPU's random victim. */
export function victim(cb: usize, a: i32, page: u64): usize {
  const sets = arraySets(a);
  const ways = arrayWays(a);
  const base = cb + arrayOff(a) + ((<usize>(<u32>page & (sets - 1)) * ways) << 5);
  for (let w: u32 = 0; w < ways; w++) {
    const p = base + (<usize>w << 5);
    if ((load<u64>(p, L.E_TAG) & TAG_VALID) == 0) return p;
  }
  if (retentive) count(cb, L.C_RETENTION_OVERFLOWS);
  return base + (<usize>(nextRandom(cb) % ways) << 5);
}

/** Fills `pte` (the cached translation in leaf format, size in bits 10:9) into array `a`. */
export function fillArray(cb: usize, a: i32, la: u64, pte: u64, global: bool, pcid: u32, slot: u32, stamp: u32): void {
  if (arraySets(a) == 0) return;
  const size = <u32>(pte >> L.SIZE_SHIFT) & 3;
  const page = (la & LA_BITS) >> pageShift(size);
  const p = victim(cb, a, page);
  if (a == L.A_DTLB4K) store<u32>(cb + L.CPU_FILLED_4K, 1);
  store<u64>(p, tlbTag(page, global ? 0 : pcid, size), L.E_TAG);
  store<u64>(p, global ? GLOBAL_MASK : ~<u64>0, L.E_MASK);
  store<u64>(p, pte, L.E_PTE);
  store<u32>(p, slot, L.E_SLOT);
  store<u32>(p, stamp, L.E_STAMP);
}

@inline export function clearEntry(p: usize): void {
  store<u64>(p, 0, L.E_TAG);
  store<u64>(p, ~<u64>0, L.E_MASK);
}

@inline function entryPcid(p: usize): u32 {
  return <u32>(load<u64>(p, L.E_TAG) >> L.TAG_PCID_SHIFT) & 0xfff;
}
@inline function entryGlobal(p: usize): bool {
  return load<u64>(p, L.E_MASK) != ~<u64>0;
}

// Which entries an invalidation removes.
export const DROP_ALL: u32 = 0; // every entry, globals too
export const DROP_NONGLOBAL: u32 = 1; // every non-global entry, any PCID
export const DROP_PCID_NONGLOBAL: u32 = 2; // non-global entries of one PCID
export const DROP_PCID_AND_GLOBAL: u32 = 3; // entries of one PCID and every global entry

@inline function dropped(p: usize, how: u32, pcid: u32): bool {
  const g = entryGlobal(p);
  if (how == DROP_ALL) return true;
  if (how == DROP_NONGLOBAL) return !g;
  if (how == DROP_PCID_NONGLOBAL) return !g && entryPcid(p) == pcid;
  return g || entryPcid(p) == pcid;
}

/** Makes every way of every TLB array invalid (fresh memory is zero, and a zero mask would match). */
export function tlbInitArrays(cb: usize): void {
  for (let a = 0; a < L.N_TLB_ARRAYS; a++) {
    const n = arraySets(a) * arrayWays(a);
    let p = cb + arrayOff(a);
    for (let i: u32 = 0; i < n; i++, p += L.ENTRY_BYTES) clearEntry(p);
  }
}

/** False when array `a` cannot hold a valid entry: dtlb4k before its first fill (CPU_FILLED_4K). */
@inline export function arrayMayHold(cb: usize, a: i32): bool {
  return a != L.A_DTLB4K || load<u32>(cb + L.CPU_FILLED_4K) != 0;
}

/** Removes entries of every TLB array, whatever their address. */
export function tlbDropAll(cb: usize, how: u32, pcid: u32): void {
  for (let a = 0; a < L.N_TLB_ARRAYS; a++) {
    // A retentive dtlb4k is 1 MiB: a full flush of a hugetlb workload need not sweep it while it is empty.
    if (!arrayMayHold(cb, a)) continue;
    const n = arraySets(a) * arrayWays(a);
    let p = cb + arrayOff(a);
    for (let i: u32 = 0; i < n; i++, p += L.ENTRY_BYTES) {
      if ((load<u64>(p, L.E_TAG) & TAG_VALID) != 0 && dropped(p, how, pcid)) clearEntry(p);
    }
  }
}

/** Removes the entries of `size` whose page contains `la`, in array `a`; only its set is looked at. */
function dropPageIn(cb: usize, a: i32, la: u64, size: u32, how: u32, pcid: u32): void {
  const sets = arraySets(a);
  if (sets == 0) return;
  const ways = arrayWays(a);
  const page = (la & LA_BITS) >> pageShift(size);
  const want = tlbTag(page, 0, size) & TAG_PAGE_BITS;
  let p = cb + arrayOff(a) + ((<usize>(<u32>page & (sets - 1)) * ways) << 5);
  for (let w: u32 = 0; w < ways; w++, p += L.ENTRY_BYTES) {
    const tag = load<u64>(p, L.E_TAG);
    if ((tag & TAG_VALID) == 0 || (tag & TAG_PAGE_BITS) != want) continue;
    if (dropped(p, how, pcid)) clearEntry(p);
  }
}

/** Removes the entries of one size whose page contains `la`, from every array that holds that size. */
export function tlbDropPageOfSize(cb: usize, la: u64, size: u32, how: u32, pcid: u32): void {
  if (size == L.SIZE_4K) {
    dropPageIn(cb, L.A_DTLB4K, la, size, how, pcid);
    dropPageIn(cb, L.A_STLB, la, size, how, pcid);
  } else if (size == L.SIZE_2M) {
    dropPageIn(cb, L.A_DTLB2M, la, size, how, pcid);
    dropPageIn(cb, L.A_STLB, la, size, how, pcid);
  } else {
    dropPageIn(cb, L.A_DTLB1G, la, size, how, pcid);
    dropPageIn(cb, L.A_STLB1G, la, size, how, pcid);
  }
}

/** Removes the entries of every size whose page contains `la`. */
export function tlbDropPage(cb: usize, la: u64, how: u32, pcid: u32): void {
  tlbDropPageOfSize(cb, la, L.SIZE_4K, how, pcid);
  tlbDropPageOfSize(cb, la, L.SIZE_2M, how, pcid);
  tlbDropPageOfSize(cb, la, L.SIZE_1G, how, pcid);
}
