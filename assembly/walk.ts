// The page walk of SDM §4.5 for 4- and 5-level paging, with the reserved-bit checks of §4.5, the
// access rights of §4.6 and the accessed/dirty updates of §4.8. A walk starts from the deepest
// paging-structure-cache hit, reads entries atomically (other CPUs and the kernel model edit the
// same tables), and sets A/D with compare-and-swap only once the whole translation is known to be
// allowed; a lost race restarts it.
//
// The walk is the miss path of every replay, so its common case is kept short: reserved bits come
// from a per-level table (registers.ts keeps it), the A/D pass runs only when some bit is missing,
// and absent caches are skipped before any work is done for them.
import * as L from './layout';
import { addrMask, poolBase, poolBytes, pscPresent, count, dtlb4kSets, dtlb2mSets, dtlb1gSets, stlbSets, stlb1gSets } from './machine';
import { pageShift, fillArray } from './tlb';
import { pscProbe, pscFill } from './psc';
import { slotOf, generation, recordEvent } from './oracle';
import { faultCode, rightsIndex, CR4_PGE, CR4_PKE } from './rights';

export const PTE_P: u64 = 1;
export const PTE_RW: u64 = 1 << 1;
export const PTE_US: u64 = 1 << 2;
export const PTE_A: u64 = 1 << 5;
export const PTE_D: u64 = 1 << 6;
export const PTE_PS: u64 = 1 << 7;
export const PTE_G: u64 = 1 << 8;
export const PTE_XD: u64 = 1 << 63;
const PK_SHIFT: u64 = 59;
const RIGHTS: u64 = PTE_RW | PTE_US | PTE_XD;

/** A walk that faults returns WALK_FAULT | error code (an error code may be 0). */
export const WALK_FAULT: u32 = 0x100;

// Results of a successful walk.
export let walkPa: u64 = 0;
export let walkEventsFull: bool = false;

// Set by runBatch for the batch it runs (RUN_DEFER_AD): the walk does not write A/D bits but
// reports each update it would have made as an EVK_ACCESSED_DIRTY event, and goes on as if the
// update had been made (the TLB caches D for its own write). The host ORs the bits into the
// entries later. This keeps a batch from writing shared memory at all, so batches of several CPUs
// running at the same time cannot see each other (docs/hardware.md, "Deferred A/D updates").
let adDeferred: bool = false;
export function setAdDeferred(on: bool): void {
  adDeferred = on;
}

// ---- The walk's rare parts, out of line so that the common case stays small ----

let startLevel: u32 = 0;
let staleReported = false; // a psc-stale event is reported once per walk, not again on a restart

/**
 * The deepest paging-structure-cache entry for `la` (PDE, then PDPTE, PML4E, PML5E), or 0; sets
 * startLevel to the level the walk reads next. A stale stamp is reported once per walk.
 */
function pscStart(cb: usize, la: u64, pcid: u32, levels: u32, index: u32): usize {
  for (let l: u32 = 1; l < levels; l++) {
    const p = pscProbe(cb, l, la, pcid);
    if (p == 0) continue;
    count(cb, L.C_PSC_PML5_HITS + 4 - <i32>l);
    const slot = load<u32>(p, L.P_SLOT);
    const stamp = load<u32>(p, L.P_STAMP);
    if (generation(slot) != stamp && !staleReported) {
      staleReported = true;
      count(cb, L.C_PSC_STALE);
      if (recordEvent(cb, L.EVK_PSC_STALE, index, la, load<u64>(p, L.P_ENTRY) & addrMask, slot, stamp)) walkEventsFull = true;
    }
    startLevel = l - 1;
    return p;
  }
  return 0;
}

/**
 * §4.8: A in every entry read, top down, and D in the leaf for a write, each by compare-and-swap
 * from the value read. False when a CAS found another value (the tables changed: walk again).
 */
function setAccessedDirty(cb: usize, records: usize, n: u32, write: bool, la: u64, index: u32): bool {
  for (let i: u32 = 0; i < n; i++) {
    const r = records + <usize>i * L.WALK_REC_BYTES;
    const v = load<u64>(r, 8);
    let want = v | PTE_A;
    if (i == n - 1 && write) want |= PTE_D;
    if (want == v) continue;
    if (adDeferred) {
      if ((v & PTE_A) == 0) count(cb, L.C_A_SETS);
      if ((want & ~v & PTE_D) != 0) count(cb, L.C_D_SETS);
      if (recordEvent(cb, L.EVK_ACCESSED_DIRTY, index, la, load<u64>(r, 0), <u32>(want & ~v), 0)) walkEventsFull = true;
      store<u64>(r, want, 8);
      continue;
    }
    if (atomic.cmpxchg<u64>(<usize>load<u64>(r, 0), v, want) != v) return false;
    if ((v & PTE_A) == 0) count(cb, L.C_A_SETS);
    if ((want & ~v & PTE_D) != 0) count(cb, L.C_D_SETS);
    store<u64>(r, want, 8);
  }
  return true;
}

/** One paging-structure-cache entry for each non-leaf entry the walk read, top first. */
function fillPscs(cb: usize, records: usize, top: u32, n: u32, la: u64, pcid: u32): void {
  for (let i: u32 = 0; i + 1 < n; i++) {
    const r = records + <usize>i * L.WALK_REC_BYTES;
    const next = load<u64>(r, 8) & addrMask;
    const slot = slotOf(next);
    pscFill(cb, top - i, la, pcid, next | (load<u64>(r, 16) & RIGHTS), load<u64>(r, 0), slot, generation(slot));
  }
}

export function walk(cb: usize, la: u64, kind: u32, index: u32, pcid: u32): u32 {
  count(cb, L.C_WALKS);
  const cr4 = load<u64>(cb + L.CPU_CR4);
  const levels = load<u32>(cb + L.CPU_LEVELS);
  const write = (kind & L.K_WRITE) != 0;
  // Globals cost a load through the instance on every use: the walk keeps them in locals.
  const amask = addrMask;
  const pbase = poolBase;
  const pbytes = poolBytes();
  const rsvdTable = cb + L.CPU_RSVD_LEVELS;
  const records = cb + L.CPU_WALK;
  staleReported = false;
  walkEventsFull = false;

  for (;;) {
    // Start from the deepest paging-structure-cache hit (PDE, then PDPTE, PML4E, PML5E).
    let level: u32 = levels - 1;
    let table: u64 = load<u64>(cb + L.CPU_CR3) & amask;
    let rights: u64 = PTE_RW | PTE_US; // W and U accumulate by AND, XD by OR
    if (pscPresent) {
      const p = pscStart(cb, la, pcid, levels, index);
      if (p != 0) {
        const cached = load<u64>(p, L.P_ENTRY);
        table = cached & amask;
        rights = cached & RIGHTS;
        level = startLevel;
      }
    }

    // Read down to the leaf; each entry read is recorded for the A/D pass and the PSC fills.
    const top = level;
    let shift = pageShift(level);
    let rec = records;
    let e: u64 = 0;
    let allA: u64 = PTE_A;
    for (;;) {
      const ea = table + (((la >> shift) & 511) << 3);
      // A table outside the pool has no contents: it reads as zeros, i.e. not present.
      e = ea - pbase < pbytes ? atomic.load<u64>(<usize>ea) : 0;
      if ((e & PTE_P) == 0) {
        count(cb, L.C_WALK_LOADS, <u64>(top - level) + 1);
        return WALK_FAULT | faultCode(cb, kind, 0);
      }
      const ps = <u32>(e >> 7) & 1;
      if ((e & load<u64>(rsvdTable + (((level << 1) | ps) << 3))) != 0) {
        count(cb, L.C_WALK_LOADS, <u64>(top - level) + 1);
        return WALK_FAULT | faultCode(cb, kind, L.PF_P | L.PF_RSVD);
      }
      rights = (rights & (e | ~(PTE_RW | PTE_US))) | (e & PTE_XD);
      allA &= e;
      store<u64>(rec, ea, 0);
      store<u64>(rec, e, 8);
      store<u64>(rec, rights, 16);
      rec += L.WALK_REC_BYTES;
      // PS at level 1 or 2 ends the walk with a large page (at level 0 bit 7 is PAT: the leaf anyway).
      if (level != 0 && ps == 0) {
        table = e & amask;
        level--;
        shift -= 9;
        continue;
      }
      break;
    }
    const n = top - level + 1;
    count(cb, L.C_WALK_LOADS, <u64>n);

    // The translation, in leaf format, as the TLB will cache it; the leaf's level is its size code.
    const size = level;
    const pageBits = pageShift(size);
    const frame = e & amask & ~((<u64>1 << pageBits) - 1);
    const global = (e & PTE_G) != 0 && (cr4 & CR4_PGE) != 0;
    const pk: u64 = (cr4 & CR4_PKE) != 0 ? (e >> PK_SHIFT) & 15 : 0;
    let pte = frame | PTE_P | rights | (pk << PK_SHIFT) | (global ? PTE_G : 0) | (<u64>size << L.SIZE_SHIFT);
    const code = <u32>load<u8>(cb + L.CPU_PERM + rightsIndex(kind, pte | PTE_D));
    if (code != 0) return WALK_FAULT | code;

    // §4.8: A in every entry used, top down; D in the leaf on a write. A CAS that finds another
    // value means someone edited the tables under us: walk again.
    if (allA == 0 || (write && (e & PTE_D) == 0)) {
      if (!setAccessedDirty(cb, records, n, write, la, index)) {
        count(cb, L.C_WALK_RESTARTS);
        continue;
      }
      e = load<u64>(records + <usize>(n - 1) * L.WALK_REC_BYTES, 8);
    }
    if ((e & PTE_D) != 0) pte |= PTE_D;

    // Fill the paging-structure caches with the non-leaf entries read, top first, then the TLBs.
    if (pscPresent) fillPscs(cb, records, top, n, la, pcid);
    const slot = slotOf(frame);
    const gen = generation(slot);
    const stamp = gen & ~L.GEN_COPY_WINDOW;
    if (size == L.SIZE_4K) {
      if (dtlb4kSets != 0) fillArray(cb, L.A_DTLB4K, la, pte, global, pcid, slot, stamp);
      if (stlbSets != 0) fillArray(cb, L.A_STLB, la, pte, global, pcid, slot, stamp);
    } else if (size == L.SIZE_2M) {
      if (dtlb2mSets != 0) fillArray(cb, L.A_DTLB2M, la, pte, global, pcid, slot, stamp);
      if (stlbSets != 0) fillArray(cb, L.A_STLB, la, pte, global, pcid, slot, stamp);
    } else {
      if (dtlb1gSets != 0) fillArray(cb, L.A_DTLB1G, la, pte, global, pcid, slot, stamp);
      if (stlb1gSets != 0) fillArray(cb, L.A_STLB1G, la, pte, global, pcid, slot, stamp);
    }
    if (write && (gen & L.GEN_COPY_WINDOW) != 0) {
      count(cb, L.C_WRITE_IN_COPY);
      if (recordEvent(cb, L.EVK_WRITE_IN_COPY, index, la, frame, slot, stamp)) walkEventsFull = true;
    }
    walkPa = frame | (la & ((<u64>1 << pageBits) - 1));
    return 0;
  }
}
