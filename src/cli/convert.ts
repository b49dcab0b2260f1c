// `mmuwasm convert IN OUT [--expand] [--strip-comments]`: a trace from one form to the other.
import { resolve } from 'node:path';
import { TraceError } from '../trace/trace-error.ts';
import { BINARY_EXTENSION, formatOfPath } from '../trace/binary.ts';
import { convertTrace, type ConvertOptions } from '../trace/convert.ts';
import { interruption, interruptedBy, signalStatus } from './signals.ts';
import { outputError, writeOutput } from './output-file.ts';

const USAGE = `usage: mmuwasm convert IN OUT [--expand] [--strip-comments]
  IN and OUT: .jsonl or .jsonl.gz (JSON Lines), ${BINARY_EXTENSION} or ${BINARY_EXTENSION}.gz (binary); IN's form is read from its bytes`;

export async function runConvert(argv: string[]): Promise<number> {
  const files: string[] = [];
  const opts: ConvertOptions = {};
  for (const a of argv) {
    if (a === '--expand') opts.expand = true;
    else if (a === '--strip-comments') opts.stripComments = true;
    else if (a === '--help' || a === '-h') {
      console.log(USAGE);
      return 0;
    } else if (a.startsWith('-')) return usage(`unknown option '${a}'`);
    else files.push(a);
  }
  if (files.length !== 2) return usage(files.length < 2 ? 'convert needs an input and an output file' : `one input and one output (got ${files.join(' ')})`);
  const [input, output] = files;
  if (resolve(input) === resolve(output)) return usage('the output would overwrite the input');
  if (!formatOfPath(output)) return usage(`'${output}': the output's extension names its form (.jsonl, .jsonl.gz, ${BINARY_EXTENSION}, ${BINARY_EXTENSION}.gz)`);
  const stop = interruption();
  try {
    const r = await writeOutput(output, (tmp) => convertTrace(input, tmp, { ...opts, signal: stop.signal }), stop.signal);
    console.error(`mmuwasm convert: ${output}: ${r.lines} lines, ${r.events} events, ${r.accesses} of them accesses`);
    return 0;
  } catch (err) {
    if (stop.received) {
      console.error(`mmuwasm convert: ${interruptedBy(stop.received)}: ${output} not written`);
      return signalStatus(stop.received);
    }
    if (err instanceof TraceError) {
      console.error(`mmuwasm convert: ${err.message}`);
      return 2;
    }
    const message = outputError(output, err);
    if (message) {
      console.error(`mmuwasm convert: ${message}`);
      return 2;
    }
    throw err;
  }
}

function usage(message: string): number {
  console.error(`mmuwasm convert: ${message}\n${USAGE}`);
  return 2;
}
