// The memory map, computed once on the host and written into the header for the core
// (assembly/layout.ts names the fields). Order: header | CPU blocks | generation slots | table pool.
// The pool comes last so that it can grow with the memory.
import * as L from '../../assembly/layout.ts';
import { ARRAY_NAMES, CAPACITY_GEOMETRY, RETENTIVE_GEOMETRY, type Geometry, type MachineConfig } from './model.ts';
import { ConfigError } from './errors.ts';

export const WASM_PAGE = 65536;
export const MAX_WASM_PAGES = 65536; // 4 GiB: the module's maximum (asconfig.json)
const GiB = 1n << 30n;

export interface Layout {
  ncpus: number;
  cpuBase: number;
  cpuStride: number;
  arrayOffsets: number[]; // inside a CPU block, A_* order
  batchOff: number;
  resultOff: number;
  eventOff: number;
  batchCapacity: number;
  eventCapacity: number;
  genBase: number;
  genSlots: number;
  zone4k: bigint;
  physmem: bigint;
  poolBase: number;
  poolBytes: number;
  maxphyaddr: number;
  page1gb: boolean;
  retentive: boolean;
  geometry: Geometry;
}

const align = (n: number, a: number) => Math.ceil(n / a) * a;
const isPow2 = (n: number) => n > 0 && (n & (n - 1)) === 0;

/**
 * Event records laid out after a CPU's ring of eventCapacity: a batch stops after the access that
 * fills the ring, and that access may add more than one event (psc-stale, again after a walk
 * restart, then write-in-copy). The core stores into this room (it derives its size from the
 * layout) so that nothing is lost.
 */
export const EVENT_SLACK = 8;

/** Generation slots cover [0, physmem) plus one shared by every frame at or above it. */
export function slotCount(zone4k: bigint, physmem: bigint): number {
  const below = (physmem < zone4k ? physmem : zone4k) >> 12n;
  const above = physmem > zone4k ? (physmem - zone4k + (1n << 21n) - 1n) >> 21n : 0n;
  return Number(below + above) + 1;
}

export function slotOf(layout: Pick<Layout, 'zone4k' | 'genSlots'>, pa: bigint): number {
  const s = pa < layout.zone4k ? pa >> 12n : (layout.zone4k >> 12n) + ((pa - layout.zone4k) >> 21n);
  return s < BigInt(layout.genSlots) ? Number(s) : layout.genSlots - 1;
}

export function resolveGeometry(config: MachineConfig): Geometry {
  const base = config.mode === 'capacity' ? CAPACITY_GEOMETRY : RETENTIVE_GEOMETRY;
  const g = { ...base, ...(config.geometry ?? {}) } as Geometry;
  for (const name of ARRAY_NAMES) {
    const { sets, ways } = g[name];
    if (!Number.isInteger(sets) || !Number.isInteger(ways) || sets < 0 || ways < 0) {
      throw new ConfigError(`geometry of ${name}: sets and ways must be whole numbers ≥ 0 (got ${sets} × ${ways})`);
    }
    if (sets !== 0 && (!isPow2(sets) || ways < 1)) {
      throw new ConfigError(`geometry of ${name}: sets must be a power of two and ways ≥ 1, or sets 0 for no array (got ${sets} × ${ways})`);
    }
    if (sets * ways > 1 << 20) throw new ConfigError(`geometry of ${name}: ${sets * ways} entries is more than 2^20`);
  }
  return g;
}

export function computeLayout(config: MachineConfig): Layout {
  const ncpus = config.ncpus;
  if (!Number.isInteger(ncpus) || ncpus < 1 || ncpus > 256) throw new ConfigError(`ncpus must be 1..256 (got ${ncpus})`);
  const maxphyaddr = config.maxphyaddr ?? 46;
  if (!Number.isInteger(maxphyaddr) || maxphyaddr < 36 || maxphyaddr > 52) throw new ConfigError(`maxphyaddr must be 36..52 (got ${maxphyaddr})`);
  const physmem = config.physmem ?? 64n * GiB;
  const zone4k = config.zone4k ?? 16n * GiB;
  if (physmem < 8n * GiB || physmem > 1n << BigInt(maxphyaddr)) {
    throw new ConfigError(`physmem must be at least 8 GiB and at most 2^maxphyaddr = ${1n << BigInt(maxphyaddr)} bytes (got ${physmem})`);
  }
  if (zone4k < 4n * GiB || zone4k % (1n << 30n) !== 0n || zone4k > physmem) {
    throw new ConfigError(`zone4k must be a multiple of 1 GiB from 4 GiB up to physmem (got ${zone4k})`);
  }
  const batchCapacity = config.batchCapacity ?? 4096;
  const eventCapacity = config.eventCapacity ?? 256;
  if (!Number.isInteger(batchCapacity) || batchCapacity < 1 || batchCapacity > 1 << 20) throw new ConfigError(`batchCapacity must be 1..2^20 (got ${batchCapacity})`);
  if (!Number.isInteger(eventCapacity) || eventCapacity < 1 || eventCapacity > 1 << 16) throw new ConfigError(`eventCapacity must be 1..65536 (got ${eventCapacity})`);
  const poolFrames = config.poolFrames ?? 4096;
  if (!Number.isInteger(poolFrames) || poolFrames < 1) throw new ConfigError(`poolFrames must be a positive whole number (got ${poolFrames})`);
  const geometry = resolveGeometry(config);

  let off = L.CPU_FIXED_BYTES;
  const arrayOffsets = ARRAY_NAMES.map((name) => {
    const at = off;
    off += geometry[name].sets * geometry[name].ways * L.ENTRY_BYTES;
    return at;
  });
  const batchOff = off;
  off += batchCapacity * L.BATCH_RECORD_BYTES;
  const resultOff = off;
  off += batchCapacity * L.RESULT_BYTES;
  const eventOff = off;
  off += (eventCapacity + EVENT_SLACK) * L.EVENT_BYTES;
  const cpuStride = align(off, 4096);

  const cpuBase = L.HEADER_BYTES;
  const genBase = cpuBase + ncpus * cpuStride;
  const genSlots = slotCount(zone4k, physmem);
  const poolBase = align(genBase + genSlots * 4, 4096);
  const poolBytes = poolFrames * 4096;
  if (poolBase + poolBytes > MAX_WASM_PAGES * WASM_PAGE) {
    throw new ConfigError(`the machine needs ${poolBase + poolBytes} bytes of memory, more than the 4 GiB a WebAssembly memory can hold: fewer CPUs, a smaller geometry, physmem or pool`);
  }
  return {
    ncpus, cpuBase, cpuStride, arrayOffsets, batchOff, resultOff, eventOff, batchCapacity, eventCapacity,
    genBase, genSlots, zone4k, physmem, poolBase, poolBytes, maxphyaddr,
    page1gb: config.page1gb ?? true, retentive: config.mode !== 'capacity', geometry,
  };
}

export function writeHeader(buffer: ArrayBufferLike, layout: Layout): void {
  const dv = new DataView(buffer);
  const u32 = (off: number, v: number) => dv.setUint32(off, v, true);
  u32(L.HDR_MAGIC, L.LAYOUT_MAGIC);
  u32(L.HDR_VERSION, L.LAYOUT_VERSION);
  u32(L.HDR_NCPUS, layout.ncpus);
  u32(L.HDR_CPU_BASE, layout.cpuBase);
  u32(L.HDR_CPU_STRIDE, layout.cpuStride);
  u32(L.HDR_POOL_BASE, layout.poolBase);
  u32(L.HDR_POOL_BYTES, layout.poolBytes);
  u32(L.HDR_GEN_BASE, layout.genBase);
  u32(L.HDR_GEN_SLOTS, layout.genSlots);
  u32(L.HDR_ZONE4K_PAGES, Number(layout.zone4k >> 12n));
  u32(L.HDR_MAXPHYADDR, layout.maxphyaddr);
  u32(L.HDR_FLAGS, (layout.page1gb ? L.FLAG_PAGE1GB : 0) | (layout.retentive ? L.FLAG_RETENTIVE : 0));
  u32(L.HDR_BATCH_CAP, layout.batchCapacity);
  u32(L.HDR_EVENT_CAP, layout.eventCapacity);
  u32(L.HDR_BATCH_OFF, layout.batchOff);
  u32(L.HDR_RESULT_OFF, layout.resultOff);
  u32(L.HDR_EVENT_OFF, layout.eventOff);
  dv.setBigUint64(L.HDR_PHYSMEM, layout.physmem, true);
  ARRAY_NAMES.forEach((name, a) => {
    const at = L.HDR_GEOM + a * L.GEOM_BYTES;
    u32(at + L.GEOM_SETS, layout.geometry[name].sets);
    u32(at + L.GEOM_WAYS, layout.geometry[name].ways);
    u32(at + L.GEOM_OFF, layout.arrayOffsets[a]);
  });
}

/** Reads a layout back from a header (a worker gets the memory, not the host's objects). */
export function readLayout(buffer: ArrayBufferLike): Layout {
  const dv = new DataView(buffer);
  const u32 = (off: number) => dv.getUint32(off, true);
  if (u32(L.HDR_MAGIC) !== L.LAYOUT_MAGIC) throw new ConfigError('memory holds no mmuwasm machine (bad magic)');
  if (u32(L.HDR_VERSION) !== L.LAYOUT_VERSION) throw new ConfigError(`memory layout version ${u32(L.HDR_VERSION)}, this build expects ${L.LAYOUT_VERSION}`);
  const geometry = {} as Geometry;
  const arrayOffsets: number[] = [];
  ARRAY_NAMES.forEach((name, a) => {
    const at = L.HDR_GEOM + a * L.GEOM_BYTES;
    geometry[name] = { sets: u32(at + L.GEOM_SETS), ways: u32(at + L.GEOM_WAYS) };
    arrayOffsets.push(u32(at + L.GEOM_OFF));
  });
  const zone4k = BigInt(u32(L.HDR_ZONE4K_PAGES)) << 12n;
  const genSlots = u32(L.HDR_GEN_SLOTS);
  const flags = u32(L.HDR_FLAGS);
  return {
    ncpus: u32(L.HDR_NCPUS), cpuBase: u32(L.HDR_CPU_BASE), cpuStride: u32(L.HDR_CPU_STRIDE), arrayOffsets,
    batchOff: u32(L.HDR_BATCH_OFF), resultOff: u32(L.HDR_RESULT_OFF), eventOff: u32(L.HDR_EVENT_OFF),
    batchCapacity: u32(L.HDR_BATCH_CAP), eventCapacity: u32(L.HDR_EVENT_CAP),
    genBase: u32(L.HDR_GEN_BASE), genSlots, zone4k,
    physmem: dv.getBigUint64(L.HDR_PHYSMEM, true),
    poolBase: u32(L.HDR_POOL_BASE), poolBytes: u32(L.HDR_POOL_BYTES), maxphyaddr: u32(L.HDR_MAXPHYADDR),
    page1gb: (flags & L.FLAG_PAGE1GB) !== 0, retentive: (flags & L.FLAG_RETENTIVE) !== 0, geometry,
  };
}
