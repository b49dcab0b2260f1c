// Replaying a trace file by its path (Node): JSON Lines, gzip or binary, known by its bytes.
import { readTrace } from '../trace/parser.ts';
import { replayTrace, type ReplayOutcome, type ReplayTraceOptions } from '../replay/replay-trace.ts';

export function replayFile(path: string, opts: ReplayTraceOptions = {}): Promise<ReplayOutcome> {
  return replayTrace(readTrace(path, { signal: opts.signal }), path, opts);
}
