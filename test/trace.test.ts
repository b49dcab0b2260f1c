// The trace reader: the value syntax, the header, every op's fields, and the errors, each naming the
// file, the line and the field (docs/trace-format.md: "Values", "The header", "Events").
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { parseAmount, parseProt } from '../src/trace/values.ts';
import { parseTrace, STEPS, type TraceItem } from '../src/trace/parser.ts';
import { readTrace } from '../src/node/read-trace.ts';
import { TraceError } from '../src/trace/trace-error.ts';

const HEADER = '{"format":"mmuwasm-trace","version":1,"cpus":2}';

function parse(...lines: string[]): TraceItem[] {
  return [...parseTrace(lines, 't.jsonl')];
}

/** The error of the first bad line, as the user reads it. */
function errorOf(...lines: string[]): string {
  try {
    parse(...lines);
  } catch (err) {
    expect(err).toBeInstanceOf(TraceError);
    return (err as Error).message;
  }
  throw new Error('the trace was accepted');
}

describe('values', () => {
  it.each([
    [4096, 4096n],
    ['4096', 4096n],
    ['0x7f0040000000', 0x7f0040000000n],
    ['0X1F', 31n],
    ['4K', 4096n],
    ['2m', 2n << 20n],
    ['1G', 1n << 30n],
    ['1t', 1n << 40n],
    [' 2M ', 2n << 20n],
    ['0xffffffffffffffff', 0xffffffffffffffffn],
  ])('amount %j is %s', (v, want) => {
    expect(parseAmount(v)).toEqual({ ok: true, value: want });
  });

  it.each([
    [-1, 'expected a whole number of bytes, not -1'],
    [1.5, 'expected a whole number of bytes, not 1.5'],
    [2 ** 53, `${2 ** 53} is not exact as a JSON number (2^53 or more); write it as a hex string`],
    ['2P', '"2P" is neither hex ("0x…"), decimal, nor a size with a K/M/G/T suffix'],
    ['0x', '"0x" is neither hex ("0x…"), decimal, nor a size with a K/M/G/T suffix'],
    ['1.5G', '"1.5G" is neither hex ("0x…"), decimal, nor a size with a K/M/G/T suffix'],
    ['0x10000000000000000', '"0x10000000000000000" does not fit in 64 bits'],
    [true, 'expected a number or a string such as "0x40000000" or "2M", not true'],
    [null, 'expected a number or a string such as "0x40000000" or "2M", not null'],
  ])('amount %j is refused', (v, reason) => {
    expect(parseAmount(v)).toEqual({ ok: false, reason });
  });

  it.each([
    ['r', { r: true, w: false, x: false }],
    ['rw', { r: true, w: true, x: false }],
    ['xr', { r: true, w: false, x: true }],
    ['rwx', { r: true, w: true, x: true }],
    ['none', { r: false, w: false, x: false }],
  ])('prot %j', (v, want) => {
    expect(parseProt(v)).toEqual({ ok: true, value: want });
  });

  it.each(['', 'rr', 'rwxr', 'R', 'read', 'None'])('prot %j is refused', (v) => {
    expect(parseProt(v).ok).toBe(false);
  });
});

describe('header', () => {
  it('gives the fields it was given, comments and blank lines skipped', () => {
    const items = parse('# a comment', '', '  // another', '\uFEFF' + HEADER);
    expect(items).toEqual([{ kind: 'header', line: 4, header: { cpus: 2 }, bytes: 0 }]);
  });

  it('reads every optional field', () => {
    const [h] = parse('{"format":"mmuwasm-trace","version":1,"cpus":4,"kernel":"v4.4","fixes":{"017b1660df89":true},"paging":5,"pcid":false,"physmem":"1T","tlb":{"dtlb4k":{"sets":16,"ways":4}},"seed":7}');
    expect(h).toEqual({
      kind: 'header', line: 1, bytes: 0,
      header: { cpus: 4, kernel: 'v4.4', fixes: { '017b1660df89': true }, paging: 5, pcid: false, physmem: 1n << 40n, tlb: { dtlb4k: { sets: 16, ways: 4 } }, seed: 7 },
    });
  });

  it.each([
    ['{"op":"mm","mm":"A"}', 't.jsonl:1: field "format": the first line must be the header ({"format":"mmuwasm-trace","version":1,"cpus":N}), not an event'],
    ['{"format":"other","version":1,"cpus":1}', 't.jsonl:1: field "format": expected "mmuwasm-trace", not the string "other"'],
    ['{"format":"mmuwasm-trace","version":2,"cpus":1}', 't.jsonl:1: field "version": this reader knows version 1, not 2'],
    ['{"format":"mmuwasm-trace","version":1}', 't.jsonl:1: field "cpus": expected a whole number, not nothing (the field is missing)'],
    ['{"format":"mmuwasm-trace","version":1,"cpus":0}', 't.jsonl:1: field "cpus": expected 1 to 256, not 0'],
    ['{"format":"mmuwasm-trace","version":1,"cpus":257}', 't.jsonl:1: field "cpus": expected 1 to 256, not 257'],
    ['{"format":"mmuwasm-trace","version":1,"cpus":1,"kernel":"v5.0"}', 't.jsonl:1: field "kernel": unknown profile the string "v5.0" (profiles: v4.4, v4.19, v5.16, v6.1, v6.18)'],
    ['{"format":"mmuwasm-trace","version":1,"cpus":1,"fixes":{"017b1660df8":true}}', 't.jsonl:1: field "fixes.017b1660df8": a fix is named by its 12 lower-case hex digits, not "017b1660df8"'],
    ['{"format":"mmuwasm-trace","version":1,"cpus":1,"fixes":{"0123456789ab":true}}', "t.jsonl:1: field \"fixes.0123456789ab\": unknown fix 0123456789ab (run 'mmuwasm profiles' for the list)"],
    ['{"format":"mmuwasm-trace","version":1,"cpus":1,"fixes":{"017b1660df89":"on"}}', 't.jsonl:1: field "fixes.017b1660df89": expected true or false, not the string "on"'],
    ['{"format":"mmuwasm-trace","version":1,"cpus":1,"paging":3}', 't.jsonl:1: field "paging": expected 4 or 5 (levels), not 3'],
    ['{"format":"mmuwasm-trace","version":1,"cpus":1,"remoteFlush":"nmi"}', 't.jsonl:1: field "remoteFlush": expected "ipi" or "hypercall" (how the kernel reaches other CPUs\' TLBs), not the string "nmi"'],
    ['{"format":"mmuwasm-trace","version":1,"cpus":1,"physmem":"512M"}', 't.jsonl:1: field "physmem": expected a whole number of GiB, at least "1G"'],
    ['{"format":"mmuwasm-trace","version":1,"cpus":1,"tlb":{"l1":{"sets":1,"ways":1}}}', 't.jsonl:1: field "tlb.l1": unknown array (arrays: dtlb4k, dtlb2m, dtlb1g, stlb, stlb1g, pml5, pml4, pdpte, pde)'],
    ['{"format":"mmuwasm-trace","version":1,"cpus":1,"tlb":{"stlb":{"sets":3,"ways":1}}}', 't.jsonl:1: field "tlb.stlb.sets": expected a power of two (or 0 for no such array), not 3'],
    ['{"format":"mmuwasm-trace","version":1,"cpus":1,"color":true}', 't.jsonl:1: field "color": unknown header field (the header knows format, version, cpus, kernel, fixes, paging, pcid, remoteFlush, physmem, tlb, seed, recorded)'],
  ])('%s is refused', (line, message) => {
    expect(errorOf(line)).toBe(message);
  });

  it('a trace of comments only has no header', () => {
    expect(errorOf('# nothing', '')).toBe('t.jsonl:2: the trace has no header line ({"format":"mmuwasm-trace","version":1,"cpus":N})');
  });
});

describe('events', () => {
  it('turns addresses into BigInts and prot into rights, keeping the line numbers', () => {
    const items = parse(HEADER, '{"op":"mmap","cpu":1,"va":"0x40000000","len":"1G","prot":"rw","flags":"shared","file":"F","offset":0}', '# c', '{"op":"access","cpu":0,"va":1073741824,"rw":"w","id":"f","until":"install"}');
    expect(items.slice(1)).toEqual([
      { kind: 'event', line: 2, bytes: 0, event: { op: 'mmap', cpu: 1, va: 0x40000000n, len: 1n << 30n, prot: { r: true, w: true, x: false }, flags: 'shared', file: 'F', offset: 0n } },
      { kind: 'event', line: 4, bytes: 0, event: { op: 'access', cpu: 0, va: 1n << 30n, rw: 'w', id: 'f', until: 'install' } },
    ]);
  });

  it('accepts one well-formed line of every op', () => {
    const ops = [
      '{"op":"mm","mm":"A"}',
      '{"op":"fork","cpu":0,"child":"C"}',
      '{"op":"exit","cpu":0,"id":"e","until":"flush"}',
      '{"op":"switch","cpu":1,"mm":"A"}',
      '{"op":"idle","cpu":1}',
      '{"op":"hugetlbfs","file":"F","size":"4G","pagesize":"1G"}',
      '{"op":"mmap","cpu":0,"va":"0x1000","len":"4K","prot":"none","flags":"private"}',
      '{"op":"mmap","cpu":0,"va":"0x40000000","len":"2M","prot":"r","flags":"private","hugetlb":"2M","mm":"A"}',
      '{"op":"munmap","cpu":0,"va":"0x1000","len":"4K","mm":"A"}',
      '{"op":"mprotect","cpu":0,"va":"0x1000","len":"4K","prot":"r","id":"p","until":"flush"}',
      '{"op":"madvise","cpu":0,"va":"0x1000","len":"4K","advice":"soft_offline","id":"s","until":"copy"}',
      '{"op":"mremap","cpu":0,"va":"0x1000","len":"4K","newva":"0x200000","newlen":"8K"}',
      '{"op":"fallocate","cpu":0,"file":"F","offset":0,"len":"2M","mode":"punch_hole"}',
      '{"op":"truncate","cpu":0,"file":"F","size":0}',
      '{"op":"migrate","cpu":0,"va":"0x1000"}',
      '{"op":"migrate","cpu":0,"file":"F","offset":"2M","id":"m","until":"remap"}',
      '{"op":"reclaim","cpu":0,"va":"0x1000","id":"r","until":"free"}',
      '{"op":"gup_fast","cpu":0,"va":"0x1000","rw":"w","id":"g","until":"pmd"}',
      '{"op":"speculative_ref","cpu":0,"va":"0x1000","mm":"A","id":"s","until":"put"}',
      '{"op":"access","cpu":1,"va":"0x1000","rw":"x","user":false}',
      '{"op":"accesses","cpu":1,"va":"0x1000","len":"1M","count":10,"pattern":"stride","stride":"4K","write":0.5,"seed":3}',
      '{"op":"accesses","cpu":1,"va":"0x1000","len":"1M","count":10,"pattern":"zipf","theta":0.99}',
      '{"op":"attach","mm":"A","device":"nic0","kind":"kvm"}',
      '{"op":"device_access","device":"nic0","va":"0x1000","rw":"r"}',
      '{"op":"resume","id":"m","until":"free"}',
      '{"op":"expect","violations":0,"with":"017b1660df89"}',
      '{"op":"expect","violation":"stale-device","device":"nic0","mm":"A","va":"0x1000","without":"017b1660df89"}',
      '{"op":"expect","segv":true,"cpu":1}',
    ];
    expect(parse(HEADER, ...ops).map((i) => (i.kind === 'event' ? i.event.op : 'header'))).toEqual(['header', ...ops.map((o) => JSON.parse(o).op)]);
  });

  it.each([
    ['not json', 'not valid JSON'],
    ['[1,2]', 'a line must be one JSON object, not an array'],
    ['{"mm":"A"}', 'field "op": every event needs an "op"'],
    ['{"op":7}', 'field "op": expected a string, not 7'],
    ['{"op":"munmapp","cpu":0}', 'field "op": unknown op "munmapp" (ops: mm, fork, exit, switch, idle, hugetlbfs, mmap, munmap, mprotect, madvise, mremap, fallocate, truncate, migrate, reclaim, khugepaged, access, gup_fast, speculative_ref, accesses, attach, device_access, resume, expect, concurrent, join)'],
    ['{"op":"toString","cpu":0}', 'field "op": unknown op "toString"'],
    ['{"format":"mmuwasm-trace","version":1,"cpus":2}', 'field "format": a second header: the header is the first non-comment line only'],
    ['{"op":"munmap","cpu":0,"va":"0x1000"}', 'field "len": "munmap" needs this field'],
    ['{"op":"munmap","cpu":0,"va":"0x1000","len":"4K","force":true}', 'field "force": unknown field for "munmap"'],
    ['{"op":"mmap","cpu":0,"va":"0x1000","len":"4K","prot":"rw","flags":"private","id":"x","until":"zap"}', 'field "id": unknown field for "mmap" (this op cannot be parked: it has no steps)'],
    ['{"op":"access","cpu":2,"va":"0x1000","rw":"r"}', 'field "cpu": CPU 2 does not exist (the header says 2 CPUs, numbered from 0)'],
    ['{"op":"access","cpu":-1,"va":"0x1000","rw":"r"}', 'field "cpu": expected 0 to 255, not -1'],
    ['{"op":"access","cpu":"0","va":"0x1000","rw":"r"}', 'field "cpu": expected a whole number, not the string "0"'],
    ['{"op":"access","cpu":0,"va":"0x1000","rw":"rw"}', 'field "rw": expected one of "r", "w", "x", not the string "rw"'],
    ['{"op":"access","cpu":0,"va":"1.5G","rw":"r"}', 'field "va": "1.5G" is neither hex'],
    ['{"op":"mm","mm":""}', 'field "mm": expected a non-empty string, not the string ""'],
    ['{"op":"mprotect","cpu":0,"va":0,"len":"4K","prot":"rwz"}', 'field "prot": "rwz" is not a protection'],
    ['{"op":"madvise","cpu":0,"va":0,"len":"4K","advice":"cold"}', 'field "advice": expected one of "dontneed", "free", "remove", "soft_offline", "hugepage", not the string "cold"'],
    ['{"op":"madvise","cpu":0,"va":0,"len":"4K","advice":"hugepage","id":"h","until":"zap"}', 'field "until": madvise hugepage cannot be parked: it has no steps'],
    ['{"op":"khugepaged","cpu":0,"va":0,"id":"k","until":"zap"}', 'field "id": unknown field for "khugepaged" (this op cannot be parked: it has no steps)'],
    ['{"op":"khugepaged","cpu":0}', 'field "va": "khugepaged" needs this field'],
    ['{"op":"madvise","cpu":0,"va":0,"len":"4K","advice":"dontneed","id":"d","until":"copy"}', 'field "until": "copy" is not a step of madvise dontneed (steps: zap, unlock, flush, free)'],
    ['{"op":"migrate","cpu":0,"va":0,"id":"m","until":"flush"}', 'field "until": "flush" is not a step of migrate (steps: unmap, copy, remap, free)'],
    ['{"op":"migrate","cpu":0,"va":0,"until":"copy"}', 'field "id": a parked operation needs an "id" to resume it by'],
    ['{"op":"migrate","cpu":0}', 'field "va": migrate needs "va", or "file" and "offset"'],
    ['{"op":"migrate","cpu":0,"file":"F"}', 'field "offset": migrating a file page needs its "offset"'],
    ['{"op":"migrate","cpu":0,"file":"F","offset":0,"va":0}', 'field "va": give either "va" (a page of an address space) or "file" and "offset", not both'],
    ['{"op":"mmap","cpu":0,"va":0,"len":"4K","prot":"r","flags":"private","offset":0}', 'field "offset": an offset needs a "file"'],
    ['{"op":"mmap","cpu":0,"va":0,"len":"2M","prot":"r","flags":"shared","file":"F","hugetlb":"2M"}', 'field "hugetlb": anonymous hugetlb maps no file'],
    ['{"op":"hugetlbfs","file":"F","size":"4G","pagesize":"4K"}', 'field "pagesize": expected one of "2M", "1G", not the string "4K"'],
    ['{"op":"accesses","cpu":0,"va":0,"len":"1M","count":5,"pattern":"stride"}', 'field "stride": the "stride" pattern needs a "stride"'],
    ['{"op":"accesses","cpu":0,"va":0,"len":"1M","count":5,"pattern":"zipf"}', 'field "theta": the "zipf" pattern needs a "theta"'],
    ['{"op":"accesses","cpu":0,"va":0,"len":"1M","count":5,"pattern":"random","theta":1}', 'field "theta": only the "zipf" pattern takes a theta (this is "random")'],
    ['{"op":"accesses","cpu":0,"va":0,"len":"1M","count":5,"pattern":"random","write":1.5}', 'field "write": expected a fraction from 0 to 1, not 1.5'],
    ['{"op":"accesses","cpu":0,"va":0,"len":"1M","count":-5,"pattern":"random"}', 'field "count": expected 0 to'],
    ['{"op":"accesses","cpu":0,"va":0,"len":4,"count":5,"pattern":"random"}', 'field "len": an access stream needs at least 8 bytes'],
    ['{"op":"attach","mm":"A","device":"d","kind":"gpu"}', 'field "kind": expected one of "iommu", "kvm", "odp", not the string "gpu"'],
    ['{"op":"expect"}', 'an expectation says exactly one of "violations", "violation", "segv", "refusals" or "refused"'],
    ['{"op":"expect","violations":0,"violation":"lost-write"}', 'field "violation": an expectation says exactly one of'],
    ['{"op":"expect","refused":"EINVAL","cpu":0}', 'field "cpu": a refusal expectation names only the error'],
    ['{"op":"expect","refused":"EPERM"}', 'field "refused"'],
    ['{"op":"expect","violation":"lost-writes"}', 'field "violation": expected one of "lost-write", "use-after-free", "stale-walk", "stale-tlb", "stale-device", "foreign-table-write", "stale-write", "foreign-table-pin", "live-table-free", not the string "lost-writes"'],
    ['{"op":"gup_fast","cpu":0,"va":"0x1000","rw":"x"}', 'field "rw": expected one of "r", "w", not the string "x"'],
    ['{"op":"gup_fast","cpu":0,"va":"0x1000"}', 'field "rw": "gup_fast" needs this field'],
    ['{"op":"gup_fast","cpu":0,"va":"0x1000","rw":"r","mm":"A"}', 'field "mm": unknown field for "gup_fast"'],
    ['{"op":"gup_fast","cpu":0,"va":"0x1000","rw":"r","id":"g","until":"pte"}', 'field "until": "pte" is not a step of gup_fast (steps: pmd)'],
    ['{"op":"speculative_ref","cpu":0,"va":"0x1000","until":"put"}', 'field "id": a parked operation needs an "id" to resume it by'],
    ['{"op":"speculative_ref","cpu":0,"mm":"A"}', 'field "va": "speculative_ref" needs this field'],
    ['{"op":"expect","violations":0,"cpu":1}', 'field "cpu": "violations" counts them all'],
    ['{"op":"expect","segv":true}', 'field "cpu": a segv expectation names the CPU'],
    ['{"op":"expect","segv":false,"cpu":1}', 'field "segv": only "segv": true can be expected'],
    ['{"op":"expect","violations":0,"with":"017b1660df89","without":"017b1660df89"}', 'field "without": give "with" or "without", not both'],
    ['{"op":"expect","violations":0,"with":"ffffffffffff"}', "field \"with\": unknown fix ffffffffffff (run 'mmuwasm profiles' for the list)"],
  ])('line %s is refused', (line, reason) => {
    const message = errorOf(HEADER, '# ok so far', line);
    expect(message.startsWith('t.jsonl:3: ')).toBe(true);
    expect(message).toContain(reason);
  });

  it('every step list of the contract', () => {
    expect(STEPS.migrate).toEqual(['unmap', 'copy', 'remap', 'free']);
    expect(STEPS.munmap).toEqual(['zap', 'unlock', 'flush', 'free']);
    expect(STEPS.mprotect).toEqual(['change', 'flush', 'unlock']);
    expect(STEPS.mremap).toEqual(['move', 'unlock', 'flush']);
    expect(STEPS.reclaim).toEqual(['unmap', 'flush', 'free']);
    expect(STEPS.access).toEqual(['lookup', 'install']);
    expect(STEPS.gup_fast).toEqual(['pmd']);
    expect(STEPS.speculative_ref).toEqual(['put']);
  });
});

describe('files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mmuwasm-trace-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const text = `# two events\r\n${HEADER}\r\n{"op":"mm","mm":"A"}\r\n\r\n{"op":"switch","cpu":0,"mm":"A"}\r\n`;

  async function collect(path: string): Promise<TraceItem[]> {
    const out: TraceItem[] = [];
    for await (const item of readTrace(path)) out.push(item);
    return out;
  }

  it('reads plain and gzip files alike, CRLF or not, counting the bytes read', async () => {
    writeFileSync(join(dir, 'a.jsonl'), text);
    writeFileSync(join(dir, 'a.jsonl.gz'), gzipSync(text));
    const plain = await collect(join(dir, 'a.jsonl'));
    const gz = await collect(join(dir, 'a.jsonl.gz'));
    const strip = (items: TraceItem[]) => items.map(({ bytes: _b, ...rest }) => rest);
    expect(strip(plain)).toEqual([
      { kind: 'header', line: 2, header: { cpus: 2 } },
      { kind: 'event', line: 3, event: { op: 'mm', mm: 'A' } },
      { kind: 'event', line: 5, event: { op: 'switch', cpu: 0, mm: 'A' } },
    ]);
    expect(strip(gz)).toEqual(strip(plain));
    expect(plain.at(-1)!.bytes).toBe(Buffer.byteLength(text));
  });

  it('a missing file, and a corrupt gzip file, are errors that name the file', async () => {
    await expect(collect(join(dir, 'none.jsonl'))).rejects.toThrow(/none\.jsonl:0: cannot read the trace: ENOENT/);
    writeFileSync(join(dir, 'bad.jsonl.gz'), Buffer.from('this is not gzip'));
    await expect(collect(join(dir, 'bad.jsonl.gz'))).rejects.toThrow(/bad\.jsonl\.gz:1: cannot read the trace \(is it valid gzip\?\)/);
  });

  it('a line of 6 MiB, read through the four reused buffers of the file, comes out whole, and so do the lines around it', async () => {
    const name = Array.from({ length: (6 << 20) / 16 }, (_, i) => i.toString(16).padStart(16, 'n')).join('');
    const lines = [HEADER, ...Array.from({ length: 30000 }, (_, i) => `{"op":"mm","mm":"m${i}"}`), `{"op":"mm","mm":"${name}"}`, `{"op":"switch","cpu":1,"mm":"${name}"}`, '{"op":"mm","mm":"after"}'];
    writeFileSync(join(dir, 'long.jsonl'), lines.join('\n') + '\n');
    const items = await collect(join(dir, 'long.jsonl'));
    expect(items).toHaveLength(lines.length);
    expect(items.map((i) => (i.kind === 'event' ? i.event.mm : undefined)).slice(1)).toEqual([...Array.from({ length: 30000 }, (_, i) => `m${i}`), name, name, 'after']);
  });

  it('hands out every event before the bad line', async () => {
    writeFileSync(join(dir, 'b.jsonl'), `${HEADER}\n{"op":"mm","mm":"A"}\n{"op":"mm"}\n{"op":"mm","mm":"B"}\n`);
    const seen: number[] = [];
    let error: unknown;
    try {
      for await (const item of readTrace(join(dir, 'b.jsonl'))) seen.push(item.line);
    } catch (err) {
      error = err;
    }
    expect(seen).toEqual([1, 2]);
    expect(error).toBeInstanceOf(TraceError);
    expect((error as TraceError).line).toBe(3);
    expect((error as TraceError).field).toBe('mm');
  });
});

describe('concurrent blocks', () => {
  const MM = ['{"op":"mm","mm":"A"}', '{"op":"switch","cpu":0,"mm":"A"}', '{"op":"mmap","cpu":0,"va":"0x10000000","len":"8K","prot":"rw","flags":"private"}'];
  it('a block holds the threads\' events between concurrent and join; its bounds are events of their own', () => {
    const ops = parse(HEADER, ...MM, '{"op":"concurrent"}', '{"op":"access","cpu":0,"va":"0x10000000","rw":"w"}', '{"op":"munmap","cpu":1,"va":"0x10000000","len":"4K"}', '{"op":"join"}', '{"op":"expect","violations":0}')
      .map((i) => (i.kind === 'event' ? i.event.op : 'header'));
    expect(ops).toEqual(['header', 'mm', 'switch', 'mmap', 'concurrent', 'access', 'munmap', 'join', 'expect']);
  });
  it.each([
    ['{"op":"resume","id":"m"}', 't.jsonl:6: field "op": "resume" is not allowed inside the concurrent block of line 5: a block has no schedule written: the explorer writes the resumes'],
    ['{"op":"expect","violations":0}', 't.jsonl:6: field "op": "expect" is not allowed inside the concurrent block of line 5: an expectation inside a block would depend on the schedule; write it after the join'],
    ['{"op":"mm","mm":"B"}', 't.jsonl:6: field "op": "mm" is not allowed inside the concurrent block of line 5: set-up events go before the block'],
    ['{"op":"fork","cpu":0,"child":"C"}', 't.jsonl:6: field "op": "fork" is not allowed inside the concurrent block of line 5: set-up events go before the block'],
    ['{"op":"exit","cpu":0}', 't.jsonl:6: field "op": "exit" is not allowed inside the concurrent block of line 5: set-up events go before the block'],
    ['{"op":"attach","mm":"A","device":"d","kind":"odp"}', 't.jsonl:6: field "op": "attach" is not allowed inside the concurrent block of line 5: set-up events go before the block'],
    ['{"op":"hugetlbfs","file":"G","size":"2M","pagesize":"2M"}', 't.jsonl:6: field "op": "hugetlbfs" is not allowed inside the concurrent block of line 5: set-up events go before the block'],
    ['{"op":"concurrent"}', 't.jsonl:6: field "op": "concurrent" is not allowed inside the concurrent block of line 5: blocks do not nest'],
    ['{"op":"munmap","cpu":0,"va":"0x10000000","len":"4K","id":"u","until":"flush"}', 't.jsonl:6: field "id": no "id" inside the concurrent block of line 5: the explorer chooses where operations pause'],
    ['{"op":"access","cpu":0,"va":"0x10000000","rw":"w","id":"a"}', 't.jsonl:6: field "id": no "id" inside the concurrent block of line 5: the explorer chooses where operations pause'],
  ])('inside a block %s is an error naming its line', (line, message) => {
    expect(errorOf(HEADER, ...MM, '{"op":"concurrent"}', line, '{"op":"join"}')).toBe(message);
  });
  it('a block never joined is an error at the end naming the block; a join without a block too', () => {
    expect(errorOf(HEADER, ...MM, '{"op":"concurrent"}', '{"op":"access","cpu":0,"va":"0x10000000","rw":"w"}')).toBe('t.jsonl:5: field "op": this concurrent block is never joined (add {"op":"join"})');
    expect(errorOf(HEADER, '{"op":"join"}')).toBe('t.jsonl:2: field "op": a join without a concurrent block to close');
    expect(errorOf(HEADER, '{"op":"concurrent","cpu":0}')).toContain('t.jsonl:2: field "cpu": unknown field for "concurrent"');
  });
});
