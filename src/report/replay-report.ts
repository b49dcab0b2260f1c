// A replay whose report carries its timeline: the JSON report plus `timeline` (timeline.ts), the one
// source of the HTML report's data. Without it a report is as it always was.
import { replayTrace, type ReplayOutcome, type ReplayTraceOptions } from '../replay/replay-trace.ts';
import type { Report } from '../replay/engine.ts';
import type { TraceItem } from '../trace/events.ts';
import { TimelineRecorder, type Timeline, type TimelineOptions } from './timeline.ts';

export interface TimelineReport extends Report {
  timeline: Timeline;
}

export interface TimelineOutcome extends ReplayOutcome {
  report: TimelineReport;
}

/** replayTrace with a timeline recorder as the replay's observer; the report gets `timeline`. */
export async function replayTraceWithTimeline(items: AsyncIterable<TraceItem> | Iterable<TraceItem>, path: string, opts: ReplayTraceOptions & TimelineOptions = {}): Promise<TimelineOutcome> {
  const recorder = new TimelineRecorder(opts);
  const out = await replayTrace(items, path, { ...opts, observer: recorder });
  const report = out.report as TimelineReport;
  report.timeline = recorder.result();
  return { ...out, report };
}
