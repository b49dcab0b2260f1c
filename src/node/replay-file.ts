// Replaying a trace file by its path (Node): JSON Lines, gzip or binary, known by its bytes.
import { readTrace } from './read-trace.ts';
import { replayTrace, type ReplayOutcome, type ReplayTraceOptions } from '../replay/replay-trace.ts';

/** Replays the trace file at `path` (see replayTrace); errors name the path. */
export function replayFile(path: string, opts: ReplayTraceOptions = {}): Promise<ReplayOutcome> {
  return replayTrace(readTrace(path), path, opts);
}
