// The core's exports. The host lays out the memory (src/mmu/memory.ts), writes the header, and calls
// init() in every instance; after that each call names the CPU it acts on. Register writes and
// INVPCID return 1, or 0 for #GP; a CPU out of range returns -1.
import * as L from './layout';
import { init, ncpus, cpuBlock, arraySets, arrayWays, arrayOff, resultOff, FRAME_BITS } from './machine';
import * as R from './registers';
import * as I from './invalidation';
import { tlbInitArrays, arrayMayHold } from './tlb';

export { init, ncpus };
export { runBatch } from './access';
export { fillStream, streamOut } from './stream';

export function layoutVersion(): i32 {
  return L.LAYOUT_VERSION;
}

/** Offsets this build was compiled with, so the host can check it agrees (test/layout.test.ts). */
export function layoutProbe(which: i32): i32 {
  switch (which) {
    case 0: return L.CPU_COUNTERS;
    case 1: return L.CPU_PERM;
    case 2: return L.CPU_FIXED_BYTES;
    case 3: return L.ENTRY_BYTES;
    case 4: return L.EVENT_BYTES;
    case 5: return L.N_COUNTERS;
    case 6: return L.HDR_GEOM;
    case 7: return L.CPU_WALK;
    default: return -1;
  }
}

@inline function ok(cpu: i32): bool {
  return cpu >= 0 && cpu < ncpus;
}

export function cpuReset(cpu: i32): i32 {
  if (!ok(cpu)) return -1;
  R.cpuReset(cpuBlock(cpu));
  return 1;
}
export function setPagingLevels(cpu: i32, levels: i32): i32 {
  return ok(cpu) ? <i32>R.setPagingLevels(cpuBlock(cpu), <u32>levels) : -1;
}
export function writeCr0(cpu: i32, v: u64): i32 {
  return ok(cpu) ? <i32>R.writeCr0(cpuBlock(cpu), v) : -1;
}
export function writeCr3(cpu: i32, v: u64): i32 {
  return ok(cpu) ? <i32>R.writeCr3(cpuBlock(cpu), v) : -1;
}
export function writeCr4(cpu: i32, v: u64): i32 {
  return ok(cpu) ? <i32>R.writeCr4(cpuBlock(cpu), v) : -1;
}
export function writeEfer(cpu: i32, v: u64): i32 {
  return ok(cpu) ? <i32>R.writeEfer(cpuBlock(cpu), v) : -1;
}
export function writeRflags(cpu: i32, v: u64): i32 {
  return ok(cpu) ? <i32>R.writeRflags(cpuBlock(cpu), v) : -1;
}
export function writePkru(cpu: i32, v: u32): i32 {
  return ok(cpu) ? <i32>R.writePkru(cpuBlock(cpu), v) : -1;
}
export function invlpg(cpu: i32, la: u64): i32 {
  if (!ok(cpu)) return -1;
  I.invlpg(cpuBlock(cpu), la);
  return 1;
}
export function invpcid(cpu: i32, type: i32, pcid: i32, la: u64): i32 {
  return ok(cpu) ? <i32>I.invpcid(cpuBlock(cpu), <u32>type, <u32>pcid, la) : -1;
}
/** Re-initialises the TLB arrays of a CPU whose geometry the host has just laid out. */
export function tlbInit(cpu: i32): i32 {
  if (!ok(cpu)) return -1;
  tlbInitArrays(cpuBlock(cpu));
  return 1;
}

/**
 * The oracle's audits ask which cached translations point into a frame about to be freed: a scan of
 * every TLB slot, done here rather than through the host's typed arrays. Writes the byte offset
 * (inside the CPU block) of each valid TLB entry whose frame lies in [lo, hi) into the CPU's result
 * area, as u32s, and returns how many; -1 if they do not fit (the host then scans itself), or a CPU
 * out of range. The result area is the batch's: call it only between batches.
 */
export function tlbScanFrames(cpu: i32, lo: u64, hi: u64): i32 {
  if (!ok(cpu)) return -1;
  const cb = cpuBlock(cpu);
  const out = cb + resultOff;
  const room = <i32>load<u32>(L.HDR_BATCH_CAP) * 2;
  let n: i32 = 0;
  for (let a: i32 = 0; a < L.N_TLB_ARRAYS; a++) {
    if (!arrayMayHold(cb, a)) continue;
    const slots = <usize>(arraySets(a) * arrayWays(a));
    const base = cb + arrayOff(a);
    for (let i: usize = 0; i < slots; i++) {
      const p = base + i * L.ENTRY_BYTES;
      if ((load<u64>(p, L.E_TAG) & 1) == 0) continue;
      const frame = load<u64>(p, L.E_PTE) & FRAME_BITS;
      if (frame < lo || frame >= hi) continue;
      if (n >= room) return -1;
      store<u32>(out + (<usize>n << 2), <u32>(p - cb));
      n++;
    }
  }
  return n;
}
