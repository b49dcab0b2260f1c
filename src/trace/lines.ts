// The lines of a JSON Lines trace, from its bytes: split at each \n (a \r before it dropped), each
// decoded as strict UTF-8 and numbered from 1. Every line must fit in MAX_LINE bytes — the most a
// record of the binary form holds, so that a trace that replays also converts — and a longer one is
// an error at its line as soon as the reader has seen that many of its bytes, whatever follows
// (a gigabyte with no line break, /dev/zero). Invalid UTF-8 is an error naming the byte's offset in
// the (decompressed) file, not text with U+FFFD in it.
import { TraceError } from './trace-error.ts';
import type { TraceBytes } from './source.ts';

/** Bytes of one line at most (without its line break): 16 MiB, the binary form's MAX_TEXT. */
export const MAX_LINE = 16 << 20;

export interface TextLine {
  line: number;
  text: string;
  /** Bytes of the input read so far (progress). */
  bytes: number;
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

/** The lines of a text trace. A read error (a corrupt gzip stream) is a TraceError at the line it cut. */
export async function* readLines(src: TraceBytes, maxLine = MAX_LINE): AsyncGenerator<TextLine> {
  const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  const file = src.name;
  let line = 0;
  let fileOffset = 0; // of the first byte of the chunk being split
  let carry: Uint8Array[] = []; // the start of a line that continues in the next chunk
  let carried = 0;

  const tooLong = (): never => {
    throw new TraceError(file, line + 1, undefined, `the line is longer than ${maxLine} bytes`);
  };
  /** Decodes bytes that start at `offset` of the file, holding `count` lines; the error names the line. */
  const decode = (bytes: Uint8Array, offset: number): string => {
    try {
      return utf8.decode(bytes);
    } catch {
      let at = invalidUtf8At(bytes);
      if (at < 0) at = bytes.length; // a sequence the decoder refused at the end
      let l = line + 1;
      for (let i = bytes.indexOf(NL); i >= 0 && i < at; i = bytes.indexOf(NL, i + 1)) l++;
      throw new TraceError(file, l, undefined, `the line is not valid UTF-8 (byte 0x${(bytes[at] ?? 0).toString(16).padStart(2, '0')} at offset ${offset + at} of the file)`);
    }
  };
  const strip = (t: string) => (t.charCodeAt(t.length - 1) === 13 ? t.slice(0, -1) : t);

  let chunk: Uint8Array;
  const it = src.chunks[Symbol.asyncIterator]();
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
        carry.push(chunk);
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
      yield { line: ++line, text, bytes: src.read() };
      // The whole lines after it, decoded at once (a line break never splits a UTF-8 sequence).
      const last = chunk.lastIndexOf(NL);
      if (last > first) {
        const block = chunk.subarray(first + 1, last);
        if (block.length > maxLine) {
          // A chunk larger than a line may be: line by line, each measured.
          let at = first + 1;
          while (at <= last) {
            const end = chunk.indexOf(NL, at);
            if (end - at > maxLine) tooLong();
            const t = strip(decode(chunk.subarray(at, end), fileOffset + at));
            yield { line: ++line, text: t, bytes: src.read() };
            at = end + 1;
          }
        } else {
          const lines = decode(block, fileOffset + first + 1).split('\n');
          const bytes = src.read();
          for (const t of lines) yield { line: ++line, text: strip(t), bytes };
        }
      }
      if (last + 1 < chunk.length) {
        const rest = chunk.subarray(last + 1);
        if (rest.length > maxLine) tooLong();
        carry.push(rest);
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
      yield { line: ++line, text, bytes: src.read() };
    }
  } finally {
    await it.return?.();
  }
}
