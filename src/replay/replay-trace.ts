// Driving a replay from a trace reader's items: the header creates the replay, each event runs in
// order, and an error that names its file and line (a bad trace) ends it with the partial report
// marked incomplete. Platform-neutral: the items may come from a file, a string or a stream.
import { Replay, type Report, type ReplayOptions } from './engine.ts';
import { ProfileError } from '../kernel/profiles.ts';
import type { TraceItem } from '../trace/events.ts';
import { TraceError } from '../trace/trace-error.ts';
import { Interrupted, abortName } from './interrupted.ts';

export { Interrupted } from './interrupted.ts';
import { prefetch } from './prefetch.ts';
import { ConfigError, ModelBugError } from '../mmu/errors.ts';
import { machineConfig } from './machine-limits.ts';
import { readTraceSource, TRACE_BLOCKS, type TraceItems } from '../trace/read.ts';
import type { TraceInput } from '../trace/source.ts';

export interface ReplayTraceOptions extends ReplayOptions {
  /** Called after each event with its line and the bytes of the input read so far (progress, Ctrl-C). */
  onEvent?: (r: Replay, line: number, bytes: number) => void;
}

export interface ReplayOutcome {
  report: Report;
  /** 0 every expectation held (no expectation: no violation), 1 one failed (a violation), 2 bad input. */
  status: 0 | 1 | 2 | 3;
  replay?: Replay;
}

/** Items in blocks: a reader's own (TRACE_BLOCKS), or a list's in blocks of up to 256, or one by one. */
async function* blocksOf(items: AsyncIterable<TraceItem> | Iterable<TraceItem>): AsyncGenerator<TraceItem[]> {
  if (TRACE_BLOCKS in items) {
    yield* (items as TraceItems)[TRACE_BLOCKS]();
    return;
  }
  if (Symbol.iterator in items) {
    let block: TraceItem[] = [];
    try {
      for (const item of items) {
        block.push(item);
        if (block.length === 256) {
          yield block;
          block = [];
        }
      }
    } catch (err) {
      // A bad item (a generator that parses as it goes): the items before it run first.
      if (block.length) yield block;
      throw err;
    }
    if (block.length) yield block;
    return;
  }
  for await (const item of items) yield [item];
}

interface Located {
  file: string;
  line: number;
  message: string;
}

const located = (e: unknown): e is Located =>
  e instanceof Error && typeof (e as unknown as Located).line === 'number' && typeof (e as unknown as Located).file === 'string';

/**
 * Replays one trace, read item by item (`path` names it in errors); returns the report and whether it
 * passed (both also when it stopped early). `workers` (default 0: this thread) and `pool` say where the
 * CPUs' accesses run: the report is the same.
 */
export async function replayTrace(items: AsyncIterable<TraceItem> | Iterable<TraceItem>, path: string, opts: ReplayTraceOptions = {}): Promise<ReplayOutcome> {
  let replay: Replay | undefined;
  let lastLine = 0;
  try {
    // The reader runs ahead while the workers run a window (at most 16 events, or access runs, held,
    // or one block of lines). An abort (a signal) stops the replay at once, even while the reader is
    // still looking for the next event (a long run of comments, a slow pipe): the reader is left, not
    // awaited.
    const source = prefetch(blocksOf(items), 16, (block) => block.length);
    const signal = opts.signal;
    let aborted: Promise<'aborted'> | undefined;
    if (signal) {
      aborted = new Promise((resolve) => {
        if (signal.aborted) resolve('aborted');
        else signal.addEventListener('abort', () => resolve('aborted'), { once: true });
      });
    }
    for (;;) {
      if (signal?.aborted) throw interrupted(path, lastLine, signal);
      const next = source.next();
      const r = aborted ? await Promise.race([next, aborted]) : await next;
      if (r === 'aborted') {
        next.catch(() => {});
        throw interrupted(path, lastLine, signal!);
      }
      if (r.done) break;
      for (const item of r.value) {
        if (signal?.aborted) throw interrupted(path, lastLine, signal);
        lastLine = item.line;
        if (item.kind === 'header') {
          try {
            replay = await Replay.create(item.header, opts, path);
          } catch (err) {
            if (err instanceof ProfileError) throw Object.assign(new Error(err.message), { file: path, line: item.line });
            if (err instanceof ConfigError || err instanceof RangeError) {
              const { field, message } = machineConfig(item.header, opts, err);
              throw new TraceError(path, item.line, field, message);
            }
            throw err;
          }
          continue;
        }
        const running = replay!.run(item.line, item.event as never);
        if (running) await running;
        opts.onEvent?.(replay!, item.line, item.bytes);
      }
    }
    if (signal?.aborted) throw interrupted(path, lastLine, signal);
    if (!replay) throw Object.assign(new Error('the trace has no header line'), { file: path, line: lastLine });
    await replay.finish(lastLine);
    const report = replay.result();
    return { report, status: replay.passed() ? 0 : 1, replay };
  } catch (err) {
    if (err instanceof ModelBugError) return modelBugReport(err, path, lastLine, opts, replay);
    if (!located(err)) throw err;
    // Accesses read before the bad line may still wait in the replay's window: they belong in the report.
    await replay?.settle();
    const report: Report = replay ? replay.result() : emptyReport(opts.kernel);
    report.complete = false;
    // Events read but not run (queued in the window, behind a parked operation) are not in the report.
    if (replay) report.events = replay.eventsRun();
    const message = err.message.startsWith(`${err.file}:`) ? err.message.slice(`${err.file}:${err.line}: `.length) : err.message;
    report.error = { file: err.file, line: err.line, message };
    return { report, status: 2, replay };
  } finally {
    await replay?.close();
  }
}

/**
 * A bug of mmuwasm stopped the replay: the partial report (what ran before, "complete": false), the
 * line of the operation that ran into it, and the command that replays the same trace, kernel and
 * fixes to reproduce it. Exit status 3: never confused with bad input.
 */
async function modelBugReport(bug: ModelBugError, path: string, lastLine: number, opts: ReplayOptions, replay: Replay | undefined): Promise<{ report: Report; status: 3; replay?: Replay }> {
  // The window may still hold accesses read before the line: they belong in the report, unless
  // running them meets the bug again.
  await replay?.settle().catch(() => undefined);
  const report: Report = replay ? replay.result() : emptyReport(opts.kernel);
  report.complete = false;
  const line = bug.trace?.line ?? lastLine;
  const fixes = Object.entries(opts.fixes ?? {}).map(([id, on]) => ` --fix ${id}=${on ? 'on' : 'off'}`).join('');
  const workers = opts.workers !== undefined ? ` --workers ${opts.workers}` : '';
  const tlb = opts.tlbMode ? ` --tlb ${opts.tlbMode}` : '';
  const reproduce = `mmuwasm replay ${path} --kernel ${report.kernel}${fixes}${workers}${tlb}`;
  const cause = bug.cause instanceof Error ? `${bug.cause.name}: ${bug.cause.message}${whereThrown(bug.cause)}` : `${bug.name}${whereThrown(bug)}`;
  report.error = { file: path, line, message: `internal error (a bug in mmuwasm, not in the trace): ${bug.message}`, internal: { reproduce, cause } };
  return { report, status: 3, replay };
}

/** The innermost frame of the model that threw, for the bug report (" at fn (file:line:col)"). */
function whereThrown(err: Error): string {
  const frame = err.stack?.split('\n').find((l) => /^\s+at /.test(l));
  return frame ? ` ${frame.trim()}` : '';
}

export interface ReplaySourceOptions extends ReplayTraceOptions {
  /** The trace's name in errors and in the report's `error.file` (default "trace"). */
  name?: string;
}

/**
 * Replays a trace given as its text (a string), its bytes (a Uint8Array or ArrayBuffer) or a stream
 * of byte chunks (a ReadableStream such as a `fetch()` body, or any async iterable), in any of its
 * forms: JSON Lines or binary, plain or gzip, known by its first bytes. Runs anywhere (a page, a
 * worker, Node); in Node, `replayFile` takes a path.
 *
 * @example
 * ```ts
 * const res = await fetch('/traces/b1-shared-pmd-migration.jsonl');
 * const { report, status } = await replaySource(res.body!, { name: 'b1', kernel: 'v4.19', workers: 2 });
 * report.violations; // every use of a translation the kernel should have flushed
 * ```
 */
export function replaySource(input: TraceInput, opts: ReplaySourceOptions = {}): Promise<ReplayOutcome> {
  const name = opts.name ?? 'trace';
  return replayTrace(readTraceSource(input, name), name, opts);
}

function interrupted(path: string, line: number, signal: AbortSignal): Interrupted {
  return new Interrupted(path, line, abortName(signal));
}

function emptyReport(kernel = 'v6.18'): Report {
  return { complete: false, kernel, fixes: {}, events: 0, accesses: 0, violations: [], expectations: [], segfaults: [], waited: [], notes: [], stats: {} };
}
