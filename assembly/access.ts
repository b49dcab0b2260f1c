// The hot path: a batch of one CPU's accesses, run in one call. A hit in an L1 TLB is a tag compare,
// one load from the rights table and one generation compare; everything else (STLB, walk, dirty
// re-walk, faults, oracle events) is out of line.
import * as L from './layout';
import {
  ncpus, cpuBlock, count, batchOff, resultOff, genBase, stlbSets, stlb1gSets, LA_BITS, FRAME_BITS,
  dtlb4kSets, dtlb4kWays, dtlb4kOff, dtlb2mSets, dtlb2mWays, dtlb2mOff, dtlb1gSets, dtlb1gWays, dtlb1gOff,
} from './machine';
import { probeSet, probeArray, fillArray, tlbDropPageOfSize, DROP_PCID_AND_GLOBAL, GLOBAL_MASK } from './tlb';
import { rightsIndex } from './rights';
import { walk, walkPa, walkEventsFull, WALK_FAULT, setAdDeferred } from './walk';
import { generation, recordEvent } from './oracle';
import { pageFaultInvalidation } from './invalidation';

const OFF_4K: u64 = 0xfff;
const OFF_2M: u64 = 0x1fffff;
const OFF_1G: u64 = 0x3fffffff;
const SIZE_2M_TAG: u64 = <u64>L.SIZE_2M << L.TAG_SIZE_SHIFT;
const SIZE_1G_TAG: u64 = <u64>L.SIZE_1G << L.TAG_SIZE_SHIFT;

// The physical address of the last access completed off the fast path.
let pa: u64 = 0;

function pageFault(cb: usize, la: u64, code: u32, pcid: u32): u32 {
  store<u32>(cb + L.CPU_VECTOR, L.VEC_PF);
  store<u32>(cb + L.CPU_ERROR_CODE, code);
  store<u64>(cb + L.CPU_CR2, la);
  count(cb, L.C_PAGE_FAULTS);
  pageFaultInvalidation(cb, la, pcid);
  return L.ST_PAGE_FAULT;
}

function walkAndFill(cb: usize, la: u64, kind: u32, index: u32, pcid: u32): u32 {
  const r = walk(cb, la, kind, index, pcid);
  if (r != 0) return pageFault(cb, la, r & ~WALK_FAULT, pcid);
  pa = walkPa;
  return walkEventsFull ? L.ST_EVENTS_FULL : L.ST_OK;
}

/** A use whose stamp differs from the frame's generation: report it unless it is a read in a copy window. */
function staleUse(cb: usize, p: usize, la: u64, kind: u32, index: u32): u32 {
  const slot = load<u32>(p, L.E_SLOT);
  const stamp = load<u32>(p, L.E_STAMP);
  const gen = generation(slot);
  if (gen == (stamp | L.GEN_COPY_WINDOW) && (kind & L.K_WRITE) == 0) return L.ST_OK;
  count(cb, L.C_TLB_STALE);
  const frame = load<u64>(p, L.E_PTE) & FRAME_BITS;
  return recordEvent(cb, L.EVK_TLB_STALE, index, la, frame, slot, stamp) ? L.ST_EVENTS_FULL : L.ST_OK;
}

/** A hit the rights table did not simply allow: a fault, or a write through a clean entry. */
function deniedUse(cb: usize, p: usize, la: u64, kind: u32, index: u32, pcid: u32, verdict: u32): u32 {
  if (verdict != L.PERM_DIRTY) return pageFault(cb, la, verdict, pcid);
  // SDM §4.8: the processor sets D in memory, so it walks again and faults if the entry is gone.
  count(cb, L.C_DIRTY_REWALKS);
  const size = <u32>(load<u64>(p, L.E_PTE) >> L.SIZE_SHIFT) & 3;
  tlbDropPageOfSize(cb, la, size, DROP_PCID_AND_GLOBAL, pcid);
  return walkAndFill(cb, la, kind, index, pcid);
}

@inline function useEntry(cb: usize, p: usize, la: u64, kind: u32, index: u32, pcid: u32, offMask: u64): u32 {
  const pte = load<u64>(p, L.E_PTE);
  const verdict = <u32>load<u8>(cb + L.CPU_PERM + rightsIndex(kind, pte));
  if (verdict != 0) return deniedUse(cb, p, la, kind, index, pcid, verdict);
  pa = (pte & FRAME_BITS) | (la & offMask);
  if (generation(load<u32>(p, L.E_SLOT)) != load<u32>(p, L.E_STAMP)) return staleUse(cb, p, la, kind, index);
  return L.ST_OK;
}

/** L1 miss: the STLB arrays, then a walk. */
function missL1(cb: usize, la: u64, kind: u32, index: u32, pcid: u32): u32 {
  if (stlbSets == 0 && stlb1gSets == 0) {
    count(cb, L.C_TLB_MISSES);
    return walkAndFill(cb, la, kind, index, pcid);
  }
  let p = probeArray(cb, L.A_STLB, la, L.SIZE_4K, pcid);
  let l1 = L.A_DTLB4K;
  let counter = L.C_STLB4K_HITS;
  let offMask = OFF_4K;
  if (p == 0) {
    p = probeArray(cb, L.A_STLB, la, L.SIZE_2M, pcid);
    l1 = L.A_DTLB2M;
    counter = L.C_STLB2M_HITS;
    offMask = OFF_2M;
  }
  if (p == 0) {
    p = probeArray(cb, L.A_STLB1G, la, L.SIZE_1G, pcid);
    l1 = L.A_DTLB1G;
    counter = L.C_STLB1G_HITS;
    offMask = OFF_1G;
  }
  if (p == 0) {
    count(cb, L.C_TLB_MISSES);
    return walkAndFill(cb, la, kind, index, pcid);
  }
  const global = load<u64>(p, L.E_MASK) == GLOBAL_MASK;
  fillArray(cb, l1, la, load<u64>(p, L.E_PTE), global, pcid, load<u32>(p, L.E_SLOT), load<u32>(p, L.E_STAMP));
  count(cb, counter);
  return useEntry(cb, p, la, kind, index, pcid, offMask);
}

function generalProtection(cb: usize): u32 {
  store<u32>(cb + L.CPU_VECTOR, L.VEC_GP);
  store<u32>(cb + L.CPU_ERROR_CODE, 0);
  count(cb, L.C_GP_FAULTS);
  return L.ST_GENERAL_PROTECTION;
}

/**
 * Runs accesses [start, start + n) of the CPU's batch. Returns how many completed; the CPU block's
 * status says why it stopped (a fault: the access at start + done did not complete). -1: bad call.
 * `flags`: RUN_RESULTS writes each PA to the results; RUN_DEFER_AD reports A/D updates as events
 * instead of writing them (walk.ts); RUN_COLUMNS reads the batch area in column form (layout.ts).
 */
export function runBatch(cpu: i32, start: i32, n: i32, flags: i32): i32 {
  const cap = load<i32>(L.HDR_BATCH_CAP);
  if (cpu < 0 || cpu >= ncpus || start < 0 || n < 0 || start + n > cap) return -1;
  // One loop per form, its strides constants: a stride in a local cost the TLB-hit path 5-8%.
  return (flags & L.RUN_COLUMNS) != 0 ? runAccesses<u8>(cpu, start, n, flags, cap) : runAccesses<u32>(cpu, start, n, flags, cap);
}

/** runBatch's loop; K is the kind's type in the area: u8 in column form, u32 in 16-byte records. */
function runAccesses<K>(cpu: i32, start: i32, n: i32, flags: i32, cap: i32): i32 {
  const cb = cpuBlock(cpu);
  const wantResults = flags & L.RUN_RESULTS;
  setAdDeferred((flags & L.RUN_DEFER_AD) != 0);
  const pcid = load<u32>(cb + L.CPU_PCID);
  const pcidBits = (<u64>pcid << L.TAG_PCID_SHIFT) | 1;
  const canon = <u64>load<u32>(cb + L.CPU_CANON_SHIFT);
  const rights = cb + L.CPU_PERM;
  const gens = genBase;
  // The L1 arrays do not change shape during a batch: their geometry lives in locals.
  const base4k = cb + dtlb4kOff;
  const mask4k = <u64>(dtlb4kSets - 1);
  const ways4k = <usize>dtlb4kWays;
  const set4k = ways4k << 5;
  const base2m = cb + dtlb2mOff;
  const mask2m = <u64>(dtlb2mSets - 1);
  const ways2m = <usize>dtlb2mWays;
  const set2m = ways2m << 5;
  const base1g = cb + dtlb1gOff;
  const mask1g = <u64>(dtlb1gSets - 1);
  const ways1g = <usize>dtlb1gWays;
  const set1g = ways1g << 5;
  // Records: address and kind 16 bytes apart, or in two columns.
  const columns = sizeof<K>() == 1;
  let rec = cb + batchOff + (columns ? <usize>start << 3 : <usize>start << 4);
  let kindAt = columns ? cb + batchOff + (<usize>cap << 3) + <usize>start : rec + 8;
  const recStep: usize = columns ? 8 : L.BATCH_RECORD_BYTES;
  const kindStep: usize = columns ? 1 : 0; // records: the kind is read at rec + 8
  let res = cb + resultOff + (<usize>start << 3);
  let writes: u32 = 0;
  let fetches: u32 = 0;
  let hits4k: u32 = 0;
  let hits2m: u32 = 0;
  let hits1g: u32 = 0;
  let status: u32 = L.ST_OK;
  let probe4k = dtlb4kSets != 0 && load<u32>(cb + L.CPU_FILLED_4K) != 0;
  let i: i32 = 0;
  for (; i < n; i++, rec += recStep, kindAt += kindStep, res += L.RESULT_BYTES) {
    const la = load<u64>(rec);
    const kind = (columns ? <u32>load<K>(kindAt) : load<u32>(rec, 8)) & 7;
    writes += kind & L.K_WRITE;
    fetches += (kind >> 1) & 1;
    const index = <u32>(start + i);
    if (<i64>(la << canon) >> canon != <i64>la) {
      status = generalProtection(cb);
      break;
    }
    const page4k = (la & LA_BITS) >> 12;
    let p: usize = probe4k ? probeSet(base4k + <usize>(page4k & mask4k) * set4k, ways4k, (page4k << L.TAG_PAGE_SHIFT) | pcidBits) : 0;
    let off: u64 = OFF_4K;
    if (p != 0) hits4k++;
    else {
      const page2m = page4k >> 9;
      p = dtlb2mSets != 0 ? probeSet(base2m + <usize>(page2m & mask2m) * set2m, ways2m, SIZE_2M_TAG | (page2m << L.TAG_PAGE_SHIFT) | pcidBits) : 0;
      off = OFF_2M;
      if (p != 0) hits2m++;
      else {
        const page1g = page2m >> 9;
        p = dtlb1gSets != 0 ? probeSet(base1g + <usize>(page1g & mask1g) * set1g, ways1g, SIZE_1G_TAG | (page1g << L.TAG_PAGE_SHIFT) | pcidBits) : 0;
        off = OFF_1G;
        if (p != 0) hits1g++;
      }
    }
    if (p != 0) {
      const pte = load<u64>(p, L.E_PTE);
      const verdict = <u32>load<u8>(rights + rightsIndex(kind, pte));
      if (verdict == 0 && atomic.load<u32>(gens + (<usize>load<u32>(p, L.E_SLOT) << 2)) == load<u32>(p, L.E_STAMP)) {
        if (wantResults != 0) store<u64>(res, (pte & FRAME_BITS) | (la & off));
        continue;
      }
      // Slow uses of a hit: a fault, a dirty re-walk, or a stale stamp.
      status = verdict != 0 ? deniedUse(cb, p, la, kind, index, pcid, verdict) : staleUse(cb, p, la, kind, index);
      if (verdict == 0) pa = (pte & FRAME_BITS) | (la & off);
    } else {
      status = missL1(cb, la, kind, index, pcid);
    }
    // The slow paths fill: the first 4 KiB translation turns the dtlb4k probe on.
    probe4k = dtlb4kSets != 0 && load<u32>(cb + L.CPU_FILLED_4K) != 0;
    if (status == L.ST_OK) {
      if (wantResults != 0) store<u64>(res, pa);
      continue;
    }
    if (status == L.ST_EVENTS_FULL && wantResults != 0) store<u64>(res, pa);
    break;
  }
  const attempted: u64 = i < n ? <u64>i + 1 : <u64>n;
  count(cb, L.C_ACCESSES, attempted);
  count(cb, L.C_WRITES, writes);
  count(cb, L.C_FETCHES, fetches);
  count(cb, L.C_READS, attempted - writes - fetches);
  count(cb, L.C_DTLB4K_HITS, hits4k);
  count(cb, L.C_DTLB2M_HITS, hits2m);
  count(cb, L.C_DTLB1G_HITS, hits1g);
  store<u32>(cb + L.CPU_STATUS, status);
  store<u32>(cb + L.CPU_STOP_INDEX, <u32>(start + i));
  return status == L.ST_EVENTS_FULL ? i + 1 : i;
}
