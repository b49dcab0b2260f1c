// A schedule written down: the trace with the block resolved into written order — each segment in
// its place, a paused operation carrying `id` and `until`, each later segment a `resume` — so that
// `replay` runs exactly that schedule. Other blocks stay in their written order, and expectations are
// left out (a finding's trace says what it found by exiting 1 with the violation).
import type { ReplayEvent } from '../trace/events.ts';
import type { BlockTrace } from './block.ts';
import type { Schedule } from './schedules.ts';

export interface ResolvedEvent {
  line: number;
  event: ReplayEvent;
  raw: Record<string, unknown>;
  /** The block event it runs (a segment of it), for naming a finding's operation. */
  origin?: { thread: number; event: number };
  /** The line of the explored trace it comes from. */
  source: number;
}

/** The ids the explorer gives paused operations: `cpu0.1` (thread, event), prefixed if the trace uses such names. */
export function idPrefix(t: BlockTrace): string {
  let p = '';
  while ([...t.ids].some((id) => id.startsWith(p + 'cpu') || id.startsWith(p + 'device'))) p += 'x';
  return p;
}

/** The plain events of the trace with block `b` run as `schedule`; line 1 is the header. */
export function resolveSchedule(t: BlockTrace, b: number, schedule: Schedule, prefix = idPrefix(t)): ResolvedEvent[] {
  const block = t.blocks[b];
  const out: ResolvedEvent[] = [];
  const push = (event: ReplayEvent, raw: Record<string, unknown>, source: number, origin?: ResolvedEvent['origin']) => {
    out.push({ line: out.length + 2, event, raw, origin, source });
  };
  const plain = (from: number, to: number) => {
    for (let i = from; i < to; i++) {
      const { event, raw, line } = t.events[i];
      if (event.op === 'concurrent' || event.op === 'join' || event.op === 'expect') continue;
      push(event, raw, line);
    }
  };
  plain(0, block.open);
  for (const g of schedule) {
    const th = block.threads[g.thread];
    const ev = th.events[g.event];
    const id = `${prefix}${th.name.replace(' ', ':')}.${g.event}`;
    const origin = { thread: g.thread, event: g.event };
    if (g.start && g.until === undefined) push(ev.event, ev.raw, ev.line, origin);
    else if (g.start) push({ ...ev.event, id, until: g.until }, { ...ev.raw, id, until: g.until }, ev.line, origin);
    else {
      const r: ReplayEvent = g.until !== undefined ? { op: 'resume', id, until: g.until } : { op: 'resume', id };
      push(r, { ...r }, ev.line, origin);
    }
  }
  plain(block.close + 1, t.events.length);
  return out;
}

/** The resolved trace as JSON Lines: the header (with the profile it was found under), the events, then comments. */
export function resolvedText(t: BlockTrace, events: ResolvedEvent[], kernel: string, fixes: Record<string, boolean>, comments: string[]): string {
  const header: Record<string, unknown> = { ...t.headerRaw, kernel };
  if (Object.keys(fixes).length) header.fixes = fixes;
  else delete header.fixes;
  const lines = [JSON.stringify(header), ...events.map((e) => JSON.stringify(e.raw)), ...comments.map((c) => `# ${c}`)];
  return lines.join('\n') + '\n';
}

/** A schedule in words: `cpu0 migrate (pauses before remap)`, `cpu1 access`, `cpu0 resumes migrate`. */
export function describeSchedule(t: BlockTrace, b: number, schedule: Schedule): string[] {
  const block = t.blocks[b];
  return schedule.map((g) => {
    const th = block.threads[g.thread];
    const ev = th.events[g.event].event;
    const what = ev.op === 'madvise' ? `madvise ${String(ev.advice)}` : ev.op;
    const pause = g.until !== undefined ? ` (pauses before ${g.until})` : '';
    return g.start ? `${th.name} ${what} of line ${th.events[g.event].line}${pause}` : `${th.name} resumes ${what}${pause}`;
  });
}

/** The block as written: each event in file order, run to its end. */
export function writtenSchedule(t: BlockTrace, b: number): Schedule {
  const all = t.blocks[b].threads.flatMap((th, thread) => th.events.map((e, event) => ({ thread, event, line: e.line })));
  return all.sort((x, y) => x.line - y.line).map(({ thread, event }) => ({ thread, event, start: true }));
}
