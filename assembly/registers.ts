// Control registers and their side effects. Each write validates like the instruction would (#GP
// leaves everything unchanged), performs the invalidations of SDM §4.10.4.1, and recomputes what the
// hot path derives from the registers: the PCID, the reserved-bit mask, the canonical shift and the
// access-rights table.
import * as L from './layout';
import { rsvdPhys, maxphyaddr, page1gb, count } from './machine';
import { buildRightsTable, CR0_WP, CR4_PGE, CR4_LA57, CR4_PCIDE, CR4_SMEP, CR4_SMAP, CR4_PKE, EFER_NXE, RFLAGS_AC } from './rights';
import { cr3Flush, flushEverything, flushCurrentPcid } from './invalidation';
import { tlbInitArrays } from './tlb';
import { pscDrop } from './psc';
import { PTE_XD, PTE_PS } from './walk';

const CR3_NOFLUSH: u64 = 1 << 63;
const CR4_PAE: u64 = 1 << 5; // implied by IA-32e mode: accepted, not stored
const CR4_KNOWN: u64 = CR4_PAE | CR4_PGE | CR4_LA57 | CR4_PCIDE | CR4_SMEP | CR4_SMAP | CR4_PKE;
const RESET_RNG: u32 = 0x9e3779b9;

const RSVD_1G_LEAF: u64 = 0x3fffe000; // bits 29:13 of a PDPTE that maps a 1 GiB page
const RSVD_2M_LEAF: u64 = 0x001fe000; // bits 20:13 of a PDE that maps a 2 MiB page

/** Reserved bits by level and PS (SDM §4.5, tables 4-15 to 4-20), so the walk looks them up. */
function writeReservedTable(cb: usize, base: u64): void {
  const t = cb + L.CPU_RSVD_LEVELS;
  store<u64>(t, base, 0); // PTE (bit 7 is PAT)
  store<u64>(t, base, 8);
  store<u64>(t, base, 16); // PDE pointing to a page table
  store<u64>(t, base | RSVD_2M_LEAF, 24); // PDE mapping a 2 MiB page
  store<u64>(t, base, 32); // PDPTE pointing to a page directory
  store<u64>(t, base | (page1gb ? RSVD_1G_LEAF : PTE_PS), 40); // PDPTE mapping a 1 GiB page
  store<u64>(t, base | PTE_PS, 48); // PML4E: PS is reserved
  store<u64>(t, base | PTE_PS, 56);
  store<u64>(t, base | PTE_PS, 64); // PML5E
  store<u64>(t, base | PTE_PS, 72);
}

function derive(cb: usize): void {
  const cr4 = load<u64>(cb + L.CPU_CR4);
  const pcid: u32 = (cr4 & CR4_PCIDE) != 0 ? <u32>load<u64>(cb + L.CPU_CR3) & 0xfff : 0;
  store<u32>(cb + L.CPU_PCID, pcid);
  const nxe = (load<u64>(cb + L.CPU_EFER) & EFER_NXE) != 0;
  writeReservedTable(cb, rsvdPhys | (nxe ? 0 : PTE_XD));
  const levels: u32 = (cr4 & CR4_LA57) != 0 ? 5 : 4;
  store<u32>(cb + L.CPU_LEVELS, levels);
  store<u32>(cb + L.CPU_CANON_SHIFT, levels == 5 ? 7 : 16);
  buildRightsTable(cb);
}

/** Power-on state as Linux runs it: WP, PGE, NXE on; empty caches; CR3 = 0. */
export function cpuReset(cb: usize): void {
  memory.fill(cb, 0, L.CPU_FIXED_BYTES);
  store<u64>(cb + L.CPU_CR0, CR0_WP);
  store<u64>(cb + L.CPU_CR4, CR4_PGE);
  store<u64>(cb + L.CPU_EFER, EFER_NXE);
  store<u32>(cb + L.CPU_RNG, RESET_RNG);
  derive(cb);
  tlbInitArrays(cb);
  pscDrop(cb, true, 0);
}

/** LA57 can only change outside 64-bit mode: modelled as a mode switch that flushes everything. */
export function setPagingLevels(cb: usize, levels: u32): bool {
  if (levels != 4 && levels != 5) return false;
  const cr4 = load<u64>(cb + L.CPU_CR4);
  store<u64>(cb + L.CPU_CR4, levels == 5 ? cr4 | CR4_LA57 : cr4 & ~CR4_LA57);
  flushEverything(cb);
  derive(cb);
  return true;
}

export function writeCr0(cb: usize, v: u64): bool {
  store<u64>(cb + L.CPU_CR0, v & CR0_WP);
  derive(cb);
  return true;
}

export function writeCr3(cb: usize, v: u64): bool {
  const cr4 = load<u64>(cb + L.CPU_CR4);
  const pcide = (cr4 & CR4_PCIDE) != 0;
  const high = ~((<u64>1 << <u64>maxphyaddr) - 1) & ~CR3_NOFLUSH; // bits 62:M
  if ((v & high) != 0) return false;
  if (!pcide && (v & CR3_NOFLUSH) != 0) return false;
  store<u64>(cb + L.CPU_CR3, v & ~CR3_NOFLUSH);
  // Of the derived state only the current PCID depends on CR3: the rights and reserved-bit tables
  // (2048 rights checks) stay as they are, which keeps a context switch cheap.
  store<u32>(cb + L.CPU_PCID, pcide ? <u32>v & 0xfff : 0);
  if (!pcide) cr3Flush(cb, 0);
  else if ((v & CR3_NOFLUSH) == 0) cr3Flush(cb, <u32>v & 0xfff);
  else {
    count(cb, L.C_CR3_NO_FLUSH);
  }
  return true;
}

export function writeCr4(cb: usize, v: u64): bool {
  const old = load<u64>(cb + L.CPU_CR4);
  if ((v & ~CR4_KNOWN) != 0) return false;
  v &= ~CR4_PAE;
  if (((v ^ old) & CR4_LA57) != 0) return false;
  if ((v & CR4_PCIDE) != 0 && (old & CR4_PCIDE) == 0 && (load<u64>(cb + L.CPU_CR3) & 0xfff) != 0) return false;
  const oldPcid = load<u32>(cb + L.CPU_PCID);
  store<u64>(cb + L.CPU_CR4, v);
  derive(cb);
  const changed = v ^ old;
  if ((changed & CR4_PGE) != 0 || ((old & CR4_PCIDE) != 0 && (v & CR4_PCIDE) == 0)) flushEverything(cb);
  else if ((v & CR4_SMEP) != 0 && (old & CR4_SMEP) == 0) flushCurrentPcid(cb, oldPcid);
  return true;
}

export function writeEfer(cb: usize, v: u64): bool {
  store<u64>(cb + L.CPU_EFER, v & EFER_NXE);
  derive(cb);
  return true;
}

export function writeRflags(cb: usize, v: u64): bool {
  store<u64>(cb + L.CPU_RFLAGS, v & RFLAGS_AC);
  derive(cb);
  return true;
}

export function writePkru(cb: usize, v: u32): bool {
  store<u32>(cb + L.CPU_PKRU, v);
  derive(cb);
  return true;
}
