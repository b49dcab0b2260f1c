// The native baseline: bench/native/walker.c compiled with `gcc -O2` at bench time, fed a dump of the
// machine's table pool, its batch records and its rights table, timed in C (clock_gettime).
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Machine } from '../src/mmu/machine.ts';

const run = promisify(execFile);
const SOURCE = fileURLToPath(new URL('./native/walker.c', import.meta.url));

/** What the C program prints (bench/native/walker.c, main). */
export interface NativeOutput extends NativeBatch {
  /** Nanoseconds per access of each timed batch, in timing order. */
  samplesNsPerOp: number[];
  /** Walks in flight: 0 for the serial loop (run_batch), else run_batch_overlapped's group size. */
  overlap: number;
  accesses: number;
  done: number;
  /** FNV-1a of the table pool after every batch ran (the A/D bits the walks set). */
  tablesHash: string;
  /** The checksum and counters of the first pass (the one that sets A/D bits or fills the TLB). */
  first: NativeBatch;
  error?: string;
}

/** A batch's sum of physical addresses and its counters. */
export interface NativeBatch {
  checksum: string;
  hits4k: number;
  hits2m: number;
  hits1g: number;
  misses: number;
  walks: number;
  walkLoads: number;
  restarts: number;
  aSets: number;
  dSets: number;
}

/** Registers and geometry of the CPU being mirrored (names as walker.c's parameters). */
export interface NativeParams {
  pool_base: number;
  cr3: bigint;
  pcid: number;
  levels: number;
  maxphyaddr: number;
  page1gb: boolean;
  nxe: boolean;
  pge: boolean;
  pke: boolean;
  gen_slots: number;
  zone4k_pages: number;
  l1_4k_sets: number;
  l1_4k_ways: number;
  l1_2m_sets: number;
  l1_2m_ways: number;
  l1_1g_sets: number;
  l1_1g_ways: number;
  /** 0: the serial loop; 2 to 32: that many walks in flight (run_batch_overlapped). */
  overlap: number;
}

/** CPU 0 of the machine as the native walker mirrors it: its registers and L1 geometry, the serial loop. */
export function nativeParams(m: Machine): NativeParams {
  const cr = m.readCr(0);
  const g = m.geometry;
  return {
    pool_base: m.layout.poolBase, cr3: cr.cr3, pcid: cr.pcid, levels: 4, maxphyaddr: m.layout.maxphyaddr,
    page1gb: m.layout.page1gb, nxe: (cr.efer & (1n << 11n)) !== 0n, pge: (cr.cr4 & (1n << 7n)) !== 0n,
    pke: (cr.cr4 & (1n << 22n)) !== 0n, gen_slots: m.layout.genSlots, zone4k_pages: Number(m.layout.zone4k >> 12n),
    l1_4k_sets: g.dtlb4k.sets, l1_4k_ways: g.dtlb4k.ways, l1_2m_sets: g.dtlb2m.sets, l1_2m_ways: g.dtlb2m.ways,
    l1_1g_sets: g.dtlb1g.sets, l1_1g_ways: g.dtlb1g.ways, overlap: 0,
  };
}

export interface NativeInputs {
  pool: Uint8Array;
  records: Uint8Array;
  perm: Uint8Array;
  params: NativeParams;
}

export class NativeWalker {
  private constructor(
    readonly dir: string,
    readonly exe: string,
    readonly compiler: string,
  ) {}

  /** Compiles the walker into a fresh temporary directory; a string says why it cannot be had. */
  static async build(): Promise<NativeWalker | string> {
    const dir = await mkdtemp(join(tmpdir(), 'mmuwasm-bench-'));
    const exe = join(dir, 'walker');
    try {
      const { stdout } = await run('gcc', ['--version']);
      await run('gcc', ['-O2', '-o', exe, SOURCE]);
      return new NativeWalker(dir, exe, stdout.split('\n')[0]);
    } catch (err) {
      await rm(dir, { recursive: true, force: true });
      const e = err as NodeJS.ErrnoException & { stderr?: string };
      if (e.code === 'ENOENT') return 'gcc is not installed';
      return `compiling ${SOURCE} failed: ${(e.stderr || e.message).trim().split('\n').slice(0, 5).join(' | ')}`;
    }
  }

  /** Writes the inputs of one benchmark into its own directory; `measure` then runs over them. */
  async prepare(label: string, inputs: NativeInputs): Promise<{ dir: string; params: NativeParams }> {
    const dir = join(this.dir, label);
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir);
    await writeFile(join(dir, 'pool.bin'), inputs.pool);
    await writeFile(join(dir, 'records.bin'), inputs.records);
    await writeFile(join(dir, 'perm.bin'), inputs.perm);
    return { dir, params: inputs.params };
  }

  /** Runs the walker over prepared inputs: a first pass, then timed batches for about `seconds`. */
  async measure(inputs: { dir: string; params: NativeParams }, seconds: number): Promise<NativeOutput> {
    const { dir } = inputs;
    const args = Object.entries(inputs.params).map(([k, v]) => `${k}=${typeof v === 'boolean' ? Number(v) : String(v)}`);
    let stdout: string;
    try {
      ({ stdout } = await run(this.exe, [dir, String(seconds), ...args], { maxBuffer: 1 << 26 }));
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string; message: string };
      stdout = e.stdout ?? '';
      if (!stdout.trim().startsWith('{')) throw new Error(`the native walker failed: ${(e.stderr || e.message).trim()}`);
    }
    const out = JSON.parse(stdout) as NativeOutput;
    if (out.error) throw new Error(`the native walker: ${out.error}`);
    return out;
  }

  async dispose(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}
