// `mmuwasm import lackey` (docs/import-lackey.md): the parser of valgrind lackey's records on
// hand-written lines (kinds, page crossings, valgrind's own lines, bad lines with their line number),
// the trace it writes, and a real program compiled with gcc and run under valgrind at test time,
// imported and replayed: every access replays, each touched 4K page faults exactly once, and the
// hugetlbfs form does the same work with far fewer walks and faults.
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { Footprint, importLackey, parseLackeyLine, recordAccesses } from '../src/workloads/lackey.ts';
import { main } from '../src/cli/main.ts';
import { replayFile } from '../src/node/replay-file.ts';
import { TraceError } from '../src/trace/trace-error.ts';

const dir = mkdtempSync(join(tmpdir(), 'mmuwasm-lackey-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
function log(...lines: string[]): string {
  const path = join(dir, `l${++n}.log`);
  writeFileSync(path, lines.join('\n') + '\n');
  return path;
}
const lines = (path: string) => readFileSync(path, 'utf8').trimEnd().split('\n');
const events = (path: string) => lines(path).filter((l) => !l.startsWith('#')).map((l) => JSON.parse(l) as Record<string, unknown>);

describe('lackey records', () => {
  it('reads the four kinds, as lackey prints them', () => {
    expect(parseLackeyLine('I  04015a0,3', 1, 'f')).toEqual({ kind: 'I', va: 0x4015a0, size: 3 });
    expect(parseLackeyLine(' L 1ffefffd78,8', 1, 'f')).toEqual({ kind: 'L', va: 0x1ffefffd78, size: 8 });
    expect(parseLackeyLine(' S 1ffefffd70,8', 1, 'f')).toEqual({ kind: 'S', va: 0x1ffefffd70, size: 8 });
    expect(parseLackeyLine(' M 0421a08,4', 1, 'f')).toEqual({ kind: 'M', va: 0x421a08, size: 4 });
    expect(parseLackeyLine(' L 1ffefffd78,8\r', 1, 'f')).toEqual({ kind: 'L', va: 0x1ffefffd78, size: 8 });
    expect(parseLackeyLine('L 00007fff00001000,16', 1, 'f')).toEqual({ kind: 'L', va: 0x7fff00001000, size: 16 });
  });

  it("takes valgrind's own lines and blank lines for comments", () => {
    for (const t of ['==2761== Lackey, an example Valgrind tool', '==2761== ', '==1==   total:         27,593', '--2761-- WARNING: unhandled syscall', '**2761** internal error', '', '   ']) {
      expect(parseLackeyLine(t, 1, 'f')).toBeUndefined();
    }
  });

  it('refuses anything else, naming the file and the line', () => {
    const bad: [string, RegExp][] = [
      ['hello world', /not a lackey record/],
      ['I  04015a0', /not a lackey record/],
      ['X  04015a0,3', /not a lackey record/],
      ['I  0x4015a0,3', /not a lackey record/],
      [' L 04015a0,-3', /not a lackey record/],
      [' L 04015g0,3', /not a lackey record/],
      ['==12 missing close', /not a lackey record/],
      [' L 1000,0', /size 0 is not the size of one access/],
      [' L 1000,2000000', /size 2000000 is not the size of one access/],
      ['I  ffffffffff600000,4', /not in the user address space/],
      [' S 7ffffffffffc,8', /not in the user address space/],
      [' S 10000000000000000,8', /not a lackey record/],
    ];
    for (const [t, why] of bad) {
      let err: unknown;
      try {
        parseLackeyLine(t, 17, 'prog.log');
      } catch (e) {
        err = e;
      }
      expect(err, t).toBeInstanceOf(TraceError);
      expect((err as TraceError).line).toBe(17);
      expect((err as TraceError).message, t).toMatch(/^prog\.log:17: /);
      expect((err as TraceError).message, t).toMatch(why);
    }
  });

  it('maps I, L, S and M to fetches, reads, writes, and a read then a write', () => {
    expect(recordAccesses({ kind: 'I', va: 0x1000, size: 3 })).toEqual([{ va: 0x1000, rw: 'x' }]);
    expect(recordAccesses({ kind: 'L', va: 0x1000, size: 8 })).toEqual([{ va: 0x1000, rw: 'r' }]);
    expect(recordAccesses({ kind: 'S', va: 0x1000, size: 8 })).toEqual([{ va: 0x1000, rw: 'w' }]);
    expect(recordAccesses({ kind: 'M', va: 0x1000, size: 4 })).toEqual([{ va: 0x1000, rw: 'r' }, { va: 0x1000, rw: 'w' }]);
  });

  it('splits an access that crosses a page boundary into one access per page', () => {
    expect(recordAccesses({ kind: 'L', va: 0x1ffc, size: 4 })).toEqual([{ va: 0x1ffc, rw: 'r' }]);
    expect(recordAccesses({ kind: 'L', va: 0x1ffc, size: 8 })).toEqual([{ va: 0x1ffc, rw: 'r' }, { va: 0x2000, rw: 'r' }]);
    expect(recordAccesses({ kind: 'I', va: 0x2ffe, size: 5 })).toEqual([{ va: 0x2ffe, rw: 'x' }, { va: 0x3000, rw: 'x' }]);
    expect(recordAccesses({ kind: 'M', va: 0x3ff8, size: 16 })).toEqual([
      { va: 0x3ff8, rw: 'r' }, { va: 0x4000, rw: 'r' }, { va: 0x3ff8, rw: 'w' }, { va: 0x4000, rw: 'w' },
    ]);
    expect(recordAccesses({ kind: 'S', va: 0x4ff0, size: 8192 }).map((a) => a.va)).toEqual([0x4ff0, 0x5000, 0x6000]);
  });

  it('coalesces touched pages into runs of adjacent 2M windows', () => {
    const fp = new Footprint();
    for (const va of [0x401000, 0x401008, 0x5ff000, 0x600000, 0x4000000, 0x1ffeffff00]) fp.touch(va);
    expect(fp.pages).toBe(5);
    expect(fp.windowCount).toBe(4);
    expect(fp.regions()).toEqual([
      { va: 0x400000, len: 0x400000 },
      { va: 0x4000000, len: 0x200000 },
      { va: 0x1ffee00000, len: 0x200000 },
    ]);
  });
});

describe('the imported trace', () => {
  const SAMPLE = [
    '==42== Lackey, an example Valgrind tool',
    '==42== Command: ./prog',
    '==42== ',
    'I  00401000,3',
    ' S 1ffefffd70,8',
    'I  00401003,4',
    ' L 00601ffc,8',
    ' M 00601000,4',
    '==42== Exit code:       0',
  ];

  it('is a header, one address space, a switch, the regions as private anonymous memory, then the accesses', async () => {
    const out = join(dir, 'sample.jsonl');
    const s = await importLackey({ input: log(...SAMPLE), output: out });
    expect(s).toMatchObject({ command: './prog', records: 5, byKind: { I: 2, L: 1, S: 1, M: 1 }, accesses: 7, crossing: 1, pages: 4, windows: 3, regions: 2, limited: false });
    expect(events(out)).toEqual([
      { format: 'mmuwasm-trace', version: 1, cpus: 1 },
      { op: 'mm', mm: 'prog' },
      { op: 'switch', cpu: 0, mm: 'prog' },
      { op: 'mmap', cpu: 0, va: '0x400000', len: '0x400000', prot: 'rwx', flags: 'private' },
      { op: 'mmap', cpu: 0, va: '0x1ffee00000', len: '0x200000', prot: 'rwx', flags: 'private' },
      { op: 'access', cpu: 0, va: '0x401000', rw: 'x' },
      { op: 'access', cpu: 0, va: '0x1ffefffd70', rw: 'w' },
      { op: 'access', cpu: 0, va: '0x401003', rw: 'x' },
      { op: 'access', cpu: 0, va: '0x601ffc', rw: 'r' },
      { op: 'access', cpu: 0, va: '0x602000', rw: 'r' },
      { op: 'access', cpu: 0, va: '0x601000', rw: 'r' },
      { op: 'access', cpu: 0, va: '0x601000', rw: 'w' },
    ]);
    expect(lines(out)[0]).toMatch(/^# imported by mmuwasm import lackey from .*\(valgrind --tool=lackey of: \.\/prog\)$/);
    const { report, status } = await replayFile(out);
    expect(status).toBe(0);
    expect(report.complete).toBe(true);
    expect(report.accesses).toBe(7);
    expect((report.stats.vm as { faults: number }).faults).toBe(4);
  });

  it('with --hugetlb, maps the windows from one hugetlbfs file of 2M pages, shared', async () => {
    const out = join(dir, 'sample-huge.jsonl');
    await importLackey({ input: log(...SAMPLE), output: out, hugetlb: true, kernel: 'v4.19' });
    expect(events(out).slice(0, 7)).toEqual([
      { format: 'mmuwasm-trace', version: 1, cpus: 1, kernel: 'v4.19' },
      { op: 'mm', mm: 'prog' },
      { op: 'switch', cpu: 0, mm: 'prog' },
      { op: 'hugetlbfs', file: 'lackey', size: '0x600000', pagesize: '2M' },
      { op: 'mmap', cpu: 0, va: '0x400000', len: '0x400000', prot: 'rwx', flags: 'shared', file: 'lackey', offset: '0x0' },
      { op: 'mmap', cpu: 0, va: '0x1ffee00000', len: '0x200000', prot: 'rwx', flags: 'shared', file: 'lackey', offset: '0x400000' },
      { op: 'access', cpu: 0, va: '0x401000', rw: 'x' },
    ]);
    const { report, status } = await replayFile(out);
    expect(status).toBe(0);
    expect(report.kernel).toBe('v4.19');
    expect((report.stats.vm as { faults: number }).faults).toBe(3); // 0x400000, 0x600000, 0x1ffee00000
  });

  it('--limit keeps the first N records, and their regions only', async () => {
    const out = join(dir, 'sample-limit.jsonl');
    const s = await importLackey({ input: log(...SAMPLE), output: out, limit: 2 });
    expect(s).toMatchObject({ records: 2, accesses: 2, pages: 2, regions: 2, limited: true });
    expect(events(out).filter((e) => e.op === 'access').map((e) => e.va)).toEqual(['0x401000', '0x1ffefffd70']);
    expect(events(out).filter((e) => e.op === 'mmap').map((e) => e.len)).toEqual(['0x200000', '0x200000']);
  });

  it('reads standard input (-) and writes the binary form (.mmtrace) and gzip, replaying alike', async () => {
    const bin = fileURLToPath(new URL('../bin/mmuwasm.mjs', import.meta.url));
    const outs = ['stdin.jsonl', 'stdin.jsonl.gz', 'stdin.mmtrace'].map((f) => join(dir, f));
    for (const out of outs) {
      const r = spawnSync(process.execPath, [bin, 'import', 'lackey', '-', '-o', out], { input: SAMPLE.join('\n') + '\n', encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/^mmuwasm import lackey: stdin \(\.\/prog\): 5 records \(I 2, L 1, S 1, M 1\) → 7 accesses \(1 records cross a page\), 4 4K pages in 3 2M windows, 2 anonymous regions → /);
    }
    const reports = [];
    for (const out of outs) {
      const { report, status } = await replayFile(out);
      expect(status).toBe(0);
      expect(report.complete).toBe(true);
      reports.push(report);
    }
    expect(reports[1]).toEqual(reports[0]);
    expect(reports[2]).toEqual(reports[0]);
    expect((reports[0].stats.tlb as { pageFaults: number }).pageFaults).toBe(4);
  });

  it('a bad line stops the import with the file and line, exit 2, and writes nothing', async () => {
    const input = log(...SAMPLE.slice(0, 5), 'hello from the program', ...SAMPLE.slice(5));
    await expect(importLackey({ input, output: join(dir, 'x.jsonl') })).rejects.toThrow(new RegExp(`^${input.replace(/[.]/g, '\\.')}:6: not a lackey record`));
    const out = join(dir, 'bad.jsonl');
    const err: string[] = [];
    const orig = console.error;
    const origWrite = process.stderr.write;
    console.error = (m: string) => err.push(m);
    process.stderr.write = ((m: string) => err.push(m.replace(/\n$/, '')) > 0) as typeof process.stderr.write;
    try {
      expect(await main(['import', 'lackey', input, '-o', out])).toBe(2);
      expect(await main(['import', 'lackey', input, '-o', out, '--limit', '2'])).toBe(0); // the bad line lies past the limit
      expect(await main(['import', 'lackey', input, '--bogus'])).toBe(2);
      expect(await main(['import', 'lackey', input, '-o', join(dir, 'x.txt')])).toBe(2);
      expect(await main(['import', 'lackey', input, '--kernel', 'v9'])).toBe(2);
      expect(await main(['import', 'strace', input])).toBe(2);
      expect(await main(['import', 'lackey', join(dir, 'missing.log')])).toBe(2);
    } finally {
      console.error = orig;
      process.stderr.write = origWrite;
    }
    expect(err[0]).toBe(`mmuwasm import lackey: ${input}:6: not a lackey record (expected "I  ADDR,SIZE", " L ADDR,SIZE", " S ADDR,SIZE" or " M ADDR,SIZE" with ADDR in hex, or a valgrind "==PID==" line): "hello from the program" — the program's own output mixed in? run valgrind with --log-file=LOG`);
    expect(err.slice(2)).toEqual([
      "mmuwasm import: unknown option '--bogus' (see 'mmuwasm import --help')",
      `mmuwasm import: --output: names the trace by its form: .jsonl or .jsonl.gz (JSON Lines), .mmtrace or .mmtrace.gz (binary) (got '${join(dir, 'x.txt')}')`,
      "mmuwasm import: --kernel: unknown profile 'v9' (profiles: v4.4, v4.19, v5.16, v6.1, v6.18)",
      "mmuwasm import: unknown import kind 'strace' (known: lackey)",
      `mmuwasm import: ${join(dir, 'missing.log')}: no such file or directory`,
    ]);
  });
});

// ---- a real program ----

const PROGRAM = String.raw`
#include <stdio.h>
#include <stdlib.h>
#define SIZE (4 << 20)
int main(void) {
  volatile char *a = malloc(SIZE);
  if (!a) return 2;
  for (long i = 0; i < SIZE; i += 4096) a[i] = 1;      /* one store per 4K page: 1024 pages */
  long s = 0;
  for (long i = 0; i < SIZE; i += 4096) s += a[i];     /* and one load per page */
  printf("%lx\n", (unsigned long)a);
  return s == SIZE / 4096 ? 0 : 1;
}
`;

function run(cmd: string, args: string[], what: string) {
  const r = spawnSync(cmd, args, { cwd: dir, encoding: 'utf8' });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') {
    throw new Error(`${cmd} is not installed: this test runs a real program under valgrind's lackey tool (${what}); install ${cmd} (it is on CI)`);
  }
  return r;
}

/** What the log says, counted here independently of the importer. */
function countLog(path: string) {
  const kinds = { I: 0, L: 0, S: 0, M: 0 };
  let accesses = 0;
  const pages = new Set<number>();
  const windows = new Set<number>();
  for (const l of lines(path)) {
    const m = /^(I | [LSM]) ([0-9a-f]+),([0-9]+)$/.exec(l);
    if (!m) {
      expect(l, 'a lackey log line').toMatch(/^==\d+==/);
      continue;
    }
    const kind = m[1].trim() as keyof typeof kinds;
    kinds[kind]++;
    const va = parseInt(m[2], 16);
    const first = Math.floor(va / 4096);
    const last = Math.floor((va + Number(m[3]) - 1) / 4096);
    accesses += (last - first + 1) * (kind === 'M' ? 2 : 1);
    for (let p = first; p <= last; p++) {
      pages.add(p);
      windows.add(Math.floor(p / 512));
    }
  }
  return { kinds, accesses, pages, windows };
}

describe('a real program under valgrind --tool=lackey', () => {
  it('imports, replays completely, and faults each touched page once; --hugetlb needs far fewer walks and faults', async () => {
    writeFileSync(join(dir, 'stride.c'), PROGRAM);
    // A static program keeps the trace small (no dynamic loader); a dynamic one works the same.
    let cc = run('gcc', ['-O1', '-static', '-o', 'stride', 'stride.c'], 'compiling it');
    if (cc.status !== 0) cc = run('gcc', ['-O1', '-o', 'stride', 'stride.c'], 'compiling it');
    expect(cc.status, `gcc failed: ${cc.stderr}`).toBe(0);
    const logPath = join(dir, 'stride.log');
    const vg = run('valgrind', ['--tool=lackey', '--trace-mem=yes', `--log-file=${logPath}`, './stride'], 'tracing it');
    expect(vg.status, `valgrind failed: ${vg.stderr}`).toBe(0);
    expect(existsSync(logPath)).toBe(true);
    const array = parseInt(vg.stdout.trim(), 16);
    const facts = countLog(logPath);
    // The program stored to and loaded from every 4K page of its array.
    let arrayPages = 0;
    for (const p of facts.pages) if (p * 4096 >= array && p * 4096 < array + (4 << 20)) arrayPages++;
    expect(arrayPages).toBeGreaterThanOrEqual(1023); // 1024 unless malloc's header put a's start mid-page
    expect(facts.pages.size).toBeGreaterThan(1024);

    const out = join(dir, 'stride.jsonl');
    const s = await importLackey({ input: logPath, output: out });
    expect(s.byKind).toEqual(facts.kinds);
    expect(s.accesses).toBe(facts.accesses);
    expect(s.pages).toBe(facts.pages.size);
    expect(s.windows).toBe(facts.windows.size);

    const { report, status } = await replayFile(out);
    expect(report.error).toBeUndefined();
    expect(status).toBe(0);
    expect(report.complete).toBe(true);
    expect(report.violations).toEqual([]);
    expect(report.segfaults).toEqual([]);
    expect(report.accesses).toBe(facts.accesses);
    const tlb = report.stats.tlb as { walks: number; pageFaults: number; tlbMisses: number; accesses: number };
    const vm = report.stats.vm as { faults: number; segv: number };
    // The first touch of each anonymous 4K page faults once (a read maps it writable, clean, so a
    // later write only sets the dirty bit); nothing else faults.
    expect(vm.faults).toBe(facts.pages.size);
    expect(tlb.pageFaults).toBe(facts.pages.size);
    // Each fault retries the access: the hardware made one access more per fault.
    expect(tlb.accesses).toBe(facts.accesses + facts.pages.size);
    // Every miss is a walk: the faulting one and the retry's (retentive TLBs keep every other translation).
    expect(tlb.tlbMisses).toBe(2 * facts.pages.size);
    expect(tlb.walks).toBeGreaterThanOrEqual(tlb.tlbMisses);

    const hout = join(dir, 'stride-huge.jsonl.gz');
    await importLackey({ input: logPath, output: hout, hugetlb: true });
    const h = await replayFile(hout);
    expect(h.status).toBe(0);
    expect(h.report.complete).toBe(true);
    expect(h.report.violations).toEqual([]);
    expect(h.report.accesses).toBe(facts.accesses);
    const htlb = h.report.stats.tlb as typeof tlb;
    expect((h.report.stats.vm as typeof vm).faults).toBe(facts.windows.size);
    expect(htlb.pageFaults).toBe(facts.windows.size);
    expect(htlb.walks * 50).toBeLessThan(tlb.walks);
  });
});
