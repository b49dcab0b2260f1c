// Trace files in Node: their bytes for the readers (src/trace/, which work over bytes), a sink for
// the writers (each chunk a gzip member when the name ends in .gz), and which form a file holds.
import { closeSync, createReadStream, openSync, readSync, writeSync, type ReadStream } from 'node:fs';
import { gunzipSync, gzipSync } from 'node:zlib';
import { TraceError } from '../trace/trace-error.ts';
import { openTraceBytes, type TraceBytes } from '../trace/source.ts';
import { BINARY_EXTENSION, BINARY_MAGIC, BinaryTraceWriter, TextTraceWriter, formatOfPath, type ByteSink, type TraceWriter } from '../trace/binary.ts';

/** The chunks of a file; a file that cannot be opened is a TraceError naming it (line 0). */
export async function* fileChunks(path: string, chunk = 1 << 20): AsyncGenerator<Uint8Array> {
  let raw: ReadStream;
  try {
    raw = createReadStream(path, { highWaterMark: chunk });
    await new Promise<void>((resolve, reject) => {
      raw.once('open', () => resolve());
      raw.once('error', reject);
    });
  } catch (err) {
    throw new TraceError(path, 0, undefined, `cannot read the trace: ${(err as Error).message}`);
  }
  try {
    for await (const c of raw) yield c as Buffer;
  } finally {
    raw.destroy();
  }
}

/** A trace file's bytes, decompressed, with its form known from its first bytes. */
export function openTraceFile(path: string): Promise<TraceBytes> {
  return openTraceBytes(fileChunks(path), path);
}

const startsWith = (b: Uint8Array, magic: readonly number[]) => b.length >= magic.length && magic.every((m, i) => b[i] === m);

/** Whether a file is gzip-compressed and whether (inside) it is a binary trace, from its first bytes (at once, for a command's choices). */
export function sniffTrace(path: string): { gzip: boolean; binary: boolean } {
  let head: Buffer;
  try {
    const fd = openSync(path, 'r');
    try {
      head = Buffer.alloc(4096);
      head = head.subarray(0, readSync(fd, head, 0, head.length, 0));
    } finally {
      closeSync(fd);
    }
  } catch {
    return { gzip: false, binary: false }; // the reader reports an unreadable file itself
  }
  const BIN4 = BINARY_MAGIC.slice(0, 4);
  if (!startsWith(head, [0x1f, 0x8b])) return { gzip: false, binary: startsWith(head, BIN4) };
  let inner: Buffer = Buffer.alloc(0);
  try {
    inner = gunzipSync(head, { finishFlush: 2 /* Z_SYNC_FLUSH: tolerate the cut */ });
  } catch {
    // not valid gzip: the reader says so
  }
  return { gzip: true, binary: startsWith(inner, BIN4) || (inner.length < 4 && path.endsWith(`${BINARY_EXTENSION}.gz`)) };
}

/** A file written in chunks, each chunk a gzip member when compressing. */
export class FileSink implements ByteSink {
  private readonly fd: number;
  constructor(path: string, private readonly gzip = path.endsWith('.gz')) {
    this.fd = openSync(path, 'w');
  }
  write(bytes: Uint8Array): void {
    const out = this.gzip ? gzipSync(bytes, { level: 6 }) : bytes;
    for (let off = 0; off < out.length; ) off += writeSync(this.fd, out, off, out.length - off);
  }
  close(): void {
    closeSync(this.fd);
  }
}

/** A writer for a path, by its extension (.jsonl[.gz] JSON Lines, .mmtrace[.gz] binary). */
export function writerFor(path: string): TraceWriter {
  const f = formatOfPath(path);
  if (!f) throw new RangeError(`'${path}': the output's extension names its form: .jsonl or .jsonl.gz (JSON Lines), ${BINARY_EXTENSION} or ${BINARY_EXTENSION}.gz (binary)`);
  const sink = new FileSink(path, f.gzip);
  return f.binary ? new BinaryTraceWriter(sink) : new TextTraceWriter(sink);
}
