// Reading a trace from its bytes, whichever form they hold: JSON Lines (plain or gzip) line by line
// through the parser, or the binary form (plain or gzip) record by record. Platform-neutral: a file
// (src/node/read-trace.ts), a fetch() body, a string or a Uint8Array all come here.
import { openTraceBytes, type TraceInput } from './source.ts';
import { readLineBlocks } from './lines.ts';
import { MAX_RUN, accessRun, accessRunArrays, readBinaryTrace } from './binary.ts';
import { TraceParser } from './parser.ts';
import { PlainAccessScanner, type PlainAccess } from './plain-access.ts';
import type { TraceItem } from './events.ts';

/**
 * What the generators of readTraceSource (and readTrace, in Node) also offer: the same items in
 * blocks, one await per block instead of per item. A consumer takes one view or the other, not both.
 */
export const TRACE_BLOCKS = Symbol.for('mmuwasm.traceBlocks');

export interface TraceItems extends AsyncGenerator<TraceItem> {
  [TRACE_BLOCKS](): AsyncGenerator<TraceItem[]>;
}

/**
 * The header and then the events of a trace, each with its line number and the bytes of the input
 * read so far (a progress estimate). `name` names the trace in errors (a TraceError: name, line,
 * field and reason); the items before a bad line have been handed out already.
 *
 * Its [TRACE_BLOCKS]() reads the same trace for a replay instead: in blocks, and with the plain
 * accesses of one CPU on consecutive lines as one `access_run` event, as the binary form has them
 * (a replay runs both the same way, docs/parallel-replay.md). The trace is read once, one way.
 */
export function readTraceSource(input: TraceInput, name = 'trace'): TraceItems {
  let taken = false;
  const take = () => {
    if (taken) throw new Error('a trace reader is read once: as items or as blocks, not both');
    taken = true;
  };
  const items = (async function* () {
    take();
    for await (const block of readTraceBlocks(input, name)) yield* block;
  })();
  return Object.assign(items, {
    [TRACE_BLOCKS]: () => {
      take();
      return readTraceBlocks(input, name, { runs: true });
    },
  });
}

/**
 * A trace's items in blocks: the lines of a JSON Lines trace that end in one piece of its input, or
 * one record of the binary form. A bad line ends the block before it, which is handed out first;
 * then the error. With `runs`, the plain accesses of one CPU on consecutive lines of a block come as
 * one `access_run` event (of up to MAX_RUN records; record i is line `line + i`).
 */
export async function* readTraceBlocks(input: TraceInput, name = 'trace', opts: { runs?: boolean } = {}): AsyncGenerator<TraceItem[]> {
  const src = await openTraceBytes(input, name);
  if (src.binary) {
    for await (const item of readBinaryTrace(src)) yield [item];
    return;
  }
  const parser = new TraceParser(name);
  const runs = opts.runs === true;
  const a: PlainAccess = { cpu: 0, lo: 0, hi: 0, code: 0 };
  const scanner = runs ? new PlainAccessScanner() : undefined;
  let last = 0;
  for await (const block of readLineBlocks(src, undefined, scanner)) {
    const items: TraceItem[] = [];
    // The run being gathered: its CPU, first line, records so far, and their arrays (addresses as 32-bit halves).
    let cpu = -1;
    let first = 0;
    let n = 0;
    let runBytes = 0;
    let arrays: { va: BigUint64Array; rw: Uint8Array } | undefined;
    let halves: Uint32Array | undefined;
    const endRun = () => {
      if (n === 0) return;
      items.push({ kind: 'event', line: first, event: accessRun(cpu, arrays!, n), bytes: runBytes });
      n = 0;
      arrays = halves = undefined;
    };
    /** One line: a plain access joins the run (or starts one); anything else ends it and is parsed. */
    const one = (line: number, text: string, bytes: number, plain: number | undefined): void => {
      last = line;
      // A line the scanner took joins the run unless the parser must see it (then its text is needed).
      let plainAccess: boolean;
      if (plain !== undefined) {
        plainAccess = parser.takesPlainAccess(scanner!.cpu[plain]);
        if (plainAccess) {
          a.cpu = scanner!.cpu[plain];
          a.lo = scanner!.lo[plain];
          a.hi = scanner!.hi[plain];
          a.code = scanner!.code[plain];
        } else text = scanner!.text(plain);
      } else plainAccess = runs && parser.plainAccess(text, a);
      if (plainAccess) {
        if (n > 0 && (a.cpu !== cpu || first + n !== line || n === MAX_RUN)) endRun();
        if (n === 0) {
          arrays = accessRunArrays();
          halves = new Uint32Array(arrays.va.buffer, arrays.va.byteOffset, 2 * MAX_RUN);
          cpu = a.cpu;
          first = line;
        }
        halves![2 * n] = a.lo;
        halves![2 * n + 1] = a.hi;
        arrays!.rw[n] = a.code;
        n++;
        runBytes = bytes;
        return;
      }
      endRun();
      const item = parser.line(line, text, bytes);
      if (item) items.push(item);
    };
    try {
      for (const { line, text, bytes, plain, count = 1 } of block) {
        if (plain === undefined) one(line, text, bytes, undefined);
        else for (let j = 0; j < count; j++) one(line + j, '', bytes, plain + j);
      }
      endRun();
    } catch (err) {
      endRun();
      if (items.length) yield items;
      throw err;
    }
    if (items.length) yield items;
  }
  parser.end(last);
}
