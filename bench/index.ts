// `npm run bench -- [--json FILE|-] [--quick] [--filter NAME]`: runs the hardware benchmarks, prints the
// table (to standard error when the JSON goes to standard output) and writes the JSON file.
// Exit status: 0 measured (targets met or not: the table says), 1 a benchmark failed its own checks,
// 2 bad options or no core to measure.
import { MmuError } from '../src/mmu/errors.ts';
import { BENCH_NAMES as HARDWARE_NAMES, IMPLS, runHardwareBench, selects } from './hardware.ts';
import { REPLAY_BENCH_NAMES, runReplayBench } from './replay.ts';
import { EXPLORE_BENCH_NAMES, runExploreBench } from './explore.ts';

/** The hardware's entries, the replays (whole traces on 1 and 2 workers, bench/replay.ts) and the explorer (bench/explore.ts). */
const BENCH_NAMES = [...HARDWARE_NAMES, ...REPLAY_BENCH_NAMES, ...EXPLORE_BENCH_NAMES] as const;
import { formatTable, writeJson } from './report.ts';

const USAGE = `usage: npm run bench -- [--json FILE|-] [--quick] [--filter NAME]

  --json FILE    also write the results as JSON to FILE ('-': standard output, the table then
                 goes to standard error)
  --quick        short time budgets (about 10 s in all; noisier numbers)
  --filter NAME  only the entries whose "benchmark/impl" contains NAME, e.g. walk, wasm,
                 tlb-hit/native (benchmarks: ${BENCH_NAMES.join(', ')}; impls: ${IMPLS.join(', ')})
`;

interface BenchArgs {
  json?: string;
  quick: boolean;
  filter?: string;
}

function parse(argv: readonly string[]): BenchArgs | string | 'help' {
  const args: BenchArgs = { quick: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const eq = arg.indexOf('=');
    const [flag, inline] = arg.startsWith('--') && eq > 0 ? [arg.slice(0, eq), arg.slice(eq + 1)] : [arg, undefined];
    const value = (): string | undefined => {
      if (inline !== undefined) return inline;
      const v = argv[i + 1];
      if (v === undefined || (v.startsWith('-') && v !== '-')) return undefined;
      i++;
      return v;
    };
    switch (flag) {
      case '--help':
      case '-h':
        return 'help';
      case '--quick':
        if (inline !== undefined) return `--quick takes no value (got ${arg})`;
        args.quick = true;
        break;
      case '--json': {
        const v = value();
        if (!v) return '--json needs a file name, or - for standard output';
        args.json = v;
        break;
      }
      case '--filter': {
        const v = value();
        if (!v) return '--filter needs a name';
        args.filter = v;
        break;
      }
      default:
        return `unknown option '${arg}'`;
    }
  }
  if (args.filter !== undefined && !BENCH_NAMES.some((name) => IMPLS.some((impl) => selects(args.filter, name, impl)))) {
    return `--filter ${args.filter} selects no benchmark (entries: ${BENCH_NAMES.flatMap((n) => IMPLS.map((i) => `${n}/${i}`)).join(', ')})`;
  }
  return args;
}

export async function runBench(argv: string[]): Promise<number> {
  const args = parse(argv);
  if (args === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  if (typeof args === 'string') {
    console.error(`bench: ${args}\n\n${USAGE}`);
    return 2;
  }
  const toStdout = args.json === '-';
  const say = (line: string) => (toStdout ? console.error(line) : console.log(line));
  const notes: string[] = [];
  try {
    const onProgress = (line: string) => process.stderr.write(`  ${line}\n`);
    const results = HARDWARE_NAMES.some((n) => IMPLS.some((i) => selects(args.filter, n, i)))
      ? await runHardwareBench({ quick: args.quick, filter: args.filter, notes, onProgress })
      : [];
    const replays = REPLAY_BENCH_NAMES.filter((n) => selects(args.filter, n, 'wasm'));
    if (replays.length) results.push(...(await runReplayBench({ quick: args.quick, names: replays, notes, onProgress })));
    if (selects(args.filter, 'explore', 'wasm')) results.push(...(await runExploreBench({ quick: args.quick, onProgress })));
    say('');
    say(formatTable(results));
    for (const note of notes) say(`note: ${note}`);
    if (args.json) await writeJson(args.json, results, { quick: args.quick, filter: args.filter ?? null, notes });
    return 0;
  } catch (err) {
    if (err instanceof MmuError) {
      console.error(`bench: ${err.message}`);
      return 2;
    }
    console.error(`bench: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
}
