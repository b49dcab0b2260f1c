// The canonical plain access (src/trace/plain-access.ts) is read without JSON.parse: from a line's
// bytes by the replay's reader, from its text otherwise. Both readers must accept exactly the same
// lines, and whatever they accept must mean what JSON.parse and the schema make of it. A replay that
// reads a JSON Lines trace gathers the plain accesses of one CPU on consecutive lines into access
// runs, as the binary form has them: its report is the one the replay of the same events, one by
// one, gives — for accesses among comments and CRLF lines, inside a concurrent block, parked, faulting,
// of a CPU the header lacks, and before a bad line.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { scanPlainAccess, scanPlainAccessBytes, PlainAccessScanner, type PlainAccess } from '../src/trace/plain-access.ts';
import { parseTrace } from '../src/trace/parser.ts';
import { readTraceSource, TRACE_BLOCKS } from '../src/trace/read.ts';
import { replaySource, replayTrace } from '../src/replay/replay-trace.ts';
import { reportJson } from '../src/replay/report.ts';

const enc = new TextEncoder();
const fresh = (): PlainAccess => ({ cpu: -1, lo: -1, hi: -1, code: -1 });

/** What the general path makes of a line: JSON.parse, and the four fields a plain access has, exactly. */
function general(line: string): { cpu: number; va: bigint; code: number } | undefined {
  let o: unknown;
  try {
    o = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof o !== 'object' || o === null) return undefined;
  const r = o as Record<string, unknown>;
  if (Object.keys(r).join() !== 'op,cpu,va,rw' || r.op !== 'access' || typeof r.cpu !== 'number' || typeof r.va !== 'string') return undefined;
  if (!/^0x[0-9a-f]+$/.test(r.va) || !['r', 'w', 'x'].includes(r.rw as string)) return undefined;
  return { cpu: r.cpu, va: BigInt(r.va), code: ['r', 'w', 'x'].indexOf(r.rw as string) };
}

describe('the canonical plain access', () => {
  it('the byte and the text readers accept the same lines, and read what JSON.parse reads', () => {
    const canonical = fc.record({
      cpu: fc.oneof(fc.integer({ min: 0, max: 999 }).map(String), fc.constantFrom('00', '01', '1000', '-1', '1.0', ' 1')),
      hex: fc.oneof(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }).map((v) => v.toString(16)), fc.constantFrom('', '0', '00000000000000001', '0000000000000001', 'ffffffffffffffff', 'FF', 'g1')),
      rw: fc.constantFrom('r', 'w', 'x', 'R', 'rw', ''),
    }).map(({ cpu, hex, rw }) => `{"op":"access","cpu":${cpu},"va":"0x${hex}","rw":"${rw}"}`);
    const mutated = fc.tuple(canonical, fc.nat(80), fc.constantFrom('', ' ', '"', '}', ',', '0', 'a', '\r')).map(([l, at, c]) => l.slice(0, at) + c + l.slice(at + (c === '' ? 1 : 0)));
    fc.assert(
      fc.property(fc.oneof(canonical, mutated), (line) => {
        const text = fresh();
        const okText = scanPlainAccess(line, text);
        const bytes = enc.encode(`${line}\n`);
        const fromBytes = fresh();
        const end = scanPlainAccessBytes(bytes, 0, bytes.length - 1, fromBytes);
        expect(end >= 0 && end === bytes.length - 1).toBe(okText);
        const want = general(line);
        if (okText) {
          expect(fromBytes).toEqual(text);
          expect(want).toEqual({ cpu: text.cpu, va: (BigInt(text.hi) << 32n) | BigInt(text.lo), code: text.code });
        } else if (want && /^\{"op":"access","cpu":(0|[1-9][0-9]{0,2}),"va":"0x[0-9a-f]{1,16}","rw":"[rwx]"\}$/.test(line)) {
          throw new Error(`a canonical line was refused: ${line}`);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('the scanner finds the end of the lines it takes (LF or CRLF) and gives back their text', () => {
    const lines = ['{"op":"access","cpu":3,"va":"0x7f0000001000","rw":"w"}', '{"op":"access","cpu":0,"va":"0x0","rw":"x"}\r', '{"op":"access","cpu":1,"va":"0x10","rw":"r"} ', '{"op":"mm","mm":"A"}'];
    const bytes = enc.encode(lines.join('\n') + '\n');
    const s = new PlainAccessScanner();
    s.reset(bytes);
    const nl1 = s.take(0, bytes.length - 1);
    expect(nl1).toBe(lines[0].length);
    const nl2 = s.take(nl1 + 1, bytes.length - 1);
    expect(nl2).toBe(nl1 + 1 + lines[1].length);
    expect(s.take(nl2 + 1, bytes.length - 1)).toBe(-1); // a space before the line break: the general path's
    expect(s.n).toBe(2);
    expect([s.cpu[0], s.lo[0], s.hi[0], s.code[0]]).toEqual([3, 0x1000, 0x7f00, 1]);
    expect(s.text(1)).toBe(lines[1].slice(0, -1));
  });
});

const HEADER = '{"format":"mmuwasm-trace","version":1,"cpus":3}';
const SETUP = [
  HEADER,
  '{"op":"mm","mm":"A"}',
  '{"op":"mm","mm":"B"}',
  '{"op":"switch","cpu":0,"mm":"A"}',
  '{"op":"switch","cpu":1,"mm":"B"}',
  '{"op":"switch","cpu":2,"mm":"A"}',
  '{"op":"mmap","cpu":0,"va":"0x10000000","len":"64K","prot":"rw","flags":"private"}',
  '{"op":"mmap","cpu":1,"va":"0x10000000","len":"64K","prot":"r","flags":"private"}',
];
const acc = (cpu: number, va: number, rw = 'r') => `{"op":"access","cpu":${cpu},"va":"0x${va.toString(16)}","rw":"${rw}"}`;

/** The report of a trace read as a replay reads a file (access runs), and of the same items one by one. */
async function both(lines: string[]): Promise<{ runs: string; items: string; status: number[]; blocks: number }> {
  const text = lines.join('\n') + '\n';
  const byRuns = await replaySource(text, { name: 't.jsonl' });
  const one = await replayTrace(parseTrace(text.split('\n').slice(0, -1), 't.jsonl'), 't.jsonl');
  let runs = 0;
  try {
    for await (const block of readTraceSource(text, 't.jsonl')[TRACE_BLOCKS]()) for (const it of block) if (it.kind === 'event' && it.event.op === 'access_run') runs++;
  } catch {
    // the bad line: counted up to it
  }
  return { runs: reportJson(byRuns.report), items: reportJson(one.report), status: [byRuns.status, one.status], blocks: runs };
}

describe('plain accesses as access runs in a replay of JSON Lines', () => {
  it('the same report as the events one by one: CPUs interleaved, comments, CRLF, faults, a segfault, a write to a read-only page', async () => {
    const lines = [...SETUP];
    for (let i = 0; i < 300; i++) lines.push(acc(i % 7 < 4 ? 0 : 1, 0x10000000 + (i % 16) * 4096, i % 5 === 0 ? 'w' : 'r'));
    lines.push('# a comment between runs', acc(0, 0x10000000) + '\r', acc(0, 0x20000000), acc(1, 0x10000000, 'w'), acc(2, 0x10001000, 'x'));
    lines.push('{"op":"access","cpu":0,"va":"0x10000000","rw":"r","user":false}', '{"op":"munmap","cpu":0,"va":"0x10000000","len":"64K"}', acc(0, 0x10000000));
    const r = await both(lines);
    expect(r.runs).toBe(r.items);
    expect(r.status).toEqual([0, 0]);
    expect(r.blocks).toBeGreaterThan(5);
    const report = JSON.parse(r.runs);
    expect(report.accesses).toBe(306);
    // Never mapped; a fetch from a mapping without x; unmapped by the munmap; and CPU 1's writes to its read-only mapping.
    const lines1 = report.segfaults.map((s: { line: number }) => s.line);
    expect(lines1).toEqual(expect.arrayContaining([SETUP.length + 303, SETUP.length + 305, SETUP.length + 308]));
    expect(lines1.filter((l: number) => l <= SETUP.length + 300)).toHaveLength(lines.slice(SETUP.length, SETUP.length + 300).filter((l) => l.includes('"cpu":1') && l.endsWith('"w"}')).length);
  });

  it('inside a concurrent block, parked, of a CPU the header lacks, and before a bad line: the report the events give', async () => {
    const block = [...SETUP, acc(0, 0x10000000, 'w'), '{"op":"concurrent"}', acc(0, 0x10000000), acc(0, 0x10001000), '{"op":"join"}', acc(0, 0x10002000)];
    let r = await both(block);
    expect(r.runs).toBe(r.items);
    expect(r.status).toEqual([0, 0]);
    const parked = [...SETUP, acc(1, 0x10000000), '{"op":"access","cpu":1,"va":"0x10001000","rw":"r","id":"a","until":"lookup"}', acc(1, 0x10002000), '{"op":"resume","id":"a"}', acc(1, 0x10003000)];
    r = await both(parked);
    expect(r.runs).toBe(r.items);
    const lacks = [...SETUP, acc(0, 0x10000000), acc(0, 0x10001000), acc(3, 0x10000000), acc(0, 0x10002000)];
    r = await both(lacks);
    expect(r.runs).toBe(r.items);
    expect(r.status).toEqual([2, 2]);
    expect(JSON.parse(r.runs).error.line).toBe(SETUP.length + 3);
    expect(JSON.parse(r.runs).accesses).toBe(2);
    const bad = [...SETUP, acc(0, 0x10000000), acc(0, 0x10001000), '{"op":"access","cpu":0,"va":"0x10000000","rw":"q"}'];
    r = await both(bad);
    expect(r.runs).toBe(r.items);
    expect(JSON.parse(r.runs).error).toMatchObject({ line: SETUP.length + 3 });
  });
});
