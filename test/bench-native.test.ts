// bench/native/walker.c's overlapped loop (run_batch_overlapped, the walk benchmark's
// native-overlapped entry) must do exactly the serial loop's work, or the benchmark's ratio against
// it compares different work. Here both loops run a batch that exercises what the walk benchmark's
// steady state does not: A set in every level and D in leaves by compare-and-swap during the batch
// (an earlier access of a group updating an entry a later one of the same group read), reads
// before and after writes to the same page, L1 TLB hits, fills and evictions, 4 KiB and 2 MiB
// pages. Both must give the WebAssembly core's physical addresses, and each other's counters and
// tables, for several group sizes. Needs gcc (the benchmark compiles the walker the same way).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import * as L from '../assembly/layout.ts';
import { Machine } from '../src/mmu/machine.ts';
import { PageTables } from '../src/mmu/builder.ts';
import { PhysicalMemory } from '../src/mmu/physmem.ts';
import { KIND } from '../src/mmu/model.ts';
import { NativeWalker, nativeParams, type NativeOutput, type NativeParams } from '../bench/native.ts';

const hasGcc = spawnSync('gcc', ['--version']).status === 0;
const N = 4096;
const KINDS = [KIND.read, KIND.write, KIND.supervisor | KIND.read, KIND.supervisor | KIND.write];
// Accesses 0, 1 and 8 to 11 of the batch, to 2 MiB pages 16 and 17, which no other access touches.
// With one-entry TLBs and 8 walks in flight, the second group reads page 16 after its own first
// access made it dirty and page 17 evicted it: that read's descent (made before the write) lacks
// D, and the walk must cache D as the serial walk does, or the write after it would hit a clean
// entry and walk again.
const CRAFTED = new Map([
  [0, { page: 16, offset: 0x1234n, kind: KIND.read }], // sets A in page 16's PDE
  [1, { page: 17, offset: 0x2345n, kind: KIND.read }],
  [8, { page: 16, offset: 0x3456n, kind: KIND.write }], // the second group of 8: sets D
  [9, { page: 17, offset: 0x4567n, kind: KIND.read }], // evicts page 16 from a one-entry dtlb2m
  [10, { page: 16, offset: 0x5678n, kind: KIND.read }], // walks: its descent predates the D
  [11, { page: 16, offset: 0x6789n, kind: KIND.write }], // hits
]);

describe.skipIf(!hasGcc)('the native walker: overlapped walks do the serial loop\'s work', () => {
  let walker: NativeWalker;
  let inputs: Awaited<ReturnType<NativeWalker['prepare']>>;
  let wasmSum: bigint;

  beforeAll(async () => {
    const built = await NativeWalker.build();
    if (typeof built === 'string') throw new Error(built);
    walker = built;
    const m = await Machine.create({ ncpus: 1, mode: 'capacity', batchCapacity: N });
    const pt = new PageTables(m);
    const pm = new PhysicalMemory(m);
    const root = pt.newRoot();
    // 512 4 KiB pages over 4 page tables and 18 2 MiB pages, none with A or D: the batch sets them.
    const base4k = 0x7f00_0000_0000n;
    const base2m = 0x7e00_0000_0000n;
    for (let i = 0; i < 512; i++) pt.map(root, base4k + (BigInt(i) << 12n) + (BigInt(i >> 7) << 30n), pm.alloc('4K'), '4K');
    for (let i = 0; i < 18; i++) pt.map(root, base2m + (BigInt(i) << 21n), pm.alloc('2M'), '2M');
    let x = 0x51ed;
    const rnd = (n: number) => {
      x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
      return x % n;
    };
    if (!m.writeCr4(0, m.readCr(0).cr4 | (1n << 17n)) || !m.writeCr3(0, root | 5n)) throw new Error('CR setup failed');
    const area = m.batchArea(0);
    for (let i = 0; i < N; i++) {
      const p = rnd(512);
      let la = rnd(4) === 0 ? base2m + (BigInt(rnd(16)) << 21n) + BigInt(rnd(1 << 21)) : base4k + (BigInt(p) << 12n) + (BigInt(p >> 7) << 30n) + BigInt(rnd(4096));
      let kind = KINDS[rnd(4)];
      const step = CRAFTED.get(i);
      if (step) [la, kind] = [base2m + (BigInt(step.page) << 21n) + step.offset, step.kind];
      area.records[4 * i] = Number(la & 0xffff_ffffn);
      area.records[4 * i + 1] = Number(la >> 32n);
      area.records[4 * i + 2] = kind;
      area.records[4 * i + 3] = 0;
    }
    const pool = m.poolBytes();
    const records = new Uint8Array(area.records.buffer, area.records.byteOffset, N * L.BATCH_RECORD_BYTES).slice();
    const perm = new Uint8Array(m.memory.buffer, m.layout.cpuBase + L.CPU_PERM, L.PERM_BYTES).slice();
    const stop = m.runBatch(0, 0, N, true);
    if (stop.done !== N) throw new Error(`the core stopped at access ${stop.done} (${stop.status})`);
    wasmSum = BigInt.asUintN(64, area.results.reduce((a, b) => a + b, 0n));
    const params = nativeParams(m);
    inputs = await walker.prepare('exact', { pool, records, perm, params });
  });
  afterAll(() => walker?.dispose());

  const ONE_ENTRY = { l1_4k_sets: 1, l1_4k_ways: 1, l1_2m_sets: 1, l1_2m_ways: 1, l1_1g_sets: 1, l1_1g_ways: 1 };
  const run = (overlap: number, tlbs: Partial<NativeParams> = {}) => walker.measure({ ...inputs, params: { ...inputs.params, ...tlbs, overlap } }, 0);
  const work = (out: NativeOutput) => ({ ...out, samplesNsPerOp: undefined, overlap: undefined });

  it('the serial loop translates as the WebAssembly core does and exercises the A/D updates and the TLB', async () => {
    const serial = await run(0);
    expect(serial.done).toBe(N);
    // The first pass sets A and D by compare-and-swap, hits, fills and evicts the L1 TLBs (default
    // geometry), and walks again to set D behind 36 clean entries (walks - misses).
    expect(serial.first).toEqual({
      checksum: wasmSum.toString(), hits4k: 364, hits2m: 999, hits1g: 0, misses: 2733, walks: 2769, walkLoads: 11048, restarts: 0, aSets: 538, dSets: 500,
    });
  });

  it.each([2, 3, 8, 32])('%i walks in flight: the same translations, counters and tables as the serial loop', async (overlap) => {
    const serial = await run(0);
    const overlapped = await run(overlap);
    expect(overlapped.overlap).toBe(overlap);
    expect(work(overlapped)).toEqual(work(serial));
  });

  it.each([2, 8])('%i walks in flight, one-entry TLBs: the same translations, counters and tables as the serial loop', async (overlap) => {
    const serial = await run(0, ONE_ENTRY);
    expect(serial.first.checksum).toBe(wasmSum.toString());
    const overlapped = await run(overlap, ONE_ENTRY);
    expect(work(overlapped)).toEqual(work(serial));
  });
});
