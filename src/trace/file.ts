// Opening a trace file for reading, plain or gzip, the same way for every reader: an unreadable file
// is a TraceError naming it (line 0), and a gzip stream's read errors end the decompressed stream.
import { createReadStream, type ReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import type { Readable } from 'node:stream';
import { TraceError } from './trace-error.ts';

export interface OpenTrace {
  /** The file as read (its bytesRead is the progress through the file). */
  raw: ReadStream;
  /** The bytes to parse: the file, or what gunzip makes of it. */
  input: Readable;
}

export async function openTraceFile(path: string, gzip: boolean, chunk = 1 << 16): Promise<OpenTrace> {
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
  if (!gzip) return { raw, input: raw };
  const input = raw.pipe(createGunzip({ chunkSize: chunk }));
  raw.on('error', (err) => input.destroy(err));
  return { raw, input };
}

/**
 * The lines of a text trace, plain or gzip, each with its number and the bytes of the file read so
 * far. A read error (a corrupt gzip stream) is a TraceError at the line it cut.
 */
export async function* readTextLines(path: string, gzip: boolean, chunk?: number): AsyncGenerator<{ line: number; text: string; bytes: number }> {
  // A name ending in .gz that does not hold gzip is read as gzip, so the error says what is wrong.
  if (path.endsWith('.gz')) gzip = true;
  const { raw, input } = await openTraceFile(path, gzip, chunk);
  const lines = createInterface({ input, crlfDelay: Infinity });
  let line = 0;
  try {
    for await (const text of lines) yield { line: ++line, text, bytes: raw.bytesRead };
  } catch (err) {
    if (err instanceof TraceError) throw err;
    throw new TraceError(path, line + 1, undefined, `cannot read the trace${gzip ? ' (is it valid gzip?)' : ''}: ${(err as Error).message}`);
  } finally {
    lines.close();
    raw.destroy();
  }
}
