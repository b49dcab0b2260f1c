// Reading a trace file by its path (Node): JSON Lines or binary, plain or gzip, known by its bytes.
import { readTraceSource, type TraceItems } from '../trace/read.ts';
import { fileChunks } from './trace-files.ts';

/**
 * The header and events of a trace file, each with its line and the bytes of the file read so far.
 * An unreadable file is a TraceError at line 0; a bad line, one at its line.
 */
export function readTrace(path: string): TraceItems {
  return readTraceSource(fileChunks(path), path);
}
