// Simulated physical memory: at least 1 TiB of huge pages must fit, frames are handed out
// deterministically, and freeing one moves exactly its generation slot.
import { describe, it, expect } from 'vitest';
import { Machine } from '../src/mmu/machine.ts';
import { PageTables } from '../src/mmu/builder.ts';
import { PhysicalMemory } from '../src/mmu/physmem.ts';
import { OutOfMemoryError, ArgumentError } from '../src/mmu/errors.ts';
import { KIND } from '../src/mmu/model.ts';

const GiB = 1n << 30n;
const TiB = 1n << 40n;

describe('physical memory of 1 TiB', () => {
  it('holds 1008 frames of 1 GiB above the 16 GiB zone, the last one translating and going stale when freed', async () => {
    const m = await Machine.create({ ncpus: 1, physmem: TiB, maxphyaddr: 46 });
    const frames = new PhysicalMemory(m);
    const got: bigint[] = [];
    for (;;) {
      try {
        got.push(frames.alloc('1G'));
      } catch (err) {
        expect(err).toBeInstanceOf(OutOfMemoryError);
        break;
      }
    }
    expect(got.length).toBe(Number((TiB - 16n * GiB) / GiB));
    // Whole free blocks are taken from the top down.
    expect(got[0]).toBe(TiB - GiB);
    expect(got[got.length - 1]).toBe(16n * GiB);
    expect(frames.bytesInUse).toBe(TiB - 16n * GiB);

    const tables = new PageTables(m);
    const root = tables.newRoot();
    tables.map(root, 0x7f00_0000_0000n, got[0], '1G');
    m.writeCr3(0, root);
    expect(m.access(0, 0x7f00_1234_5678n, KIND.write)).toEqual({ status: 'ok', pa: TiB - GiB + 0x1234_5678n });

    const slot = m.slotOf(got[0]);
    expect(slot).toBe(Number((16n * GiB) >> 12n) + Number((TiB - GiB - 16n * GiB) >> 21n));
    frames.free(got[0]);
    expect(m.readGeneration(slot)).toBe(1);
    expect(m.readGeneration(slot + 1)).toBe(0);
    m.access(0, 0x7f00_0000_0000n, KIND.read);
    expect(m.drainEvents(0)).toEqual([{ kind: 'tlb-stale', index: 0, va: 0x7f00_0000_0000n, pa: TiB - GiB, slot, stamp: 0 }]);
  });

  it('hands out 2 MiB frames from the bottom and 1 GiB frames only from whole free blocks', async () => {
    const m = await Machine.create({ ncpus: 1, physmem: 20n * GiB });
    const frames = new PhysicalMemory(m);
    const small = frames.alloc('2M');
    expect(small).toBe(16n * GiB);
    // Blocks [16, 17) GiB is partly used: 1 GiB frames come from 19, 18 and 17 GiB, then none is left.
    expect([frames.alloc('1G'), frames.alloc('1G'), frames.alloc('1G')]).toEqual([19n * GiB, 18n * GiB, 17n * GiB]);
    expect(() => frames.alloc('1G')).toThrow(OutOfMemoryError);
    frames.free(small);
    expect(() => frames.free(small)).toThrow(ArgumentError);
    expect(frames.alloc('1G')).toBe(16n * GiB);
  });

  it('hands out 4 KiB frames from 4 GiB up and reuses freed ones first', async () => {
    const m = await Machine.create({ ncpus: 1 });
    const frames = new PhysicalMemory(m);
    const a = frames.alloc('4K');
    const b = frames.alloc('4K');
    expect([a, b]).toEqual([4n * GiB, 4n * GiB + 4096n]);
    frames.free(a);
    expect(m.readGeneration(m.slotOf(a))).toBe(1);
    expect(frames.alloc('4K')).toBe(a);
    expect(frames.sizeOf(b)).toBe('4K');
  });
});
