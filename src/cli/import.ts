// `mmuwasm import lackey FILE|- [-o OUT] [--hugetlb] [--kernel PROFILE] [--limit N]`.
import { TraceError } from '../trace/trace-error.ts';
import { BINARY_EXTENSION, formatOfPath } from '../trace/binary.ts';
import { importLackey, type ImportOptions } from '../workloads/lackey.ts';
import { ArgumentError } from '../mmu/errors.ts';
import { options, UsageError } from './args.ts';
import { interruption, interruptedBy, signalStatus } from './signals.ts';
import { outputError, writeOutput } from './output-file.ts';

const USAGE = `usage: mmuwasm import lackey FILE|- [-o OUT.jsonl|OUT.jsonl.gz|OUT${BINARY_EXTENSION}[.gz]|-] [--hugetlb] [--kernel PROFILE] [--limit N]`;

export function parseImportArgs(argv: string[]): ImportOptions {
  const [what, ...rest] = argv;
  if (what !== 'lackey') throw new UsageError(what === undefined ? 'import needs a kind (lackey)' : `unknown import kind '${what}' (known: lackey)`);
  const o: ImportOptions = { input: '' };
  let haveInput = false;
  for (const { arg, value } of options(rest)) {
    if (arg === '-o' || arg === '--output') o.output = value();
    else if (arg === '--hugetlb') o.hugetlb = true;
    else if (arg === '--kernel') o.kernel = value();
    else if (arg === '--limit') {
      const v = value();
      if (!/^[0-9]+$/.test(v) || Number(v) < 1 || !Number.isSafeInteger(Number(v))) throw new UsageError(`--limit takes a whole number of records, 1 or more (got '${v}')`);
      o.limit = Number(v);
    } else if (arg !== '-' && arg.startsWith('-')) throw new UsageError(`unknown option '${arg}'`);
    else if (!haveInput) {
      o.input = arg;
      haveInput = true;
    } else throw new UsageError(`one lackey log at a time (got '${o.input}' and '${arg}')`);
  }
  if (!haveInput) throw new UsageError('import lackey needs the lackey log (a file, or - for standard input)');
  if (o.output !== undefined && o.output !== '-' && !formatOfPath(o.output)) {
    throw new UsageError(`-o names the trace by its form: .jsonl or .jsonl.gz (JSON Lines), ${BINARY_EXTENSION} or ${BINARY_EXTENSION}.gz (binary) (got '${o.output}')`);
  }
  return o;
}

/** The `import` command; returns the exit status (0 written, 2 bad input or usage). */
export async function runImport(argv: string[]): Promise<number> {
  let o: ImportOptions;
  try {
    o = parseImportArgs(argv);
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`mmuwasm import: ${err.message}\n${USAGE}`);
      return 2;
    }
    throw err;
  }
  const stop = interruption();
  try {
    const final = o.output;
    const toFile = final !== undefined && final !== '-';
    const s = toFile
      ? { ...(await writeOutput(final, (tmp) => importLackey({ ...o, output: tmp, signal: stop.signal }), stop.signal)), output: final }
      : await importLackey({ ...o, signal: stop.signal });
    const out = s.output === '-' ? 'standard output' : s.output;
    console.error(
      `mmuwasm import lackey: ${s.input}${s.command ? ` (${s.command})` : ''}: ${s.records} records (I ${s.byKind.I}, L ${s.byKind.L}, S ${s.byKind.S}, M ${s.byKind.M})` +
      `${s.limited ? ' [--limit]' : ''} → ${s.accesses} accesses (${s.crossing} records cross a page), ${s.pages} 4K pages in ${s.windows} 2M windows, ` +
      `${s.regions} ${o.hugetlb ? 'hugetlbfs' : 'anonymous'} region${s.regions === 1 ? '' : 's'} → ${out}`);
    return 0;
  } catch (err) {
    if (stop.received) {
      console.error(`mmuwasm import lackey: ${interruptedBy(stop.received)}${o.output && o.output !== '-' ? `: ${o.output} not written` : ''}`);
      return signalStatus(stop.received);
    }
    if (err instanceof TraceError) {
      console.error(`mmuwasm import lackey: ${err.message}`);
      return 2;
    }
    if (err instanceof UsageError || err instanceof ArgumentError) {
      console.error(`mmuwasm import: ${err.message}\n${USAGE}`);
      return 2;
    }
    const message = o.output && o.output !== '-' ? outputError(o.output, err) : undefined;
    if (message && (err as NodeJS.ErrnoException).path !== o.input) {
      console.error(`mmuwasm import lackey: ${message}`);
      return 2;
    }
    if (err instanceof Error && 'code' in err && typeof (err as NodeJS.ErrnoException).code === 'string') {
      console.error(`mmuwasm import lackey: ${err.message}`);
      return 2;
    }
    throw err;
  }
}
