// Property-based differential tests: fast-check generates machines, page tables and sequences of
// operations; every sequence runs step by step on the WebAssembly Machine and on the reference model
// (src/mmu/reference.ts), and after EVERY step everything observable must be identical: the step's
// result (access status, PA, error code, CR2; register-write and INVPCID verdicts), the registers,
// every TLB and paging-structure-cache slot (array, set, way, all fields), the counters, the drained
// oracle events and the page-table entries on the generated paths; at the end the whole table pool
// (A/D bits) and the generations. docs/hardware.md is the contract both follow exactly.
//
// A failure prints fast-check's seed, path and shrunk counterexample (the scenario and its steps, one
// per line), and the error names the first difference, the step after which it appeared, and the
// trace of the steps as run with every value resolved (addresses, register values, entry values).
//
// Environment:
//   MMUWASM_FC_RUNS=n      runs per property (default: RUNS below; the file takes ~10-20 s with them)
//   MMUWASM_FC_SEED=s      the seed of a reported failure (every property uses it)
//   MMUWASM_FC_PATH=p      with the seed, the reported path: replays the shrunk counterexample directly
//   MMUWASM_FC_VERBOSE=1|2 fast-check's verbosity (1: the failing values met while shrinking)
import { describe, it } from 'vitest';
import fc from 'fast-check';
import { configArb, runScenario, scenarioArb, type Weights } from './support/differential.ts';

// ---- Parameters ----

function envInt(name: string): number | undefined {
  const v = process.env[name];
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw new Error(`${name} must be an integer (got ${v})`);
  return n;
}
const ENV_RUNS = envInt('MMUWASM_FC_RUNS');
const ENV_SEED = envInt('MMUWASM_FC_SEED');
const ENV_PATH = process.env.MMUWASM_FC_PATH || undefined;
const ENV_VERBOSE = envInt('MMUWASM_FC_VERBOSE') ?? 0;

/** Default runs per property: about 2000 scenarios of up to 40 steps in all. */
const RUNS = { walks: 450, registers: 450, oracle: 350, mixed: 450, misuse: 250 };

function params<T>(defaultRuns: number): fc.Parameters<T> {
  return {
    numRuns: ENV_RUNS ?? defaultRuns,
    verbose: ENV_VERBOSE,
    ...(ENV_SEED !== undefined ? { seed: ENV_SEED } : {}),
    ...(ENV_PATH !== undefined ? { path: ENV_PATH } : {}),
  };
}
/** Passing runs take ~10 ms each; a failure shrinks, which takes longer: leave it the time. */
const timeout = (defaultRuns: number) => 120_000 + (ENV_RUNS ?? defaultRuns) * 50;

// ---- The properties ----

const ALL: Weights = {
  access: 10, batch: 5, poke: 5, cr0: 1, cr3: 3, cr4: 2, cr4flip: 2, efer: 1, rflags: 1, pkru: 1,
  invlpg: 2, invpcid: 2, gen: 3, hold: 1, levels: 0.3, reset: 0.3,
};

const PROPERTIES = {
  walks: {
    title: 'page walks, rights, reserved bits, A/D bits and fills agree on random tables and raw entry edits',
    arb: scenarioArb(configArb(), { access: 10, batch: 4, poke: 8, cr0: 1, efer: 1, rflags: 1, pkru: 1, cr4flip: 1, invlpg: 1 }),
  },
  registers: {
    title: 'register writes (valid and #GP), PCIDs, INVLPG and INVPCID agree',
    arb: scenarioArb(configArb(), {
      access: 8, batch: 3, cr0: 2, cr3: 6, cr4: 4, cr4flip: 4, efer: 2, rflags: 2, pkru: 2, invlpg: 4, invpcid: 5, poke: 1, levels: 0.5, reset: 0.5,
    }),
  },
  oracle: {
    title: 'oracle stamps, stale and copy-window events, the event ring and chunked batches agree',
    arb: scenarioArb(
      configArb({ eventCapacity: fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 1, max: 5 }) }, { weight: 1, arbitrary: fc.constant(256) }), batchCapacity: fc.oneof(fc.integer({ min: 1, max: 5 }), fc.constant(4096)) }),
      { access: 6, batch: 8, gen: 8, hold: 2, poke: 2, invlpg: 1, cr3: 1, cr4flip: 1 },
    ),
  },
  mixed: {
    title: 'any mix of every operation agrees',
    arb: scenarioArb(configArb({ defaultGeometry: 2 }), ALL),
  },
} as const;

describe('differential: WebAssembly core vs reference model, step by step', () => {
  for (const [name, p] of Object.entries(PROPERTIES)) {
    const runs = RUNS[name as keyof typeof RUNS];
    it(`${p.title} [${name}]`, async () => {
      await fc.assert(fc.asyncProperty(p.arb, async (s) => runScenario(s)), params(runs));
    }, timeout(runs));
  }
});
