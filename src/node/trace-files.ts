// Trace files in Node: their bytes for the readers (src/trace/, which work over bytes), a sink for
// the writers (gzip when the name ends in .gz), and which form a file holds.
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { constants, crc32, deflateRawSync, gunzipSync } from 'node:zlib';
import { TraceError } from '../trace/trace-error.ts';
import { GZIP_MAGIC, openTraceBytes, type ReadInto, type TraceBytes } from '../trace/source.ts';
import { BINARY_EXTENSION, BINARY_MAGIC, BinaryTraceWriter, TextTraceWriter, formatOfPath, type ByteSink, type TraceWriter } from '../trace/binary.ts';

/**
 * The chunks of a file; a file that cannot be opened is a TraceError naming it (line 0).
 *
 * A reader that offers room for the next chunk (ReadInto: the binary reader's buffer) gets it read
 * there, and copies nothing. Otherwise an uncompressed file (not gzip by its first bytes nor by its
 * name) is read into a ring of RING reused buffers: its readers (the binary one, and the lines of
 * src/trace/lines.ts) copy what they keep of a chunk before the next but RING − 1, and a fresh MiB per
 * chunk cost the replay more in page faults and collections than the reading itself. A gzip file
 * gets a fresh buffer per chunk: the decompressor may still hold one while it reads the next ones.
 */
export async function* fileChunks(path: string, chunk = 1 << 20): AsyncGenerator<Uint8Array, void, ReadInto> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    throw new TraceError(path, 0, undefined, `cannot read the trace: ${(err as Error).message}`);
  }
  try {
    let ring: Buffer[] | undefined;
    let room: ReadInto;
    for (let n = 0; ; n++) {
      const into = room !== undefined && room.length >= MIN_ROOM;
      const buf = into ? room! : ring ? ring[n % RING] : Buffer.allocUnsafe(chunk);
      const { bytesRead } = await fh.read(buf, 0, into ? buf.length : chunk, null);
      if (bytesRead === 0) return;
      if (n === 0 && !startsWith(buf.subarray(0, bytesRead), GZIP_MAGIC) && !path.endsWith('.gz')) ring = Array.from({ length: RING }, () => Buffer.allocUnsafe(chunk));
      room = yield buf.subarray(0, bytesRead);
    }
  } finally {
    await fh.close();
  }
}

/** Chunks of an uncompressed trace in use at once: the one its reader reads, and those the sniffing of its form may hold. */
const RING = 4;
/** Less room than this is not worth a read of its own. */
const MIN_ROOM = 64 << 10;

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
  if (!startsWith(head, GZIP_MAGIC)) return { gzip: false, binary: startsWith(head, BIN4) };
  let inner: Buffer = Buffer.alloc(0);
  try {
    inner = gunzipSync(head, { finishFlush: 2 /* Z_SYNC_FLUSH: tolerate the cut */ });
  } catch {
    // not valid gzip: the reader says so
  }
  return { gzip: true, binary: startsWith(inner, BIN4) || (inner.length < 4 && path.endsWith(`${BINARY_EXTENSION}.gz`)) };
}

/** gzip's member header: deflate, no flags, no time, the Unix OS code (RFC 1952 §2.3). */
const GZIP_HEADER = new Uint8Array([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]);

/**
 * A file written in chunks. Compressed, it is one gzip member: each chunk is deflated on its own and
 * ends on a byte boundary (a sync flush, no final block), so the chunks join into one deflate stream,
 * closed by an empty final block and the trailer (CRC-32 and size of everything). One member, not one
 * per chunk, because a browser's DecompressionStream refuses anything after the first member.
 */
export class FileSink implements ByteSink {
  private readonly fd: number;
  private crc = 0;
  private size = 0;
  constructor(path: string, private readonly gzip = path.endsWith('.gz')) {
    this.fd = openSync(path, 'w');
    if (gzip) this.put(GZIP_HEADER);
  }
  private put(bytes: Uint8Array): void {
    for (let off = 0; off < bytes.length; ) off += writeSync(this.fd, bytes, off, bytes.length - off);
  }
  write(bytes: Uint8Array): void {
    if (!this.gzip) {
      this.put(bytes);
      return;
    }
    this.crc = crc32(bytes, this.crc);
    this.size = (this.size + bytes.length) % 2 ** 32;
    this.put(deflateRawSync(bytes, { level: 6, finishFlush: constants.Z_SYNC_FLUSH }));
  }
  close(): void {
    try {
      if (this.gzip) {
        const trailer = new Uint8Array(8);
        const view = new DataView(trailer.buffer);
        view.setUint32(0, this.crc, true);
        view.setUint32(4, this.size, true);
        this.put(deflateRawSync(new Uint8Array(0))); // the final (empty) block
        this.put(trailer);
      }
    } finally {
      closeSync(this.fd);
    }
  }
}

/** A writer for a path, by its extension (.jsonl[.gz] JSON Lines, .mmtrace[.gz] binary). */
export function writerFor(path: string): TraceWriter {
  const f = formatOfPath(path);
  if (!f) throw new RangeError(`'${path}': the output's extension names its form: .jsonl or .jsonl.gz (JSON Lines), ${BINARY_EXTENSION} or ${BINARY_EXTENSION}.gz (binary)`);
  const sink = new FileSink(path, f.gzip);
  return f.binary ? new BinaryTraceWriter(sink) : new TextTraceWriter(sink);
}
