// The hardware benchmarks: the two halves of the hot path, each run on the WebAssembly core, the
// TypeScript reference model and a native C walker over the same tables and the same accesses.
//
// - tlb-hit: every access hits the L1 dTLB (with PCID tags, the rights table and the oracle's
//   generation compare). 64 pages of 4 KiB, exactly the capacity of the default 16-set × 4-way
//   dtlb4k (4 pages per set), mapped with A and D set; the access list picks pages, offsets and
//   kinds (user/supervisor, read/write) at random. The first pass over the list fills the TLB in the
//   order the pages first occur, so each page lands in a random way of its set and a hit probes a
//   random number of ways; no set overflows, so nothing is ever evicted and every later access hits.
// - walk: every access misses every TLB and walks. The machine runs the default capacity mode with
//   every TLB array and paging-structure cache given 0 sets (absent), so nothing is ever cached and
//   each access is a full walk from CR3 (no INVPCID or CR3 reload in the timed loop, no per-access
//   flush). The addresses are random over 1 GiB of 4 KiB pages (4 loads per walk: PML4E, PDPTE, PDE,
//   PTE; 2 MiB of page tables) and 1 GiB of 2 MiB pages (3 loads), half each. Leaves are mapped with
//   A and D set and the first pass sets A in the upper levels, so in the timed loop every A/D check
//   finds its bits set and no compare-and-swap is needed (the walk still does the check).
//
// The access list is written once into the CPU's batch area (BATCH records); a timed call of the
// WASM core is ONE Machine.runBatch over the whole batch (results off), of the reference ONE
// accessBatch, of the native walker one run_batch; ops are accesses, so ops/s = accesses per second
// on one thread (one worker). Every sample is one batch; ops/s comes from the median sample, which
// resists preemption by other processes better than the mean (also reported). WASM and native are
// timed in alternating rounds so that a change of load on the machine biases neither side of their
// ratio. Before timing, each implementation runs the batch and must complete every access, produce
// the same sum of physical addresses as the others, and show in its counters the behaviour above.
//
// The walk has a second native entry, native-overlapped: the same walker with OVERLAP walks in
// flight, interleaved level by level so that the cache misses of independent walks overlap
// (bench/native/walker.c, run_batch_overlapped). It must produce the serial loop's checksum and
// its counters exactly, so that it cannot measure other work; WASM, native and native-overlapped
// are timed in the same alternating rounds.
import { cpus, loadavg } from 'node:os';
import { Bench } from 'tinybench';
import * as L from '../assembly/layout.ts';
import { Machine } from '../src/mmu/machine.ts';
import { PageTables } from '../src/mmu/builder.ts';
import { PhysicalMemory } from '../src/mmu/physmem.ts';
import { ReferenceMachine } from '../src/mmu/reference.ts';
import { CAPACITY_GEOMETRY, KIND, type Counters, type Geometry, type MachineConfig } from '../src/mmu/model.ts';
import { NativeWalker, nativeParams, type NativeOutput } from './native.ts';
import { summarize, type BenchResult, type Impl } from './report.ts';

export interface HardwareBenchOptions {
  /** Shorter time budgets (a whole run in well under 15 s); the numbers are noisier. */
  quick?: boolean;
  /** Runs only the entries whose "name/impl" contains this text (e.g. "walk", "wasm", "tlb-hit/native"). */
  filter?: string;
  /** Progress lines (setup and each measurement), for standard error. */
  onProgress?: (line: string) => void;
  /** Receives remarks that belong beside the table (e.g. why the native entries are missing). */
  notes?: string[];
}

export const BENCH_NAMES = ['tlb-hit', 'walk'] as const;
export const IMPLS: readonly Impl[] = ['wasm', 'reference', 'native', 'native-overlapped'];

/** Does `filter` select the entry? */
export function selects(filter: string | undefined, name: string, impl: Impl): boolean {
  return filter === undefined || `${name}/${impl}`.includes(filter);
}

const BATCH = 16384;
/**
 * Walks in flight in native-overlapped: at each level 8 independent loads are outstanding at once.
 * 4, 8 and 16 measured alike (within the noise) on the project's 2-core machine.
 */
const OVERLAP = 8;
const PCID = 5;
const CR4_PCIDE = 1n << 17n;
const KINDS = [KIND.read, KIND.write, KIND.supervisor | KIND.read, KIND.supervisor | KIND.write];

/** A deterministic generator (xorshift32), so every run measures the same list. */
function random(seed: number): (n: number) => number {
  let x = seed >>> 0 || 1;
  return (n) => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x % n;
  };
}

interface Workload {
  name: (typeof BENCH_NAMES)[number];
  config: MachineConfig;
  /** Maps the pages and returns the root table and the access list. */
  build(pt: PageTables, pm: PhysicalMemory): { root: bigint; las: bigint[]; kinds: number[] };
  /** What the counters of one steady-state batch must show; a message when they do not. */
  check(c: Counters): string | undefined;
  /** Has a native-overlapped entry: every access walks, so overlapping walks is what it measures. */
  overlapped: boolean;
}

const NO_CACHES: Geometry = Object.fromEntries(Object.keys(CAPACITY_GEOMETRY).map((k) => [k, { sets: 0, ways: 0 }])) as unknown as Geometry;

const TLB_HIT: Workload = {
  name: 'tlb-hit',
  config: { ncpus: 1, mode: 'capacity', batchCapacity: BATCH },
  build(pt, pm) {
    const root = pt.newRoot();
    const { sets, ways } = CAPACITY_GEOMETRY.dtlb4k;
    const pages = sets * ways; // consecutive pages: `ways` of them per set
    const base = 0x7f12_3400_0000n;
    for (let i = 0; i < pages; i++) pt.map(root, base + (BigInt(i) << 12n), pm.alloc('4K'), '4K', { accessed: true, dirty: true });
    const rnd = random(0x7b1);
    const las: bigint[] = [];
    const kinds: number[] = [];
    for (let i = 0; i < BATCH; i++) {
      las.push(base + (BigInt(rnd(pages)) << 12n) + BigInt(rnd(4096)));
      kinds.push(KINDS[rnd(KINDS.length)]);
    }
    return { root, las, kinds };
  },
  check(c) {
    if (c.accesses !== BigInt(BATCH) || c.dtlb4kHits !== BigInt(BATCH) || c.walks !== 0n || c.tlbMisses !== 0n) {
      return `expected ${BATCH} dtlb4k hits and no walk, counted ${c.dtlb4kHits} hits, ${c.tlbMisses} misses, ${c.walks} walks`;
    }
    return undefined;
  },
  overlapped: false,
};

const WALK: Workload = {
  name: 'walk',
  config: { ncpus: 1, mode: 'capacity', geometry: NO_CACHES, batchCapacity: BATCH },
  build(pt, pm) {
    const root = pt.newRoot();
    const base4k = 0x10_0000_0000n; // 1 GiB of 4 KiB pages
    const base2m = 0x20_0000_0000n; // 1 GiB of 2 MiB pages
    const pages4k = 1 << 18;
    const pages2m = 1 << 9;
    for (let i = 0; i < pages4k; i++) pt.map(root, base4k + (BigInt(i) << 12n), pm.alloc('4K'), '4K', { accessed: true, dirty: true });
    for (let i = 0; i < pages2m; i++) pt.map(root, base2m + (BigInt(i) << 21n), pm.alloc('2M'), '2M', { accessed: true, dirty: true });
    const rnd = random(0x3a1c);
    const las: bigint[] = [];
    const kinds: number[] = [];
    for (let i = 0; i < BATCH; i++) {
      if (rnd(2) === 0) las.push(base4k + (BigInt(rnd(pages4k)) << 12n) + BigInt(rnd(1 << 12)));
      else las.push(base2m + (BigInt(rnd(pages2m)) << 21n) + BigInt(rnd(1 << 21)));
      kinds.push(KINDS[rnd(KINDS.length)]);
    }
    return { root, las, kinds };
  },
  check(c) {
    if (c.accesses !== BigInt(BATCH) || c.tlbMisses !== BigInt(BATCH) || c.walks !== BigInt(BATCH) || c.aSets !== 0n || c.dSets !== 0n || c.walkRestarts !== 0n) {
      return `expected ${BATCH} misses and walks without A/D updates, counted ${c.tlbMisses} misses, ${c.walks} walks, ${c.aSets} A and ${c.dSets} D sets, ${c.walkRestarts} restarts`;
    }
    return undefined;
  },
  overlapped: true,
};

const WORKLOADS: readonly Workload[] = [TLB_HIT, WALK];

/** Counters after minus before. */
function delta(after: Counters, before: Counters): Counters {
  const d = {} as Counters;
  for (const k of Object.keys(after) as (keyof Counters)[]) d[k] = after[k] - before[k];
  return d;
}

const sum64 = (values: Iterable<bigint>) => {
  let s = 0n;
  for (const v of values) s += v;
  return BigInt.asUintN(64, s).toString();
};

interface Budget {
  timeMs: number;
  warmupMs: number;
  iterations: number;
  warmupIterations: number;
}

/** Times `fn` (one batch of `accesses`) with tinybench; returns nanoseconds per access of each batch. */
async function timeBatches(label: string, fn: () => void, accesses: number, budget: Budget): Promise<number[]> {
  const bench = new Bench({
    time: budget.timeMs, warmupTime: budget.warmupMs, iterations: budget.iterations,
    warmupIterations: budget.warmupIterations, warmup: budget.warmupIterations > 0, throws: true, retainSamples: true,
  });
  bench.add(label, fn);
  await bench.run();
  const r = bench.tasks[0].result;
  if (r.state !== 'completed' || !r.latency.samples) throw new Error(`${label}: tinybench ended in state ${r.state}`);
  return r.latency.samples.map((ms) => (ms * 1e6) / accesses);
}

function setupCpu(m: { readCr(cpu: number): { cr4: bigint }; writeCr4(cpu: number, v: bigint): boolean; writeCr3(cpu: number, v: bigint): boolean }, root: bigint): void {
  // PCIDE first (CR3[11:0] is still 0), then CR3 with the PCID: TLB tags then carry PCID 5.
  if (!m.writeCr4(0, m.readCr(0).cr4 | CR4_PCIDE) || !m.writeCr3(0, root | BigInt(PCID))) throw new Error('setting up CR4.PCIDE and CR3 failed');
}

export async function runHardwareBench(options: HardwareBenchOptions = {}): Promise<BenchResult[]> {
  const { quick = false, filter, onProgress = () => {}, notes = [] } = options;
  // Per round for wasm and native (full: 3 rounds), once for the reference (slow, ~100× off).
  const rounds = quick ? 1 : 3;
  const fast: Budget = quick ? { timeMs: 400, warmupMs: 100, iterations: 16, warmupIterations: 4 } : { timeMs: 1200, warmupMs: 150, iterations: 32, warmupIterations: 8 };
  const slow: Budget = quick ? { timeMs: 400, warmupMs: 0, iterations: 3, warmupIterations: 0 } : { timeMs: 2500, warmupMs: 0, iterations: 8, warmupIterations: 0 };
  const results: BenchResult[] = [];

  const loadBefore = loadavg()[0];
  let native: NativeWalker | undefined;
  const wantsNative = (w: Workload) => selects(filter, w.name, 'native') || (w.overlapped && selects(filter, w.name, 'native-overlapped'));
  if (WORKLOADS.some(wantsNative)) {
    const built = await NativeWalker.build();
    if (typeof built === 'string') notes.push(`native entries skipped: ${built}`);
    else native = built;
  }

  try {
    for (const w of WORKLOADS) {
      if (!IMPLS.some((impl) => selects(filter, w.name, impl))) continue;
      onProgress(`${w.name}: building the page tables`);
      const m = await Machine.create(w.config);
      const pt = new PageTables(m);
      const { root, las, kinds } = w.build(pt, new PhysicalMemory(m));
      setupCpu(m, root);
      const area = m.batchArea(0);
      for (let i = 0; i < BATCH; i++) {
        area.records[4 * i] = Number(las[i] & 0xffff_ffffn);
        area.records[4 * i + 1] = Number(las[i] >> 32n);
        area.records[4 * i + 2] = kinds[i];
        area.records[4 * i + 3] = 0;
      }
      // Inputs of the reference and the native walker: the tables before any access touched them.
      const pool = m.poolBytes();
      const records = new Uint8Array(area.records.buffer, area.records.byteOffset, BATCH * L.BATCH_RECORD_BYTES).slice();
      const cb = m.layout.cpuBase;
      const perm = new Uint8Array(m.memory.buffer, cb + L.CPU_PERM, L.PERM_BYTES).slice();

      // WebAssembly: the first pass (fills / A bits), then a pass that must look like every timed one.
      let stop = m.runBatch(0, 0, BATCH, true);
      if (stop.done !== BATCH) throw new Error(`${w.name}/wasm: the first pass stopped at access ${stop.done} (${stop.status})`);
      const checksum = sum64(area.results);
      const before = m.counters(0);
      stop = m.runBatch(0, 0, BATCH, true);
      const wasmProblem = w.check(delta(m.counters(0), before));
      if (wasmProblem) throw new Error(`${w.name}/wasm: ${wasmProblem}`);
      if (sum64(area.results) !== checksum) throw new Error(`${w.name}/wasm: the second pass translated differently`);

      const record = (impl: Impl, nsPerOp: number[], sum: string, note?: string) => {
        const t = summarize(nsPerOp);
        results.push({ name: w.name, impl, ...t, workers: 1, accesses: BATCH, checksum: sum, ...(note ? { note } : {}) });
        onProgress(`${w.name}/${impl}: ${(t.opsPerSec / 1e6).toFixed(1)} M accesses/s (${t.nsPerOp.toFixed(2)} ns/access, ${t.samples} samples)`);
      };

      // The native walker's inputs, and its first run (serial, and overlapped where the benchmark has
      // it), which checks it does the same work.
      let nativeInputs: Parameters<NativeWalker['measure']>[0] | undefined;
      let overlappedInputs: Parameters<NativeWalker['measure']>[0] | undefined;
      if (native && wantsNative(w)) {
        const params = nativeParams(m);
        const prepared = await native.prepare(w.name, { pool, records, perm, params });
        const hits = w.name === 'tlb-hit';
        const counters = (out: NativeOutput) => JSON.stringify({ ...out, samplesNsPerOp: undefined, overlap: undefined });
        const firstRun = async (impl: Impl, inputs: typeof prepared) => {
          const out = await native!.measure(inputs, 0);
          if (out.overlap !== inputs.params.overlap) throw new Error(`${w.name}/${impl}: the walker ran with ${out.overlap} walks in flight, not ${inputs.params.overlap}`);
          if (out.done !== BATCH) throw new Error(`${w.name}/${impl}: a batch stopped at access ${out.done}`);
          if (out.checksum !== checksum) throw new Error(`${w.name}/${impl}: physical addresses differ from the WebAssembly core's (sum ${out.checksum}, wasm ${checksum})`);
          if (hits ? out.hits4k !== BATCH || out.walks !== 0 : out.walks !== BATCH || out.aSets !== 0 || out.dSets !== 0 || out.restarts !== 0) {
            throw new Error(`${w.name}/${impl}: unexpected counters ${counters(out)}`);
          }
          return out;
        };
        if (selects(filter, w.name, 'native')) nativeInputs = prepared;
        if (w.overlapped && selects(filter, w.name, 'native-overlapped')) overlappedInputs = { ...prepared, params: { ...params, overlap: OVERLAP } };
        // Both loops run even when only one is timed: the overlapped one must do the serial one's work.
        const serial = await firstRun('native', prepared);
        if (overlappedInputs) {
          const out = await firstRun('native-overlapped', overlappedInputs);
          if (counters(out) !== counters(serial)) throw new Error(`${w.name}/native-overlapped: its counters differ from the serial loop's (${counters(out)}, serial ${counters(serial)})`);
        }
      }

      // WebAssembly and native in alternating rounds, so that a change of load on the machine (other
      // processes) biases neither side of their ratio; each keeps the samples of all its rounds.
      const wasmSamples: number[] = [];
      const nativeSamples: number[] = [];
      const overlappedSamples: number[] = [];
      const wantWasm = selects(filter, w.name, 'wasm');
      const timeWasm = async () => {
        onProgress(`${w.name}/wasm: timing`);
        wasmSamples.push(...(await timeBatches(`${w.name}/wasm`, () => {
          if (m.runBatch(0, 0, BATCH, false).done !== BATCH) throw new Error(`${w.name}/wasm: a timed batch stopped early`);
        }, BATCH, fast)));
      };
      const timeNative = async () => {
        onProgress(`${w.name}/native: timing (${native!.compiler}, -O2)`);
        nativeSamples.push(...(await native!.measure(nativeInputs!, fast.timeMs / 1e3)).samplesNsPerOp);
      };
      const timeOverlapped = async () => {
        onProgress(`${w.name}/native-overlapped: timing (${OVERLAP} walks in flight, ${native!.compiler}, -O2)`);
        overlappedSamples.push(...(await native!.measure(overlappedInputs!, fast.timeMs / 1e3)).samplesNsPerOp);
      };
      const steps = [...(wantWasm ? [timeWasm] : []), ...(nativeInputs ? [timeNative] : []), ...(overlappedInputs ? [timeOverlapped] : [])];
      for (let round = 0; round < rounds; round++) {
        for (const step of round % 2 === 0 ? steps : [...steps].reverse()) await step();
      }
      if (wantWasm) record('wasm', wasmSamples, checksum);

      if (selects(filter, w.name, 'reference')) {
        const ref = new ReferenceMachine(w.config, { base: m.layout.poolBase, bytes: pool });
        setupCpu(ref, root);
        let r = ref.accessBatch(0, las, kinds);
        if (r.done !== BATCH) throw new Error(`${w.name}/reference: the first pass stopped at access ${r.done}`);
        const refSum = sum64(r.results.map((x) => (x.status === 'ok' ? x.pa : 0n)));
        if (refSum !== checksum) throw new Error(`${w.name}/reference: physical addresses differ from the WebAssembly core's (sum ${refSum}, wasm ${checksum})`);
        const refBefore = ref.counters(0);
        r = ref.accessBatch(0, las, kinds);
        const refProblem = w.check(delta(ref.counters(0), refBefore));
        if (refProblem) throw new Error(`${w.name}/reference: ${refProblem}`);
        onProgress(`${w.name}/reference: timing`);
        const t = await timeBatches(`${w.name}/reference`, () => {
          if (ref.accessBatch(0, las, kinds).done !== BATCH) throw new Error(`${w.name}/reference: a timed batch stopped early`);
        }, BATCH, slow);
        record('reference', t, refSum);
      }

      if (nativeInputs) record('native', nativeSamples, checksum);
      if (overlappedInputs) record('native-overlapped', overlappedSamples, checksum, `${OVERLAP} walks in flight, interleaved level by level`);
      // A target against an overlapped walker that runs slower than the serial one is a weaker target
      // than it reads: say so beside the table rather than let "met" stand alone.
      const serialRate = results.find((r) => r.name === w.name && r.impl === 'native')?.opsPerSec;
      const overlappedRate = results.find((r) => r.name === w.name && r.impl === 'native-overlapped')?.opsPerSec;
      if (serialRate !== undefined && overlappedRate !== undefined && overlappedRate < serialRate) {
        notes.push(`${w.name}: native-overlapped (${(overlappedRate / 1e6).toFixed(1)} M/s) ran slower than the serial native loop (${(serialRate / 1e6).toFixed(1)} M/s) here: overlapping the walks did not pay on this machine, so the 1.5× target against it asks less than the 1.3× target against the serial loop`);
      }
    }
  } finally {
    await native?.dispose();
  }
  // The benchmark itself keeps one core busy; more than that means other processes competed.
  const load = Math.max(loadBefore, loadavg()[0]);
  const cores = cpus().length;
  if (load > cores - 0.5) {
    notes.push(`the load average reached ${load.toFixed(1)} on ${cores} cores during the run: other processes competed for the CPU, so the figures are low and noisy`);
  }
  return results;
}
