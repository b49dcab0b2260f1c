// `mmuwasm record [-o OUT] [--hugepages N] [--buffer-kb K] [--raw TRACEFS.txt] -- PROGRAM [ARGS...]`.
import { writeFileSync } from 'node:fs';
import { recordingLines, recordProgram, RecordError, type RecordOptions } from '../workloads/record.ts';
import { UsageError, type ParsedArgs } from './args.ts';
import { checkOutput } from './files.ts';

/** The recording's options from its parsed command line; a bad value is a UsageError naming the option. */
export function recordArgs(p: ParsedArgs): RecordOptions & { output: string } {
  const o: RecordOptions & { output: string } = { program: [...p.operands], output: p.get('--output') ?? 'record.jsonl' };
  const count = (opt: string, min: number) => {
    const v = p.get(opt);
    if (v === undefined) return undefined;
    if (!/^[0-9]+$/.test(v) || Number(v) < min || !Number.isSafeInteger(Number(v))) throw new UsageError(`${opt}: takes a whole number, ${min} or more (got '${v}')`);
    return Number(v);
  };
  o.raw = p.get('--raw');
  o.hugepages = count('--hugepages', 0);
  o.bufferKb = count('--buffer-kb', 64);
  if (o.output !== '-' && !o.output.endsWith('.jsonl')) throw new UsageError(`--output: names a JSON Lines trace (.jsonl) or - (got '${o.output}')`);
  if (o.output !== '-') checkOutput(o.output);
  return o;
}

/** The `record` command; returns the exit status (0 recorded, 2 usage or a recording that could not be made). */
export async function runRecord(p: ParsedArgs): Promise<number> {
  const o = recordArgs(p);
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
