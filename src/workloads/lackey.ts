// `mmuwasm import lackey FILE|- [-o OUT] [--hugetlb] [--kernel PROFILE] [--limit N]`
// (docs/import-lackey.md): turns the memory trace of a real program, as valgrind's lackey tool writes it (`valgrind --tool=lackey
// --trace-mem=yes --log-file=LOG PROG`), into a replayable trace (docs/trace-format.md): one address space on
// one CPU, its touched 2 MiB windows mapped as private anonymous memory (or, with --hugetlb, as shared
// mappings of one hugetlbfs file of 2M pages), then the program's accesses in order.
//
// Lackey's records, one a line: `I  ADDR,SIZE` (an instruction fetch), ` L ADDR,SIZE` (a load),
// ` S ADDR,SIZE` (a store), ` M ADDR,SIZE` (a modify: a load and a store of the same bytes); ADDR is
// hex, SIZE decimal bytes. Valgrind's own lines (`==PID== …`, `--PID-- …`, `**PID** …`) and blank
// lines are comments. Anything else is a bad line: an error naming the file and the line (exit 2),
// never skipped.
//
// Mapping: I → rw "x", L → "r", S → "w", M → "r" then "w". An access whose bytes span a page
// boundary is one access per 4K page it touches (the first at its own address, the others at the
// base of each later page), as the hardware translates each page it touches; an M that spans pages
// reads every page, then writes every page.
//
// Two passes over the input: the first checks every line and collects the touched 2M windows (with a
// 512-bit page bitmap each, so memory is bounded by the windows, not by the accesses); the second
// writes the trace. Standard input (`-`) is spooled to a temporary file first. OUT is named by its form
// (trace-binary.ts's writers): `.jsonl`, `.jsonl.gz`, `.mmtrace`, `.mmtrace.gz`; `-` or no -o writes
// JSON Lines to standard output.
import { createReadStream, createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { TraceError } from '../trace/trace-error.ts';
import { PROFILE_NAMES } from '../kernel/profiles.ts';
import { ACCESS_CODE, BINARY_EXTENSION, accessLine, formatOfPath, type TraceWriter } from '../trace/binary.ts';
import { writerFor } from '../node/trace-files.ts';
import { ArgumentError } from '../mmu/errors.ts';

export type LackeyKind = 'I' | 'L' | 'S' | 'M';

/** One lackey record: its kind, first byte and size (addresses are user addresses, below 2^47). */
export interface LackeyRecord {
  kind: LackeyKind;
  va: number;
  size: number;
}

export interface LackeyAccess {
  va: number;
  rw: 'r' | 'w' | 'x';
}

const PAGE = 4096;
const WINDOW = 2 * 1024 * 1024;
const PAGES_PER_WINDOW = WINDOW / PAGE;
/** The top of the 4-level user address space (lackey addresses are user addresses). */
export const USER_TOP = 2 ** 47;
/** No lackey record is this large; a bigger size is taken for a corrupted line. */
export const MAX_RECORD_SIZE = 1 << 20;

/** Lackey prints `I  %08lx,%lu` and ` L %08lx,%lu`; any spacing around the letter is accepted. */
const RECORD = /^\s*([ILSM])\s+([0-9a-fA-F]{1,16}),([0-9]{1,8})\s*$/;
/** Valgrind's own output: `==PID==`, `--PID--` and `**PID**` lines. */
const VALGRIND_LINE = /^(==|--|\*\*)[0-9]+\1/;

/**
 * One line of a lackey log: a record, `undefined` for a comment (valgrind's own lines, blank lines),
 * or a TraceError naming the file and line.
 */
export function parseLackeyLine(text: string, line: number, file: string): LackeyRecord | undefined {
  const t = text.endsWith('\r') ? text.slice(0, -1) : text;
  const m = RECORD.exec(t);
  if (!m) {
    if (t.trim() === '' || VALGRIND_LINE.test(t)) return undefined;
    const shown = t.length > 60 ? `${t.slice(0, 60)}…` : t;
    throw new TraceError(file, line, undefined,
      `not a lackey record (expected "I  ADDR,SIZE", " L ADDR,SIZE", " S ADDR,SIZE" or " M ADDR,SIZE" with ADDR in hex, or a valgrind "==PID==" line): ${JSON.stringify(shown)}` +
      (line <= 1 ? ' — is this the log of valgrind --tool=lackey --trace-mem=yes?' : ' — the program\'s own output mixed in? run valgrind with --log-file=LOG'));
  }
  const kind = m[1] as LackeyKind;
  const hex = m[2].replace(/^0+(?=.)/, '');
  const size = Number(m[3]);
  if (size < 1 || size > MAX_RECORD_SIZE) throw new TraceError(file, line, undefined, `size ${m[3]} is not the size of one access (1 to ${MAX_RECORD_SIZE} bytes)`);
  const va = hex.length > 12 ? Infinity : parseInt(hex, 16);
  if (va + size > USER_TOP) throw new TraceError(file, line, undefined, `0x${hex},${size} is not in the user address space (below 0x${USER_TOP.toString(16)})`);
  return { kind, va, size };
}

/** The accesses one record makes: a page-crossing record touches each of its pages; M reads, then writes. */
export function recordAccesses(r: LackeyRecord): LackeyAccess[] {
  const first = Math.floor(r.va / PAGE);
  const last = Math.floor((r.va + r.size - 1) / PAGE);
  const vas = [r.va];
  for (let p = first + 1; p <= last; p++) vas.push(p * PAGE);
  if (r.kind === 'M') return [...vas.map((va) => ({ va, rw: 'r' as const })), ...vas.map((va) => ({ va, rw: 'w' as const }))];
  const rw = r.kind === 'I' ? 'x' : r.kind === 'L' ? 'r' : 'w';
  return vas.map((va) => ({ va, rw }));
}

/** The touched 2M windows of an address space, with the 4K pages touched in each. */
export class Footprint {
  private readonly windows = new Map<number, Uint32Array>();
  pages = 0;

  touch(va: number): void {
    const w = Math.floor(va / WINDOW);
    let bits = this.windows.get(w);
    if (!bits) this.windows.set(w, (bits = new Uint32Array(PAGES_PER_WINDOW / 32)));
    const p = Math.floor((va % WINDOW) / PAGE);
    const bit = 1 << (p & 31);
    if (!(bits[p >> 5] & bit)) {
      bits[p >> 5] |= bit;
      this.pages++;
    }
  }

  get windowCount(): number {
    return this.windows.size;
  }

  /** The regions to map: runs of adjacent touched windows, in address order. */
  regions(): { va: number; len: number }[] {
    const ws = [...this.windows.keys()].sort((a, b) => a - b);
    const out: { va: number; len: number }[] = [];
    for (const w of ws) {
      const last = out[out.length - 1];
      if (last && last.va + last.len === w * WINDOW) last.len += WINDOW;
      else out.push({ va: w * WINDOW, len: WINDOW });
    }
    return out;
  }
}

export interface ImportOptions {
  /** The lackey log; `-` is standard input. A name ending in `.gz` is read through gunzip. */
  input: string;
  /** The trace to write (`.jsonl`, `.jsonl.gz`); `-` or undefined is standard output. */
  output?: string;
  hugetlb?: boolean;
  kernel?: string;
  /** Import only the first N lackey records (I, L, S, M lines). */
  limit?: number;
}

export interface ImportSummary {
  input: string;
  output: string;
  command?: string;
  records: number;
  byKind: Record<LackeyKind, number>;
  /** Access events written (an M is two; a page-crossing record one per page). */
  accesses: number;
  /** Records whose bytes span more than one 4K page. */
  crossing: number;
  /** Distinct 4K pages touched. */
  pages: number;
  /** Touched 2M windows (= distinct 2M pages with --hugetlb). */
  windows: number;
  /** mmap events (runs of adjacent windows). */
  regions: number;
  limited: boolean;
}

interface InputPass {
  file: string;
  next(): Promise<LackeyRecord | undefined>;
  /** The valgrind `Command:` line, when the log has one. */
  command?: string;
  close(): void;
}

function openInput(path: string, file: string, limit: number | undefined, onCommand: (c: string) => void): InputPass {
  const raw = createReadStream(path);
  const text: Readable = path.endsWith('.gz') ? raw.pipe(createGunzip()) : raw;
  if (text !== raw) raw.on('error', (err) => text.destroy(err));
  const lines = createInterface({ input: text, crlfDelay: Infinity });
  const it = lines[Symbol.asyncIterator]();
  let lineNo = 0;
  let records = 0;
  return {
    file,
    async next() {
      if (limit !== undefined && records >= limit) return undefined;
      for (;;) {
        let r: IteratorResult<string>;
        try {
          r = await it.next();
        } catch (err) {
          throw new TraceError(file, lineNo + 1, undefined, `cannot read the lackey log${text !== raw ? ' (is it valid gzip?)' : ''}: ${(err as Error).message}`);
        }
        if (r.done) return undefined;
        lineNo++;
        const rec = parseLackeyLine(r.value, lineNo, file);
        if (rec) {
          records++;
          return rec;
        }
        const cmd = /^==[0-9]+== Command: (.*)$/.exec(r.value);
        if (cmd) onCommand(cmd[1]);
      }
    },
    close() {
      lines.close();
      raw.destroy();
    },
  };
}

/** Where the trace goes: a file by its extension (the writers of trace-binary.ts), or standard output. */
interface Out {
  comment(text: string): void | Promise<void>;
  json(text: string): void | Promise<void>;
  access(va: number, rw: 'r' | 'w' | 'x'): void | Promise<void>;
  close(): void | Promise<void>;
}

/** JSON Lines on standard output, with back-pressure. */
class StdoutOut implements Out {
  private buf: string[] = [];
  private size = 0;

  async comment(s: string): Promise<void> {
    this.buf.push(s);
    this.size += s.length + 1;
    if (this.size >= 1 << 16) await this.flush();
  }

  json(s: string): Promise<void> {
    return this.comment(s);
  }

  access(va: number, rw: 'r' | 'w' | 'x'): Promise<void> {
    return this.comment(accessLine(0, BigInt(va), ACCESS_CODE[rw]));
  }

  private async flush(): Promise<void> {
    if (!this.buf.length) return;
    const chunk = this.buf.join('\n') + '\n';
    this.buf = [];
    this.size = 0;
    if (!process.stdout.write(chunk)) await new Promise<void>((resolve) => process.stdout.once('drain', () => resolve()));
  }

  close(): Promise<void> {
    return this.flush();
  }
}

function fileOut(path: string): Out {
  const w: TraceWriter = writerFor(path);
  return {
    comment: (t) => w.comment(t),
    json: (t) => w.json(t),
    access: (va, rw) => w.access(0, va, ACCESS_CODE[rw]),
    close: () => w.close(),
  };
}

const hexs = (v: number) => `0x${v.toString(16)}`;
const MM = 'prog';
const FILE = 'lackey';

/** Imports a lackey log (two passes); throws a TraceError for a bad line before anything is written. */
export async function importLackey(o: ImportOptions): Promise<ImportSummary> {
  if (o.kernel !== undefined && !PROFILE_NAMES.includes(o.kernel)) throw new ArgumentError(`unknown profile '${o.kernel}' (profiles: ${PROFILE_NAMES.join(', ')})`);
  if (o.limit !== undefined && (!Number.isInteger(o.limit) || o.limit < 1)) throw new ArgumentError(`--limit takes a whole number of records, 1 or more (got ${o.limit})`);
  let path = o.input;
  let spool: string | undefined;
  const file = o.input === '-' ? 'stdin' : o.input;
  try {
    if (o.input === '-') {
      spool = mkdtempSync(join(tmpdir(), 'mmuwasm-lackey-'));
      path = join(spool, 'stdin.log');
      await pipeline(process.stdin, createWriteStream(path));
    } else {
      await new Promise<void>((resolve, reject) => {
        const s = createReadStream(path);
        s.once('open', () => { s.destroy(); resolve(); });
        s.once('error', reject);
      });
    }

    // Pass 1: check every line, collect the footprint.
    const fp = new Footprint();
    const byKind: Record<LackeyKind, number> = { I: 0, L: 0, S: 0, M: 0 };
    let records = 0;
    let accesses = 0;
    let crossing = 0;
    let command: string | undefined;
    const p1 = openInput(path, file, o.limit, (c) => (command ??= c));
    try {
      for (let r = await p1.next(); r; r = await p1.next()) {
        records++;
        byKind[r.kind]++;
        const acc = recordAccesses(r);
        accesses += acc.length;
        if ((r.va % PAGE) + r.size > PAGE) crossing++;
        for (const a of acc) fp.touch(a.va);
      }
    } finally {
      p1.close();
    }
    const regions = fp.regions();
    const summary: ImportSummary = {
      input: file, output: o.output ?? '-', command, records, byKind, accesses, crossing, pages: fp.pages,
      windows: fp.windowCount, regions: regions.length, limited: o.limit !== undefined && records >= o.limit,
    };

    // Pass 2: write the trace.
    const sink = o.output === undefined || o.output === '-' ? new StdoutOut() : fileOut(o.output);
    const j = (x: unknown) => sink.json(JSON.stringify(x));
    await sink.comment(`# imported by mmuwasm import lackey from ${file}${command ? ` (valgrind --tool=lackey of: ${command})` : ''}`);
    await sink.comment(`# ${records} lackey records (I ${byKind.I}, L ${byKind.L}, S ${byKind.S}, M ${byKind.M})${summary.limited ? ` — the first ${records} only (--limit)` : ''}, ${accesses} accesses, ${crossing} records crossing a page boundary`);
    await sink.comment(`# ${fp.pages} 4K pages touched in ${fp.windowCount} 2M windows, mapped as ${regions.length} ${o.hugetlb ? 'shared hugetlbfs (2M pages)' : 'private anonymous'} region${regions.length === 1 ? '' : 's'}`);
    await j({ format: 'mmuwasm-trace', version: 1, cpus: 1, ...(o.kernel ? { kernel: o.kernel } : {}) });
    await j({ op: 'mm', mm: MM });
    await j({ op: 'switch', cpu: 0, mm: MM });
    if (o.hugetlb) {
      await j({ op: 'hugetlbfs', file: FILE, size: hexs(fp.windowCount * WINDOW), pagesize: '2M' });
      let offset = 0;
      for (const r of regions) {
        await j({ op: 'mmap', cpu: 0, va: hexs(r.va), len: hexs(r.len), prot: 'rwx', flags: 'shared', file: FILE, offset: hexs(offset) });
        offset += r.len;
      }
    } else {
      for (const r of regions) await j({ op: 'mmap', cpu: 0, va: hexs(r.va), len: hexs(r.len), prot: 'rwx', flags: 'private' });
    }
    const p2 = openInput(path, file, o.limit, () => {});
    try {
      for (let r = await p2.next(); r; r = await p2.next()) {
        for (const a of recordAccesses(r)) await sink.access(a.va, a.rw);
      }
    } finally {
      p2.close();
    }
    await sink.close();
    return summary;
  } finally {
    if (spool) rmSync(spool, { recursive: true, force: true });
  }
}
