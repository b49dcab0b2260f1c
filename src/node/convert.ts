// `convert` of files (Node): a trace file from one form to the other; the output is removed when the
// input turns out bad, so no half-written trace is left under its name.
import { rmSync } from 'node:fs';
import { convertSource, type ConvertOptions, type ConvertResult } from '../trace/convert.ts';
import { openTraceFile, writerFor } from './trace-files.ts';

export type { ConvertOptions, ConvertResult } from '../trace/convert.ts';

/** Reads `input` (either form, plain or gzip) and writes `output` in the form its extension names. */
export async function convertTrace(input: string, output: string, opts: ConvertOptions = {}): Promise<ConvertResult> {
  const src = await openTraceFile(input);
  const out = writerFor(output);
  let ok = false;
  try {
    const res = await convertSource(src, out, opts);
    ok = true;
    return res;
  } finally {
    out.close();
    if (!ok) rmSync(output, { force: true });
  }
}
