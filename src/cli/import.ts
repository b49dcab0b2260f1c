// `mmuwasm import lackey FILE|- [options]` (options: src/cli/commands.ts): a valgrind lackey log as a trace.
import { TraceError } from '../trace/trace-error.ts';
import { BINARY_EXTENSION, formatOfPath } from '../trace/binary.ts';
import { importLackey, type ImportOptions } from '../workloads/lackey.ts';
import { UsageError, type ParsedArgs } from './args.ts';
import { checkProfile } from './kernel-options.ts';
import { checkInput, checkOutput, fileError, isSystemError } from './files.ts';

export function importArgs(p: ParsedArgs): ImportOptions {
  const [what, input] = p.operands;
  if (what !== 'lackey') throw new UsageError(`unknown import kind '${what}' (known: lackey)`);
  const o: ImportOptions = { input, output: p.get('--output'), hugetlb: p.has('--hugetlb') };
  const kernel = p.get('--kernel');
  if (kernel !== undefined) o.kernel = checkProfile(kernel);
  const limit = p.get('--limit');
  if (limit !== undefined) {
    if (!/^[0-9]+$/.test(limit) || Number(limit) < 1 || !Number.isSafeInteger(Number(limit))) throw new UsageError(`--limit: takes a whole number of records, 1 or more (got '${limit}')`);
    o.limit = Number(limit);
  }
  if (o.output !== undefined && o.output !== '-' && !formatOfPath(o.output)) {
    throw new UsageError(`--output: names the trace by its form: .jsonl or .jsonl.gz (JSON Lines), ${BINARY_EXTENSION} or ${BINARY_EXTENSION}.gz (binary) (got '${o.output}')`);
  }
  return o;
}

/** The `import` command; returns the exit status (0 written, 2 bad input or usage). */
export async function runImport(p: ParsedArgs): Promise<number> {
  const o = importArgs(p);
  checkInput(o.input);
  if (o.output !== undefined) checkOutput(o.output);
  try {
    const s = await importLackey(o);
    const out = s.output === '-' ? 'standard output' : s.output;
    console.error(
      `mmuwasm import lackey: ${s.input}${s.command ? ` (${s.command})` : ''}: ${s.records} records (I ${s.byKind.I}, L ${s.byKind.L}, S ${s.byKind.S}, M ${s.byKind.M})` +
      `${s.limited ? ' [--limit]' : ''} → ${s.accesses} accesses (${s.crossing} records cross a page), ${s.pages} 4K pages in ${s.windows} 2M windows, ` +
      `${s.regions} ${o.hugetlb ? 'hugetlbfs' : 'anonymous'} region${s.regions === 1 ? '' : 's'} → ${out}`);
    return 0;
  } catch (err) {
    if (err instanceof TraceError) {
      console.error(`mmuwasm import lackey: ${err.message}`);
      return 2;
    }
    // A write error without a path of its own (a full disk) is the output's.
    if (isSystemError(err)) throw fileError(err, o.output ?? '-');
    throw err;
  }
}
