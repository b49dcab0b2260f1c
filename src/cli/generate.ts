// `mmuwasm generate KIND [options] -o FILE` (options: src/cli/commands.ts): a workload trace, deterministic from --seed, in the form
// the file's extension names (.jsonl, .jsonl.gz, .mmtrace, .mmtrace.gz), written as it is generated.
import { rmSync } from 'node:fs';
import { parseAmount } from '../trace/values.ts';
import { formatOfPath, BINARY_EXTENSION } from '../trace/binary.ts';
import { writerFor } from '../node/trace-files.ts';
import { WORKLOAD_DEFAULTS, WORKLOAD_KINDS, writeWorkload, type WorkloadKind, type WorkloadOptions } from '../workloads/workloads.ts';
import { MAX_CPUS } from '../trace/parser.ts';
import { UsageError, type ParsedArgs } from './args.ts';
import { argsOf } from './commands.ts';
import { checkOutput, naming } from './files.ts';

/** A count: digits, an exponent (1e9) or a decimal suffix (20k, 20M, 1G). */
export function parseCount(v: string, what: string): number {
  const m = /^([0-9]+(?:\.[0-9]+)?)(e[0-9]+|[kKmMgG])?$/.exec(v.trim());
  if (!m) throw new UsageError(`${what} takes a whole number (such as 20000000, 20M or 2e7), not '${v}'`);
  const mult = m[2] === undefined ? 1 : /^e/.test(m[2]) ? 10 ** Number(m[2].slice(1)) : { k: 1e3, m: 1e6, g: 1e9 }[m[2].toLowerCase() as 'k' | 'm' | 'g'];
  const n = Number(m[1]) * mult;
  if (!Number.isSafeInteger(n)) throw new UsageError(`${what} takes a whole number below 2^53, not '${v}'`);
  return n;
}

export interface GenerateArgs {
  kind: WorkloadKind;
  out: string;
  options: WorkloadOptions;
}

/** The arguments of `generate` as written on its command line (the tests' way in). */
export function parseGenerateArgs(argv: string[]): GenerateArgs {
  return generateArgs(argsOf('generate', argv));
}

export function generateArgs(p: ParsedArgs): GenerateArgs {
  const kind = p.operands[0];
  if (!(WORKLOAD_KINDS as readonly string[]).includes(kind)) throw new UsageError(`unknown workload '${kind}' (kinds: ${WORKLOAD_KINDS.join(', ')})`);
  const k = kind as WorkloadKind;
  const o: WorkloadOptions = { ...WORKLOAD_DEFAULTS[k] };
  const int = (arg: string, min: number, max: number): number | undefined => {
    const v = p.get(arg);
    if (v === undefined) return undefined;
    const n = parseCount(v, arg);
    if (n < min || n > max) throw new UsageError(`${arg} takes ${min} to ${max}, not ${n}`);
    return n;
  };
  const out = p.get('--output') ?? '';
  o.seed = int('--seed', 0, 2 ** 32 - 1) ?? o.seed;
  o.accesses = int('--accesses', 1, Number.MAX_SAFE_INTEGER) ?? o.accesses;
  o.cpus = int('--cpus', 1, MAX_CPUS) ?? o.cpus;
  o.processes = int('--processes', 1, 4096) ?? o.processes;
  o.burst = int('--burst', 1, 1 << 24) ?? o.burst;
  o.ops = int('--ops', 0, 1 << 20) ?? o.ops;
  if (p.has('--device-accesses')) {
    if (k !== 'kvm') throw new UsageError('--device-accesses is for the kvm workload');
    o.deviceAccesses = int('--device-accesses', 0, Number.MAX_SAFE_INTEGER)!;
  }
  const backing = p.get('--backing');
  if (backing !== undefined) {
    if (k !== 'kvm') throw new UsageError('--backing is for the kvm workload');
    if (backing !== 'hugetlb' && backing !== 'anon') throw new UsageError(`--backing takes hugetlb or anon, not '${backing}'`);
    o.backing = backing;
  }
  const size = p.get('--size');
  if (size !== undefined) {
    const v = parseAmount(size);
    if (!v.ok) throw new UsageError(`--size: ${v.reason}`);
    o.size = v.value;
  }
  if (p.has('--streams')) {
    if (k === 'random-anon') throw new UsageError('--streams: random-anon accesses only what is mapped, which no stream pattern follows');
    o.streams = true;
  }
  if (!out) throw new UsageError('generate needs an output file: -o FILE');
  if (!formatOfPath(out)) throw new UsageError(`'${out}': the output's extension names its form (.jsonl, .jsonl.gz, ${BINARY_EXTENSION}, ${BINARY_EXTENSION}.gz)`);
  checkSize(k, o);
  return { kind: k, out, options: o };
}

function checkSize(k: WorkloadKind, o: WorkloadOptions): void {
  const M2 = 2n << 20n;
  const hugetlb = k !== 'random-anon' && !(k === 'kvm' && o.backing === 'anon');
  const unit = hugetlb ? M2 : 1n << 20n;
  if (o.size < unit || o.size % unit !== 0n) throw new UsageError(`--size must be a multiple of ${hugetlb ? '2M (the segment\'s huge pages)' : '1M'}, at least that (got ${o.size})`);
  if (o.size > 1n << 40n) throw new UsageError('--size: at most 1T');
  if (k === 'migration-storm' && o.processes > 64) throw new UsageError('--processes: migration-storm maps each process at its own GiB, at most 64');
  if (k === 'kvm' && o.processes * Number(o.size >> 30n) > 48) throw new UsageError('kvm: the guests\' memory must fit in the 64G of simulated physical memory with room to migrate (at most 48G in all)');
  if ((k === 'database' || k === 'migration-storm') && o.size > 32n << 30n) throw new UsageError('--size: the segment must fit in the 64G of simulated physical memory with room to migrate (at most 32G)');
}

/** Writes the workload; on an error the partial file is removed. */
export function generateTrace(a: GenerateArgs): { accesses: number; lines: number } {
  const w = writerFor(a.out);
  let ok = false;
  try {
    const r = writeWorkload(a.kind, a.options, w);
    ok = true;
    return { accesses: r.accesses, lines: w.lines };
  } finally {
    w.close();
    if (!ok) rmSync(a.out, { force: true });
  }
}

export async function runGenerate(p: ParsedArgs): Promise<number> {
  const args = generateArgs(p);
  checkOutput(args.out);
  const started = Date.now();
  // A write error has no path of its own (a full disk): it is the output's.
  const r = naming(args.out, () => generateTrace(args));
  console.error(`mmuwasm generate: ${args.out}: ${args.kind}, ${r.accesses} CPU accesses, seed ${args.options.seed} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  return 0;
}
