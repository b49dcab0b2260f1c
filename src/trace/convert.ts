// `mmuwasm convert IN OUT [--expand] [--strip-comments]`: a trace from one form to the other
// (docs/trace-binary.md). Every line is checked as the replay's reader checks it; plain `access`
// lines become access records and back, every other line keeps its exact text, comments included,
// so each line keeps its number. JSON Lines → binary → JSON Lines gives the same events on the same
// lines; binary → JSON Lines → binary gives the same bytes. Over bytes: the files are src/node/convert.ts's.
import { TraceError } from './trace-error.ts';
import { TraceParser } from './parser.ts';
import { readLines } from './lines.ts';
import type { TraceBytes } from './source.ts';
import { accessStream, type StreamSpec } from './patterns.ts';
import { accessCode, packable, readBinaryRecords, type TraceWriter } from './binary.ts';

export interface ConvertOptions {
  /** Write each `accesses` stream as the access records it generates (not a conversion: later lines move). */
  expand?: boolean;
  /** Leave comments and blank lines out (later lines move). */
  stripComments?: boolean;
}

export interface ConvertResult {
  lines: number;
  events: number;
  accesses: number;
}

/** One line of either form as the converter sees it: its text, and its meaning once parsed. */
type SourceLine =
  | { kind: 'comment'; line: number; text: string }
  | { kind: 'json'; line: number; text: string; ev?: { op: string; [k: string]: unknown }; seed?: number }
  | { kind: 'access'; line: number; cpu: number; va: bigint; code: number }
  | { kind: 'run'; line: number; cpu: number; va: BigUint64Array; rw: Uint8Array };

async function* textSource(src: TraceBytes): AsyncGenerator<SourceLine> {
  const path = src.name;
  const parser = new TraceParser(path);
  let lineNo = 0;
  let seed = 0;
  for await (const { line, text: t } of readLines(src)) {
    lineNo = line;
    const item = parser.line(lineNo, t, 0);
    if (!item) yield { kind: 'comment', line: lineNo, text: t };
    else if (item.kind === 'header') {
      seed = item.header.seed ?? 0;
      yield { kind: 'json', line: lineNo, text: t };
    } else if (packable(item.event)) {
      const e = item.event;
      yield { kind: 'access', line: lineNo, cpu: e.cpu as number, va: e.va as bigint, code: accessCode(e.rw, e.user) };
    } else yield { kind: 'json', line: lineNo, text: t, ev: item.event, seed };
  }
  parser.end(lineNo);
}

async function* binarySource(src: TraceBytes): AsyncGenerator<SourceLine> {
  const path = src.name;
  const parser = new TraceParser(path);
  let cpus = 0;
  let seed = 0;
  let last = 0;
  for await (const rec of readBinaryRecords(src)) {
    if (rec.type === 'comment') {
      const ls = rec.text.split('\n');
      for (let i = 0; i < ls.length; i++) yield { kind: 'comment', line: rec.line + i, text: ls[i] };
      last = rec.line + ls.length - 1;
    } else if (rec.type === 'json') {
      last = rec.line;
      const item = parser.line(rec.line, rec.text, 0);
      if (!item) throw new TraceError(path, rec.line, undefined, `a JSON record must hold one JSON object, not a comment (at byte ${rec.offset})`);
      if (item.kind === 'header') {
        cpus = item.header.cpus;
        seed = item.header.seed ?? 0;
        yield { kind: 'json', line: rec.line, text: rec.text };
      } else yield { kind: 'json', line: rec.line, text: rec.text, ev: item.event, seed };
    } else {
      if (cpus === 0) throw new TraceError(path, rec.line, undefined, 'the first line must be the header ({"format":"mmuwasm-trace","version":1,"cpus":N}), not an access record');
      if (rec.cpu >= cpus) throw new TraceError(path, rec.line, 'cpu', `CPU ${rec.cpu} does not exist (the header says ${cpus} CPUs, numbered from 0)`);
      last = rec.line + rec.va.length - 1;
      yield { kind: 'run', line: rec.line, cpu: rec.cpu, va: rec.va, rw: rec.rw };
    }
  }
  parser.end(last);
}

/**
 * Reads a trace (either form, plain or gzip) and writes it with `out`, line by line. The writer is
 * not closed: the caller closes it (and, on an error, drops what it wrote).
 */
export async function convertSource(src: TraceBytes, out: TraceWriter, opts: ConvertOptions = {}): Promise<ConvertResult> {
  const source = src.binary ? binarySource(src) : textSource(src);
  const res: ConvertResult = { lines: 0, events: 0, accesses: 0 };
  {
    for await (const s of source) {
      switch (s.kind) {
        case 'comment':
          if (!opts.stripComments) out.comment(s.text);
          break;
        case 'json':
          if (opts.expand && s.ev?.op === 'accesses') {
            const cpu = s.ev.cpu as number;
            for (const a of accessStream(s.ev as StreamSpec, s.seed ?? 0, s.line)) {
              out.access(cpu, a.va, a.write ? 1 : 0);
              res.accesses++;
              res.events++;
            }
            break;
          }
          out.json(s.text);
          if (s.ev) res.events++;
          break;
        case 'access':
          out.access(s.cpu, s.va, s.code);
          res.events++;
          res.accesses++;
          break;
        case 'run': {
          const n = s.va.length;
          for (let i = 0; i < n; i++) out.access(s.cpu, s.va[i], s.rw[i]);
          res.events += n;
          res.accesses += n;
          break;
        }
      }
    }
  }
  res.lines = out.lines;
  return res;
}
