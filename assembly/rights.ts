// Access rights (SDM §4.6) and the page-fault error code (§4.7), folded into a per-CPU table so the
// hit path decides an access with one load: the table is rebuilt whenever CR0, CR4, EFER, RFLAGS or
// PKRU change, since those are applied at use, not at fill.
import * as L from './layout';

export const CR0_WP: u64 = 1 << 16;
export const CR4_PGE: u64 = 1 << 7;
export const CR4_LA57: u64 = 1 << 12;
export const CR4_PCIDE: u64 = 1 << 17;
export const CR4_SMEP: u64 = 1 << 20;
export const CR4_SMAP: u64 = 1 << 21;
export const CR4_PKE: u64 = 1 << 22;
export const EFER_NXE: u64 = 1 << 11;
export const RFLAGS_AC: u64 = 1 << 18;

/** Index of the table: kind << 8 | D << 7 | U << 6 | W << 5 | XD << 4 | PK, from a cached pte. */
@inline export function rightsIndex(kind: u32, pte: u64): u32 {
  return (kind << 8) | (<u32>(pte >> 6) & 1) << 7 | (<u32>pte & 6) << 4 | <u32>(pte >> 59);
}

/** The error code of an access that the rights deny, 0 if allowed (D is the caller's concern). */
export function checkRights(cb: usize, kind: u32, w: bool, u: bool, xd: bool, pk: u32): u32 {
  const cr0 = load<u64>(cb + L.CPU_CR0);
  const cr4 = load<u64>(cb + L.CPU_CR4);
  const ac = (load<u64>(cb + L.CPU_RFLAGS) & RFLAGS_AC) != 0;
  const pkru = load<u32>(cb + L.CPU_PKRU);
  const wp = (cr0 & CR0_WP) != 0;
  const smap = (cr4 & CR4_SMAP) != 0;
  const smep = (cr4 & CR4_SMEP) != 0;
  const write = (kind & L.K_WRITE) != 0;
  const fetch = (kind & L.K_FETCH) != 0;
  const user = (kind & L.K_SUPERVISOR) == 0;

  let allowed: bool;
  if (user) {
    allowed = u && (fetch ? !xd : (!write || w));
  } else if (fetch) {
    allowed = !xd && (!u || !smep);
  } else {
    // SMAP: a supervisor data access to a user-mode address needs RFLAGS.AC (explicit accesses).
    const smapOk = !u || !smap || ac;
    allowed = smapOk && (!write || w || !wp);
  }
  // Protection keys apply to data accesses to user-mode addresses only.
  let pkDenied = false;
  if ((cr4 & CR4_PKE) != 0 && u && !fetch) {
    const ad = (pkru >> (pk << 1)) & 1;
    const wd = (pkru >> ((pk << 1) + 1)) & 1;
    pkDenied = ad != 0 || (write && wd != 0 && (user || wp));
  }
  if (allowed && !pkDenied) return 0;
  return faultCode(cb, kind, L.PF_P) | (pkDenied ? L.PF_PK : 0);
}

/** The W/R, U/S and I/D bits every #PF error code carries, over `base` (P or RSVD). */
export function faultCode(cb: usize, kind: u32, base: u32): u32 {
  let code = base;
  if ((kind & L.K_WRITE) != 0) code |= L.PF_WR;
  if ((kind & L.K_SUPERVISOR) == 0) code |= L.PF_US;
  if ((kind & L.K_FETCH) != 0) {
    const nxe = (load<u64>(cb + L.CPU_EFER) & EFER_NXE) != 0;
    const smep = (load<u64>(cb + L.CPU_CR4) & CR4_SMEP) != 0;
    if (nxe || smep) code |= L.PF_ID;
  }
  return code;
}

export function buildRightsTable(cb: usize): void {
  const table = cb + L.CPU_PERM;
  for (let kind: u32 = 0; kind < 8; kind++) {
    for (let i: u32 = 0; i < 256; i++) {
      const d = (i & 0x80) != 0;
      const u = (i & 0x40) != 0;
      const w = (i & 0x20) != 0;
      const xd = (i & 0x10) != 0;
      const code = checkRights(cb, kind, w, u, xd, i & 15);
      let v: u32 = code;
      // A write through an entry whose D is clear must reach memory to set D (SDM §4.8).
      if (code == 0 && (kind & L.K_WRITE) != 0 && !d) v = L.PERM_DIRTY;
      store<u8>(table + (kind << 8) + i, <u8>v);
    }
  }
}
