// The VMA tree (mm->mm_mt's role) against a plain sorted array: every insert, removal, split,
// find_vma, lookup and range walk gives exactly what the array gives, and the tree stays an AVL tree.
// Then its cost, counted, never timed: a lookup looks at no more nodes than the tree is high, the
// height stays logarithmic, and replaying an address space of n VMAs costs O(log n) tree visits per
// operation — a return to sorting or scanning the list on every insert would fail these counts.
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { VmaTree, type Range } from '../src/kernel/vma_tree.ts';
import { replayFile } from '../src/node/replay-file.ts';
// @ts-expect-error: a plain .mjs script without types
import { KINDS } from '../scripts/scale-traces.mjs';

const folders: string[] = [];
afterAll(() => folders.forEach((d) => rmSync(d, { recursive: true, force: true })));

interface Vma extends Range {
  id: number;
}

/** The reference: the list the model kept before, sorted by start, searched linearly. */
class SortedList {
  items: Vma[] = [];
  insert(v: Vma) {
    this.items.push(v);
    this.items.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  }
  remove(v: Vma) {
    const n = this.items.length;
    this.items = this.items.filter((x) => x !== v);
    return this.items.length !== n;
  }
  findAbove(addr: bigint) {
    return this.items.find((v) => v.end > addr);
  }
  find(addr: bigint) {
    return this.items.find((v) => v.start <= addr && addr < v.end);
  }
  range(start: bigint, end: bigint) {
    return this.items.filter((v) => v.start < end && v.end > start);
  }
}

const PAGE = 4096n;
const log2 = (n: number) => Math.log2(n);

/** An operation on both: map a free range, unmap a VMA, split one, or query. */
type Step =
  | { kind: 'map'; page: number; pages: number }
  | { kind: 'unmap'; pick: number }
  | { kind: 'split'; pick: number; at: number }
  | { kind: 'query'; page: number; pages: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant('map' as const), page: fc.nat(4000), pages: fc.integer({ min: 1, max: 64 }) }),
  fc.record({ kind: fc.constant('unmap' as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant('split' as const), pick: fc.nat(), at: fc.nat() }),
  fc.record({ kind: fc.constant('query' as const), page: fc.nat(4100), pages: fc.integer({ min: 1, max: 300 }) }),
);

describe('VmaTree against a sorted list', () => {
  it('inserts, removes, splits, find_vma, lookup and overlapping ranges give exactly what the list gives', () => {
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 300 }), (steps) => {
        const tree = new VmaTree<Vma>();
        const list = new SortedList();
        let id = 0;
        for (const s of steps) {
          if (s.kind === 'map') {
            const start = BigInt(s.page) * PAGE;
            const end = start + BigInt(s.pages) * PAGE;
            // mmap refuses an overlap: the tree's overlap test must agree with the list's.
            const overlaps = list.range(start, end).length > 0;
            expect(tree.overlaps(start, end)).toBe(overlaps);
            if (overlaps) continue;
            const v = { id: id++, start, end };
            tree.insert(v);
            list.insert(v);
          } else if (s.kind === 'unmap') {
            if (!list.items.length) continue;
            const v = list.items[s.pick % list.items.length];
            expect(tree.remove(v)).toBe(true);
            list.remove(v);
            expect(tree.remove(v)).toBe(false);
          } else if (s.kind === 'split') {
            // __split_vma: the VMA keeps [start, at), a new one takes [at, end).
            const v = list.items.length ? list.items[s.pick % list.items.length] : undefined;
            if (!v || v.end - v.start < 2n * PAGE) continue;
            const at = v.start + PAGE * (1n + BigInt(s.at) % ((v.end - v.start) / PAGE - 1n));
            const nv = { id: id++, start: at, end: v.end };
            v.end = at;
            tree.insert(nv);
            list.insert(nv);
          } else {
            const start = BigInt(s.page) * PAGE;
            const end = start + BigInt(s.pages) * PAGE;
            expect(tree.findAbove(start)).toBe(list.findAbove(start));
            expect(tree.find(start)).toBe(list.find(start));
            expect(tree.find(start + 123n)).toBe(list.find(start + 123n));
            expect([...tree.range(start, end)]).toEqual(list.range(start, end));
          }
          expect(tree.size).toBe(list.items.length);
        }
        expect([...tree]).toEqual(list.items);
        expect(tree.checkInvariants()).toEqual([]);
      }),
      { numRuns: 200, seed: 15 },
    );
  });

  it('answers at the edges: an empty tree, an address at a VMA end, a range touching but not overlapping', () => {
    const tree = new VmaTree<Vma>();
    expect(tree.find(0n)).toBeUndefined();
    expect(tree.findAbove(0n)).toBeUndefined();
    expect([...tree.range(0n, 1n << 57n)]).toEqual([]);
    const a = { id: 1, start: 0x1000n, end: 0x3000n };
    const b = { id: 2, start: 0x5000n, end: 0x6000n };
    tree.insert(b);
    tree.insert(a);
    expect(tree.find(0x2fffn)).toBe(a);
    expect(tree.find(0x3000n)).toBeUndefined();
    expect(tree.findAbove(0x3000n)).toBe(b); // find_vma: the next VMA above a hole
    expect(tree.findAbove(0x6000n)).toBeUndefined();
    expect([...tree.range(0x3000n, 0x5000n)]).toEqual([]);
    expect([...tree.range(0x2fffn, 0x5001n)]).toEqual([a, b]);
    expect(tree.overlaps(0x3000n, 0x5000n)).toBe(false);
    expect(tree.overlaps(0x3000n, 0x5001n)).toBe(true);
    // A VMA of the same start that is not the one in the tree is not removed.
    expect(tree.remove({ id: 3, start: 0x1000n, end: 0x3000n })).toBe(false);
    expect(tree.size).toBe(2);
  });
});

describe('VmaTree cost, counted', () => {
  it('stays balanced: height at most 1.44 log2(n + 2) after ascending, descending and shuffled inserts and removals', () => {
    for (const order of ['ascending', 'descending', 'shuffled'] as const) {
      const n = 1 << 14;
      const idx = Array.from({ length: n }, (_, i) => (order === 'descending' ? n - 1 - i : i));
      if (order === 'shuffled') {
        let s = 7;
        for (let i = n - 1; i > 0; i--) {
          s = (s * 1103515245 + 12345) >>> 0;
          const j = s % (i + 1);
          [idx[i], idx[j]] = [idx[j], idx[i]];
        }
      }
      const tree = new VmaTree<Vma>();
      const vmas = idx.map((i) => ({ id: i, start: BigInt(i) * 0x20000n, end: BigInt(i) * 0x20000n + 0x10000n }));
      for (const v of vmas) tree.insert(v);
      expect(tree.height).toBeLessThanOrEqual(Math.floor(1.44 * log2(n + 2)));
      expect(tree.checkInvariants()).toEqual([]);
      // Every lookup looks at no more nodes than the tree is high.
      for (const v of vmas.slice(0, 1000)) {
        const before = tree.visits;
        expect(tree.find(v.start + 0x1000n)).toBe(v);
        expect(tree.visits - before).toBeLessThanOrEqual(tree.height);
      }
      for (const v of vmas.filter((_, i) => i % 3 !== 0)) tree.remove(v);
      expect(tree.size).toBe(vmas.filter((_, i) => i % 3 === 0).length);
      expect(tree.height).toBeLessThanOrEqual(Math.floor(1.44 * log2(tree.size + 2)));
      expect(tree.checkInvariants()).toEqual([]);
    }
  });

  it('a range walk looks at O(log n + k) nodes for k VMAs in the range', () => {
    const tree = new VmaTree<Vma>();
    const n = 1 << 14;
    for (let i = 0; i < n; i++) tree.insert({ id: i, start: BigInt(i) * 0x20000n, end: BigInt(i) * 0x20000n + 0x10000n });
    const before = tree.visits;
    const got = [...tree.range(5000n * 0x20000n, 5010n * 0x20000n)];
    expect(got.map((v) => v.id)).toEqual([5000, 5001, 5002, 5003, 5004, 5005, 5006, 5007, 5008, 5009]);
    expect(tree.visits - before).toBeLessThanOrEqual(2 * tree.height + 2 * got.length);
  });

  it('replaying n VMAs in one address space costs O(log n) tree visits and O(1) TLB slots per operation', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mmuwasm-vma-scale-'));
    folders.push(dir);
    const perOp: { n: number; visits: number; slots: number; decoded: number }[] = [];
    for (const n of [256, 2048]) {
      const path = join(dir, `vmas-${n}.jsonl`);
      writeFileSync(path, [...KINDS.vmas[0](n)].map((e: unknown) => JSON.stringify(e)).join('\n') + '\n');
      const { report, status, replay } = await replayFile(path, {});
      expect(report.error).toBeUndefined();
      expect(status).toBe(0);
      const mm = replay!.kernel.mms.get('A')!;
      // The trace: n mmaps, n accesses (each a fault), n/2 munmaps, n/8 mprotects of one page.
      const ops = n + n + n / 2 + n / 8;
      perOp.push({ n, visits: mm.mmMt.visits / ops, slots: replay!.machine.slotsLooked / ops, decoded: replay!.machine.entriesDecoded / ops });
      expect(mm.mmMt.checkInvariants()).toEqual([]);
      expect(mm.mmMt.size).toBe(n / 2 + n / 8);
    }
    // Tree visits per operation grow with log n (8 → 11: by 3 levels or so), not with n (× 8).
    for (const p of perOp) expect(p.visits).toBeLessThanOrEqual(8 * log2(p.n));
    expect(perOp[1].visits / perOp[0].visits).toBeLessThan(2);
    // The audits after each operation look at the TLB sets of its range and decode what is in it, not
    // every entry the TLB holds (one per page touched so far: n of them).
    expect(perOp[0].slots).toBeGreaterThan(0);
    expect(perOp[1].slots).toBeLessThanOrEqual(perOp[0].slots * 1.1);
    expect(perOp[1].decoded).toBeLessThanOrEqual(perOp[0].decoded * 1.1 + 1);
  });
});

describe('the index of address spaces by context id', () => {
  it('holds exactly the live address spaces after many are made and half of them exit', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mmuwasm-mms-scale-'));
    folders.push(dir);
    const path = join(dir, 'mms-64.jsonl');
    writeFileSync(path, [...KINDS.mms[0](64)].map((e: unknown) => JSON.stringify(e)).join('\n') + '\n');
    const { status, replay } = await replayFile(path, {});
    expect(status).toBe(0);
    const k = replay!.kernel;
    expect(k.mms.size).toBe(32);
    expect([...k.mmsByCtx.values()].map((mm) => mm.name).sort()).toEqual([...k.mms.keys()].sort());
    for (const [ctx, mm] of k.mmsByCtx) expect(mm.ctxId).toBe(ctx);
  });
});
