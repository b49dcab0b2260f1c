// Issue 15's classes, one regression test each: what a fuzzed trace, a signal or an output that
// cannot be written once did (a stack trace, the wrong exit status, an error without its line, a key
// that reached a prototype, a report that counted what never ran), and what it does now.
import { afterAll, describe, expect, it } from 'vitest';
import { createWriteStream, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { spawn, spawnSync } from 'node:child_process';
import { createGzip } from 'node:zlib';
import { once } from 'node:events';
import { parseTrace } from '../src/trace/parser.ts';
import { replayTrace } from '../src/replay/replay-trace.ts';
import { generateTrace } from '../src/cli/generate.ts';
import { WORKLOAD_DEFAULTS } from '../src/workloads/workloads.ts';

const dir = mkdtempSync(join(tmpdir(), 'mmuwasm-robust-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const bin = join(import.meta.dirname, '..', 'bin', 'mmuwasm.mjs');
const HEADER = '{"format":"mmuwasm-trace","version":1,"cpus":1}';
const cli = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
const STACK = /\n\s+at .+:\d+:\d+\)?$/m;

/** The error a trace (header and lines) stops at, replayed in this process. */
async function errorOf(header: string, ...lines: string[]) {
  const { report, status } = await replayTrace(parseTrace([header, ...lines], 't.jsonl'), 't.jsonl', { workers: 0 });
  return { status, complete: report.complete, error: report.error?.message, line: report.error?.line, events: report.events };
}

const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

describe('input errors: exit 2 with the file, the line and the field (class 1, 2)', () => {
  it('an accesses stream of 2^53 bytes or more is refused at its line, not a RangeError', async () => {
    expect(await errorOf(HEADER, '{"op":"mm","mm":"A"}', '{"op":"switch","cpu":0,"mm":"A"}',
      '{"op":"accesses","cpu":0,"va":"0x1000","len":"0x20000000000000","count":5,"pattern":"random"}')).toEqual({
      status: 2, complete: false, line: 4, events: 2, // mm, and the switch the window ran before the bad line
      error: 'field "len": an access stream spans less than 2^53 bytes (at most "0x1fffffffffffff"), not 0x20000000000000',
    });
  });

  it('an mprotect that splits a 4 KiB page of anonymous memory is refused at its line, not a bug in mmuwasm (npm run fuzz, seed 20261211 case 2439)', async () => {
    expect(await errorOf(HEADER, '{"op":"mm","mm":"A"}', '{"op":"switch","cpu":0,"mm":"A"}',
      '{"op":"mmap","cpu":0,"va":"0x10000000","len":"4M","prot":"rw","flags":"private"}',
      '{"op":"mprotect","cpu":0,"va":"0x10000001","len":"1M","prot":"r"}')).toEqual({
      status: 2, complete: false, line: 5, events: 4, // the mprotect ran, and was refused
      error: 'the kernel refuses this: [0x10000001, 0x10100001) splits a 4K page of the mapping at 0x10000000',
    });
  });

  it('a non-canonical device_access address is refused at its line', async () => {
    const r = await errorOf(HEADER, '{"op":"mm","mm":"A"}', '{"op":"attach","mm":"A","device":"d","kind":"iommu"}', '{"op":"device_access","device":"d","va":"0x800000000000","rw":"r"}');
    expect([r.status, r.line]).toEqual([2, 4]);
    expect(r.error).toMatch(/^field "va": 0x800000000000 is not a canonical address for 4-level paging/);
    // Under 5-level paging the same address is canonical.
    const five = await errorOf('{"format":"mmuwasm-trace","version":1,"cpus":1,"paging":5}', '{"op":"mm","mm":"A"}', '{"op":"attach","mm":"A","device":"d","kind":"iommu"}', '{"op":"device_access","device":"d","va":"0x800000000000","rw":"r"}');
    expect(five.error ?? '').not.toMatch(/canonical/);
  });

  it('a header whose machine cannot be built names the field, the limit and a value that fits', async () => {
    expect((await errorOf('{"format":"mmuwasm-trace","version":1,"cpus":1,"tlb":{"stlb":{"sets":4,"ways":0}}}')).error)
      .toBe('field "tlb.stlb.ways": an array with 4 sets needs at least 1 way (or "sets": 0 for no such array)');
    expect((await errorOf('{"format":"mmuwasm-trace","version":1,"cpus":1,"tlb":{"stlb":{"sets":65536,"ways":64}}}')).error)
      .toBe('field "tlb.stlb.ways": 65536 sets × 64 ways is 4194304 entries, more than an array holds (2^20 = 1048576); with 65536 sets at most 16 ways');
    const big = await errorOf('{"format":"mmuwasm-trace","version":1,"cpus":256,"tlb":{"stlb":{"sets":65536,"ways":16}}}');
    expect([big.status, big.line]).toEqual([2, 1]);
    expect(big.error).toMatch(/^field "cpus": 256 CPUs with this TLB geometry need more than the 4 GiB of one WebAssembly memory .*: at most \d+ CPUs fit/);
  });

  it('invalid JSON names the field it stopped in; a refused syscall names its field', async () => {
    expect((await errorOf(HEADER, '{"op":"mm","mm":"A","va":0x12}')).error).toMatch(/^field "va": not valid JSON/);
    const r = await errorOf(HEADER, '{"op":"mm","mm":"A"}', '{"op":"switch","cpu":0,"mm":"A"}', '{"op":"mmap","cpu":0,"va":"0x1001","len":"4K","prot":"rw","flags":"private"}');
    expect(r.error).toMatch(/^field "va": the kernel refuses this: address 0x1001 is not aligned/);
  });

  it('the command line: --kernel __proto__, --json --quiet, --workers 0x10 and 1e2 are usage errors, no stack trace', () => {
    const t = file('ok.jsonl', `${HEADER}\n`);
    for (const args of [['--kernel', '__proto__'], ['--kernel', 'constructor'], ['--kernel', 'toString'], ['--json', '--quiet'], ['--workers', '0x10'], ['--workers', '1e2']]) {
      const r = cli('replay', t, ...args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr).not.toMatch(STACK);
    }
    expect(cli('replay', t, '--json', '--quiet').stderr).toMatch(/--json needs a value, not the option '--quiet'/);
    expect(existsSync(join(process.cwd(), '--quiet'))).toBe(false);
  });
});

describe('keys of a trace never reach a prototype (class 3)', () => {
  it('__proto__, constructor, toString and hasOwnProperty are unknown fields', async () => {
    for (const key of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
      const r = await errorOf(HEADER, `{"op":"mm","mm":"A","${key}":{"x":1}}`);
      expect([r.status, r.line, r.error]).toEqual([2, 2, `field "${key}": unknown field for "mm"`]);
    }
    expect((await errorOf('{"format":"mmuwasm-trace","version":1,"cpus":1,"tlb":{"__proto__":{"sets":1,"ways":1}}}')).error).toMatch(/^field "tlb.__proto__": unknown array/);
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });
});

describe('a corrupt gzip (class 1)', () => {
  // Found by npm run fuzz (seed 20261207, case 6960): bytes flipped inside a gzip trace made Node's
  // DecompressionStream throw from inside its stream adapter, a stack trace no caller could catch.
  it('stops at the line it cut, exit 2, no stack trace', () => {
    const r = cli('replay', join(import.meta.dirname, 'fixtures', 'corrupt-members.jsonl.gz'), '--workers', '1', '--quiet');
    expect([r.status, r.stderr.trim()]).toEqual([2, `mmuwasm replay: ${join(import.meta.dirname, 'fixtures', 'corrupt-members.jsonl.gz')}:417: field "len": "munmap" needs this field`]);
  });
});

describe('output errors (class 7)', () => {
  it('--json to /dev/full: one line naming the path after the summary, exit 2; to a missing folder: refused before the replay', () => {
    const t = file('clean.jsonl', `${HEADER}\n{"op":"expect","violations":0}\n`);
    const full = cli('replay', t, '--json', '/dev/full');
    expect(full.status).toBe(2);
    expect(full.stdout).toMatch(/expect/); // the summary came first
    expect(full.stderr.trim().split('\n')).toEqual(['mmuwasm replay: /dev/full: no space left on device']);
    const missing = cli('replay', t, '--json', join(dir, 'missing', 'r.json'));
    expect([missing.status, missing.stdout, missing.stderr.trim()]).toEqual([2, '', `mmuwasm replay: ${join(dir, 'missing', 'r.json')}: no such directory ${join(dir, 'missing')}`]);
  });

  it('generate and convert to a path that cannot be opened: one line, exit 2, nothing left behind', () => {
    const g = cli('generate', 'random-anon', '--accesses', '100', '--size', '4M', '-o', join(dir, 'nowhere', 'g.jsonl'));
    expect([g.status, g.stderr.trim()]).toEqual([2, `mmuwasm generate: ${join(dir, 'nowhere', 'g.jsonl')}: no such directory ${join(dir, 'nowhere')}`]);
    const t = file('c.jsonl', `${HEADER}\n`);
    const c = cli('convert', t, join(dir, 'nowhere', 'c.mmtrace'));
    expect([c.status, c.stderr.trim()]).toEqual([2, `mmuwasm convert: ${join(dir, 'nowhere', 'c.mmtrace')}: no such directory ${join(dir, 'nowhere')}`]);
  });
});

describe('the partial report counts what ran (class 9)', () => {
  it('an abort with accesses queued: events and accesses count only what ran', async () => {
    const lines = [HEADER, '{"op":"mm","mm":"A"}', '{"op":"switch","cpu":0,"mm":"A"}',
      '{"op":"mmap","cpu":0,"va":"0x100000","len":"1M","prot":"rw","flags":"private"}'];
    for (let i = 0; i < 5000; i++) lines.push(`{"op":"access","cpu":0,"va":"0x${(0x100000 + (i % 256) * 4096).toString(16)}","rw":"r"}`);
    const abort = new AbortController();
    const { report, status } = await replayTrace(parseTrace(lines, 't.jsonl'), 't.jsonl', {
      workers: 0, signal: abort.signal,
      onEvent: (_r, line) => {
        if (line === 1004) abort.abort('SIGINT');
      },
    });
    expect(status).toBe(2);
    expect(report.complete).toBe(false);
    // mm, switch and mmap ran (the mmap ran the window before it); the 1,000 accesses were still
    // queued in the window (it runs when it holds 2^20 records, or before a kernel event).
    expect([report.events, report.accesses]).toEqual([3, 0]);
    expect(report.error).toEqual({ file: 't.jsonl', line: 1004, message: 'interrupted by SIGINT (Ctrl-C): the report holds what was replayed before' });
  });
});

/** Starts the command, sends the signal once it runs (after its first line of bin/), returns its end. */
async function signalled(args: string[], signal: NodeJS.Signals) {
  const child = spawn(process.execPath, [bin, ...args], { env: { ...process.env, NO_COLOR: '1' } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  // Until Node runs bin/mmuwasm.mjs, a signal has its default action: wait for the program to be up.
  await new Promise((r) => setTimeout(r, 2500));
  child.kill(signal);
  const [status] = await once(child, 'close');
  return { status: status as number, stdout, stderr };
}

describe('signals (class 6)', () => {
  const long = join(dir, 'long.jsonl');
  generateTrace({ kind: 'database', out: long, options: { ...WORKLOAD_DEFAULTS.database, accesses: 1e12, streams: true, size: 64n << 20n, seed: 3 } });

  it('SIGTERM during a long replay: the partial report, complete false, exit 143', async () => {
    const r = await signalled(['replay', long, '--workers', '2', '--json', '-', '--quiet'], 'SIGTERM');
    expect(r.status).toBe(143);
    const report = JSON.parse(r.stdout);
    expect(report.complete).toBe(false);
    expect(report.error.message).toBe('interrupted by SIGTERM: the report holds what was replayed before');
    expect(r.stderr).not.toMatch(STACK);
  }, 60_000);

  it('SIGINT during a long run of blank lines in a gzip stops the replay (exit 130, complete false)', async () => {
    const gz = join(dir, 'blank.jsonl.gz');
    const z = createGzip({ level: 9 });
    const done = once(z.pipe(createWriteStream(gz)), 'close');
    z.write(`${HEADER}\n`);
    const chunk = '\n'.repeat(1 << 20);
    for (let i = 0; i < 400; i++) if (!z.write(chunk)) await once(z, 'drain');
    z.end();
    await done;
    const r = await signalled(['replay', gz, '--json', '-', '--quiet'], 'SIGINT');
    expect(r.status).toBe(130);
    expect(JSON.parse(r.stdout)).toMatchObject({ complete: false, events: 0 });
  }, 60_000);

  it('generate stopped by SIGINT leaves no file, under its name or a temporary one', async () => {
    const out = join(dir, 'gen', 'big.jsonl');
    spawnSync('mkdir', [join(dir, 'gen')]);
    const r = await signalled(['generate', 'database', '--accesses', '1G', '-o', out], 'SIGINT');
    expect(r.status).toBe(130);
    expect(r.stderr.trim()).toBe(`mmuwasm generate: interrupted by SIGINT (Ctrl-C): ${out} not written`);
    expect(readdirSync(join(dir, 'gen'))).toEqual([]);
  }, 60_000);

  it('convert stopped by SIGTERM leaves no file', async () => {
    const out = join(dir, 'conv.mmtrace');
    const r = await signalled(['convert', join(dir, 'blank.jsonl.gz'), out], 'SIGTERM');
    // The conversion of 400 M blank lines runs for longer than the wait.
    expect(r.status).toBe(143);
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(dir).filter((f) => f.startsWith('.mmuwasm-'))).toEqual([]);
  }, 60_000);
});
