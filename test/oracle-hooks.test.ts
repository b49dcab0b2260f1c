// The oracle's hooks in the hardware (docs/hardware.md "Oracle stamps", "Batches"): generation
// slots, tlb-stale after a frame is freed, copy windows (reads quiet, writes reported), psc-stale,
// events carrying the batch index, and a full event ring stopping the batch with nothing lost.
import { describe, expect, it } from 'vitest';
import type { MachineConfig, OracleEvent, PageSize } from '../src/mmu/model.ts';
import { ADDR, CR4_PGE, CR4_SMAP, R, S, W, X, counts, forEachModel, ok, pf, setup, L } from './support/harness.ts';

const GiB = 1n << 30n;
// 4 KiB frames come from [4 GiB, zone4k), 2 MiB and 1 GiB frames from [zone4k, physmem).
const MEMORY: Partial<MachineConfig> = { physmem: 16n * GiB, zone4k: 8n * GiB };
const ZONE4K_SLOTS = Number((8n * GiB) >> 12n);
const VA: Record<PageSize, bigint> = { '4K': 0x1000n, '2M': 0x4000_0000n, '1G': 0x80_0000_0000n };

/** A page of each size backed by PhysicalMemory frames, mapped (dirty unless said) and read once. */
async function mapped(model: 'wasm' | 'reference', config: Partial<MachineConfig> = {}, dirty = true) {
  const t = await setup(model, {
    config: { ...MEMORY, ...config },
    build: (b) => {
      const frames = {} as Record<PageSize, bigint>;
      for (const size of ['4K', '2M', '1G'] as const) {
        frames[size] = b.phys.alloc(size);
        b.map(VA[size], frames[size], size, { dirty, accessed: dirty });
      }
      return frames;
    },
  });
  for (const size of ['4K', '2M', '1G'] as const) expect(t.m.access(0, VA[size], R)).toEqual(ok(t.data[size]));
  return t;
}

forEachModel('generation slots', (model) => {
  it('one per 4 KiB below zone4k, one per 2 MiB above, one shared at and above physmem', async () => {
    const t = await setup(model, { config: MEMORY });
    expect(t.m.slotOf(0n)).toBe(0);
    expect(t.m.slotOf(0x1_2345_6789n)).toBe(0x123456);
    expect(t.m.slotOf(8n * GiB - 1n)).toBe(ZONE4K_SLOTS - 1);
    expect(t.m.slotOf(8n * GiB)).toBe(ZONE4K_SLOTS);
    expect(t.m.slotOf(8n * GiB + 0x3f_ffffn)).toBe(ZONE4K_SLOTS + 1);
    expect(t.m.slotOf(16n * GiB - 1n)).toBe(ZONE4K_SLOTS + 4095);
  });

  it('frames at or above physmem share the last slot', async () => {
    const t = await setup(model, { config: MEMORY });
    const last = ZONE4K_SLOTS + 4096;
    expect(t.m.slotOf(16n * GiB)).toBe(last);
    expect(t.m.slotOf(1n << 45n)).toBe(last);
    t.m.writeGeneration(last, 7);
    expect(t.m.readGeneration(last)).toBe(7);
  });
});

forEachModel('tlb-stale', (model) => {
  it.each(['4K', '2M', '1G'] as const)('a %s frame freed while cached: every use reports, and still completes', async (size) => {
    const t = await mapped(model);
    const frame = t.data[size];
    const slot = size === '4K' ? Number(frame >> 12n) : ZONE4K_SLOTS + Number((frame - 8n * GiB) >> 21n);
    expect(t.m.tlbEntries(0).find((e) => e.size === size)).toMatchObject({ frame, slot, stamp: 0 });
    t.phys.free(frame);
    t.sync();
    expect(t.m.readGeneration(slot)).toBe(1);
    const la = VA[size] + 0x88n;
    expect(t.m.accessBatch(0, [la, la, VA['4K'] === VA[size] ? 0x1000n : VA['4K']], [R, W, X])).toEqual({
      done: 3, results: [ok(frame + 0x88n), ok(frame + 0x88n), ok(t.data['4K'])],
    });
    const event: OracleEvent = { kind: 'tlb-stale', index: 0, va: la, pa: frame, slot, stamp: 0 };
    const expected = [event, { ...event, index: 1 }];
    if (size === '4K') expected.push({ ...event, index: 2, va: 0x1000n });
    expect(t.m.drainEvents(0)).toEqual(expected);
    expect(t.m.drainEvents(0)).toEqual([]);
    expect(t.delta()).toMatchObject({ tlbStale: BigInt(expected.length), walks: 3n });
  });

  it('a hit that does not complete through the entry reports nothing: a denied access, a dirty re-walk', async () => {
    const t = await mapped(model, {}, false);
    t.phys.free(t.data['4K']);
    t.phys.free(t.data['2M']);
    t.sync();
    // SMAP on (no invalidation): a supervisor read of the user page is denied on the hit.
    expect(t.m.writeCr4(0, CR4_PGE | CR4_SMAP)).toBe(true);
    expect(t.m.access(0, VA['4K'], R | S)).toEqual(pf(L.PF_P, VA['4K']));
    // The 2 MiB entry is clean: a write re-walks (and fills an entry stamped with generation 1).
    expect(t.m.access(0, VA['2M'], W)).toEqual(ok(t.data['2M']));
    expect(t.m.drainEvents(0)).toEqual([]);
    expect(t.m.tlbEntries(0).find((e) => e.size === '2M')).toMatchObject({ d: true, stamp: 1 });
    expect(t.delta()).toMatchObject({ tlbStale: 0n, dirtyRewalks: 1n, pageFaults: 1n });
  });

  it('an entry filled after the free stamps the new generation and is quiet', async () => {
    const t = await mapped(model);
    t.phys.free(t.data['4K']);
    t.sync();
    t.m.invlpg(0, VA['4K']);
    expect(t.m.access(0, VA['4K'], R)).toEqual(ok(t.data['4K']));
    expect(t.m.tlbEntries(0).find((e) => e.size === '4K')).toMatchObject({ stamp: 1 });
    expect(t.m.access(0, VA['4K'], W)).toEqual(ok(t.data['4K']));
    expect(t.m.drainEvents(0)).toEqual([]);
  });
});

forEachModel('copy windows', (model) => {
  it('a hit: reads are quiet, writes report tlb-stale; after the window both are quiet', async () => {
    const t = await mapped(model);
    const frame = t.data['2M'];
    const slot = t.m.slotOf(frame);
    t.phys.beginCopy(frame);
    t.sync();
    expect(t.m.readGeneration(slot)).toBe(L.GEN_COPY_WINDOW);
    expect(t.m.access(0, VA['2M'] + 1n, R)).toEqual(ok(frame + 1n));
    expect(t.m.access(0, VA['2M'] + 2n, X)).toEqual(ok(frame + 2n));
    expect(t.m.drainEvents(0)).toEqual([]);
    expect(t.m.access(0, VA['2M'] + 3n, W)).toEqual(ok(frame + 3n));
    expect(t.m.drainEvents(0)).toEqual([{ kind: 'tlb-stale', index: 0, va: VA['2M'] + 3n, pa: frame, slot, stamp: 0 }]);
    t.phys.endCopy(frame);
    t.sync();
    expect(t.m.accessBatch(0, [VA['2M'], VA['2M']], [R, W]).done).toBe(2);
    expect(t.m.drainEvents(0)).toEqual([]);
    expect(t.delta()).toMatchObject({ tlbStale: 1n, writeInCopy: 0n });
  });

  it('a walk: a read is quiet and stamps the generation without the flag; a write reports write-in-copy', async () => {
    const t = await mapped(model);
    const frame = t.data['4K'];
    const slot = t.m.slotOf(frame);
    t.phys.free(frame); // generation 1
    t.sync();
    t.m.invlpg(0, VA['4K']);
    t.phys.alloc('4K'); // the same frame again (LIFO free list)
    t.phys.beginCopy(frame);
    t.sync();
    expect(t.m.readGeneration(slot)).toBe((L.GEN_COPY_WINDOW | 1) >>> 0);
    expect(t.m.access(0, VA['4K'], R)).toEqual(ok(frame));
    expect(t.m.tlbEntries(0).find((e) => e.size === '4K')).toMatchObject({ slot, stamp: 1 });
    expect(t.m.drainEvents(0)).toEqual([]);
    t.m.invlpg(0, VA['4K']);
    expect(t.m.access(0, VA['4K'] + 0x10n, W)).toEqual(ok(frame + 0x10n));
    expect(t.m.drainEvents(0)).toEqual([{ kind: 'write-in-copy', index: 0, va: VA['4K'] + 0x10n, pa: frame, slot, stamp: 1 }]);
    // The entry that walk filled: stamp without the flag, so a read hit stays quiet, a write hit reports.
    expect(t.m.access(0, VA['4K'], R)).toEqual(ok(frame));
    expect(t.m.drainEvents(0)).toEqual([]);
    expect(t.delta()).toMatchObject({ writeInCopy: 1n, tlbStale: 0n });
  });

  // A write through a clean entry does not complete through it (a dirty re-walk replaces it), so
  // the entry's stamp is not checked: only the walk reports (docs/hardware.md leaves this implicit).
  it('a dirty re-walk into a copy window: write-in-copy, no tlb-stale', async () => {
    const t = await mapped(model, {}, false);
    const frame = t.data['4K'];
    const slot = t.m.slotOf(frame);
    t.phys.beginCopy(frame);
    t.sync();
    expect(t.m.access(0, VA['4K'], W)).toEqual(ok(frame));
    expect(t.m.drainEvents(0)).toEqual([{ kind: 'write-in-copy', index: 0, va: VA['4K'], pa: frame, slot, stamp: 0 }]);
    expect(t.delta()).toMatchObject({ dirtyRewalks: 1n, writeInCopy: 1n, tlbStale: 0n });
  });
});

forEachModel('psc-stale', (model) => {
  it('a table in a copy window: any change of the generation, the flag included, is reported', async () => {
    const t = await setup(model, {
      config: MEMORY,
      build: (b) => {
        b.map(0x1000n, 0x1_0000_1000n);
        b.map(0x2000n, 0x1_0000_2000n);
        return b.machine.readEntry(b.entry(0x1000n, 'pde')) & ADDR;
      },
    });
    const pt = t.data;
    t.m.access(0, 0x1000n, R);
    t.m.writeGeneration(t.m.slotOf(pt), L.GEN_COPY_WINDOW);
    expect(t.m.access(0, 0x2000n, R)).toEqual(ok(0x1_0000_2000n));
    expect(t.m.drainEvents(0)).toEqual([{ kind: 'psc-stale', index: 0, va: 0x2000n, pa: pt, slot: Number(pt >> 12n), stamp: 0 }]);
  });
});

forEachModel('events and batches', (model) => {
  /** `n` 4 KiB pages, each read once, then all their frames freed: every access to them is stale. */
  async function stalePages(n: number, config: Partial<MachineConfig> = {}) {
    const t = await setup(model, {
      config: { ...MEMORY, ...config },
      build: (b) => {
        const frames: bigint[] = [];
        for (let i = 0; i < n + 1; i++) {
          frames.push(b.phys.alloc('4K'));
          b.map(BigInt(i + 1) << 12n, frames[i], '4K', { accessed: true, dirty: true });
        }
        return frames;
      },
    });
    for (let i = 0; i < n + 1; i++) t.m.access(0, BigInt(i + 1) << 12n, R);
    for (let i = 0; i < n; i++) t.phys.free(t.data[i]);
    t.sync();
    t.mark();
    // Page n + 1 (index n) stays fresh.
    return { t, stale: (i: number) => BigInt(i + 1) << 12n, fresh: BigInt(n + 1) << 12n };
  }

  it('each event carries the index of its access in the batch', async () => {
    const { t, stale, fresh } = await stalePages(3);
    const las = [fresh, stale(0), fresh, fresh, stale(2), stale(1)];
    expect(t.m.accessBatch(0, las, las.map(() => R)).done).toBe(6);
    expect(t.m.drainEvents(0).map((e) => [e.index, e.va])).toEqual([[1, stale(0)], [4, stale(2)], [5, stale(1)]]);
  });

  it('indexes count from the start of the call even when it is longer than the batch area', async () => {
    const { t, stale, fresh } = await stalePages(2, { batchCapacity: 4 });
    const las = [fresh, fresh, stale(0), fresh, fresh, fresh, fresh, stale(1), fresh, fresh];
    expect(t.m.accessBatch(0, las, las.map(() => R)).done).toBe(10);
    expect(t.m.drainEvents(0).map((e) => e.index)).toEqual([2, 7]);
  });

  it('a full ring stops the batch after the access that filled it; resuming loses nothing', async () => {
    const { t, stale, fresh } = await stalePages(5, { eventCapacity: 3 });
    const las = [stale(0), fresh, stale(1), stale(2), stale(3), fresh, stale(4)];
    const kinds = las.map(() => R);
    const first = t.m.accessBatch(0, las, kinds);
    expect(first.done).toBe(4);
    expect(first.results).toHaveLength(4);
    expect(first.results.every((r) => r.status === 'ok')).toBe(true);
    expect(t.m.drainEvents(0).map((e) => [e.index, e.va])).toEqual([[0, stale(0)], [2, stale(1)], [3, stale(2)]]);
    const rest = t.m.accessBatch(0, las.slice(4), kinds.slice(4));
    expect(rest.done).toBe(3);
    expect(t.m.drainEvents(0).map((e) => [e.index, e.va])).toEqual([[0, stale(3)], [2, stale(4)]]);
    expect(t.delta()).toMatchObject({ accesses: 7n, tlbStale: 5n });
  });

  it('an access with two events when one slot is left: both are kept', async () => {
    // A PSC entry for a table whose generation moved (psc-stale) and a write that walks to a frame
    // in a copy window (write-in-copy), in one access, with a ring of one event.
    const t = await setup(model, {
      config: { ...MEMORY, eventCapacity: 1 },
      build: (b) => {
        const f1 = b.phys.alloc('4K');
        const f2 = b.phys.alloc('4K');
        b.map(0x1000n, f1);
        b.map(0x2000n, f2);
        return { f2, pt: b.machine.readEntry(b.entry(0x1000n, 'pde')) & ADDR };
      },
    });
    t.m.access(0, 0x1000n, R);
    t.m.writeGeneration(t.m.slotOf(t.data.pt), 5);
    t.phys.beginCopy(t.data.f2);
    t.sync();
    const r = t.m.accessBatch(0, [0x2000n, 0x1000n], [W, R]);
    expect(r.done).toBe(1);
    expect(t.m.drainEvents(0).map((e) => e.kind)).toEqual(['psc-stale', 'write-in-copy']);
    expect(t.delta()).toEqual(counts({
      accesses: 2n, reads: 1n, writes: 1n, tlbMisses: 2n, walks: 2n, walkLoads: 5n, pscPdeHits: 1n, aSets: 5n, dSets: 1n,
      pscStale: 1n, writeInCopy: 1n,
    }));
  });
});

describe('the batch area of the WebAssembly machine', () => {
  it('runBatch from an offset: events carry start + i; status events-full', async () => {
    const t = await setup('wasm', {
      config: { ...MEMORY, eventCapacity: 2 },
      build: (b) => {
        const f = b.phys.alloc('4K');
        b.map(0x1000n, f);
        return f;
      },
    });
    const m = t.wasm;
    m.access(0, 0x1000n, R);
    t.phys.free(t.data);
    const area = m.batchArea(0);
    for (let i = 0; i < 8; i++) {
      area.records[4 * i] = 0x1000;
      area.records[4 * i + 1] = 0;
      area.records[4 * i + 2] = R;
    }
    const stop = m.runBatch(0, 5, 3, true);
    expect(stop).toEqual({ done: 2, status: 'events-full', errorCode: 0, cr2: 0n });
    expect(m.drainEvents(0).map((e) => e.index)).toEqual([5, 6]);
    expect([area.results[5], area.results[6]]).toEqual([t.data, t.data]);
  });
});
