// Where a trace's bytes come from, the same for every reader and every platform: the whole text, its
// bytes, or a stream of chunks (a web ReadableStream, a Node stream, any async iterable). The first
// bytes say whether it is gzip (then the platform decompresses it: DecompressionStream in a page,
// zlib in Node) and whether, inside, it is the binary form.
import { platform } from '../platform/platform.ts';

/** A trace as the library takes it: its text, its bytes, or a stream of byte chunks. */
export type TraceInput =
  | string
  | Uint8Array
  | ArrayBuffer
  | ReadableStream<Uint8Array>
  | AsyncIterable<Uint8Array>
  | Iterable<Uint8Array>;

/** Input held in memory is handed to the readers in slices of this size (a line may span several). */
const SLICE = 1 << 20;

export const GZIP_MAGIC = [0x1f, 0x8b];
/** The first four bytes of the binary form's magic (docs/trace-binary.md) decide which reader reads it. */
const BINARY_MAGIC4 = [0x89, 0x4d, 0x4d, 0x54];
const startsWith = (b: Uint8Array, magic: readonly number[]) => b.length >= magic.length && magic.every((m, i) => b[i] === m);

function* slices(bytes: Uint8Array): Generator<Uint8Array> {
  for (let at = 0; at < bytes.length; at += SLICE) yield bytes.subarray(at, Math.min(bytes.length, at + SLICE));
}

async function* fromStream(stream: ReadableStream<Uint8Array>): AsyncGenerator<Uint8Array> {
  const reader = stream.getReader();
  try {
    for (;;) {
      const r = await reader.read();
      if (r.done) return;
      yield r.value;
    }
  } finally {
    // Stopped early (a bad line): the rest is not wanted.
    reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}

/** The chunks of any TraceInput. */
export async function* chunksOf(input: TraceInput): AsyncGenerator<Uint8Array> {
  if (typeof input === 'string') yield* slices(new TextEncoder().encode(input));
  else if (input instanceof Uint8Array) yield* slices(input);
  else if (input instanceof ArrayBuffer) yield* slices(new Uint8Array(input));
  else if (typeof (input as ReadableStream).getReader === 'function') yield* fromStream(input as ReadableStream<Uint8Array>);
  else yield* input as AsyncIterable<Uint8Array> | Iterable<Uint8Array>;
}

/** Decompresses gzip (every member of it) the platform's way; a corrupt stream rejects the next read. */
export function gunzip(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  return platform().gunzip(chunks);
}

/** Pulls the first bytes of a stream of chunks without losing them. */
/**
 * Room a reader offers for its next chunk, passed as the argument of the chunk iterator's `next`: a
 * source that can read into it (a file, src/node/trace-files.ts) gives a view of `room` as that chunk,
 * so the reader need not copy it; any other source ignores it.
 */
export type ReadInto = Uint8Array | undefined;

class Peekable {
  private readonly head: Uint8Array[] = [];
  private size = 0;
  private done = false;
  private error: unknown;
  constructor(private readonly it: AsyncIterator<Uint8Array, unknown, ReadInto>) {}

  /** At least n bytes from the start (fewer at the end of the stream). */
  async peek(n: number): Promise<Uint8Array> {
    while (this.size < n && !this.done) {
      let r: IteratorResult<Uint8Array>;
      try {
        r = await this.it.next();
      } catch (err) {
        // Kept for the reader, which meets it after the bytes that came before it.
        this.error = err;
        this.done = true;
        throw err;
      }
      if (r.done) this.done = true;
      else {
        this.head.push(r.value);
        this.size += r.value.length;
      }
    }
    const out = new Uint8Array(Math.min(n, this.size));
    let at = 0;
    for (const c of this.head) {
      if (at >= out.length) break;
      const part = c.subarray(0, out.length - at);
      out.set(part, at);
      at += part.length;
    }
    return out;
  }

  /** The chunks, peeked ones first; a reader's room for the next one is passed on (ReadInto). */
  async *chunks(): AsyncGenerator<Uint8Array, void, ReadInto> {
    try {
      let room: ReadInto;
      while (this.head.length) room = yield this.head.shift()!;
      if (this.error !== undefined) throw this.error;
      if (this.done) return;
      for (;;) {
        const r = await this.it.next(room);
        if (r.done) return;
        room = yield r.value;
      }
    } finally {
      await this.it.return?.();
    }
  }
}

/** A trace's bytes, decompressed, and what its first bytes said. */
export interface TraceBytes {
  /** The name errors give (a file's path, or what the caller calls it). */
  readonly name: string;
  readonly gzip: boolean;
  readonly binary: boolean;
  /** The (decompressed) bytes. A read error (a corrupt gzip stream) rejects the iteration. */
  readonly chunks: AsyncIterable<Uint8Array>;
  /** Bytes of the input consumed so far (compressed, when it is): the progress through a file. */
  read(): number;
}

/**
 * Opens a trace's bytes: gzip if they start with its magic or the name ends in `.gz` (so that a
 * misnamed file is refused with the reason), binary if the (decompressed) bytes start with the binary
 * form's magic, or a `.mmtrace.gz` whose start cannot be decompressed (the binary reader says why).
 */
export async function openTraceBytes(input: TraceInput, name: string): Promise<TraceBytes> {
  let read = 0;
  const source = chunksOf(input);
  // Passes the reader's room on to the source (a for-await loop would drop it).
  const counted = (async function* (): AsyncGenerator<Uint8Array, void, ReadInto> {
    try {
      let room: ReadInto;
      for (;;) {
        const r = await source.next(room);
        if (r.done) return;
        read += r.value.length;
        room = yield r.value;
      }
    } finally {
      await source.return(undefined);
    }
  })();
  const raw = new Peekable(counted);
  // A read error here (a directory, an I/O error) comes again from `chunks`, where the reader names its line.
  const head = await raw.peek(4).catch(() => new Uint8Array(0));
  const gzip = startsWith(head, GZIP_MAGIC) || name.endsWith('.gz');
  if (!gzip) return { name, gzip, binary: startsWith(head, BINARY_MAGIC4), chunks: raw.chunks(), read: () => read };
  const inner = new Peekable(gunzip(raw.chunks())[Symbol.asyncIterator]());
  let binary: boolean;
  try {
    const head = await inner.peek(4);
    binary = startsWith(head, BINARY_MAGIC4) || (head.length < 4 && name.endsWith('.mmtrace.gz'));
  } catch {
    // Not valid gzip: the reader reads it again and says so at its line.
    binary = name.endsWith('.mmtrace.gz');
  }
  return { name, gzip, binary, chunks: inner.chunks(), read: () => read };
}
