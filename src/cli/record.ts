// `mmuwasm record [-o OUT] [--hugepages N] [--buffer-kb K] [--raw TRACEFS.txt] -- PROGRAM [ARGS...]`.
import { writeFileSync } from 'node:fs';
import { recordingLines, recordProgram, RecordError, type RecordOptions } from '../workloads/record.ts';
import { options, UsageError } from './args.ts';

const USAGE = 'usage: mmuwasm record [-o OUT.jsonl|-] [--hugepages N] [--buffer-kb K] [--raw TRACEFS.txt] -- PROGRAM [ARGS...]';

export function parseRecordArgs(argv: string[]): RecordOptions & { output: string } {
  const dash = argv.indexOf('--');
  const own = dash < 0 ? argv : argv.slice(0, dash);
  const program = dash < 0 ? [] : argv.slice(dash + 1);
  const o: RecordOptions & { output: string } = { program, output: 'record.jsonl' };
  const count = (arg: string, v: string, min: number) => {
    if (!/^[0-9]+$/.test(v) || Number(v) < min || !Number.isSafeInteger(Number(v))) throw new UsageError(`${arg} takes a whole number, ${min} or more (got '${v}')`);
    return Number(v);
  };
  for (const { arg, value } of options(own)) {
    if (arg === '-o' || arg === '--output') o.output = value();
    else if (arg === '--raw') o.raw = value();
    else if (arg === '--hugepages') o.hugepages = count(arg, value(), 0);
    else if (arg === '--buffer-kb') o.bufferKb = count(arg, value(), 64);
    else if (arg.startsWith('-')) throw new UsageError(`unknown option '${arg}'`);
    else throw new UsageError(`the program to record goes after -- (got '${arg}' before it)`);
  }
  if (!program.length) throw new UsageError('record needs a program to run: mmuwasm record [options] -- PROGRAM [ARGS...]');
  if (o.output !== '-' && !o.output.endsWith('.jsonl')) throw new UsageError(`-o names a JSON Lines trace (.jsonl) or - (got '${o.output}')`);
  return o;
}

/** The `record` command; returns the exit status (0 recorded, 2 usage or a recording that could not be made). */
export async function runRecord(argv: string[]): Promise<number> {
  let o: ReturnType<typeof parseRecordArgs>;
  try {
    o = parseRecordArgs(argv);
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`mmuwasm record: ${err.message}\n${USAGE}`);
      return 2;
    }
    throw err;
  }
  try {
    const rec = await recordProgram(o);
    const text = recordingLines(rec).join('\n') + '\n';
    if (o.output === '-') process.stdout.write(text);
    else writeFileSync(o.output, text);
    const flushes = rec.events.reduce((n, e) => n + (e.observed?.flushes.length ?? 0), 0);
    const lost = Object.entries(rec.unattributed).map(([why, n]) => `${n} ${why}`).join(', ');
    console.error(`mmuwasm record: ${o.program.join(' ')} exited ${rec.signal ? `on ${rec.signal}` : `with ${rec.status}`}: ` +
      `${rec.records} tracefs records → ${rec.events.length} events (${rec.processes} processes, ${rec.threads} threads), ${flushes} flushes observed` +
      `${lost ? `; not in the trace: ${lost}` : ''} → ${o.output === '-' ? 'standard output' : o.output}`);
    return 0;
  } catch (err) {
    if (err instanceof RecordError || (err instanceof Error && 'code' in err)) {
      console.error(`mmuwasm record: ${err.message}`);
      return 2;
    }
    throw err;
  }
}
