// `mmuwasm convert IN OUT [options]` (options: src/cli/commands.ts): a trace from one form to the other.
import { resolve } from 'node:path';
import { TraceError } from '../trace/trace-error.ts';
import { BINARY_EXTENSION, formatOfPath } from '../trace/binary.ts';
import { convertTrace, type ConvertOptions } from '../node/convert.ts';
import { UsageError, type ParsedArgs } from './args.ts';
import { checkInput, checkOutput, fileError, isSystemError } from './files.ts';

export async function runConvert(p: ParsedArgs): Promise<number> {
  const [input, output] = p.operands;
  const opts: ConvertOptions = { expand: p.has('--expand'), stripComments: p.has('--strip-comments') };
  if (resolve(input) === resolve(output)) throw new UsageError('the output would overwrite the input');
  if (!formatOfPath(output)) throw new UsageError(`'${output}': the output's extension names its form (.jsonl, .jsonl.gz, ${BINARY_EXTENSION}, ${BINARY_EXTENSION}.gz)`);
  checkInput(input);
  checkOutput(output);
  try {
    // A write error has no path of its own (a full disk): it is the output's.
    const r = await convertTrace(input, output, opts).catch((err: unknown) => {
      throw isSystemError(err) ? fileError(err, output) : err;
    });
    console.error(`mmuwasm convert: ${output}: ${r.lines} lines, ${r.events} events, ${r.accesses} of them accesses`);
    return 0;
  } catch (err) {
    if (err instanceof TraceError) {
      console.error(`mmuwasm convert: ${err.message}`);
      return 2;
    }
    throw err;
  }
}
