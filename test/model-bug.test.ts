// An internal invariant that breaks is a bug in mmuwasm, never bad input: the kernel layer detects it
// (a page freed that the kernel does not hold), the replay stops with exit status 3, names the trace
// line of the operation that ran into it and the command that reproduces it, and keeps the partial
// report. A bad trace is still exit status 2. The bug is injected: every put_page frees twice.
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { replayFile } from '../src/node/replay-file.ts';
import { runReplay } from '../src/cli/replay.ts';
import { argsOf } from '../src/cli/commands.ts';
import { Kernel } from '../src/kernel/kernel.ts';
import { Op, runToEnd } from '../src/kernel/ops.ts';
import { ArgumentError, ModelBugError } from '../src/mmu/errors.ts';
import { TraceError } from '../src/trace/trace-error.ts';

const dir = mkdtempSync(join(tmpdir(), 'mmuwasm-model-bug-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const path = join(dir, 'punch.jsonl');
writeFileSync(path, [
  { format: 'mmuwasm-trace', version: 1, cpus: 2 },
  { op: 'hugetlbfs', file: 'F', size: '1G', pagesize: '2M' },
  { op: 'mm', mm: 'A' },
  { op: 'switch', cpu: 0, mm: 'A' },
  { op: 'mmap', cpu: 0, va: '0x40000000', len: '1G', prot: 'rw', flags: 'shared', file: 'F', offset: 0 },
  { op: 'accesses', cpu: 0, va: '0x40000000', len: '8M', count: 4, pattern: 'stride', stride: '2M', write: 1 },
  { op: 'fallocate', cpu: 0, file: 'F', offset: 0, len: '2M', mode: 'punch_hole' },
  { op: 'access', cpu: 0, va: '0x40200000', rw: 'r' },
].map((l) => JSON.stringify(l)).join('\n') + '\n');

/** The injected bug: put_page frees the page a second time once it is gone. */
function injectDoubleFree(): void {
  const putPageIfUnused = Kernel.prototype.putPageIfUnused;
  vi.spyOn(Kernel.prototype, 'putPageIfUnused').mockImplementation(function (this: Kernel, page, why) {
    putPageIfUnused.call(this, page, why);
    if (!this.pages.has(page.pa)) this.freePage(page, why);
  });
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('a bug in mmuwasm is reported as one', () => {
  it('the replay stops at the operation with exit status 3, how to reproduce, and the partial report', async () => {
    injectDoubleFree();
    const { report, status } = await replayFile(path, { kernel: 'v4.19', fixes: { a4a118f2eead: true } });
    expect(status).toBe(3);
    expect(report.complete).toBe(false);
    expect(report.error?.file).toBe(path);
    expect(report.error?.line).toBe(7);
    expect(report.error?.message).toMatch(/^internal error \(a bug in mmuwasm, not in the trace\): free of the 2M page at 0x[0-9a-f]+ \(hole punch in file F\): the kernel does not hold it/);
    expect(report.error?.internal?.reproduce).toBe(`mmuwasm replay ${path} --kernel v4.19 --fix a4a118f2eead=on`);
    // What ran before the line is in the report: the four accesses, the events up to the punch and it.
    expect(report.accesses).toBe(4);
    expect(report.events).toBe(6);
  });

  it('the command exits 3, says it is a bug in mmuwasm, and writes the partial report', async () => {
    injectDoubleFree();
    const out = join(dir, 'report.json');
    const errors: string[] = [];
    vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => {
      errors.push(args.join(' '));
    });
    const status = await runReplay(argsOf('replay', [path, '--json', out, '--quiet', '--workers', '1']));
    expect(status).toBe(3);
    const text = errors.join('\n');
    expect(text).toContain(`mmuwasm replay: ${path}:7: internal error (a bug in mmuwasm, not in the trace)`);
    expect(text).toContain(`reproduce: mmuwasm replay ${path} --kernel v6.18 --workers 1`);
    const json = JSON.parse(readFileSync(out, 'utf8')) as { complete: boolean; error: { line: number; internal: { reproduce: string; cause: string } } };
    expect(json.complete).toBe(false);
    expect(json.error.line).toBe(7);
    expect(json.error.internal.cause).toMatch(/^ModelBugError at Kernel\.freePage \(.*src\/kernel\/kernel\.ts:\d+:\d+\)$/);
  });

  it('bad input is still exit status 2, not a bug', async () => {
    const bad = join(dir, 'bad.jsonl');
    writeFileSync(bad, readFileSync(path, 'utf8').replace('"file":"F","offset":0,"len":"2M"', '"file":"G","offset":0,"len":"2M"'));
    const { report, status } = await replayFile(bad, {});
    expect(status).toBe(2);
    expect(report.error?.internal).toBeUndefined();
    expect(report.error?.message).toMatch(/no hugetlbfs file named 'G'/);
  });
});

describe('ModelBugError.fromOperation', () => {
  it('makes misuse of the hardware layer and JavaScript errors model bugs, with the innermost line', () => {
    const bug = ModelBugError.fromOperation(new ArgumentError('0x400000000 is not an allocated frame'), 't.jsonl', 9) as ModelBugError;
    expect(bug).toBeInstanceOf(ModelBugError);
    expect(bug.message).toBe('the kernel model misused the hardware layer: 0x400000000 is not an allocated frame');
    expect(bug.trace).toEqual({ file: 't.jsonl', line: 9 });
    expect((ModelBugError.fromOperation(bug, 't.jsonl', 12) as ModelBugError).trace).toEqual({ file: 't.jsonl', line: 9 });
    expect(ModelBugError.fromOperation(new TypeError('x is undefined'), 't.jsonl', 3)).toBeInstanceOf(ModelBugError);
  });

  it('leaves errors of the input as they are', () => {
    const trace = new TraceError('t.jsonl', 4, 'file', 'no hugetlbfs file named G');
    expect(ModelBugError.fromOperation(trace, 't.jsonl', 4)).toBe(trace);
  });

  it('an operation that may not park and has to wait is a model bug', () => {
    const holder = new Op('h', 'holder', 0, 1);
    function* waits() {
      yield { wait: holder, reason: 'a lock is held' };
    }
    expect(() => runToEnd(waits())).toThrow(ModelBugError);
  });
});
