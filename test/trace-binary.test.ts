// The binary trace form (docs/trace-binary.md): exact round trips of the whole scenario library, the
// same reports from both forms, and strict errors — every one naming the file, the record's line and
// the field — for corrupt and truncated files.
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync, truncateSync, statSync, rmSync } from 'node:fs';
import { gzipSync, crc32 } from 'node:zlib';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { parseTrace, type TraceItem } from '../src/trace/parser.ts';
import { readTrace } from '../src/node/read-trace.ts';
import { BinaryTraceWriter, readBinaryRecords, BINARY_MAGIC, MAX_RUN } from '../src/trace/binary.ts';
import { FileSink, fileChunks, openTraceFile, sniffTrace } from '../src/node/trace-files.ts';
import { readTraceSource } from '../src/trace/read.ts';
import { convertTrace } from '../src/node/convert.ts';
import { replayFile } from '../src/node/replay-file.ts';
import { listScenarios, SCENARIO_DIR } from '../src/cli/scenarios.ts';

const dir = mkdtempSync(join(tmpdir(), 'mmuwasm-binary-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const bin = join(import.meta.dirname, '..', 'bin', 'mmuwasm.mjs');
const cli = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
let n = 0;
const tmp = (ext: string) => join(dir, `f${++n}${ext}`);

/** The events of a JSON Lines text with their lines (what the replay sees), and its comment lines. */
function textEvents(path: string): { items: { line: number; kind: string; event?: unknown }[]; comments: string[] } {
  const lines = readFileSync(path, 'utf8').split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const items = [...parseTrace(lines, path)].map((i: TraceItem) => ({ line: i.line, kind: i.kind, event: i.kind === 'event' ? i.event : i.header }));
  return { items, comments: lines.filter((l) => /^\s*(#|\/\/|$)/.test(l)) };
}

async function collect(path: string): Promise<TraceItem[]> {
  const out: TraceItem[] = [];
  for await (const i of readTrace(path)) out.push(i);
  return out;
}

/** A replay's error, as the user reads it. */
async function replayError(path: string): Promise<{ line: number; message: string }> {
  const { report, status } = await replayFile(path);
  expect(status).toBe(2);
  expect(report.complete).toBe(false);
  expect(report.error?.file).toBe(path);
  return { line: report.error!.line, message: report.error!.message };
}

const HEADER = '{"format":"mmuwasm-trace","version":1,"cpus":2}';
/** A small binary trace written record by record. */
function writeBinary(path: string, f: (w: BinaryTraceWriter) => void): string {
  const w = new BinaryTraceWriter(new FileSink(path));
  f(w);
  w.close();
  return path;
}
const SETUP = (w: BinaryTraceWriter) => {
  w.comment('# a trace written by the test');
  w.json(HEADER);
  w.json('{"op":"mm","mm":"A"}');
  w.json('{"op":"switch","cpu":0,"mm":"A"}');
  w.json('{"op":"mmap","cpu":0,"va":"0x10000000","len":"1M","prot":"rw","flags":"private"}');
};

describe('the scenario library in binary form', () => {
  const scenarios = listScenarios();

  it.each(scenarios)('%s: text → binary → text keeps every event on its line; binary → text → binary keeps every byte', async (file) => {
    const src = join(SCENARIO_DIR, file);
    const b1 = tmp('.mmtrace');
    const t1 = tmp('.jsonl');
    const b2 = tmp('.mmtrace');
    await convertTrace(src, b1);
    await convertTrace(b1, t1);
    await convertTrace(t1, b2);
    const a = textEvents(src);
    const b = textEvents(t1);
    expect(b.items).toEqual(a.items);
    expect(b.comments).toEqual(a.comments);
    expect(readFileSync(b2).equals(readFileSync(b1))).toBe(true);
    // The binary reader gives the text reader's events, with access runs packed.
    const unpacked: { line: number; kind: string; event?: unknown }[] = [];
    for (const i of await collect(b1)) {
      if (i.kind === 'header') unpacked.push({ line: i.line, kind: 'header', event: i.header });
      else if (i.event.op !== 'access_run') unpacked.push({ line: i.line, kind: 'event', event: i.event });
      else {
        const r = i.event as unknown as { cpu: number; va: BigUint64Array; rw: Uint8Array };
        r.va.forEach((va, k) => unpacked.push({ line: i.line + k, kind: 'event', event: { op: 'access', cpu: r.cpu, va, rw: 'rwx'[r.rw[k] & 3], ...(r.rw[k] & 4 ? { user: false } : {}) } }));
      }
    }
    expect(JSON.stringify(unpacked, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v))).toBe(JSON.stringify(a.items, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v)));
  });

  // v4.4, where the old kernel's bugs show: every violation's line must come out the same.
  it.each(scenarios)('%s: the same report from both forms', async (file) => {
    const src = join(SCENARIO_DIR, file);
    const b = tmp('.mmtrace');
    await convertTrace(src, b);
    for (const kernel of ['v4.4']) {
      const t = await replayFile(src, { kernel });
      const r = await replayFile(b, { kernel });
      expect(r.status).toBe(t.status);
      expect(r.report).toEqual(t.report);
    }
  });
});

describe('conversion', () => {
  const src = join(SCENARIO_DIR, 'b10-parallel-dontneed.jsonl');

  it('gzip in and out, in both forms; a binary trace is known by its bytes, whatever its name', async () => {
    const bgz = tmp('.mmtrace.gz');
    const tgz = tmp('.jsonl.gz');
    const plain = tmp('.mmtrace');
    await convertTrace(src, bgz);
    await convertTrace(bgz, tgz);
    await convertTrace(tgz, plain);
    expect(readFileSync(bgz).subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
    expect(sniffTrace(bgz)).toEqual({ gzip: true, binary: true });
    expect(sniffTrace(tgz)).toEqual({ gzip: true, binary: false });
    const oddName = tmp('.trace');
    writeFileSync(oddName, readFileSync(plain));
    expect(sniffTrace(oddName)).toEqual({ gzip: false, binary: true });
    const want = (await replayFile(src)).report;
    expect((await replayFile(bgz)).report).toEqual(want);
    expect((await replayFile(oddName)).report).toEqual(want);
    const b = tmp('.mmtrace');
    await convertTrace(src, b);
    expect(readFileSync(plain).equals(readFileSync(b))).toBe(true);
  });

  it('an access in any value syntax comes back canonical; parked accesses and streams stay events', async () => {
    const t = tmp('.jsonl');
    writeFileSync(t, [
      HEADER,
      '{"op":"access","cpu":1,"va":1073741824,"rw":"w","user":true}',
      '  {"op":"access", "cpu":0, "va":"1G", "rw":"x", "user":false}  ',
      '{"op":"access","cpu":0,"va":"0x40000000","rw":"r","id":"a","until":"install"}',
      '{"op":"accesses","cpu":0,"va":"0x40000000","len":"4K","count":3,"pattern":"sequential"}',
    ].join('\r\n') + '\r\n');
    const b = tmp('.mmtrace');
    const back = tmp('.jsonl');
    await convertTrace(t, b);
    await convertTrace(b, back);
    expect(readFileSync(back, 'utf8')).toBe([
      HEADER,
      '{"op":"access","cpu":1,"va":"0x40000000","rw":"w"}',
      '{"op":"access","cpu":0,"va":"0x40000000","rw":"x","user":false}',
      '{"op":"access","cpu":0,"va":"0x40000000","rw":"r","id":"a","until":"install"}',
      '{"op":"accesses","cpu":0,"va":"0x40000000","len":"4K","count":3,"pattern":"sequential"}',
    ].join('\n') + '\n');
    const recs = [];
    for await (const r of readBinaryRecords(await openTraceFile(b))) recs.push([r.type, r.line]);
    expect(recs).toEqual([['json', 1], ['accesses', 2], ['accesses', 3], ['json', 4], ['json', 5]]);
  });

  it('--strip-comments and --expand', async () => {
    const t = tmp('.jsonl');
    writeFileSync(t, ['# a comment', HEADER, '', '{"op":"accesses","cpu":1,"va":"0x40000000","len":"16K","count":5,"pattern":"stride","stride":"4K","write":1}', '{"op":"expect","violations":0}'].join('\n') + '\n');
    const s = tmp('.jsonl');
    await convertTrace(t, s, { stripComments: true });
    expect(readFileSync(s, 'utf8').split('\n')[0]).toBe(HEADER);
    const e = tmp('.jsonl');
    const r = await convertTrace(t, e, { expand: true });
    expect(r).toEqual({ lines: 9, events: 6, accesses: 5 });
    const lines = readFileSync(e, 'utf8').trim().split('\n');
    expect(lines.slice(3, 8)).toEqual([0, 1, 2, 3, 0].map((p) => `{"op":"access","cpu":1,"va":"0x${(0x40000000 + p * 4096).toString(16)}","rw":"w"}`));
  });

  it('the command: exit 0 and a summary; a bad input exits 2 naming file and line, and leaves no output', () => {
    const out = tmp('.mmtrace');
    const ok = cli('convert', src, out);
    expect(ok.status).toBe(0);
    expect(ok.stderr).toMatch(/lines, \d+ events, \d+ of them accesses/);
    const bad = tmp('.jsonl');
    writeFileSync(bad, `${HEADER}\n{"op":"access","cpu":7,"va":0,"rw":"r"}\n`);
    const out2 = tmp('.mmtrace');
    const r = cli('convert', bad, out2);
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toBe(`mmuwasm convert: ${bad}:2: field "cpu": CPU 7 does not exist (the header says 2 CPUs, numbered from 0)`);
    expect(() => statSync(out2)).toThrow();
    expect(cli('convert', src, tmp('.txt')).status).toBe(2);
    expect(cli('convert', src).status).toBe(2);
  });
});

describe('reading a large file', () => {
  it('read into the reader\'s own buffer, a 10 MiB file gives the records the writer wrote, as the same bytes from memory do', async () => {
    // Runs of changing CPU and length, so that records fall across every boundary of the 4 MiB buffer.
    const p = tmp('.mmtrace');
    const hash = (h: number, v: number) => Math.imul(h ^ v, 0x01000193) >>> 0;
    let want = 0x811c9dc5;
    let count = 0;
    writeBinary(p, (w) => {
      w.json(HEADER);
      let seed = 7;
      for (let k = 0; k < 1_150_000; ) {
        seed = (seed * 1103515245 + 12345) >>> 0;
        const len = 1 + (seed % 70000);
        const cpu = (seed >>> 20) & 1;
        for (let i = 0; i < len; i++, k++) {
          const va = 0x10000000 + ((k * 4104) % (1 << 30));
          const rw = k % 5 === 0 ? 1 : 0;
          w.access(cpu, va, rw);
          want = hash(hash(hash(want, cpu), va), rw);
          count++;
        }
        if (seed % 3 === 0) w.json(`{"op":"mm","mm":"M${k}"}`);
      }
    });
    expect(statSync(p).size).toBeGreaterThan(10 << 20);
    const seen = async (src: AsyncIterable<TraceItem>): Promise<{ hash: number; count: number; lines: number[] }> => {
      let h = 0x811c9dc5;
      let n = 0;
      const lines: number[] = [];
      for await (const it of src) {
        lines.push(it.line);
        if (it.kind !== 'event' || it.event.op !== 'access_run') continue;
        const run = it.event as unknown as { cpu: number; va: BigUint64Array; rw: Uint8Array };
        for (let i = 0; i < run.va.length; i++, n++) h = hash(hash(hash(h, run.cpu), Number(run.va[i])), run.rw[i]);
      }
      return { hash: h, count: n, lines };
    };
    const fromFile = await seen(readTrace(p));
    expect({ hash: fromFile.hash, count: fromFile.count }).toEqual({ hash: want, count });
    expect(await seen(readTraceSource(readFileSync(p), p))).toEqual(fromFile);
  });

  it('a file source fills the room its reader offers, and a plain buffer otherwise', async () => {
    const p = tmp('.mmtrace');
    writeFileSync(p, new Uint8Array(3 << 20).fill(7));
    const chunks = fileChunks(p);
    const first = await chunks.next();
    expect(first.value!.length).toBe(1 << 20);
    const room = new Uint8Array(2 << 20);
    const into = await chunks.next(room.subarray(100));
    expect(into.value!.buffer).toBe(room.buffer);
    expect(into.value!.byteOffset).toBe(100);
    expect(into.value!.length).toBe((2 << 20) - 100);
    expect(room[99]).toBe(0);
    expect(room[100]).toBe(7);
    const small = await chunks.next(new Uint8Array(100));
    expect(small.value!.buffer).not.toBe(room.buffer);
    expect(small.value!.length).toBe((3 << 20) - (1 << 20) - ((2 << 20) - 100));
    expect((await chunks.next()).done).toBe(true);
  });
});

describe('replaying access runs', () => {
  it('an access of a run that waits for a parked migration holds the rest of the run behind it, as lines would', async () => {
    const lines = [
      '{"format":"mmuwasm-trace","version":1,"cpus":3}',
      '{"op":"hugetlbfs","file":"F","size":"1G","pagesize":"2M"}',
      '{"op":"mm","mm":"A"}', '{"op":"mm","mm":"B"}',
      '{"op":"switch","cpu":0,"mm":"A"}', '{"op":"switch","cpu":1,"mm":"B"}',
      '{"op":"mmap","cpu":0,"va":"0x40000000","len":"1G","prot":"rw","flags":"shared","file":"F","offset":0}',
      '{"op":"mmap","cpu":1,"va":"0x40000000","len":"1G","prot":"rw","flags":"shared","file":"F","offset":0}',
      '{"op":"access","cpu":0,"va":"0x40000000","rw":"w"}',
      '{"op":"access","cpu":1,"va":"0x40000000","rw":"w"}',
      '{"op":"migrate","cpu":0,"va":"0x40000000","id":"m","until":"copy"}', // 11
      '{"op":"access","cpu":1,"va":"0x40200000","rw":"w"}', // 12: faults in a page, fine
      '{"op":"access","cpu":1,"va":"0x40000008","rw":"w"}', // 13: waits for the migration
      '{"op":"access","cpu":1,"va":"0x40200008","rw":"r"}', // 14: behind 13
      '{"op":"access","cpu":1,"va":"0x40400000","rw":"w"}', // 15: behind 13
      '{"op":"access","cpu":0,"va":"0x40200000","rw":"r"}', // 16: CPU 0 runs on
      '{"op":"resume","id":"m"}', // 17
      '{"op":"expect","violations":0}',
    ];
    const t = tmp('.jsonl');
    writeFileSync(t, lines.join('\n') + '\n');
    const b = tmp('.mmtrace');
    await convertTrace(t, b);
    const kinds = [];
    for await (const r of readBinaryRecords(await openTraceFile(b))) kinds.push(`${r.type}@${r.line}${r.type === 'accesses' ? `x${r.va.length}` : ''}`);
    expect(kinds.slice(8)).toEqual(['accesses@9x1', 'accesses@10x1', 'json@11', 'accesses@12x4', 'accesses@16x1', 'json@17', 'json@18']);
    const want = await replayFile(t, { kernel: 'v6.18' });
    const got = await replayFile(b, { kernel: 'v6.18' });
    expect(want.report.waited).toEqual([{ line: 13, behind: 11, reason: 'the page at 0x40000000 is being migrated' }]);
    expect(got.report).toEqual(want.report);
    expect(got.status).toBe(0);
    const old = await replayFile(b, { kernel: 'v4.4' });
    expect(old.report).toEqual((await replayFile(t, { kernel: 'v4.4' })).report);
    expect(old.report.violations.length).toBeGreaterThan(0);
  });

  it('a run longer than the batch area and split into records of 65536; segmentation faults on their lines', async () => {
    const p = tmp('.mmtrace');
    const count = MAX_RUN + 5000;
    writeBinary(p, (w) => {
      SETUP(w);
      for (let i = 0; i < count; i++) w.access(0, 0x10000000 + ((i * 8) % (1 << 20)), i % 3 === 0 ? 1 : 0);
      w.access(0, 0x20000000, 0); // line 6 + count: nothing mapped there
      w.access(0, 2 ** 47 + 4096, 0); // not canonical: #GP
      w.access(0, 0x10000000, 4); // a supervisor read of a user page: SMAP is off, fine
      w.json('{"op":"expect","violations":0}');
    });
    const recs = [];
    for await (const r of readBinaryRecords(await openTraceFile(p))) if (r.type === 'accesses') recs.push([r.line, r.va.length]);
    expect(recs).toEqual([[6, MAX_RUN], [6 + MAX_RUN, count - MAX_RUN + 3]]);
    const { report, status } = await replayFile(p);
    expect(status).toBe(0);
    expect(report.accesses).toBe(count + 3);
    expect(report.events).toBe(3 + count + 3 + 1);
    expect(report.segfaults).toEqual([{ line: 6 + count, cpu: 0, va: '0x20000000' }, { line: 7 + count, cpu: 0, va: '0x800000001000' }]);
  });
});

describe('bad binary traces: exit 2, naming the file, the record\'s line and the field', () => {
  const good = () => writeBinary(tmp('.mmtrace'), (w) => {
    SETUP(w); // lines 1..5
    for (let i = 0; i < 1000; i++) w.access(0, 0x10000000 + i * 64, i & 1); // lines 6..1005
    w.json('{"op":"switch","cpu":1,"mm":"A"}'); // 1006
    w.access(1, 0x10000000, 0); // 1007
    w.json('{"op":"expect","violations":0}'); // 1008
  });
  // Byte offsets: magic+version 12, comment 9+28, header J 9+47, …
  const runOffset = (p: string) => {
    const b = readFileSync(p);
    for (let i = 12; i < b.length; ) {
      if (b[i] === 0x41) return i;
      i += 9 + b.readUInt32LE(i + 1);
    }
    throw new Error('no run');
  };

  it('the good file replays', async () => {
    const { report, status } = await replayFile(good());
    expect(status).toBe(0);
    expect(report).toMatchObject({ complete: true, events: 1006, accesses: 1001 });
  });

  it('a truncated file: inside a record, or at a record boundary without the end record', async () => {
    const p = good();
    const size = statSync(p).size;
    const run = runOffset(p);
    truncateSync(p, run + 4000);
    expect(await replayError(p)).toEqual({ line: 6, message: `the file is truncated: it ends inside the access run of lines 6–1005 (the record at byte ${run} needs ${11 + 9000} bytes, 4000 are left)` });
    const q = good();
    const second = run + 9011 + 9 + '{"op":"switch","cpu":1,"mm":"A"}'.length;
    truncateSync(q, second + 15);
    expect(await replayError(q)).toEqual({ line: 1007, message: `the file is truncated: it ends inside the access run of lines 1007–1007 (the record at byte ${second} needs 20 bytes, 15 are left)` });
    const r = good();
    truncateSync(r, size - 13);
    expect(await replayError(r)).toEqual({ line: 1009, message: `the file is truncated: it ends after line 1008 without its end record (at byte ${size - 13})` });
    const s = good();
    truncateSync(s, 10);
    expect(await replayError(s)).toMatchObject({ line: 0, message: expect.stringContaining('truncated: it ends inside the file header') });
  });

  it('a bad kind byte names its record\'s line and the field "rw"; a flipped address bit fails the checksum', async () => {
    const p = good();
    const run = runOffset(p);
    const b = readFileSync(p);
    b[run + 11 + 8 * 1000 + 6] = 3;
    // The checksum is checked first: recompute it to reach the kind check.
    b.writeUInt32LE(crc32(b.subarray(run + 11, run + 11 + 9000), crc32(b.subarray(run + 1, run + 7))), run + 7);
    writeFileSync(p, b);
    expect(await replayError(p)).toEqual({ line: 12, message: `field "rw": access record 7 of the run at line 6 has kind byte 0x3: expected rw 0 (r), 1 (w) or 2 (x), plus 4 for a supervisor access (at byte ${run})` });
    const q = good();
    const c = readFileSync(q);
    c[run + 11 + 40] ^= 0x10;
    writeFileSync(q, c);
    expect(await replayError(q)).toEqual({ line: 6, message: `checksum mismatch in the access run of lines 6–1005 (at byte ${run}): the file is corrupt` });
  });

  it('a CPU the header does not have, an event the text reader refuses, a record before the header', async () => {
    const p = writeBinary(tmp('.mmtrace'), (w) => {
      SETUP(w);
      w.access(5, 0x10000000, 0);
    });
    expect(await replayError(p)).toEqual({ line: 6, message: 'field "cpu": CPU 5 does not exist (the header says 2 CPUs, numbered from 0)' });
    const q = writeBinary(tmp('.mmtrace'), (w) => {
      SETUP(w);
      w.json('{"op":"resume","id":"m","when":"now"}');
    });
    expect(await replayError(q)).toEqual({ line: 6, message: 'field "when": unknown field for "resume"' });
    const r = writeBinary(tmp('.mmtrace'), (w) => {
      w.comment('');
      w.access(0, 0, 0);
      w.json(HEADER);
    });
    expect(await replayError(r)).toEqual({ line: 2, message: 'the first line must be the header ({"format":"mmuwasm-trace","version":1,"cpus":N}), not an access record' });
    const s = writeBinary(tmp('.mmtrace'), (w) => {
      w.json(HEADER);
      w.json('# not JSON');
    });
    expect(await replayError(s)).toMatchObject({ line: 2, message: expect.stringContaining('a JSON record must hold one JSON object, not a comment') });
  });

  it('wrong magic, version, tag, end record; bytes after the end', async () => {
    const p = good();
    const b = readFileSync(p);
    const crlf = Buffer.concat([b.subarray(0, 4), Buffer.from([0x0a]), b.subarray(6)]);
    writeFileSync(p, crlf);
    expect(await replayError(p)).toEqual({ line: 0, message: 'not a binary trace: the file does not start with the magic bytes 89 4d 4d 54 0d 0a 1a 0a (its \\r\\n became \\n: the file was copied as text; copy it as binary)' });
    const q = good();
    const c = readFileSync(q);
    c.writeUInt32LE(2, 8);
    writeFileSync(q, c);
    expect(await replayError(q)).toEqual({ line: 0, message: 'field "version": this reader knows binary version 1, not 2' });
    const r = good();
    const d = readFileSync(r);
    d[runOffset(r)] = 0x5a;
    writeFileSync(r, d);
    expect(await replayError(r)).toEqual({ line: 6, message: `unknown record tag 0x5a at byte ${runOffset(good())}: the file is corrupt or was not written by a binary trace writer` });
    const s = good();
    writeFileSync(s, Buffer.concat([readFileSync(s), Buffer.from([0])]));
    expect(await replayError(s)).toMatchObject({ line: 1009, message: expect.stringContaining('1 bytes follow the end record') });
    const t = good();
    const e = readFileSync(t);
    e.writeUInt32LE(5, e.length - 12);
    writeFileSync(t, e);
    expect(await replayError(t)).toMatchObject({ line: 1009, message: expect.stringContaining('checksum mismatch in the end record') });
  });

  it('a corrupt gzip stream is named as such', async () => {
    const p = good();
    const z = gzipSync(readFileSync(p));
    const q = tmp('.mmtrace.gz');
    writeFileSync(q, z.subarray(0, z.length - 40));
    const e = await replayError(q);
    expect(e.message).toMatch(/truncated|is it valid gzip/);
  });

  it('the command prints FILE:LINE: and exits 2', () => {
    const p = good();
    truncateSync(p, statSync(p).size - 13);
    const r = cli('replay', p, '--quiet');
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toMatch(new RegExp(`^mmuwasm replay: ${p.replace(/[.]/g, '\\.')}:1009: the file is truncated: it ends after line 1008 without its end record`));
  });

  it('the magic is the documented one', () => {
    expect(Buffer.from(BINARY_MAGIC).toString('latin1')).toBe('\x89MMT\r\n\x1a\n');
  });
});
