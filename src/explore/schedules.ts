// The schedules of a concurrent block: interleavings of its threads that keep each thread's program
// order, where an operation with named steps may pause before one of them while other threads run
// (a preemption) and is resumed later, to its end or to a later pause. A schedule is a sequence of
// segments; written down with `id`/`until`/`resume` it is a plain trace (resolve.ts).
//
// Enumeration is a depth-first walk, in a fixed order (threads by index, then run-through before
// pauses, pauses by step), so schedule number i is the same in every run: shards and workers split
// the space by number. Two prunings keep it small without losing a behaviour:
// - a pause must let another thread run before its thread goes on (a pause followed at once by its
//   own resume is the same as no pause, which is enumerated with one preemption less);
// - the reduction (sleep-set style, over the lexicographic normal form of Mazurkiewicz traces): a
//   segment of thread u right after one of thread t > u whose footprints are disjoint is skipped,
//   since the same schedule with the two swapped is enumerated and runs the same.
import type { Block } from './block.ts';
import { independent } from './footprint.ts';

export interface Segment {
  thread: number;
  /** The event's index in its thread. */
  event: number;
  /** True for the segment that starts the event (it is written as the event itself), false for a resume. */
  start: boolean;
  /** The step it pauses before; undefined when it runs to the end. */
  until?: string;
}

export type Schedule = Segment[];

export interface EnumerateOptions {
  preemptions: number;
  /** Prune with the reduction (default true). */
  reduce?: boolean;
}

interface State {
  pos: number[];
  /** The step index the thread's current event is paused before, -1 when it has not started. */
  at: number[];
  budget: number;
  segs: Segment[];
}

/** Every schedule of the block within the bound, in the fixed order. */
export function* enumerateSchedules(block: Block, opts: EnumerateOptions): Generator<Schedule> {
  const threads = block.threads;
  const n = threads.length;
  const reduce = opts.reduce ?? true;
  const st: State = { pos: threads.map(() => 0), at: threads.map(() => -1), budget: opts.preemptions, segs: [] };
  const active = (t: number) => st.pos[t] < threads[t].events.length;
  const othersActive = (t: number) => {
    for (let u = 0; u < n; u++) if (u !== t && active(u)) return true;
    return false;
  };

  function* walk(): Generator<Schedule> {
    let any = false;
    const last = st.segs[st.segs.length - 1];
    for (let t = 0; t < n; t++) {
      if (!active(t)) continue;
      any = true;
      // After a pause, another thread runs first.
      if (last && last.thread === t && last.until !== undefined) continue;
      const ev = threads[t].events[st.pos[t]];
      if (reduce && last && last.thread > t && independent(threads[last.thread].events[last.event].footprint, ev.footprint)) continue;
      const e = st.pos[t];
      const from = st.at[t];
      const start = from < 0;
      // Run it to its end.
      st.segs.push({ thread: t, event: e, start });
      st.pos[t]++;
      st.at[t] = -1;
      yield* walk();
      st.pos[t]--;
      st.at[t] = from;
      st.segs.pop();
      // Pause it before a later step.
      if (st.budget > 0 && othersActive(t)) {
        for (let s = from + 1; s < ev.steps.length; s++) {
          st.segs.push({ thread: t, event: e, start, until: ev.steps[s] });
          st.at[t] = s;
          st.budget--;
          yield* walk();
          st.budget++;
          st.at[t] = from;
          st.segs.pop();
        }
      }
    }
    if (!any) yield st.segs.slice();
  }
  yield* walk();
}

/** Schedules of the block within the bound, counted up to `cap` (more: returns cap + 1). */
export function countSchedules(block: Block, opts: EnumerateOptions, cap: number): number {
  let n = 0;
  for (const _ of enumerateSchedules(block, opts)) if (++n > cap) break;
  return n;
}

/** The preemptions of a schedule: its pauses. */
export function preemptionsOf(s: Schedule): number {
  return s.reduce((n, g) => n + (g.until !== undefined ? 1 : 0), 0);
}

/** Deterministic 32-bit generator (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * One schedule drawn by PCT (Burckhardt et al., ASPLOS 2010), adapted to pauses at steps: threads get
 * random distinct priorities; up to `preemptions` change points are drawn among the (event, step)
 * pauses of the block; the highest-priority thread that can run runs its next segment, and when it
 * reaches a change point it pauses there and drops below every other thread.
 */
export function pctSchedule(block: Block, preemptions: number, seed: number): Schedule {
  const r = rng(seed);
  const threads = block.threads;
  const prio = threads.map((_, i) => i);
  for (let i = prio.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [prio[i], prio[j]] = [prio[j], prio[i]];
  }
  const points: { thread: number; event: number; step: number }[] = [];
  threads.forEach((t, ti) => t.events.forEach((e, ei) => e.steps.forEach((_, si) => points.push({ thread: ti, event: ei, step: si }))));
  const chosen = new Set<string>();
  const k = Math.floor(r() * (preemptions + 1));
  for (let i = 0; i < k && points.length; i++) {
    const p = points.splice(Math.floor(r() * points.length), 1)[0];
    chosen.add(`${p.thread}/${p.event}/${p.step}`);
  }
  const pos = threads.map(() => 0);
  const at = threads.map(() => -1);
  let low = -1;
  const segs: Schedule = [];
  for (;;) {
    const runnable = threads.map((_, i) => i).filter((i) => pos[i] < threads[i].events.length);
    if (!runnable.length) return segs;
    let t = runnable.reduce((a, b) => (prio[b] > prio[a] ? b : a));
    // A pause lets another thread run first.
    const last = segs[segs.length - 1];
    if (last && last.thread === t && last.until !== undefined && runnable.length > 1) {
      t = runnable.filter((i) => i !== t).reduce((a, b) => (prio[b] > prio[a] ? b : a));
    }
    const ev = threads[t].events[pos[t]];
    let stop = -1;
    if (runnable.length > 1) for (let s = at[t] + 1; s < ev.steps.length; s++) if (chosen.has(`${t}/${pos[t]}/${s}`)) {
      stop = s;
      break;
    }
    if (stop >= 0) {
      segs.push({ thread: t, event: pos[t], start: at[t] < 0, until: ev.steps[stop] });
      at[t] = stop;
      prio[t] = low--;
    } else {
      segs.push({ thread: t, event: pos[t], start: at[t] < 0 });
      at[t] = -1;
      pos[t]++;
    }
  }
}

/** A schedule as a key (the same schedule drawn twice by PCT counts once). */
export function scheduleKey(s: Schedule): string {
  return s.map((g) => `${g.thread}.${g.event}${g.start ? '' : 'r'}${g.until ? `>${g.until}` : ''}`).join(' ');
}
