// The machine as this instance sees it: the layout the host wrote into the header, read once into
// globals by init(). Every worker instantiates the module against the same memory and calls init().
import * as L from './layout';

export let ncpus: i32 = 0;
export let cpuBase: usize = 0;
export let cpuStride: usize = 0;
export let poolBase: u64 = 0;
export let genBase: usize = 0;
export let genSlots: u32 = 0;
export let zone4k: u64 = 0;
export let maxphyaddr: i32 = 0;
export let page1gb: bool = false;
export let retentive: bool = false;
export let batchOff: usize = 0;
export let resultOff: usize = 0;
export let eventOff: usize = 0;
export let eventCap: u32 = 0; // a batch stops once the ring holds this many events
export let eventRoom: u32 = 0; // records the ring can hold: eventCap and the room after it

/** Bits M-1:12: the address field of an entry or of CR3. */
export let addrMask: u64 = 0;
/** Bits 51:M, reserved in every entry. */
export let rsvdPhys: u64 = 0;

// The L1 TLB arrays are on the hot path: their geometry lives in globals.
/** False when every paging-structure cache is absent: walks then skip probing and filling them. */
export let pscPresent: bool = false;

export let dtlb4kSets: u32 = 0;
export let dtlb4kWays: u32 = 0;
export let dtlb4kOff: usize = 0;
export let dtlb2mSets: u32 = 0;
export let dtlb2mWays: u32 = 0;
export let dtlb2mOff: usize = 0;
export let dtlb1gSets: u32 = 0;
export let dtlb1gWays: u32 = 0;
export let dtlb1gOff: usize = 0;
export let stlbSets: u32 = 0;
export let stlb1gSets: u32 = 0;

export const LA_BITS: u64 = 0x01ff_ffff_ffff_ffff; // LA[56:0]: the bits a tag is made of
export const FRAME_BITS: u64 = 0x000f_ffff_ffff_f000; // bits 51:12

export function init(): i32 {
  if (load<u32>(L.HDR_MAGIC) != L.LAYOUT_MAGIC || load<u32>(L.HDR_VERSION) != L.LAYOUT_VERSION) return -1;
  ncpus = load<i32>(L.HDR_NCPUS);
  cpuBase = load<u32>(L.HDR_CPU_BASE);
  cpuStride = load<u32>(L.HDR_CPU_STRIDE);
  poolBase = <u64>load<u32>(L.HDR_POOL_BASE);
  genBase = load<u32>(L.HDR_GEN_BASE);
  genSlots = load<u32>(L.HDR_GEN_SLOTS);
  zone4k = <u64>load<u32>(L.HDR_ZONE4K_PAGES) << 12;
  maxphyaddr = load<i32>(L.HDR_MAXPHYADDR);
  const flags = load<u32>(L.HDR_FLAGS);
  page1gb = (flags & L.FLAG_PAGE1GB) != 0;
  retentive = (flags & L.FLAG_RETENTIVE) != 0;
  batchOff = load<u32>(L.HDR_BATCH_OFF);
  resultOff = load<u32>(L.HDR_RESULT_OFF);
  eventOff = load<u32>(L.HDR_EVENT_OFF);
  eventCap = load<u32>(L.HDR_EVENT_CAP);
  eventRoom = <u32>((cpuStride - eventOff) / L.EVENT_BYTES); // the ring ends the CPU block
  addrMask = ((<u64>1 << <u64>maxphyaddr) - 1) & ~<u64>0xfff;
  rsvdPhys = maxphyaddr >= 52 ? 0 : (((<u64>1 << 52) - 1) & ~((<u64>1 << <u64>maxphyaddr) - 1));
  dtlb4kSets = arraySets(L.A_DTLB4K);
  dtlb4kWays = arrayWays(L.A_DTLB4K);
  dtlb4kOff = arrayOff(L.A_DTLB4K);
  dtlb2mSets = arraySets(L.A_DTLB2M);
  dtlb2mWays = arrayWays(L.A_DTLB2M);
  dtlb2mOff = arrayOff(L.A_DTLB2M);
  dtlb1gSets = arraySets(L.A_DTLB1G);
  dtlb1gWays = arrayWays(L.A_DTLB1G);
  dtlb1gOff = arrayOff(L.A_DTLB1G);
  stlbSets = arraySets(L.A_STLB);
  stlb1gSets = arraySets(L.A_STLB1G);
  pscPresent = false;
  for (let a = L.A_PML5; a <= L.A_PDE; a++) if (arraySets(a) != 0) pscPresent = true;
  return 0;
}

@inline export function cpuBlock(cpu: i32): usize {
  return cpuBase + <usize>cpu * cpuStride;
}

@inline export function arraySets(a: i32): u32 {
  return load<u32>(L.HDR_GEOM + a * L.GEOM_BYTES + L.GEOM_SETS);
}
@inline export function arrayWays(a: i32): u32 {
  return load<u32>(L.HDR_GEOM + a * L.GEOM_BYTES + L.GEOM_WAYS);
}
@inline export function arrayOff(a: i32): usize {
  return load<u32>(L.HDR_GEOM + a * L.GEOM_BYTES + L.GEOM_OFF);
}

/** The pool grows at the end of memory, possibly from another thread: read its size each time. */
@inline export function poolBytes(): u64 {
  return <u64>load<u32>(L.HDR_POOL_BYTES);
}

@inline export function count(cb: usize, counter: i32, n: u64 = 1): void {
  const p = cb + L.CPU_COUNTERS + (<usize>counter << 3);
  store<u64>(p, load<u64>(p) + n);
}

/** The victim way when a set is full (docs/hardware.md, "Fill"): the CPU's xorshift32. */
export function nextRandom(cb: usize): u32 {
  let x = load<u32>(cb + L.CPU_RNG);
  x ^= x << 13;
  x ^= x >>> 17;
  x ^= x << 5;
  store<u32>(cb + L.CPU_RNG, x);
  return x;
}
