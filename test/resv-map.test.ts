// The resv_map's regions answer as the set of indices they stand for, whatever the order of adds,
// deletes and range deletes (hugetlb's reservations: src/kernel/resv_map.ts).
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ResvMap } from '../src/kernel/resv_map.ts';

const op = fc.tuple(fc.constantFrom('add', 'delete', 'deleteRange', 'missing'), fc.integer({ min: 0, max: 64 }), fc.integer({ min: 0, max: 24 }));

describe('ResvMap', () => {
  it('holds exactly the indices a set would', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 80 }), (ops) => {
        const m = new ResvMap();
        const s = new Set<number>();
        for (const [what, a, len] of ops) {
          const b = a + len;
          if (what === 'add') {
            m.add(a, b);
            for (let i = a; i < b; i++) s.add(i);
          } else if (what === 'delete') {
            expect(m.delete(a)).toBe(s.has(a));
            s.delete(a);
          } else if (what === 'deleteRange') {
            const want = [...s].filter((i) => i >= a && i < b).sort((x, y) => x - y);
            expect(m.deleteRange(a, b)).toEqual(want);
            for (const i of want) s.delete(i);
          } else {
            let missing = 0;
            for (let i = a; i < b; i++) if (!s.has(i)) missing++;
            expect(m.missing(a, b)).toBe(missing);
          }
          for (let i = 0; i < 92; i++) expect(m.has(i)).toBe(s.has(i));
        }
      }),
      { numRuns: 300 },
    );
  });
  it('a range to the end of the file (truncate) deletes what lies past its start', () => {
    const m = new ResvMap();
    m.add(0, 512);
    m.add(600, 610);
    expect(m.deleteRange(500, Infinity)).toEqual([...Array.from({ length: 12 }, (_, i) => 500 + i), ...Array.from({ length: 10 }, (_, i) => 600 + i)]);
    expect(m.missing(0, 512)).toBe(12);
  });
});
