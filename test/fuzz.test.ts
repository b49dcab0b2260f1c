// A bounded run of the fuzzer (npm run fuzz runs it for as long as asked): mutated scenario traces,
// replayed in this process, must each end in a report or in an error at a line (fuzz/cases.ts).
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { checkInProcess, makeCase, minimize, scenarioSeeds } from '../fuzz/cases.ts';

const seeds = scenarioSeeds(join(import.meta.dirname, '..'));

describe('fuzz (bounded)', () => {
  it('150 mutated traces of seed 1: no exception, every error located, every report consistent', async () => {
    const failures: string[] = [];
    const statuses = { 0: 0, 1: 0, 2: 0 } as Record<number, number>;
    for (let i = 0; i < 150; i++) {
      const c = makeCase(seeds, 1, i);
      const v = await checkInProcess(c.lines);
      if (v.failure) failures.push(`case ${i} (${c.from}): ${v.failure} ${v.detail ?? ''}`);
      else statuses[v.status!]++;
    }
    expect(failures).toEqual([]);
    // The mutations reach both sides of the contract: traces that replay and traces refused at a line.
    expect(statuses[2]).toBeGreaterThan(0);
    expect(statuses[0] + statuses[1]).toBeGreaterThan(0);
  }, 300_000);

  it('the same seed and case number make the same trace', () => {
    expect(makeCase(seeds, 42, 7)).toEqual(makeCase(seeds, 42, 7));
    expect(makeCase(seeds, 42, 7).lines).not.toEqual(makeCase(seeds, 42, 8).lines);
  });

  it('minimizing keeps the failure and drops the lines it does not need', async () => {
    const check = async (l: readonly string[]) => (l.some((x) => x.includes('boom')) ? { failure: 'x' } : {});
    expect(await minimize(['a', 'b', 'boom', 'c', 'd'], 'x', check)).toEqual(['boom']);
  });
});
