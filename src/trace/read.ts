// Reading a trace from its bytes, whichever form they hold: JSON Lines (plain or gzip) line by line
// through the parser, or the binary form (plain or gzip) record by record. Platform-neutral: a file
// (src/node/read-trace.ts), a fetch() body, a string or a Uint8Array all come here.
import { openTraceBytes, type TraceInput } from './source.ts';
import { readLineBlocks } from './lines.ts';
import { readBinaryTrace } from './binary.ts';
import { TraceParser } from './parser.ts';
import type { TraceItem } from './events.ts';

/**
 * The header and then the events of a trace, each with its line number and the bytes of the input
 * read so far (a progress estimate). `name` names the trace in errors (a TraceError: name, line,
 * field and reason); the items before a bad line have been handed out already.
 */
export async function* readTraceSource(input: TraceInput, name = 'trace'): AsyncGenerator<TraceItem> {
  const src = await openTraceBytes(input, name);
  if (src.binary) {
    yield* readBinaryTrace(src);
    return;
  }
  const parser = new TraceParser(name);
  let last = 0;
  for await (const block of readLineBlocks(src)) {
    for (const { line, text, bytes } of block) {
      last = line;
      const item = parser.line(line, text, bytes);
      if (item) yield item;
    }
  }
  parser.end(last);
}
