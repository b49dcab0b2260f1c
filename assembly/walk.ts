// The page walk of SDM §4.5 for 4- and 5-level paging, with the reserved-bit checks of §4.5, the
// access rights of §4.6 and the accessed/dirty updates of §4.8. A walk starts from the deepest
// paging-structure-cache hit, reads entries atomically (other CPUs and the kernel model edit the
// same tables), and sets A/D with compare-and-swap only once the whole translation is known to be
// allowed; a lost race restarts it.
import * as L from './layout';
import { addrMask, poolBase, poolBytes, page1gb, count } from './machine';
import { pageShift, fillArray } from './tlb';
import { pscProbe, pscFill, levelShift } from './psc';
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
const RSVD_1G_LEAF: u64 = 0x3fffe000; // bits 29:13 of a PDPTE that maps a 1 GiB page
const RSVD_2M_LEAF: u64 = 0x001fe000; // bits 20:13 of a PDE that maps a 2 MiB page

/** A walk that faults returns WALK_FAULT | error code (an error code may be 0). */
export const WALK_FAULT: u32 = 0x100;

// Results of a successful walk.
export let walkPa: u64 = 0;
export let walkEventsFull: bool = false;

@inline function readEntry(ea: u64): u64 {
  // A table outside the pool has no contents: it reads as zeros, i.e. not present.
  return ea - poolBase < poolBytes() ? atomic.load<u64>(<usize>ea) : 0;
}

export function walk(cb: usize, la: u64, kind: u32, index: u32, pcid: u32): u32 {
  count(cb, L.C_WALKS);
  const cr4 = load<u64>(cb + L.CPU_CR4);
  const levels = load<u32>(cb + L.CPU_LEVELS);
  const rsvd = load<u64>(cb + L.CPU_RSVD);
  const write = (kind & L.K_WRITE) != 0;
  walkEventsFull = false;

  for (;;) {
    // Start from the deepest paging-structure-cache hit (PDE, then PDPTE, PML4E, PML5E).
    let level: u32 = levels - 1;
    let table: u64 = load<u64>(cb + L.CPU_CR3) & addrMask;
    let rights: u64 = PTE_RW | PTE_US; // W and U accumulate by AND, XD by OR
    for (let l: u32 = 1; l < levels; l++) {
      const p = pscProbe(cb, l, la, pcid);
      if (p == 0) continue;
      count(cb, L.C_PSC_PML5_HITS + 4 - <i32>l);
      const cached = load<u64>(p, L.P_ENTRY);
      table = cached & addrMask;
      rights = cached & (PTE_RW | PTE_US | PTE_XD);
      const slot = load<u32>(p, L.P_SLOT);
      const stamp = load<u32>(p, L.P_STAMP);
      if (generation(slot) != stamp) {
        count(cb, L.C_PSC_STALE);
        if (recordEvent(cb, L.EVK_PSC_STALE, index, la, table, slot, stamp)) walkEventsFull = true;
      }
      level = l - 1;
      break;
    }

    // Read down to the leaf, remembering each entry for the A/D updates and the PSC fills.
    let n: u32 = 0;
    let e: u64 = 0;
    let size: u32 = L.SIZE_4K;
    for (;;) {
      const ea = table + (((la >> levelShift(level)) & 511) << 3);
      e = readEntry(ea);
      count(cb, L.C_WALK_LOADS);
      if ((e & PTE_P) == 0) return WALK_FAULT | faultCode(cb, kind, 0);
      let r = rsvd;
      if (level >= 3) r |= PTE_PS;
      else if (level == 2 && (e & PTE_PS) != 0) r |= page1gb ? RSVD_1G_LEAF : PTE_PS;
      else if (level == 1 && (e & PTE_PS) != 0) r |= RSVD_2M_LEAF;
      if ((e & r) != 0) return WALK_FAULT | faultCode(cb, kind, L.PF_P | L.PF_RSVD);
      rights = (rights & (e | ~(PTE_RW | PTE_US))) | (e & PTE_XD);
      const rec = cb + L.CPU_WALK + <usize>n * L.WALK_REC_BYTES;
      store<u64>(rec, ea, 0);
      store<u64>(rec, e, 8);
      store<u64>(rec, rights, 16);
      store<u32>(rec, level, 24);
      n++;
      if (level == 0) break;
      if ((e & PTE_PS) != 0) {
        size = level == 2 ? L.SIZE_1G : L.SIZE_2M;
        break;
      }
      table = e & addrMask;
      level--;
    }

    // The translation, in leaf format, as the TLB will cache it.
    const shift = pageShift(size);
    const frame = e & addrMask & ~((<u64>1 << shift) - 1);
    const global = (e & PTE_G) != 0 && (cr4 & CR4_PGE) != 0;
    const pk: u64 = (cr4 & CR4_PKE) != 0 ? (e >> PK_SHIFT) & 15 : 0;
    let pte = frame | PTE_P | rights | (pk << PK_SHIFT) | (global ? PTE_G : 0) | (<u64>size << L.SIZE_SHIFT);
    const code = <u32>load<u8>(cb + L.CPU_PERM + rightsIndex(kind, pte | PTE_D));
    if (code != 0) return WALK_FAULT | code;

    // §4.8: A in every entry used, top down; D in the leaf on a write. A CAS that finds another
    // value means someone edited the tables under us: walk again.
    let lost = false;
    for (let i: u32 = 0; i < n; i++) {
      const rec = cb + L.CPU_WALK + <usize>i * L.WALK_REC_BYTES;
      const v = load<u64>(rec, 8);
      let want = v | PTE_A;
      if (i == n - 1 && write) want |= PTE_D;
      if (want == v) continue;
      const ea = <usize>load<u64>(rec, 0);
      if (atomic.cmpxchg<u64>(ea, v, want) != v) {
        lost = true;
        break;
      }
      if ((v & PTE_A) == 0) count(cb, L.C_A_SETS);
      if ((want & ~v & PTE_D) != 0) count(cb, L.C_D_SETS);
      store<u64>(rec, want, 8);
    }
    if (lost) {
      count(cb, L.C_WALK_RESTARTS);
      continue;
    }
    const leaf = load<u64>(cb + L.CPU_WALK + <usize>(n - 1) * L.WALK_REC_BYTES, 8);
    if ((leaf & PTE_D) != 0) pte |= PTE_D;

    // Fill the paging-structure caches with the non-leaf entries read, top first, then the TLBs.
    for (let i: u32 = 0; i + 1 < n; i++) {
      const rec = cb + L.CPU_WALK + <usize>i * L.WALK_REC_BYTES;
      const next = load<u64>(rec, 8) & addrMask;
      const slot = slotOf(next);
      const acc = load<u64>(rec, 16) & (PTE_RW | PTE_US | PTE_XD);
      pscFill(cb, load<u32>(rec, 24), la, pcid, next | acc, load<u64>(rec, 0), slot, generation(slot));
    }
    const slot = slotOf(frame);
    const gen = generation(slot);
    const stamp = gen & ~L.GEN_COPY_WINDOW;
    if (size == L.SIZE_4K) {
      fillArray(cb, L.A_DTLB4K, la, pte, global, pcid, slot, stamp);
      fillArray(cb, L.A_STLB, la, pte, global, pcid, slot, stamp);
    } else if (size == L.SIZE_2M) {
      fillArray(cb, L.A_DTLB2M, la, pte, global, pcid, slot, stamp);
      fillArray(cb, L.A_STLB, la, pte, global, pcid, slot, stamp);
    } else {
      fillArray(cb, L.A_DTLB1G, la, pte, global, pcid, slot, stamp);
      fillArray(cb, L.A_STLB1G, la, pte, global, pcid, slot, stamp);
    }
    if (write && (gen & L.GEN_COPY_WINDOW) != 0) {
      count(cb, L.C_WRITE_IN_COPY);
      if (recordEvent(cb, L.EVK_WRITE_IN_COPY, index, la, frame, slot, stamp)) walkEventsFull = true;
    }
    walkPa = frame | (la & ((<u64>1 << shift) - 1));
    return 0;
  }
}
