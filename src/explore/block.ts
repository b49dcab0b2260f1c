// A trace with concurrent blocks, as the explorer sees it: every event with its line and the JSON
// object it was written as (a finding is written back as a plain trace), the blocks, and each block's
// threads — one per CPU and one per device, each in program (file) order.
import { TraceParser, STEPS } from '../trace/parser.ts';
import type { ReplayEvent, ReplayHeader } from '../trace/events.ts';

export interface TraceLine {
  line: number;
  event: ReplayEvent;
  /** The object as written (names and amounts as the author wrote them). */
  raw: Record<string, unknown>;
}

/** One event of a block's thread. */
export interface ThreadEvent extends TraceLine {
  /** The steps it may pause before (docs/trace-format.md's steps), none when it runs in one piece. */
  steps: readonly string[];
  /** What it touches, for the reduction (footprint.ts): two events with disjoint footprints commute. */
  footprint: ReadonlySet<string>;
}

export interface Thread {
  /** `cpu0`, `device nic0`: who runs it. */
  name: string;
  events: ThreadEvent[];
}

export interface Block {
  /** Index in `events` of its `concurrent` and of its `join`. */
  open: number;
  close: number;
  threads: Thread[];
}

export interface BlockTrace {
  file: string;
  header: ReplayHeader;
  headerRaw: Record<string, unknown>;
  headerLine: number;
  events: TraceLine[];
  blocks: Block[];
  /** Ids the trace uses itself: the explorer's ids must differ. */
  ids: Set<string>;
}

/** The steps an event may pause before: a syscall's named steps, a faulting access's (it pauses only if it faults). */
export function stepsOf(ev: ReplayEvent): readonly string[] {
  if (ev.op === 'madvise') return STEPS[`madvise ${String(ev.advice)}`] ?? [];
  if (ev.op === 'exit' || ev.op === 'fork') return [];
  return Object.hasOwn(STEPS, ev.op) ? STEPS[ev.op] : [];
}

/**
 * Reads a trace's text lines (validated by the trace reader: a bad line throws its TraceError) into
 * its events and blocks. `footprints` gives each block event what it touches.
 */
export function readBlockTrace(lines: Iterable<string>, file: string, footprints: (t: Omit<BlockTrace, 'blocks'>, blockEvents: TraceLine[][]) => ReadonlySet<string>[][]): BlockTrace {
  const parser = new TraceParser(file);
  let lineNo = 0;
  let header: ReplayHeader | undefined;
  let headerRaw: Record<string, unknown> = {};
  let headerLine = 0;
  const events: TraceLine[] = [];
  const ids = new Set<string>();
  for (const text of lines) {
    const item = parser.line(++lineNo, text, 0);
    if (!item) continue;
    const raw = JSON.parse(text.trim().replace(/^\uFEFF/, '')) as Record<string, unknown>;
    if (item.kind === 'header') {
      header = item.header;
      headerRaw = raw;
      headerLine = item.line;
      continue;
    }
    if (item.event.id !== undefined) ids.add(String(item.event.id));
    events.push({ line: item.line, event: item.event, raw });
  }
  parser.end(lineNo);
  const base = { file, header: header!, headerRaw, headerLine, events, ids };
  const spans: { open: number; close: number }[] = [];
  for (let i = 0; i < events.length; i++) {
    if (events[i].event.op === 'concurrent') spans.push({ open: i, close: -1 });
    else if (events[i].event.op === 'join') spans[spans.length - 1].close = i;
  }
  const blockEvents = spans.map((s) => events.slice(s.open + 1, s.close));
  const fps = footprints(base, blockEvents);
  const blocks = spans.map((s, b) => {
    const threads = new Map<string, Thread>();
    blockEvents[b].forEach((e, i) => {
      const name = e.event.cpu !== undefined ? `cpu${e.event.cpu as number}` : `device ${String(e.event.device)}`;
      if (!threads.has(name)) threads.set(name, { name, events: [] });
      threads.get(name)!.events.push({ ...e, steps: stepsOf(e.event), footprint: fps[b][i] });
    });
    // CPUs in number order, then devices in the order they first appear: the order schedules are enumerated in.
    const order = [...threads.values()].sort((a, b2) => rank(a.name) - rank(b2.name));
    return { ...s, threads: order };
  });
  return { ...base, blocks };
}

function rank(name: string): number {
  const m = /^cpu(\d+)$/.exec(name);
  return m ? Number(m[1]) : 1000;
}
