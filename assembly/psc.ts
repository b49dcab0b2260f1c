// Paging-structure caches (SDM §4.10.3): for each upper level, entries that map the high bits of a
// linear address straight to the next table, with the rights accumulated above it. They are what
// lets a CPU keep walking a PMD page after the kernel unlinked it: retained until invalidated.
// Level numbers: 4 PML5E, 3 PML4E, 2 PDPTE, 1 PDE (0 is the PTE, never cached here).
import * as L from './layout';
import { LA_BITS, arraySets, arrayWays, arrayOff } from './machine';
import { tagOf, victim, TAG_VALID } from './tlb';

@inline export function pscArray(level: u32): i32 {
  return L.A_PDE + 1 - <i32>level;
}
@inline export function levelShift(level: u32): u64 {
  return 12 + 9 * <u64>level;
}

/** The cached entry for `la` at `level` under `pcid`, or 0. */
export function pscProbe(cb: usize, level: u32, la: u64, pcid: u32): usize {
  const a = pscArray(level);
  const sets = arraySets(a);
  if (sets == 0) return 0;
  const ways = arrayWays(a);
  const page = (la & LA_BITS) >> levelShift(level);
  const key = tagOf(page, pcid);
  let p = cb + arrayOff(a) + ((<usize>(<u32>page & (sets - 1)) * ways) << 5);
  for (let w: u32 = 0; w < ways; w++, p += L.ENTRY_BYTES) {
    if (load<u64>(p, L.P_TAG) == key) return p;
  }
  return 0;
}

/** `entry` = next table | W | U | XD accumulated down to this level; `src` = where it was read. */
export function pscFill(cb: usize, level: u32, la: u64, pcid: u32, entry: u64, src: u64, slot: u32, stamp: u32): void {
  const a = pscArray(level);
  if (arraySets(a) == 0) return;
  const page = (la & LA_BITS) >> levelShift(level);
  const p = victim(cb, a, page);
  store<u64>(p, tagOf(page, pcid), L.P_TAG);
  store<u64>(p, entry, L.P_ENTRY);
  store<u64>(p, src, L.P_SRC);
  store<u32>(p, slot, L.P_SLOT);
  store<u32>(p, stamp, L.P_STAMP);
}

/** Drops every PSC entry (allPcids) or those of one PCID. */
export function pscDrop(cb: usize, allPcids: bool, pcid: u32): void {
  for (let a = L.A_PML5; a <= L.A_PDE; a++) {
    const n = arraySets(a) * arrayWays(a);
    let p = cb + arrayOff(a);
    for (let i: u32 = 0; i < n; i++, p += L.ENTRY_BYTES) {
      const tag = load<u64>(p, L.P_TAG);
      if ((tag & TAG_VALID) == 0) continue;
      if (allPcids || (<u32>(tag >> L.TAG_PCID_SHIFT) & 0xfff) == pcid) store<u64>(p, 0, L.P_TAG);
    }
  }
}

/** Drops the entries a walk of `la` under `pcid` would use: what a #PF invalidates (SDM §4.10.4.1). */
export function pscDropAddress(cb: usize, la: u64, pcid: u32): void {
  for (let level: u32 = 1; level <= 4; level++) {
    const a = pscArray(level);
    const sets = arraySets(a);
    if (sets == 0) continue;
    const ways = arrayWays(a);
    const page = (la & LA_BITS) >> levelShift(level);
    const key = tagOf(page, pcid);
    let p = cb + arrayOff(a) + ((<usize>(<u32>page & (sets - 1)) * ways) << 5);
    for (let w: u32 = 0; w < ways; w++, p += L.ENTRY_BYTES) {
      if (load<u64>(p, L.P_TAG) == key) store<u64>(p, 0, L.P_TAG);
    }
  }
}
