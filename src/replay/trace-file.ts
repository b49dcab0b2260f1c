// Opening a trace file for reading, plain or gzip, the same way for every reader: an unreadable file
// is a TraceError naming it (line 0), and a gzip stream's read errors end the decompressed stream.
import { createReadStream, type ReadStream } from 'node:fs';
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
