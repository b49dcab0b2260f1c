// The binary form of a trace (docs/trace-binary.md): the same events as the JSON Lines form, with
// runs of one CPU's plain accesses packed as fixed-size records (8-byte address + 1-byte kind) and
// every other line — header, event, comment — kept as its exact text. `line` means the same in both
// forms: a record's line is the line it has in the JSON Lines text `mmuwasm convert` writes from it
// (and the line it had in the text it was converted from). Reading and writing stream: memory holds
// one record and one chunk of the file, whatever the trace's length. Both work over bytes: the reader
// over a TraceBytes (source.ts), the writers into a ByteSink (a file in Node: src/node/trace-files.ts).
import { TraceError } from './trace-error.ts';
import type { ReadInto, TraceBytes } from './source.ts';
import { TraceParser, type TraceItem } from './parser.ts';
import { platform } from '../platform/platform.ts';

const crc32 = (bytes: Uint8Array, seed?: number) => platform().crc32(bytes, seed);
const u16 = (b: Uint8Array, i: number) => b[i] | (b[i + 1] << 8);
const u32 = (b: Uint8Array, i: number) => (b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24)) >>> 0;

/** `\x89MMT\r\n\x1a\n`: not text (the high byte), and a line-ending or EOF translation shows in it. */
export const BINARY_MAGIC: readonly number[] = [0x89, 0x4d, 0x4d, 0x54, 0x0d, 0x0a, 0x1a, 0x0a];
export const BINARY_VERSION = 1;
export const BINARY_EXTENSION = '.mmtrace';

/** Record tags (one byte, an ASCII letter so a hex dump shows the structure). */
export const TAG = { json: 0x4a /* J */, comment: 0x43 /* C */, accesses: 0x41 /* A */, end: 0x45 /* E */ } as const;
/** Records in one access run at most: a run's payload is at most 576 KiB. */
export const MAX_RUN = 65536;
/** Bytes of a JSON record's or comment block's text at most. */
export const MAX_TEXT = 16 << 20;
/** A comment block takes the next line only while it stays within this many bytes. */
export const COMMENT_BLOCK_BYTES = 64 << 10;

/** The kind byte of an access record: rw in bits 0–1 (0 r, 1 w, 2 x), bit 2 set for `"user":false`. */
export const ACCESS_CODE = { r: 0, w: 1, x: 2, supervisor: 4 } as const;
const RW_OF_CODE = ['r', 'w', 'x'] as const;
const VALID_CODE = new Uint8Array(256);
for (const c of [0, 1, 2, 4, 5, 6]) VALID_CODE[c] = 1;

/** The packed form of consecutive `access` events of one CPU: record i is line `line + i`. */
export interface AccessRunEvent {
  op: 'access_run';
  cpu: number;
  /** The addresses, one per record. */
  va: BigUint64Array;
  /** The kind bytes (ACCESS_CODE), one per record. */
  rw: Uint8Array;
  [field: string]: unknown;
}

/** The `access` event of one access record, in the canonical JSON text `convert` writes. */
export function accessLine(cpu: number, va: bigint, code: number): string {
  return `{"op":"access","cpu":${cpu},"va":"0x${va.toString(16)}","rw":"${RW_OF_CODE[code & 3]}"${code & ACCESS_CODE.supervisor ? ',"user":false' : ''}}`;
}

/** The kind byte of a parsed `access` event. */
export function accessCode(rw: unknown, user: unknown): number {
  return (rw === 'w' ? ACCESS_CODE.w : rw === 'x' ? ACCESS_CODE.x : ACCESS_CODE.r) | (user === false ? ACCESS_CODE.supervisor : 0);
}

/** An `access` event that an access record can carry: not parked (no `id`, no `until`). */
export function packable(ev: { op: string; [k: string]: unknown }): boolean {
  return ev.op === 'access' && ev.id === undefined && ev.until === undefined && ev.observed === undefined;
}

const startsWith = (b: Uint8Array, magic: readonly number[]) => b.length >= magic.length && magic.every((m, i) => b[i] === m);

// ---- reading ----

/**
 * The arrays of access runs that their reader handed back (recycleAccessRun): a replay copies each run
 * into its CPU's lane and gives it back, so reading a long binary trace allocates nothing per run
 * (allocating and zeroing 576 KiB per run, and collecting it, cost as much as reading the file).
 */
const spareRuns: { va: BigUint64Array; rw: Uint8Array }[] = [];

function runArrays(count: number): { va: BigUint64Array; rw: Uint8Array } {
  const spare = spareRuns.pop() ?? { va: new BigUint64Array(MAX_RUN), rw: new Uint8Array(MAX_RUN) };
  return count === MAX_RUN ? spare : { va: spare.va.subarray(0, count), rw: spare.rw.subarray(0, count) };
}

/**
 * Arrays for an access run of up to MAX_RUN records that is built record by record (the text form's
 * runs of plain accesses, src/trace/read.ts); accessRun makes the event of its first `count`.
 */
export function accessRunArrays(): { va: BigUint64Array; rw: Uint8Array } {
  return runArrays(MAX_RUN);
}

export function accessRun(cpu: number, arrays: { va: BigUint64Array; rw: Uint8Array }, count: number): AccessRunEvent {
  return { op: 'access_run', cpu, va: arrays.va.subarray(0, count), rw: arrays.rw.subarray(0, count) };
}

/**
 * Gives an access run's arrays back to the reader, for a later run: the caller no longer reads them
 * (nor anything else that may still hold the event).
 */
export function recycleAccessRun(run: AccessRunEvent): void {
  const { va, rw } = run;
  if (spareRuns.length >= 32 || va.buffer.byteLength !== 8 * MAX_RUN || rw.buffer.byteLength !== MAX_RUN || va.byteOffset !== 0 || rw.byteOffset !== 0) return;
  if (spareRuns.some((s) => s.va.buffer === va.buffer)) return;
  spareRuns.push({ va: new BigUint64Array(va.buffer), rw: new Uint8Array(rw.buffer) });
}

/** One record of a binary trace as stored, checked for structure (not yet for meaning). */
export type BinaryRecord =
  | { type: 'json'; line: number; text: string; offset: number; bytes: number }
  | { type: 'comment'; line: number; text: string; lines: number; offset: number; bytes: number }
  | { type: 'accesses'; line: number; cpu: number; va: BigUint64Array; rw: Uint8Array; offset: number; bytes: number };

/**
 * Pulls bytes from a stream of chunks into one buffer that is reused for the whole file. It offers the
 * source the free end of the buffer (ReadInto): a file is read straight into it; the chunks of any
 * other source are copied in, each byte once (joining the chunks a record spans anew at every refill
 * was a quarter of the replay's main thread). Only the bytes of a record cut by the end of the buffer
 * move, to its start. The buffer holds at most one record and one chunk. Views of `buf` are valid
 * until the next `fill`.
 */
/** Room offered for a read into the reader's buffer: a file's chunk. */
const ROOM = 1 << 20;

class ByteReader {
  buf: Uint8Array = new Uint8Array(4 << 20);
  pos = 0;
  /** The bytes [pos, end) of `buf` are the file's from `offset` on. */
  private end = 0;
  private base = 0;
  private eof = false;
  constructor(private readonly chunks: AsyncIterator<Uint8Array, unknown, ReadInto>) {}

  /** Makes n bytes available at `pos` if the stream has them; returns how many are. */
  async fill(n: number): Promise<number> {
    while (this.end - this.pos < n && !this.eof) {
      const r = await this.chunks.next(this.room());
      if (r.done) {
        this.eof = true;
        break;
      }
      const c = r.value;
      if (c.buffer === this.buf.buffer && c.byteOffset === this.end) this.end += c.length;
      else this.append(c);
    }
    return this.end - this.pos;
  }

  /** The free end of the buffer, at least ROOM bytes, for a source that can read into it. */
  private room(): Uint8Array {
    this.free(ROOM);
    return this.buf.subarray(this.end);
  }

  private append(chunk: Uint8Array): void {
    this.free(chunk.length);
    this.buf.set(chunk, this.end);
    this.end += chunk.length;
  }

  /** At least n free bytes after `end`: the unread bytes move to the start of the buffer, or to a bigger one. */
  private free(n: number): void {
    if (this.end + n <= this.buf.length) return;
    const have = this.end - this.pos;
    if (have + n > this.buf.length) {
      const bigger = new Uint8Array(Math.max(have + n, 2 * this.buf.length));
      bigger.set(this.buf.subarray(this.pos, this.end));
      this.buf = bigger;
    } else this.buf.copyWithin(0, this.pos, this.end);
    this.base += this.pos;
    this.pos = 0;
    this.end = have;
  }

  /** The offset of `pos` in the (decompressed) file. */
  get offset(): number {
    return this.base + this.pos;
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const isCommentLine = (s: string) => {
  const t = s.trim();
  return t === '' || t.startsWith('#') || t.startsWith('//');
};

/**
 * The records of a binary trace (plain or gzip), each with its line and the bytes of the file read so
 * far. Structure is checked strictly: the magic and version, every tag, length, checksum and kind
 * byte, the end record's line count, nothing after it. A file cut short is an error naming the record
 * it ends in.
 */
export async function* readBinaryRecords(src: TraceBytes): AsyncGenerator<BinaryRecord> {
  const { gzip, name: path } = src;
  const chunks = src.chunks[Symbol.asyncIterator]() as AsyncIterator<Uint8Array, unknown, ReadInto>;
  const r = new ByteReader(chunks);
  let line = 1;
  const fail = (reason: string, field?: string, at = line): never => {
    throw new TraceError(path, at, field, reason);
  };
  const fill = async (n: number) => {
    try {
      return await r.fill(n);
    } catch (err) {
      return fail(`cannot read the trace${gzip ? ' (is it valid gzip?)' : ''}: ${(err as Error).message}`);
    }
  };
  const truncated = (what: string, need: number, have: number, at = line): never =>
    fail(`the file is truncated: it ends inside ${what} (the record at byte ${r.offset} needs ${need} bytes, ${have} are left)`, undefined, at);
  try {
    const head = await fill(12);
    if (head < 8 || !startsWith(r.buf.subarray(r.pos), BINARY_MAGIC)) {
      const translated = head >= 7 && r.buf[r.pos + 4] === 0x0a;
      fail(`not a binary trace: the file does not start with the magic bytes 89 4d 4d 54 0d 0a 1a 0a${translated ? ' (its \\r\\n became \\n: the file was copied as text; copy it as binary)' : ''}`, undefined, 0);
    }
    if (head < 12) truncated('the file header', 12, head, 0);
    const version = u32(r.buf, r.pos + 8);
    if (version !== BINARY_VERSION) fail(`this reader knows binary version ${BINARY_VERSION}, not ${version}`, 'version', 0);
    r.pos += 12;
    for (;;) {
      const avail = await fill(1);
      if (avail === 0) fail(`the file is truncated: it ends after line ${line - 1} without its end record (at byte ${r.offset})`);
      const b = r.buf;
      const tag = b[r.pos];
      const offset = r.offset;
      if (tag === TAG.json || tag === TAG.comment) {
        const what = tag === TAG.json ? `the JSON record of line ${line}` : `the comment block at line ${line}`;
        let have = await fill(9);
        if (have < 9) truncated(what, 9, have);
        const len = u32(r.buf, r.pos + 1);
        const sum = u32(r.buf, r.pos + 5);
        if (len === 0 && tag === TAG.json) fail(`an empty JSON record (at byte ${offset})`);
        if (len > MAX_TEXT) fail(`${what} claims ${len} bytes, more than the ${MAX_TEXT} a record may hold: the file is corrupt (at byte ${offset})`, 'length');
        have = await fill(9 + len);
        if (have < 9 + len) truncated(what, 9 + len, have);
        const bytes = r.buf.subarray(r.pos + 9, r.pos + 9 + len);
        if (crc32(bytes) !== sum) fail(`checksum mismatch in ${what} (at byte ${offset}): the file is corrupt`);
        let text: string;
        try {
          text = utf8.decode(bytes);
        } catch {
          return fail(`${what} is not valid UTF-8 (at byte ${offset})`);
        }
        r.pos += 9 + len;
        if (tag === TAG.json) {
          if (/[\r\n]/.test(text)) fail(`a JSON record holds one line: this one has a line break (at byte ${offset})`);
          yield { type: 'json', line, text, offset, bytes: src.read() };
          line++;
        } else {
          const lines = text.split('\n');
          for (let i = 0; i < lines.length; i++) {
            const l = line + i === 1 ? lines[i].replace(/^\uFEFF/, '') : lines[i];
            if (/\r/.test(l) || !isCommentLine(l)) fail(`a comment block holds only blank lines and lines starting with # or //; this line is neither: ${JSON.stringify(l.slice(0, 60))}`, undefined, line + i);
          }
          yield { type: 'comment', line, text, lines: lines.length, offset, bytes: src.read() };
          line += lines.length;
        }
      } else if (tag === TAG.accesses) {
        let have = await fill(11);
        if (have < 11) truncated(`the access run at line ${line}`, 11, have);
        const cpu = u16(r.buf, r.pos + 1);
        const count = u32(r.buf, r.pos + 3);
        const sum = u32(r.buf, r.pos + 7);
        if (count === 0 || count > MAX_RUN) fail(`an access run holds 1 to ${MAX_RUN} records, not ${count}: the file is corrupt (at byte ${offset})`, 'count');
        const what = `the access run of lines ${line}–${line + count - 1}`;
        const size = 11 + 9 * count;
        have = await fill(size);
        if (have < size) truncated(what, size, have);
        const p = r.pos;
        const payload = r.buf.subarray(p + 11, p + size);
        if (crc32(payload, crc32(r.buf.subarray(p + 1, p + 7))) !== sum) fail(`checksum mismatch in ${what} (at byte ${offset}): the file is corrupt`);
        const { va, rw } = runArrays(count);
        rw.set(r.buf.subarray(p + 11 + 8 * count, p + size));
        // Four kind bytes at a time: valid when no byte has bits 3–7 set or rw = 3.
        const words = new Uint32Array(rw.buffer, 0, count >>> 2);
        let bad = 4 * words.length;
        for (let i = 0; i < words.length; i++) {
          const w = words[i];
          const lo = w & 0x03030303;
          if ((w & 0xf8f8f8f8) !== 0 || (lo & (lo >>> 1) & 0x01010101) !== 0) {
            bad = 4 * i;
            break;
          }
        }
        for (let i = bad; i < count; i++) {
          if (!VALID_CODE[rw[i]]) fail(`access record ${i + 1} of the run at line ${line} has kind byte 0x${rw[i].toString(16)}: expected rw 0 (r), 1 (w) or 2 (x), plus 4 for a supervisor access (at byte ${offset})`, 'rw', line + i);
        }
        new Uint8Array(va.buffer, 0, 8 * count).set(r.buf.subarray(p + 11, p + 11 + 8 * count));
        r.pos += size;
        yield { type: 'accesses', line, cpu, va, rw, offset, bytes: src.read() };
        line += count;
      } else if (tag === TAG.end) {
        const have = await fill(13);
        if (have < 13) truncated('the end record', 13, have);
        const lines = u32(r.buf, r.pos + 1) + u32(r.buf, r.pos + 5) * 2 ** 32;
        const sum = u32(r.buf, r.pos + 9);
        if (crc32(r.buf.subarray(r.pos + 1, r.pos + 9)) !== sum) fail(`checksum mismatch in the end record (at byte ${offset}): the file is corrupt`);
        if (lines !== line - 1) fail(`the end record says the trace has ${lines} lines, but its records hold ${line - 1}: the file is corrupt (at byte ${offset})`);
        r.pos += 13;
        const after = await fill(1);
        if (after > 0) fail(`${after} bytes follow the end record (at byte ${r.offset}): the file is corrupt`);
        return;
      } else {
        fail(`unknown record tag 0x${tag.toString(16).padStart(2, '0')} at byte ${offset}: the file is corrupt or was not written by a binary trace writer`);
      }
    }
  } finally {
    await chunks.return?.();
  }
}

/**
 * Reads a binary trace as readTrace reads JSON Lines: its header, then its events, each checked by
 * the same parser (the same messages, fields and lines), except that a run of access records comes as
 * one `access_run` event whose record i is line `line + i`.
 */
export async function* readBinaryTrace(src: TraceBytes): AsyncGenerator<TraceItem> {
  const path = src.name;
  const parser = new TraceParser(path);
  let cpus = 0;
  let lastLine = 0;
  for await (const rec of readBinaryRecords(src)) {
    if (rec.type === 'comment') {
      lastLine = rec.line + rec.lines - 1;
      continue;
    }
    lastLine = rec.type === 'json' ? rec.line : rec.line + rec.va.length - 1;
    if (rec.type === 'json') {
      const item = parser.line(rec.line, rec.text, rec.bytes);
      if (!item) throw new TraceError(path, rec.line, undefined, `a JSON record must hold one JSON object, not a comment (at byte ${rec.offset})`);
      if (item.kind === 'header') cpus = item.header.cpus;
      yield item;
      continue;
    }
    if (cpus === 0) throw new TraceError(path, rec.line, undefined, 'the first line must be the header ({"format":"mmuwasm-trace","version":1,"cpus":N}), not an access record');
    if (rec.cpu >= cpus) throw new TraceError(path, rec.line, 'cpu', `CPU ${rec.cpu} does not exist (the header says ${cpus} CPUs, numbered from 0)`);
    const event: AccessRunEvent = { op: 'access_run', cpu: rec.cpu, va: rec.va, rw: rec.rw };
    yield { kind: 'event', line: rec.line, event, bytes: rec.bytes };
  }
  parser.end(lastLine);
}

// ---- writing ----

/**
 * Where a writer's bytes go, in chunks of a few MiB: a file in Node (src/node/trace-files.ts, which
 * compresses when asked), or memory (MemorySink).
 */
export interface ByteSink {
  write(bytes: Uint8Array): void;
  close(): void;
}

/** A sink that keeps the bytes (a trace made in a page, a test). */
export class MemorySink implements ByteSink {
  private readonly parts: Uint8Array[] = [];
  private size = 0;
  write(bytes: Uint8Array): void {
    this.parts.push(bytes.slice());
    this.size += bytes.length;
  }
  close(): void {}
  /** Everything written, in one array. */
  bytes(): Uint8Array {
    const out = new Uint8Array(this.size);
    let at = 0;
    for (const p of this.parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
}

/** Writes a trace line by line: a comment, a header or event's JSON text, or one plain access. */
export interface TraceWriter {
  /** A blank or comment line, as written (no line break). */
  comment(text: string): void;
  /** A header or event line: one JSON object's text (no line break). */
  json(text: string): void;
  /** One plain `access` event: CPU, address (a Number below 2^53 or a BigInt) and kind byte (ACCESS_CODE). */
  access(cpu: number, va: number | bigint, code: number): void;
  /** Lines written so far. */
  readonly lines: number;
  /** Writes what is buffered and the end of the trace, and closes the sink. */
  close(): void;
}

const CHUNK = 4 << 20;
const TWO32 = 2 ** 32;

/** The JSON Lines form (gzip-compressed when asked): one line per call. */
export class TextTraceWriter implements TraceWriter {
  private readonly encoder = new TextEncoder();
  private parts: string[] = [];
  private size = 0;
  lines = 0;
  constructor(private readonly file: ByteSink) {}
  private push(s: string): void {
    this.parts.push(s, '\n');
    this.size += s.length + 1;
    this.lines++;
    if (this.size >= CHUNK) this.flush();
  }
  private flush(): void {
    if (!this.parts.length) return;
    this.file.write(this.encoder.encode(this.parts.join('')));
    this.parts = [];
    this.size = 0;
  }
  comment(text: string): void {
    this.push(text);
  }
  json(text: string): void {
    this.push(text);
  }
  access(cpu: number, va: number | bigint, code: number): void {
    this.push(accessLine(cpu, typeof va === 'bigint' ? va : BigInt(va), code));
  }
  close(): void {
    this.flush();
    this.file.close();
  }
}

/** The binary form: access runs of one CPU, JSON records, comment blocks, and the end record. */
export class BinaryTraceWriter implements TraceWriter {
  private readonly encoder = new TextEncoder();
  private readonly out = new Uint8Array(CHUNK);
  private readonly view = new DataView(this.out.buffer);
  private pos = 0;
  // the access run being gathered
  private runCpu = -1;
  private runLen = 0;
  private readonly runVa = new Uint32Array(2 * MAX_RUN);
  private readonly runVaBytes = new Uint8Array(this.runVa.buffer);
  private readonly runKind = new Uint8Array(MAX_RUN);
  // the comment block being gathered
  private comments: string[] = [];
  private commentBytes = 0;
  lines = 0;

  constructor(private readonly file: ByteSink) {
    this.out.set(BINARY_MAGIC, 0);
    this.view.setUint32(8, BINARY_VERSION, true);
    this.pos = 12;
  }

  private room(n: number): void {
    if (this.pos + n > this.out.length) this.flushChunk();
  }
  private flushChunk(): void {
    if (this.pos) this.file.write(this.out.subarray(0, this.pos));
    this.pos = 0;
  }

  private textRecord(tag: number, text: string): void {
    const bytes = this.encoder.encode(text);
    if (bytes.length > MAX_TEXT) throw new RangeError(`line ${this.lines} is ${bytes.length} bytes long: the binary form holds at most ${MAX_TEXT} bytes in one record`);
    if (9 + bytes.length > this.out.length) {
      this.flushChunk();
      const head = new Uint8Array(9);
      const dv = new DataView(head.buffer);
      head[0] = tag;
      dv.setUint32(1, bytes.length, true);
      dv.setUint32(5, crc32(bytes), true);
      this.file.write(head);
      this.file.write(bytes);
      return;
    }
    this.room(9 + bytes.length);
    this.out[this.pos] = tag;
    this.view.setUint32(this.pos + 1, bytes.length, true);
    this.view.setUint32(this.pos + 5, crc32(bytes), true);
    this.out.set(bytes, this.pos + 9);
    this.pos += 9 + bytes.length;
  }

  private flushRun(): void {
    const n = this.runLen;
    if (!n) return;
    const size = 11 + 9 * n;
    this.room(size);
    const p = this.pos;
    this.out[p] = TAG.accesses;
    this.view.setUint16(p + 1, this.runCpu, true);
    this.view.setUint32(p + 3, n, true);
    this.out.set(this.runVaBytes.subarray(0, 8 * n), p + 11);
    this.out.set(this.runKind.subarray(0, n), p + 11 + 8 * n);
    this.view.setUint32(p + 7, crc32(this.out.subarray(p + 11, p + size), crc32(this.out.subarray(p + 1, p + 7))), true);
    this.pos += size;
    this.runLen = 0;
    this.runCpu = -1;
  }

  private flushComments(): void {
    if (!this.comments.length) return;
    this.textRecord(TAG.comment, this.comments.join('\n'));
    this.comments = [];
    this.commentBytes = 0;
  }

  comment(text: string): void {
    this.flushRun();
    const n = utf8Length(text);
    if (this.comments.length && this.commentBytes + 1 + n > COMMENT_BLOCK_BYTES) this.flushComments();
    this.commentBytes += (this.comments.length ? 1 : 0) + n;
    this.comments.push(text);
    this.lines++;
  }

  json(text: string): void {
    this.flushRun();
    this.flushComments();
    this.lines++;
    this.textRecord(TAG.json, text);
  }

  access(cpu: number, va: number | bigint, code: number): void {
    if (this.runLen && (cpu !== this.runCpu || this.runLen === MAX_RUN)) this.flushRun();
    if (this.comments.length) this.flushComments();
    this.runCpu = cpu;
    const i = this.runLen++;
    if (typeof va === 'number') {
      this.runVa[2 * i] = va % TWO32;
      this.runVa[2 * i + 1] = va / TWO32;
    } else {
      this.runVa[2 * i] = Number(va & 0xffffffffn);
      this.runVa[2 * i + 1] = Number(va >> 32n);
    }
    this.runKind[i] = code;
    this.lines++;
  }

  close(): void {
    this.flushRun();
    this.flushComments();
    this.room(13);
    const p = this.pos;
    this.out[p] = TAG.end;
    this.view.setUint32(p + 1, this.lines % TWO32, true);
    this.view.setUint32(p + 5, Math.floor(this.lines / TWO32), true);
    this.view.setUint32(p + 9, crc32(this.out.subarray(p + 1, p + 9)), true);
    this.pos += 13;
    this.flushChunk();
    this.file.close();
  }
}

/** The form a path's extension asks for: `.mmtrace[.gz]` binary, `.jsonl[.gz]` text; undefined otherwise. */
export function formatOfPath(path: string): { binary: boolean; gzip: boolean } | undefined {
  const gzip = path.endsWith('.gz');
  const base = gzip ? path.slice(0, -3) : path;
  if (base.endsWith(BINARY_EXTENSION)) return { binary: true, gzip };
  if (base.endsWith('.jsonl')) return { binary: false, gzip };
  return undefined;
}

/** The bytes of a string in UTF-8. */
function utf8Length(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    // 2 bytes below U+0800, 3 above; a surrogate pair is 4 bytes for its 2 units.
    if (c >= 0x80) n += c < 0x800 || (c >= 0xd800 && c <= 0xdfff) ? 1 : 2;
  }
  return n;
}
