// The lines of a JSON Lines trace, from its bytes: split at each \n (a \r before it dropped), each
// decoded as strict UTF-8 and numbered from 1. Every line must fit in MAX_LINE bytes — the most a
// record of the binary form holds, so that a trace that replays also converts — and a longer one is
// an error at its line as soon as the reader has seen that many of its bytes, whatever follows
// (a gigabyte with no line break, /dev/zero). Invalid UTF-8 is an error naming the byte's offset in
// the (decompressed) file, not text with U+FFFD in it.
import { TraceError } from './trace-error.ts';
import type { TraceBytes } from './source.ts';
import type { PlainAccessScanner } from './plain-access.ts';

/** Bytes of one line at most (without its line break): 16 MiB, the binary form's MAX_TEXT. */
export const MAX_LINE = 16 << 20;

export interface TextLine {
  line: number;
  /** The text ('' for a line the block's scanner took). */
  text: string;
  /** Bytes of the input read so far (progress). */
  bytes: number;
  /**
   * Lines the scanner of readLineBlocks took: `count` of them from `line` on (1 if absent), the first
   * at this index of the scanner's columns for this block, the others after it.
   */
  plain?: number;
  count?: number;
}

const NL = 0x0a;

/** The offset of the first byte of `b` that is not part of a valid UTF-8 sequence (-1: none). */
export function invalidUtf8At(b: Uint8Array): number {
  for (let i = 0; i < b.length; ) {
    const c = b[i];
    let n: number;
    let min: number;
    if (c < 0x80) {
      i++;
      continue;
    } else if (c >= 0xc2 && c <= 0xdf) [n, min] = [1, 0x80];
    else if (c >= 0xe0 && c <= 0xef) [n, min] = [2, 0x800];
    else if (c >= 0xf0 && c <= 0xf4) [n, min] = [3, 0x10000];
    else return i;
    let cp = c & (0x3f >> n);
    for (let k = 1; k <= n; k++) {
      const d = b[i + k];
      if (d === undefined || (d & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (d & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += n + 1;
  }
  return -1;
}

/** Bytes of a chunk split at once, at most. */
const PIECE = 64 << 10;

async function* pieces(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  for await (const c of chunks) {
    if (c.length <= PIECE) yield c;
    else for (let at = 0; at < c.length; at += PIECE) yield c.subarray(at, Math.min(c.length, at + PIECE));
  }
}

/** The lines of a text trace, one at a time. */
export async function* readLines(src: TraceBytes, maxLine = MAX_LINE): AsyncGenerator<TextLine> {
  for await (const block of readLineBlocks(src, maxLine)) yield* block;
}

/**
 * The lines of a text trace, in blocks (those that end in one chunk of the input): one await per
 * chunk instead of per line. A read error (a corrupt gzip stream) is a TraceError at the line it cut;
 * the lines before it have been handed out. A `scanner` sees the bytes of each whole line of a chunk
 * first; a line it takes is not decoded (its fields are in the scanner's columns, valid until the
 * next block).
 */
export async function* readLineBlocks(src: TraceBytes, maxLine = MAX_LINE, scanner?: PlainAccessScanner): AsyncGenerator<TextLine[]> {
  // Not the decoder's fatal mode: in Node it takes a slower path that makes two-byte strings, which
  // JSON.parse reads more slowly. A U+FFFD in the text is checked against the bytes instead.
  const utf8 = new TextDecoder('utf-8', { ignoreBOM: true });
  const file = src.name;
  let line = 0;
  let fileOffset = 0; // of the first byte of the chunk being split
  let carry: Uint8Array[] = []; // the start of a line that continues in the next chunk
  let carried = 0;

  const tooLong = (): never => {
    throw new TraceError(file, line + 1, undefined, `the line is longer than ${maxLine} bytes`);
  };
  /** Decodes lines line + 1, line + 2, … whose bytes start at `offset` of the file; the error names the line. */
  const decode = (bytes: Uint8Array, offset: number): string => {
    const text = utf8.decode(bytes);
    if (text.indexOf('\uFFFD') < 0) return text;
    const at = invalidUtf8At(bytes);
    if (at < 0) return text; // a U+FFFD written as such (EF BF BD)
    let l = line + 1;
    for (let i = bytes.indexOf(NL); i >= 0 && i < at; i = bytes.indexOf(NL, i + 1)) l++;
    throw new TraceError(file, l, undefined, `the line is not valid UTF-8 (byte 0x${bytes[at].toString(16).padStart(2, '0')} at offset ${offset + at} of the file)`);
  };
  const strip = (t: string) => (t.charCodeAt(t.length - 1) === 13 ? t.slice(0, -1) : t);

  let chunk: Uint8Array;
  // Blocks of at most PIECE bytes: the lines of a block live until the reader has parsed them all,
  // and a megabyte's worth (17,000 lines) would outlive the young generation and cost the GC dearly.
  const it = pieces(src.chunks)[Symbol.asyncIterator]();
  try {
    for (;;) {
      let r: IteratorResult<Uint8Array>;
      try {
        r = await it.next();
      } catch (err) {
        if (err instanceof TraceError) throw err;
        throw new TraceError(file, line + 1, undefined, `cannot read the trace${src.gzip ? ' (is it valid gzip?)' : ''}: ${(err as Error).message}`);
      }
      if (r.done) break;
      chunk = r.value;
      const first = chunk.indexOf(NL);
      if (first < 0) {
        carry.push(new Uint8Array(chunk)); // a copy (a Buffer's slice is not): the source may reuse its buffers
        carried += chunk.length;
        if (carried > maxLine) tooLong();
        fileOffset += chunk.length;
        continue;
      }
      // The line the carried bytes start.
      if (carried + first > maxLine) tooLong();
      const startOffset = fileOffset - carried;
      let head: Uint8Array;
      if (carried) {
        head = new Uint8Array(carried + first);
        let at = 0;
        for (const c of carry) {
          head.set(c, at);
          at += c.length;
        }
        head.set(chunk.subarray(0, first), at);
        carry = [];
        carried = 0;
      } else head = chunk.subarray(0, first);
      const text = strip(decode(head, startOffset));
      const bytes = src.read();
      const block: TextLine[] = [{ line: ++line, text, bytes }];
      // The whole lines after it, decoded at once (a line break never splits a UTF-8 sequence).
      const last = chunk.lastIndexOf(NL);
      if (last > first) {
        if (scanner || last - first - 1 > maxLine) {
          // Line by line: a plain access read from its bytes by the scanner (which finds where it
          // ends); any other line looked for, measured (a chunk may be larger than a line may be)
          // and decoded alone.
          scanner?.reset(chunk);
          for (let at = first + 1; at <= last; ) {
            let end = scanner ? scanner.take(at, last) : -1;
            if (end >= 0) {
              // Consecutive taken lines share one entry (an object per line costs the collector dearly).
              const prev = block[block.length - 1];
              line++;
              if (prev.plain !== undefined && prev.plain + prev.count! === scanner!.n - 1) prev.count!++;
              else block.push({ line, text: '', bytes, plain: scanner!.n - 1, count: 1 });
            } else {
              end = chunk.indexOf(NL, at);
              if (end - at > maxLine) {
                yield block;
                tooLong();
              }
              let t: string;
              try {
                t = strip(decode(chunk.subarray(at, end), fileOffset + at));
              } catch (err) {
                yield block; // the good lines first
                throw err;
              }
              block.push({ line: ++line, text: t, bytes });
            }
            at = end + 1;
          }
        } else {
          let lines: string[];
          try {
            lines = decode(chunk.subarray(first + 1, last), fileOffset + first + 1).split('\n');
          } catch (err) {
            yield block;
            throw err;
          }
          for (const t of lines) block.push({ line: ++line, text: strip(t), bytes });
        }
      }
      yield block;
      if (last + 1 < chunk.length) {
        const rest = chunk.subarray(last + 1);
        if (rest.length > maxLine) tooLong();
        carry.push(new Uint8Array(rest));
        carried = rest.length;
      }
      fileOffset += chunk.length;
    }
    if (carried) {
      const tail = new Uint8Array(carried);
      let at = 0;
      for (const c of carry) {
        tail.set(c, at);
        at += c.length;
      }
      const text = strip(decode(tail, fileOffset - carried));
      yield [{ line: ++line, text, bytes: src.read() }];
    }
  } finally {
    await it.return?.(undefined);
  }
}
