// Traces from bytes (src/trace/source.ts, lines.ts, read.ts): the same items from a string, a
// Uint8Array, a ReadableStream and a file; the limits of a line; strict UTF-8; gzip errors named at
// their line; and `convert` refusing what `replay` refuses, with the same message.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { gunzipSync, gzipSync, inflateRawSync } from 'node:zlib';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { readTraceSource } from '../src/trace/read.ts';
import { MAX_LINE, invalidUtf8At } from '../src/trace/lines.ts';
import { BinaryTraceWriter, MemorySink, TextTraceWriter } from '../src/trace/binary.ts';
import { readTrace } from '../src/node/read-trace.ts';
import { FileSink } from '../src/node/trace-files.ts';
import { replayFile } from '../src/node/replay-file.ts';
import { replaySource } from '../src/replay/replay-trace.ts';
import { crc32 } from '../src/platform/crc32.ts';
import { crc32 as zlibCrc32 } from 'node:zlib';
import { SCENARIO_DIR } from '../src/cli/scenarios.ts';
import type { TraceItem } from '../src/trace/events.ts';

const B1 = join(SCENARIO_DIR, 'b1-shared-pmd-migration.jsonl');
const bin = new URL('../bin/mmuwasm.mjs', import.meta.url).pathname;
const HEADER = '{"format":"mmuwasm-trace","version":1,"cpus":1}';

async function collect(items: AsyncIterable<TraceItem>): Promise<Array<Omit<TraceItem, 'bytes'>>> {
  const out: Array<Omit<TraceItem, 'bytes'>> = [];
  for await (const { bytes: _, ...rest } of items) out.push(rest);
  return out;
}

async function failure(items: AsyncIterable<TraceItem>): Promise<string> {
  try {
    for await (const _ of items);
  } catch (err) {
    return (err as Error).message;
  }
  return 'no error';
}

describe('a trace from its bytes', () => {
  it('gives the same items from a string, a Uint8Array, a ReadableStream of 7-byte chunks, gzip, and the file', async () => {
    const text = readFileSync(B1, 'utf8');
    const bytes = new TextEncoder().encode(text);
    const fromFile = await collect(readTrace(B1));
    expect(fromFile.length).toBeGreaterThan(10);
    expect(await collect(readTraceSource(text, B1))).toEqual(fromFile);
    expect(await collect(readTraceSource(bytes, B1))).toEqual(fromFile);
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < bytes.length; i += 7) c.enqueue(bytes.subarray(i, i + 7));
        c.close();
      },
    });
    expect(await collect(readTraceSource(stream, B1))).toEqual(fromFile);
    expect(await collect(readTraceSource(new Uint8Array(gzipSync(bytes)), B1))).toEqual(fromFile);
  });

  it('reads the binary form from bytes written into memory, plain and as the file would be', async () => {
    const sink = new MemorySink();
    const w = new BinaryTraceWriter(sink);
    w.json(HEADER);
    w.comment('# two accesses');
    w.access(0, 0x1000, 1);
    w.access(0, 0x2000n, 0);
    w.close();
    const items = await collect(readTraceSource(sink.bytes(), 'mem.mmtrace'));
    expect(items.map((i) => [i.kind, i.line])).toEqual([['header', 1], ['event', 3]]);
    const ev = (items[1] as { event?: { op: string; va?: unknown } }).event;
    expect(ev?.op).toBe('access_run');
    expect([...(ev!.va as BigUint64Array)]).toEqual([0x1000n, 0x2000n]);
    const text = new MemorySink();
    const t = new TextTraceWriter(text);
    t.json(HEADER);
    t.access(0, 0x1000, 1);
    t.close();
    expect(new TextDecoder().decode(text.bytes())).toBe(`${HEADER}\n{"op":"access","cpu":0,"va":"0x1000","rw":"w"}\n`);
  });

  it('replaySource gives the report replayFile gives, from a string and from a stream', async () => {
    const text = readFileSync(B1, 'utf8');
    for (const kernel of ['v4.4', 'v4.19']) {
      const file = await replayFile(B1, { kernel });
      const fromText = await replaySource(text, { name: B1, kernel });
      const fromStream = await replaySource(new Blob([text]).stream(), { name: B1, kernel });
      expect(fromText.report).toEqual(file.report);
      expect(fromStream.report).toEqual(file.report);
      expect(fromText.status).toBe(file.status);
    }
  });

  it('plain-JavaScript CRC-32 agrees with zlib', () => {
    const b = new Uint8Array(1000);
    for (let i = 0; i < b.length; i++) b[i] = (i * 131 + 7) & 0xff;
    for (const n of [0, 1, 7, 8, 9, 63, 1000]) expect(crc32(b.subarray(0, n))).toBe(zlibCrc32(b.subarray(0, n)));
    expect(crc32(b.subarray(500), crc32(b.subarray(0, 500)))).toBe(zlibCrc32(b));
  });
});

describe('the limits of a line', () => {
  it('a line longer than MAX_LINE is an error at its line, found before the rest is read', async () => {
    let pulled = 0;
    const chunk = new Uint8Array(1 << 20).fill(0x61);
    async function* endless(): AsyncGenerator<Uint8Array> {
      yield new TextEncoder().encode(`${HEADER}\n# fine\n`);
      for (;;) {
        pulled++;
        yield chunk;
      }
    }
    expect(await failure(readTraceSource(endless(), 'zero'))).toBe(`zero:3: the line is longer than ${MAX_LINE} bytes`);
    expect(pulled).toBe(17);
  });

  it('a long line inside one large chunk is measured too', async () => {
    const big = new Uint8Array(MAX_LINE + 10).fill(0x20);
    const all = new Uint8Array(HEADER.length + 1 + big.length + 1);
    all.set(new TextEncoder().encode(`${HEADER}\n`));
    all.set(big, HEADER.length + 1);
    all[all.length - 1] = 0x0a;
    expect(await failure(readTraceSource((function* () { yield all; })(), 'big'))).toBe(`big:2: the line is longer than ${MAX_LINE} bytes`);
  });

  it('invalid UTF-8 is refused with its byte offset, not read as U+FFFD', async () => {
    const good = new TextEncoder().encode(`${HEADER}\n{"op":"mm","mm":"A`);
    const bytes = new Uint8Array([...good, 0xff, ...new TextEncoder().encode('"}\n')]);
    expect(await failure(readTraceSource(bytes, 'bad'))).toBe(`bad:2: the line is not valid UTF-8 (byte 0xff at offset ${good.length} of the file)`);
    // split across chunks, and a truncated sequence at the very end
    const split = (function* () {
      yield bytes.subarray(0, good.length - 3);
      yield bytes.subarray(good.length - 3);
    })();
    expect(await failure(readTraceSource(split, 'bad'))).toBe(`bad:2: the line is not valid UTF-8 (byte 0xff at offset ${good.length} of the file)`);
    expect(await failure(readTraceSource(new Uint8Array([...new TextEncoder().encode(`${HEADER}\n#`), 0xe2, 0x82]), 'cut'))).toBe(`cut:2: the line is not valid UTF-8 (byte 0xe2 at offset ${HEADER.length + 2} of the file)`);
    // A U+FFFD that the file spells out (EF BF BD) is a character like any other.
    const named = await collect(readTraceSource(`${HEADER}\n{"op":"mm","mm":"A\uFFFD"}\n`, 'ok'));
    expect((named[1] as unknown as { event: { mm: string } }).event.mm).toBe('A\uFFFD');
    expect(invalidUtf8At(new TextEncoder().encode('é€😀'))).toBe(-1);
    expect(invalidUtf8At(new Uint8Array([0x41, 0xed, 0xa0, 0x80]))).toBe(1); // a surrogate
    expect(invalidUtf8At(new Uint8Array([0xc0, 0x80]))).toBe(0); // overlong
  });

  it('a corrupt gzip stream is an error at the line it cut, from a stream as from a file', async () => {
    const lines = [HEADER, ...Array.from({ length: 20000 }, (_, i) => `# comment ${i}`)].join('\n');
    const gz = new Uint8Array(gzipSync(lines));
    gz.fill(0x55, 4000, 4100);
    const msg = await failure(readTraceSource(gz, 'c.jsonl.gz'));
    expect(msg).toMatch(/^c\.jsonl\.gz:\d+: cannot read the trace \(is it valid gzip\?\): /);
    expect(Number(msg.split(':')[1])).toBeGreaterThan(1);
  });
});

describe('gzip output', () => {
  it('is one gzip member whatever its size, so that a browser\'s DecompressionStream reads it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mmuwasm-gzip-'));
    try {
      const path = join(dir, 't.jsonl.gz');
      const sink = new FileSink(path);
      const parts = [0, 1, 2].map((i) => new TextEncoder().encode(`# part ${i}\n`.repeat(500000)));
      for (const p of parts) sink.write(p);
      sink.close();
      const gz = readFileSync(path);
      const all = Buffer.concat(parts);
      expect(gunzipSync(gz).equals(all)).toBe(true);
      // One header, one deflate stream over all of it, one trailer.
      expect(inflateRawSync(gz.subarray(10, gz.length - 8)).equals(all)).toBe(true);
      expect(gz.readUInt32LE(gz.length - 4)).toBe(all.length);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('files that cannot be read', () => {
  it('a missing file is an error at line 0, a directory one at line 1, both naming the path', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mmuwasm-unreadable-'));
    try {
      expect(await failure(readTrace(join(dir, 'none.jsonl')))).toMatch(/none\.jsonl:0: cannot read the trace: ENOENT/);
      expect(await failure(readTrace(dir))).toMatch(/mmuwasm-unreadable-\w+:1: cannot read the trace: EISDIR/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the command line on bad bytes', () => {
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'mmuwasm-source-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const run = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });

  it('a corrupt .jsonl.gz exits 2 naming its line, with no stack trace', () => {
    const lines = [HEADER, ...Array.from({ length: 20000 }, (_, i) => `# comment ${i}`)].join('\n');
    const gz = gzipSync(lines);
    gz.fill(0x55, 4000, 4100);
    const p = join(dir, 'corrupt.jsonl.gz');
    writeFileSync(p, gz);
    const r = run('replay', p);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/corrupt\.jsonl\.gz:\d+: cannot read the trace \(is it valid gzip\?\)/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('convert of a trace with a 17 MiB line says what replay says, and leaves no output', () => {
    const p = join(dir, 'long.jsonl');
    writeFileSync(p, `${HEADER}\n{"op":"mm","mm":"${'m'.repeat(17 << 20)}"}\n`);
    const replay = run('replay', p);
    expect(replay.status).toBe(2);
    expect(replay.stderr).toContain(`long.jsonl:2: the line is longer than ${MAX_LINE} bytes`);
    const out = join(dir, 'long.mmtrace');
    const convert = run('convert', p, out);
    expect(convert.status).toBe(2);
    expect(convert.stderr).toContain(`long.jsonl:2: the line is longer than ${MAX_LINE} bytes`);
    expect(existsSync(out)).toBe(false);
  });
});
