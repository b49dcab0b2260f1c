// The memory map shared by the core and the host (assembly/layout.ts): the constants compiled into
// the core agree with the ones the host imports, the header round-trips, and the counters are dense
// and named as docs/hardware.md names them.
import { describe, expect, it } from 'vitest';
import * as L from '../assembly/layout.ts';
import { Machine } from '../src/mmu/machine.ts';
import { EVENT_SLACK, computeLayout, readLayout, writeHeader } from '../src/mmu/memory.ts';
import { ConfigError } from '../src/mmu/errors.ts';
import { ARRAY_NAMES, COUNTER_NAMES, type MachineConfig } from '../src/mmu/model.ts';
import { ReferenceMachine } from '../src/mmu/reference.ts';

describe('the core was compiled with this layout', () => {
  it.each([
    [0, 'CPU_COUNTERS', L.CPU_COUNTERS],
    [1, 'CPU_PERM', L.CPU_PERM],
    [2, 'CPU_FIXED_BYTES', L.CPU_FIXED_BYTES],
    [3, 'ENTRY_BYTES', L.ENTRY_BYTES],
    [4, 'EVENT_BYTES', L.EVENT_BYTES],
    [5, 'N_COUNTERS', L.N_COUNTERS],
    [6, 'HDR_GEOM', L.HDR_GEOM],
    [7, 'CPU_WALK', L.CPU_WALK],
  ])('layoutProbe(%i) = %s', async (i, _name, value) => {
    const machine = await Machine.create({ ncpus: 1, poolFrames: 1 });
    expect(machine.core.layoutProbe(i)).toBe(value);
  });

  it('an unknown probe is -1; the layout version matches', async () => {
    const machine = await Machine.create({ ncpus: 1, poolFrames: 1 });
    expect(machine.core.layoutProbe(8)).toBe(-1);
    expect(machine.core.layoutVersion()).toBe(L.LAYOUT_VERSION);
  });

  it('fixed regions of a CPU block do not overlap', () => {
    expect(L.CPU_COUNTERS + 8 * L.N_COUNTERS).toBeLessThanOrEqual(L.CPU_WALK);
    expect(L.CPU_WALK + 5 * L.WALK_REC_BYTES).toBeLessThanOrEqual(L.CPU_PERM);
    expect(L.CPU_PERM + L.PERM_BYTES).toBeLessThanOrEqual(L.CPU_FIXED_BYTES);
    expect(L.CPU_PERM + (7 << 8) + 0xff).toBeLessThan(L.CPU_PERM + L.PERM_BYTES); // the largest rights index
    expect(L.CPU_CANON_SHIFT + 4).toBeLessThanOrEqual(L.CPU_COUNTERS);
    expect(L.HDR_GEOM + L.N_ARRAYS * L.GEOM_BYTES).toBeLessThanOrEqual(L.HEADER_BYTES);
    expect(L.HDR_PHYSMEM + 8).toBeLessThanOrEqual(L.HDR_GEOM);
  });
});

describe('the header', () => {
  const CONFIGS: [string, MachineConfig][] = [
    ['defaults', { ncpus: 1 }],
    ['capacity, 3 CPUs, M = 40, no 1 GiB pages', { ncpus: 3, mode: 'capacity', maxphyaddr: 40, page1gb: false, poolFrames: 16 }],
    ['custom geometry, small memory, small batches', {
      ncpus: 2, physmem: 8n << 30n, zone4k: 4n << 30n, batchCapacity: 7, eventCapacity: 3, poolFrames: 2,
      geometry: { dtlb4k: { sets: 2, ways: 3 }, stlb: { sets: 0, ways: 0 }, pde: { sets: 1, ways: 1 } },
    }],
  ];

  it.each(CONFIGS)('round-trips through readLayout: %s', async (_name, config) => {
    const machine = await Machine.create(config);
    expect(readLayout(machine.memory.buffer)).toEqual(computeLayout(config));
    expect(machine.layout).toEqual(computeLayout(config));
    // And through writeHeader on a plain buffer.
    const buffer = new ArrayBuffer(L.HEADER_BYTES);
    writeHeader(buffer, machine.layout);
    expect(readLayout(buffer)).toEqual(machine.layout);
  });

  it.each(CONFIGS)('lays out CPU blocks, generations and the pool without overlap: %s', (_name, config) => {
    const l = computeLayout(config);
    let end = L.CPU_FIXED_BYTES;
    ARRAY_NAMES.forEach((name, a) => {
      expect(l.arrayOffsets[a]).toBe(end);
      end += l.geometry[name].sets * l.geometry[name].ways * L.ENTRY_BYTES;
    });
    expect(l.batchOff).toBe(end);
    expect(l.resultOff).toBe(l.batchOff + l.batchCapacity * L.BATCH_RECORD_BYTES);
    expect(l.eventOff).toBe(l.resultOff + l.batchCapacity * L.RESULT_BYTES);
    expect(l.cpuStride % 4096).toBe(0);
    // The ring, and after it room for the rest of the events of the access that fills it.
    expect(l.eventOff + (l.eventCapacity + EVENT_SLACK) * L.EVENT_BYTES).toBeLessThanOrEqual(l.cpuStride);
    expect(l.cpuBase).toBe(L.HEADER_BYTES);
    expect(l.genBase).toBe(l.cpuBase + l.ncpus * l.cpuStride);
    expect(l.poolBase % 4096).toBe(0);
    expect(l.poolBase).toBeGreaterThanOrEqual(l.genBase + 4 * l.genSlots);
    // One slot per 4 KiB below zone4k, per 2 MiB up to physmem, and one shared above.
    expect(l.genSlots).toBe(Number(l.zone4k >> 12n) + Number((l.physmem - l.zone4k) >> 21n) + 1);
  });

  it('readLayout rejects memory without the magic number or with another version', () => {
    const buffer = new ArrayBuffer(L.HEADER_BYTES);
    expect(() => readLayout(buffer)).toThrow(ConfigError);
    writeHeader(buffer, computeLayout({ ncpus: 1 }));
    new DataView(buffer).setUint32(L.HDR_VERSION, L.LAYOUT_VERSION + 1, true);
    expect(() => readLayout(buffer)).toThrow(ConfigError);
  });
});

describe('counters', () => {
  // docs/hardware.md, "Counters", in layout order.
  const DOCUMENTED = [
    'accesses', 'reads', 'writes', 'fetches', 'dtlb4kHits', 'dtlb2mHits', 'dtlb1gHits', 'stlb4kHits', 'stlb2mHits', 'stlb1gHits',
    'tlbMisses', 'walks', 'walkLoads', 'walkRestarts', 'pscPml5Hits', 'pscPml4Hits', 'pscPdpteHits', 'pscPdeHits',
    'aSets', 'dSets', 'dirtyRewalks', 'pageFaults', 'gpFaults', 'invlpg', 'invpcid0', 'invpcid1', 'invpcid2', 'invpcid3',
    'cr3Flush', 'cr3NoFlush', 'cr4Flush', 'pfInvalidations', 'tlbStale', 'pscStale', 'writeInCopy', 'retentionOverflows',
  ];

  it('the C_* indexes are dense, 0..N_COUNTERS-1, and named as documented', () => {
    const indexes = Object.entries(L).filter(([k]) => k.startsWith('C_')).map(([, v]) => v as number).sort((a, b) => a - b);
    expect(indexes).toEqual(Array.from({ length: L.N_COUNTERS }, (_, i) => i));
    expect([...COUNTER_NAMES]).toEqual(DOCUMENTED);
    expect(COUNTER_NAMES[L.C_CR3_NO_FLUSH]).toBe('cr3NoFlush');
    expect(COUNTER_NAMES[L.C_RETENTION_OVERFLOWS]).toBe('retentionOverflows');
  });

  it('both models report every counter, in the same order, starting at 0', async () => {
    const machine = await Machine.create({ ncpus: 1, poolFrames: 1 });
    const ref = new ReferenceMachine({ ncpus: 1 }, { base: Number(machine.pool.base), bytes: machine.poolBytes() });
    for (const m of [machine, ref]) {
      const c = m.counters(0);
      expect(Object.keys(c)).toEqual(DOCUMENTED);
      expect(Object.values(c).every((v) => v === 0n)).toBe(true);
    }
  });

  it('each counter of the core is the u64 at CPU_COUNTERS + 8 × index', async () => {
    const machine = await Machine.create({ ncpus: 2, poolFrames: 1 });
    const dv = new DataView(machine.memory.buffer);
    const block = machine.layout.cpuBase + machine.layout.cpuStride; // CPU 1
    COUNTER_NAMES.forEach((_, i) => dv.setBigUint64(block + L.CPU_COUNTERS + 8 * i, BigInt(1000 + i), true));
    const c = machine.counters(1);
    COUNTER_NAMES.forEach((name, i) => expect(c[name]).toBe(BigInt(1000 + i)));
    expect(Object.values(machine.counters(0)).every((v) => v === 0n)).toBe(true);
  });
});
