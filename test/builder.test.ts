// The host's tools: misuse of PageTables and Machine throws the typed errors of src/mmu/errors.ts
// before anything is written; the table pool grows when its frames run out without disturbing the
// tables already built; freeing a table moves its generation, which a cached PSC pointer reports.
import { describe, expect, it } from 'vitest';
import { Machine } from '../src/mmu/machine.ts';
import { PageTables } from '../src/mmu/builder.ts';
import { ArgumentError, CpuRangeError, MmuError, TableAddressError } from '../src/mmu/errors.ts';
import { ADDR, P, R, W, SMALL, createPair, forEachModel, ok, setup } from './support/harness.ts';

/** Everything the machine holds that a misuse could damage: CPU blocks, generations, pool. */
function snapshot(machine: Machine): Buffer {
  const { cpuBase } = machine.layout;
  const end = machine.layout.poolBase + Number(machine.pool.bytes);
  return Buffer.from(new Uint8Array(machine.memory.buffer).slice(cpuBase, end));
}
/** Whether the memory is byte for byte as in `before` (a boolean: a diff of megabytes helps no one). */
const unchanged = (machine: Machine, before: Buffer) => snapshot(machine).equals(before);

describe('CPU out of range', () => {
  const CALLS: [string, (m: Machine, cpu: number) => unknown][] = [
    ['reset', (m, c) => m.reset(c)],
    ['setPagingLevels', (m, c) => m.setPagingLevels(c, 5)],
    ['writeCr0', (m, c) => m.writeCr0(c, 0n)],
    ['writeCr3', (m, c) => m.writeCr3(c, 0n)],
    ['writeCr4', (m, c) => m.writeCr4(c, 0n)],
    ['writeEfer', (m, c) => m.writeEfer(c, 0n)],
    ['writeRflags', (m, c) => m.writeRflags(c, 0n)],
    ['writePkru', (m, c) => m.writePkru(c, 1)],
    ['readCr', (m, c) => m.readCr(c)],
    ['invlpg', (m, c) => m.invlpg(c, 0x1000n)],
    ['invpcid', (m, c) => m.invpcid(c, 2, 0, 0n)],
    ['access', (m, c) => m.access(c, 0x1000n, R)],
    ['accessBatch', (m, c) => m.accessBatch(c, [0x1000n], [W])],
    ['runBatch', (m, c) => m.runBatch(c, 0, 1)],
    ['batchArea', (m, c) => m.batchArea(c)],
    ['tlbEntries', (m, c) => m.tlbEntries(c)],
    ['pscEntries', (m, c) => m.pscEntries(c)],
    ['counters', (m, c) => m.counters(c)],
    ['drainEvents', (m, c) => m.drainEvents(c)],
  ];

  it.each(CALLS)('%s throws CpuRangeError and changes nothing', async (_name, call) => {
    const pair = await createPair({ config: { ncpus: 2, ...SMALL }, build: (b) => b.map(0x1000n, 0x5000n) }, false);
    const machine = pair.wasm;
    machine.writeCr3(0, pair.root);
    machine.writeCr3(1, pair.root);
    machine.access(0, 0x1000n, R);
    const before = snapshot(machine);
    for (const cpu of [-1, 2, 1.5, Number.NaN]) {
      let error: unknown;
      try {
        call(machine, cpu);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(CpuRangeError);
      expect(error).toBeInstanceOf(MmuError);
      expect((error as CpuRangeError).ncpus).toBe(2);
      expect(Object.is((error as CpuRangeError).cpu, cpu)).toBe(true);
    }
    expect(unchanged(machine, before)).toBe(true);
  });
});

describe('misuse of tables and entries', () => {
  type Case = [string, typeof TableAddressError | typeof ArgumentError, (t: PageTables, m: Machine, root: bigint, end: bigint) => unknown];
  const CASES: Case[] = [
    ['setEntry on an unaligned table address', TableAddressError, (t, _m, root) => t.setEntry(root + 8n, 0, 0x1234_5000n | P)],
    ['setEntry on a table below the pool', TableAddressError, (t) => t.setEntry(0x1000n, 0, P)],
    ['setEntry on a table past the pool', TableAddressError, (t, _m, _r, end) => t.setEntry(end, 0, P)],
    ['setEntry on a pool frame that is not a table', TableAddressError, (t, _m, _r, end) => t.setEntry(end - 4096n, 0, P)],
    ['setEntry with index 512', ArgumentError, (t, _m, root) => t.setEntry(root, 512, P)],
    ['getEntry on an unaligned table address', TableAddressError, (t, _m, root) => t.getEntry(root + 0x800n, 0)],
    ['freeTable on an unaligned address', TableAddressError, (t, _m, root) => t.freeTable(root + 0x10n)],
    ['freeTable outside the pool', TableAddressError, (t) => t.freeTable(0x1_0000_0000n)],
    ['freeTable on a frame that is not a table', TableAddressError, (t, _m, _r, end) => t.freeTable(end - 4096n)],
    ['map with an unaligned root', TableAddressError, (t, _m, root) => t.map(root + 8n, 0x2000n, 0x6000n, '4K')],
    ['map with a root outside the pool', TableAddressError, (t) => t.map(0x2000n, 0x2000n, 0x6000n, '4K')],
    ['map over a mapped page', TableAddressError, (t, _m, root) => t.map(root, 0x1000n, 0x6000n, '4K')],
    ['map a 4 KiB page inside a 2 MiB page', TableAddressError, (t, _m, root) => t.map(root, 0x4010_0000n, 0x6000n, '4K')],
    ['map a non-canonical address', ArgumentError, (t, _m, root) => t.map(root, 0x8000_0000_0000n, 0x6000n, '4K')],
    ['map an unaligned address', ArgumentError, (t, _m, root) => t.map(root, 0x2100n, 0x6000n, '4K')],
    ['map a frame beyond MAXPHYADDR', ArgumentError, (t, _m, root) => t.map(root, 0x2000n, 1n << 46n, '4K')],
    ['map with protection key 16', ArgumentError, (t, _m, root) => t.map(root, 0x2000n, 0x6000n, '4K', { pk: 16 })],
    ['Machine.writeEntry below the pool', TableAddressError, (_t, m) => m.writeEntry(0x1000n, P)],
    ['Machine.writeEntry past the pool', TableAddressError, (_t, m, _r, end) => m.writeEntry(end, P)],
    ['Machine.writeEntry unaligned', TableAddressError, (_t, m, root) => m.writeEntry(root + 4n, P)],
    ['Machine.writeEntry of a negative value', ArgumentError, (_t, m, root) => m.writeEntry(root, -1n)],
    ['Machine.readEntry outside the pool', TableAddressError, (_t, m) => m.readEntry(0n)],
    ['Machine.access with kind write + fetch', ArgumentError, (_t, m) => m.access(0, 0x1000n, 3)],
    ['Machine.writePkru beyond 32 bits', ArgumentError, (_t, m) => m.writePkru(0, 2 ** 32)],
    ['Machine.writeGeneration of slot -1', ArgumentError, (_t, m) => m.writeGeneration(-1, 0)],
  ];

  it.each(CASES)('%s throws and changes nothing', async (_name, type, call) => {
    const pair = await createPair({
      config: { ...SMALL, poolFrames: 16 },
      build: (b) => {
        b.map(0x1000n, 0x5000n);
        b.map(0x4000_0000n, 0x4000_0000n, '2M');
      },
    }, false);
    const { wasm: machine, tables, root } = pair;
    machine.writeCr3(0, root);
    machine.access(0, 0x1000n, R);
    const end = machine.pool.base + machine.pool.bytes;
    const before = snapshot(machine);
    const inUse = tables.tablesInUse;
    expect(() => call(tables, machine, root, end)).toThrow(type);
    expect(unchanged(machine, before)).toBe(true);
    expect(tables.tablesInUse).toBe(inUse);
  });

  it('freeTable twice: the second throws', async () => {
    const pair = await createPair({ config: SMALL }, false);
    const t = pair.tables.allocTable();
    pair.tables.freeTable(t);
    expect(() => pair.tables.freeTable(t)).toThrow(TableAddressError);
  });
});

describe('pool growth', () => {
  const PAGES = [0n, 1n, 2n, 3n, 4n].map((i) => (i << 30n) | 0x1000n); // each needs its own PD and PT

  forEachModel('built across a growth', (model) => {
    it('tables built before and after the pool grew translate', async () => {
      const t = await setup(model, {
        config: { ...SMALL, poolFrames: 4 },
        build: (b) => {
          for (const [i, va] of PAGES.entries()) b.map(va, 0x10_0000n + (BigInt(i) << 12n));
          return b.machine.pool;
        },
      });
      // 1 + 1 + 2 × 5 = 12 tables: the pool grew once, by 256 frames.
      expect(t.data.bytes).toBe(BigInt((4 + 256) * 4096));
      expect(t.tables.tablesInUse).toBe(12);
      for (const [i, va] of PAGES.entries()) expect(t.m.access(0, va + 8n, R)).toEqual(ok(0x10_0008n + (BigInt(i) << 12n)));
      expect(t.delta()).toMatchObject({ walks: 5n, walkLoads: 4n + 4n * 3n, pageFaults: 0n });
    });
  });

  it('wasm: a machine in use keeps its tables, TLB and PSC when the pool grows under it', async () => {
    const pair = await createPair({ config: { ...SMALL, poolFrames: 4 }, build: (b) => b.map(PAGES[0], 0x10_0000n) }, false);
    const { wasm: m, tables, root } = pair;
    m.writeCr3(0, root);
    expect(m.access(0, PAGES[0], W)).toEqual(ok(0x10_0000n));
    const tlb = m.tlbEntries(0);
    const psc = m.pscEntries(0);
    const bufferBefore = m.memory.buffer.byteLength;
    for (const [i, va] of PAGES.entries()) if (i > 0) pair.map(va, 0x10_0000n + (BigInt(i) << 12n));
    expect(m.pool.bytes).toBe(BigInt((4 + 256) * 4096));
    expect(m.memory.buffer.byteLength).toBeGreaterThan(bufferBefore);
    expect(m.tlbEntries(0)).toEqual(tlb);
    expect(m.pscEntries(0)).toEqual(psc);
    expect(tables.lookup(root, PAGES[0])).toMatchObject({ pa: 0x10_0000n, size: '4K' });
    // New tables (in the grown part) and the old ones, through walks.
    for (const [i, va] of PAGES.entries()) expect(m.access(0, va, R)).toEqual(ok(0x10_0000n + (BigInt(i) << 12n)));
    m.invlpg(0, PAGES[0]);
    expect(m.access(0, PAGES[0], R)).toEqual(ok(0x10_0000n));
    const grown = tables.entryAddress(root, PAGES[4], 0, 4)!;
    expect(grown).toBeGreaterThanOrEqual(m.pool.base + 4n * 4096n);
    expect(m.readEntry(grown) & ADDR).toBe(0x10_4000n);
  });
});

forEachModel('freeTable', (model) => {
  it('moves the table\'s generation; a PSC entry still pointing at it reports psc-stale', async () => {
    const t = await setup(model, {
      config: SMALL,
      build: (b) => {
        b.map(0x1000n, 0x5000n);
        b.map(0x2000n, 0x6000n);
        const pde = b.entry(0x1000n, 'pde');
        return { pde, pt: b.machine.readEntry(pde) & ADDR };
      },
    });
    const { pde, pt } = t.data;
    const slot = Number(pt >> 12n);
    expect(t.m.access(0, 0x1000n, R)).toEqual(ok(0x5000n));
    expect(t.m.pscEntries(0).find((e) => e.array === 'pde')).toMatchObject({ table: pt, src: pde, slot, stamp: 0 });
    // The kernel unlinks the page table and frees it, without invalidating.
    t.wasm.writeEntry(pde, 0n);
    t.tables.freeTable(pt);
    t.sync();
    expect(t.m.readGeneration(slot)).toBe(1);
    // A TLB miss under the same PDE: the PSC entry is used, the freed table read (still intact).
    expect(t.m.access(0, 0x2000n, R)).toEqual(ok(0x6000n));
    expect(t.m.drainEvents(0)).toEqual([{ kind: 'psc-stale', index: 0, va: 0x2000n, pa: pt, slot, stamp: 0 }]);
    expect(t.delta()).toMatchObject({ pscStale: 1n, pscPdeHits: 1n, tlbStale: 0n });
    // The TLB entry filled by that walk stamps the data frame, not the table: hits are quiet.
    expect(t.m.access(0, 0x2000n, R)).toEqual(ok(0x6000n));
    expect(t.m.drainEvents(0)).toEqual([]);
  });

  it('the generation wraps within 31 bits, and a reused frame keeps its moved generation', async () => {
    const pair = await createPair({ config: SMALL }, false);
    const { tables, wasm: m } = pair;
    const t = tables.allocTable();
    const slot = m.slotOf(t);
    m.writeGeneration(slot, 0x7fff_ffff);
    tables.freeTable(t);
    expect(m.readGeneration(slot)).toBe(0);
    tables.freeTable(tables.allocTable());
    expect(m.readGeneration(slot)).toBe(1);
    expect(tables.allocTable()).toBe(t); // the free list gives it back, zeroed
    expect(m.readEntry(t)).toBe(0n);
    expect(m.readGeneration(slot)).toBe(1);
  });
});
