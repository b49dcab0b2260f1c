// The invalidation instructions and their exact effects on the TLBs and the paging-structure caches
// (SDM §4.10.4.1, docs/hardware.md "Invalidations"). A processor may always drop more; this machine
// drops exactly what the SDM requires, so that the oracle sees every translation that could remain.
import * as L from './layout';
import { count } from './machine';
import { tlbDropAll, tlbDropPage, DROP_ALL, DROP_NONGLOBAL, DROP_PCID_NONGLOBAL, DROP_PCID_AND_GLOBAL } from './tlb';
import { pscDrop, pscDropAddress } from './psc';

@inline export function isCanonical(cb: usize, la: u64): bool {
  const s = <u64>load<u32>(cb + L.CPU_CANON_SHIFT);
  return (<i64>(la << s) >> s) == <i64>la;
}

export function invlpg(cb: usize, la: u64): void {
  if (!isCanonical(cb, la)) return; // a NOP, not a fault: nothing changes, nothing is counted
  count(cb, L.C_INVLPG);
  const pcid = load<u32>(cb + L.CPU_PCID);
  tlbDropPage(cb, la, DROP_PCID_AND_GLOBAL, pcid);
  pscDrop(cb, false, pcid);
}

/** Returns false for #GP (bad type, PCID, or address). */
export function invpcid(cb: usize, type: u32, pcid: u32, la: u64): bool {
  if (type > 3 || pcid > 0xfff) return false;
  const pcide = (load<u64>(cb + L.CPU_CR4) & (1 << 17)) != 0;
  if (!pcide && type <= 1 && pcid != 0) return false;
  if (type == 0) {
    if (!isCanonical(cb, la)) return false;
    count(cb, L.C_INVPCID0);
    tlbDropPage(cb, la, DROP_PCID_NONGLOBAL, pcid);
    pscDrop(cb, false, pcid);
  } else if (type == 1) {
    count(cb, L.C_INVPCID1);
    tlbDropAll(cb, DROP_PCID_NONGLOBAL, pcid);
    pscDrop(cb, false, pcid);
  } else if (type == 2) {
    count(cb, L.C_INVPCID2);
    tlbDropAll(cb, DROP_ALL, 0);
    pscDrop(cb, true, 0);
  } else {
    count(cb, L.C_INVPCID3);
    tlbDropAll(cb, DROP_NONGLOBAL, 0);
    pscDrop(cb, true, 0);
  }
  return true;
}

/** What a page fault at `la` invalidates, so that a spurious fault does not recur. */
export function pageFaultInvalidation(cb: usize, la: u64, pcid: u32): void {
  count(cb, L.C_PF_INVALIDATIONS);
  tlbDropPage(cb, la, DROP_PCID_AND_GLOBAL, pcid);
  pscDropAddress(cb, la, pcid);
}

/** MOV to CR3 without the no-flush bit: the non-global entries of the new PCID. */
export function cr3Flush(cb: usize, pcid: u32): void {
  count(cb, L.C_CR3_FLUSH);
  tlbDropAll(cb, DROP_PCID_NONGLOBAL, pcid);
  pscDrop(cb, false, pcid);
}

/** A CR4 write that changes PGE or clears PCIDE: everything. */
export function flushEverything(cb: usize): void {
  count(cb, L.C_CR4_FLUSH);
  tlbDropAll(cb, DROP_ALL, 0);
  pscDrop(cb, true, 0);
}

/** SMEP 0 -> 1: the current PCID's entries, global ones too. */
export function flushCurrentPcid(cb: usize, pcid: u32): void {
  count(cb, L.C_CR4_FLUSH);
  tlbDropAll(cb, DROP_PCID_AND_GLOBAL, pcid);
  pscDrop(cb, false, pcid);
}
