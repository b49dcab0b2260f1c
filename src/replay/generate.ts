// Generated workloads, deterministic from a seed. `database`: a shared hugetlbfs segment mapped by
// several processes at the same PUD-aligned address (so they share PMD pages), their CPUs running
// access streams over it, pages migrated under them, and a hole punched at the end — the shape of the
// workload that found the founding bug, replayed under a kernel that should keep it clean.
import { Rng } from './patterns.ts';

export interface DatabaseOptions {
  processes: number;
  cpus: number;
  /** Segment size in GiB (each GiB is one shareable PMD page). */
  gib: number;
  phases: number;
  accessesPerPhase: number;
  migrationsPerPhase: number;
  seed: number;
}

export const DATABASE_DEFAULTS: DatabaseOptions = { processes: 4, cpus: 4, gib: 2, phases: 4, accessesPerPhase: 20_000, migrationsPerPhase: 8, seed: 1 };

const G = 1n << 30n;
const M2 = 1n << 21n;
const SEGMENT_VA = 0x7f00_0000_0000n; // PUD aligned

/** The trace as lines of JSON (a header, then events), ready to write or to replay. */
export function* databaseWorkload(o: DatabaseOptions): Generator<string> {
  const rng = new Rng(BigInt(o.seed));
  const size = BigInt(o.gib) * G;
  const j = (x: unknown) => JSON.stringify(x);
  const hex = (v: bigint) => `0x${v.toString(16)}`;
  yield `# generated: database workload, ${o.processes} processes sharing a ${o.gib} GiB hugetlbfs segment on ${o.cpus} CPUs, seed ${o.seed}`;
  yield j({ format: 'mmuwasm-trace', version: 1, cpus: o.cpus, seed: o.seed });
  yield j({ op: 'hugetlbfs', file: 'shm', size: `${o.gib}G`, pagesize: '2M' });
  for (let p = 0; p < o.processes; p++) {
    const mm = `db${p}`;
    const cpu = p % o.cpus;
    yield j({ op: 'mm', mm });
    yield j({ op: 'switch', cpu, mm });
    yield j({ op: 'mmap', cpu, va: hex(SEGMENT_VA), len: `${o.gib}G`, prot: 'rw', flags: 'shared', file: 'shm', offset: 0 });
    // Each process touches the first page of every GiB so its tables exist (sharing happens here).
    for (let g = 0n; g < BigInt(o.gib); g++) yield j({ op: 'access', cpu, va: hex(SEGMENT_VA + g * G), rw: 'w' });
  }
  for (let phase = 0; phase < o.phases; phase++) {
    for (let c = 0; c < o.cpus; c++) {
      const mm = `db${(c + phase) % o.processes}`;
      yield j({ op: 'switch', cpu: c, mm });
      yield j({ op: 'accesses', cpu: c, va: hex(SEGMENT_VA), len: `${o.gib}G`, count: o.accessesPerPhase, pattern: 'zipf', theta: 0.99, write: 0.3, seed: phase * 1000 + c });
    }
    for (let m = 0; m < o.migrationsPerPhase; m++) {
      const off = rng.below(size / M2) * M2;
      yield j({ op: 'migrate', cpu: 0, file: 'shm', offset: hex(off) });
    }
  }
  // The checkpoint frees the last 2 MiB page of the segment: every process loses it at once.
  yield j({ op: 'fallocate', cpu: 0, file: 'shm', offset: hex(size - M2), len: '2M', mode: 'punch_hole' });
  for (let c = 0; c < o.cpus; c++) yield j({ op: 'accesses', cpu: c, va: hex(SEGMENT_VA), len: `${o.gib}G`, count: o.accessesPerPhase, pattern: 'random', write: 0.5, seed: 99 + c });
  yield j({ op: 'expect', violations: 0 });
}
