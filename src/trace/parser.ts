// The streaming reader of JSON Lines traces (docs/trace-format.md: "The file", "Values", "The header", "Events"):
// one line at a time, plain or gzip, every field checked against the op's schema before the replay
// sees it. A bad line throws a TraceError naming the file, the line and the field; the events before
// it have already been handed out, so the replay keeps what it did.
import { TraceError } from './trace-error.ts';
import { describe, parseAmount, parseProt } from './values.ts';
import { PROFILE_NAMES } from '../kernel/profiles.ts';
import { fixById } from '../kernel/fixes.ts';
import { VIOLATION_KINDS } from '../oracle/violation.ts';
import { ARRAY_NAMES } from '../mmu/model.ts';
import type { ReplayEvent, ReplayHeader, TraceItem } from './events.ts';
import { scanPlainAccess, type PlainAccess } from './plain-access.ts';

export type { TraceItem } from './events.ts';

/** The named steps of each operation, in order (docs/trace-format.md, "Parking an operation in the middle"). */
export const STEPS: Readonly<Record<string, readonly string[]>> = {
  migrate: ['unmap', 'copy', 'remap', 'free'],
  'madvise soft_offline': ['unmap', 'copy', 'remap', 'free'],
  munmap: ['zap', 'unlock', 'flush', 'free'],
  exit: ['zap', 'unlock', 'flush', 'free'],
  'madvise dontneed': ['zap', 'unlock', 'flush', 'free'],
  'madvise free': ['zap', 'unlock', 'flush', 'free'],
  'madvise remove': ['zap', 'unlock', 'flush', 'free'],
  fallocate: ['zap', 'unlock', 'flush', 'free'],
  truncate: ['zap', 'unlock', 'flush', 'free'],
  mprotect: ['change', 'flush', 'unlock'],
  mremap: ['move', 'unlock', 'flush'],
  reclaim: ['unmap', 'flush', 'free'],
  access: ['lookup', 'install'],
  gup_fast: ['pmd'],
  speculative_ref: ['put'],
  switch: ['cr3', 'loaded'],
};

type FieldType =
  | 'cpu' | 'name' | 'amount' | 'prot' | 'bool' | 'count' | 'fraction' | 'positive' | 'int'
  | readonly string[];

interface Schema {
  required: Readonly<Record<string, FieldType>>;
  optional?: Readonly<Record<string, FieldType>>;
  /** The operation can be parked (`id`, `until`). */
  parks?: boolean;
}

const RW = ['r', 'w', 'x'] as const;
/** The errors (and the signal) a refused call or a faulting access can end in: `expect` `refused` values. */
const REFUSAL_ERRORS = ['EINVAL', 'ENOMEM', 'ENOSPC', 'ENOSYS', 'EFAULT', 'SIGBUS'];
const SCHEMAS: Readonly<Record<string, Schema>> = {
  mm: { required: { mm: 'name' } },
  fork: { required: { cpu: 'cpu', child: 'name' } },
  exit: { required: { cpu: 'cpu' }, parks: true },
  switch: { required: { cpu: 'cpu', mm: 'name' }, parks: true },
  idle: { required: { cpu: 'cpu' } },
  hugetlbfs: { required: { file: 'name', size: 'amount', pagesize: ['2M', '1G'] } },
  mmap: {
    required: { cpu: 'cpu', va: 'amount', len: 'amount', prot: 'prot', flags: ['shared', 'private'] },
    optional: { mm: 'name', file: 'name', offset: 'amount', hugetlb: ['2M', '1G'] },
  },
  munmap: { required: { cpu: 'cpu', va: 'amount', len: 'amount' }, optional: { mm: 'name' }, parks: true },
  mprotect: { required: { cpu: 'cpu', va: 'amount', len: 'amount', prot: 'prot' }, optional: { mm: 'name' }, parks: true },
  madvise: {
    required: { cpu: 'cpu', va: 'amount', len: 'amount', advice: ['dontneed', 'free', 'remove', 'soft_offline', 'hugepage'] },
    optional: { mm: 'name' }, parks: true,
  },
  mremap: { required: { cpu: 'cpu', va: 'amount', len: 'amount', newva: 'amount' }, optional: { mm: 'name', newlen: 'amount' }, parks: true },
  fallocate: { required: { cpu: 'cpu', file: 'name', offset: 'amount', len: 'amount', mode: ['punch_hole'] }, parks: true },
  truncate: { required: { cpu: 'cpu', file: 'name', size: 'amount' }, parks: true },
  migrate: { required: { cpu: 'cpu' }, optional: { va: 'amount', mm: 'name', file: 'name', offset: 'amount' }, parks: true },
  reclaim: { required: { cpu: 'cpu', va: 'amount' }, optional: { mm: 'name' }, parks: true },
  khugepaged: { required: { cpu: 'cpu', va: 'amount' }, optional: { mm: 'name' } },
  access: { required: { cpu: 'cpu', va: 'amount', rw: RW }, optional: { user: 'bool' }, parks: true },
  gup_fast: { required: { cpu: 'cpu', va: 'amount', rw: ['r', 'w'] }, parks: true },
  speculative_ref: { required: { cpu: 'cpu', va: 'amount' }, optional: { mm: 'name' }, parks: true },
  accesses: {
    required: { cpu: 'cpu', va: 'amount', len: 'amount', count: 'count', pattern: ['random', 'sequential', 'stride', 'zipf'] },
    optional: { write: 'fraction', stride: 'amount', theta: 'positive', seed: 'int' },
  },
  attach: { required: { mm: 'name', device: 'name', kind: ['iommu', 'kvm', 'odp'] } },
  device_access: { required: { device: 'name', va: 'amount', rw: RW } },
  resume: { required: { id: 'name' }, optional: { until: 'name' } },
  expect: {
    required: {},
    optional: {
      violations: 'count', violation: VIOLATION_KINDS, segv: 'bool', cpu: 'cpu', device: 'name', mm: 'name', va: 'amount',
      with: 'name', without: 'name', refusals: 'count', refused: REFUSAL_ERRORS,
    },
  },
  concurrent: { required: {} },
  join: { required: {} },
};

/** Entries of one TLB or paging-structure cache array (the core's limit, src/mmu/memory.ts). */
const MAX_ARRAY_ENTRIES = 1 << 20;
/** An `accesses` stream's range: the stream generator works in JavaScript numbers. */
const MAX_STREAM_LEN = 1n << 53n;

/** A canonical linear address: bits 63 down to the top bit of the linear address are all equal. */
function canonical(va: bigint, levels: 4 | 5): boolean {
  const top = va >> (levels === 5 ? 56n : 47n);
  return top === 0n || top === (1n << (levels === 5 ? 8n : 17n)) - 1n;
}

/**
 * The field whose value JSON.parse stopped in, when its message gives a position (V8: "… at position
 * N"): the last key before that position at the object's top level. Undefined when no key precedes it.
 */
export function fieldAtError(text: string, message: string): string | undefined {
  const m = /position (\d+)/.exec(message);
  const end = m ? Math.min(Number(m[1]), text.length) : text.length;
  let depth = 0;
  let key: string | undefined;
  for (let i = 0; i < end; i++) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (j < end && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      if (depth === 1 && /^\s*:/.test(text.slice(j + 1, j + 20))) key = text.slice(i + 1, j);
      i = j;
    } else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') depth--;
  }
  return key;
}

/**
 * Inside a concurrent block (docs/trace-format.md, "Concurrent blocks and exploration") only the events a
 * thread of the block can run: no set-up (it would change who the threads are) and nothing that
 * writes a schedule down (the explorer writes those).
 */
const BLOCK_FORBIDDEN: Readonly<Record<string, string>> = {
  resume: 'a block has no schedule written: the explorer writes the resumes',
  expect: 'an expectation inside a block would depend on the schedule; write it after the join',
  mm: 'set-up events go before the block',
  hugetlbfs: 'set-up events go before the block',
  attach: 'set-up events go before the block',
  fork: 'set-up events go before the block',
  exit: 'set-up events go before the block',
  concurrent: 'blocks do not nest',
};

const HEADER_FIELDS = new Set(['format', 'version', 'cpus', 'kernel', 'fixes', 'paging', 'pcid', 'remoteFlush', 'physmem', 'tlb', 'seed', 'recorded']);
/** The reasons of the kernel's tlb_flush tracepoint, as `observed` names them (docs/record.md). */
export const FLUSH_REASONS = ['task-switch', 'remote-shootdown', 'local-shootdown', 'local-mm', 'remote-ipi', 'remote-wrong-cpu'] as const;
export const MAX_CPUS = 256;

/** Reads a trace held in memory as lines (generated workloads, tests). */
export function* parseTrace(lines: Iterable<string>, file = 'trace'): Generator<TraceItem> {
  const parser = new TraceParser(file);
  let lineNo = 0;
  for (const line of lines) {
    const item = parser.line(++lineNo, line, 0);
    if (item) yield item;
  }
  parser.end(lineNo);
}

/** The line-by-line state of a reader: whether the header has been seen (the binary reader uses it too). */
export class TraceParser {
  private header: ReplayHeader | undefined;
  /** The line of the open concurrent block's `concurrent`, if one is open. */
  private blockLine: number | undefined;
  constructor(private readonly file: string) {}

  private fail(line: number, field: string | undefined, reason: string): never {
    throw new TraceError(this.file, line, field, reason);
  }

  private readonly scan: PlainAccess = { cpu: 0, lo: 0, hi: 0, code: 0 };

  /**
   * Whether the line is a plain access in the canonical form that this trace accepts as it is (the
   * header seen, its CPU exists, no concurrent block open); its fields are then in `out`.
   */
  plainAccess(text: string, out: PlainAccess): boolean {
    return scanPlainAccess(text, out) && this.takesPlainAccess(out.cpu);
  }

  /** Whether a plain access of this CPU is accepted as it is here (see plainAccess). */
  takesPlainAccess(cpu: number): boolean {
    return this.header !== undefined && this.blockLine === undefined && cpu < this.header.cpus;
  }

  line(lineNo: number, text: string, bytes: number): TraceItem | undefined {
    const a = this.scan;
    if (this.plainAccess(text, a)) {
      const event: ReplayEvent = { op: 'access', cpu: a.cpu, va: (BigInt(a.hi) << 32n) | BigInt(a.lo), rw: RW[a.code] };
      return { kind: 'event', line: lineNo, event, bytes };
    }
    const t = (lineNo === 1 ? text.replace(/^\uFEFF/, '') : text).trim();
    if (t === '' || t.startsWith('#') || t.startsWith('//')) return undefined;
    let obj: unknown;
    try {
      obj = JSON.parse(t);
    } catch (err) {
      const message = (err as Error).message;
      this.fail(lineNo, fieldAtError(t, message), `not valid JSON (${message})`);
    }
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) this.fail(lineNo, undefined, `a line must be one JSON object, not ${describe(obj)}`);
    const rec = obj as Record<string, unknown>;
    if (!this.header) {
      this.header = this.parseHeader(lineNo, rec);
      return { kind: 'header', line: lineNo, header: this.header, bytes };
    }
    const event = this.parseEvent(lineNo, rec);
    this.block(lineNo, event);
    return { kind: 'event', line: lineNo, event, bytes };
  }

  end(lastLine: number): void {
    if (!this.header) this.fail(lastLine, undefined, 'the trace has no header line ({"format":"mmuwasm-trace","version":1,"cpus":N})');
    if (this.blockLine !== undefined) this.fail(this.blockLine, 'op', 'this concurrent block is never joined (add {"op":"join"})');
  }

  /** The rules of concurrent blocks: what a block may hold, no nesting, every block joined. */
  private block(line: number, e: ReplayEvent): void {
    if (this.blockLine === undefined) {
      if (e.op === 'join') this.fail(line, 'op', 'a join without a concurrent block to close');
      if (e.op === 'concurrent') this.blockLine = line;
      return;
    }
    if (e.op === 'join') {
      this.blockLine = undefined;
      return;
    }
    const why = Object.hasOwn(BLOCK_FORBIDDEN, e.op) ? BLOCK_FORBIDDEN[e.op] : undefined;
    if (why) this.fail(line, 'op', `"${e.op}" is not allowed inside the concurrent block of line ${this.blockLine}: ${why}`);
    for (const f of ['id', 'until']) if (e[f] !== undefined) this.fail(line, f, `no "${f}" inside the concurrent block of line ${this.blockLine}: the explorer chooses where operations pause`);
  }

  private parseHeader(line: number, h: Record<string, unknown>): ReplayHeader {
    if (h.format !== 'mmuwasm-trace') {
      if ('op' in h) this.fail(line, 'format', 'the first line must be the header ({"format":"mmuwasm-trace","version":1,"cpus":N}), not an event');
      this.fail(line, 'format', `expected "mmuwasm-trace", not ${describe(h.format)}`);
    }
    for (const k of Object.keys(h)) if (!HEADER_FIELDS.has(k)) this.fail(line, k, `unknown header field (the header knows ${[...HEADER_FIELDS].join(', ')})`);
    if (h.version === undefined) this.fail(line, 'version', 'the header needs "version": 1');
    if (h.version !== 1) this.fail(line, 'version', `this reader knows version 1, not ${describe(h.version)}`);
    const out: ReplayHeader = { cpus: this.int(line, 'cpus', h.cpus, 1, MAX_CPUS) };
    if (h.kernel !== undefined) {
      if (typeof h.kernel !== 'string' || !PROFILE_NAMES.includes(h.kernel)) this.fail(line, 'kernel', `unknown profile ${describe(h.kernel)} (profiles: ${PROFILE_NAMES.join(', ')})`);
      out.kernel = h.kernel;
    }
    if (h.fixes !== undefined) {
      if (typeof h.fixes !== 'object' || h.fixes === null || Array.isArray(h.fixes)) this.fail(line, 'fixes', `expected an object of fix id → true/false, not ${describe(h.fixes)}`);
      const fixes: Record<string, boolean> = {};
      for (const [id, on] of Object.entries(h.fixes)) {
        this.fixId(line, `fixes.${id}`, id);
        if (typeof on !== 'boolean') this.fail(line, `fixes.${id}`, `expected true or false, not ${describe(on)}`);
        fixes[id] = on;
      }
      out.fixes = fixes;
    }
    if (h.paging !== undefined) {
      if (h.paging !== 4 && h.paging !== 5) this.fail(line, 'paging', `expected 4 or 5 (levels), not ${describe(h.paging)}`);
      out.paging = h.paging;
    }
    if (h.pcid !== undefined) {
      if (typeof h.pcid !== 'boolean') this.fail(line, 'pcid', `expected true or false, not ${describe(h.pcid)}`);
      out.pcid = h.pcid;
    }
    if (h.remoteFlush !== undefined) {
      if (h.remoteFlush !== 'ipi' && h.remoteFlush !== 'hypercall') this.fail(line, 'remoteFlush', `expected "ipi" or "hypercall" (how the kernel reaches other CPUs' TLBs), not ${describe(h.remoteFlush)}`);
      out.remoteFlush = h.remoteFlush;
    }
    if (h.physmem !== undefined) {
      const p = this.amount(line, 'physmem', h.physmem);
      if (p < 1n << 30n || p & 0x3fff_ffffn) this.fail(line, 'physmem', 'expected a whole number of GiB, at least "1G"');
      if (p > 1n << 46n) this.fail(line, 'physmem', 'at most "64T" (MAXPHYADDR 46)');
      out.physmem = p;
    }
    if (h.tlb !== undefined) out.tlb = this.tlb(line, h.tlb);
    if (h.seed !== undefined) out.seed = this.int(line, 'seed', h.seed, 0, 2 ** 32 - 1);
    if (h.recorded !== undefined) out.recorded = this.recorded(line, h.recorded);
    return out;
  }

  /** `recorded`: the machine a trace was recorded on (written by `record`). */
  private recorded(line: number, v: unknown): Record<string, unknown> {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.fail(line, 'recorded', `expected an object describing the machine, not ${describe(v)}`);
    const r = v as Record<string, unknown>;
    const str = (k: string) => {
      if (typeof r[k] !== 'string' || r[k] === '') this.fail(line, `recorded.${k}`, `expected a non-empty string, not ${describe(r[k])}`);
    };
    str('release');
    this.int(line, 'recorded.cpus', r.cpus, 1, MAX_CPUS);
    for (const [k, x] of Object.entries(r)) {
      const f = `recorded.${k}`;
      switch (k) {
        case 'release': case 'cpus': break;
        case 'date': case 'tracer': str(k); break;
        case 'remoteFlush':
          if (x !== 'ipi' && x !== 'hypercall') this.fail(line, f, `expected "ipi" or "hypercall" (how the kernel reached other CPUs' TLBs), not ${describe(x)}`);
          break;
        case 'program':
          if (!Array.isArray(x) || x.length === 0 || x.some((a) => typeof a !== 'string')) this.fail(line, f, `expected the command line as a list of strings, not ${describe(x)}`);
          break;
        case 'processes': case 'threads': case 'implicitPages': this.int(line, f, x, 0, Number.MAX_SAFE_INTEGER); break;
        case 'unattributed':
          if (typeof x !== 'object' || x === null || Array.isArray(x)) this.fail(line, f, `expected an object of why → count, not ${describe(x)}`);
          for (const [why, n] of Object.entries(x)) this.int(line, `${f}.${why}`, n, 0, Number.MAX_SAFE_INTEGER);
          break;
        default:
          this.fail(line, f, 'unknown field (recorded knows release, cpus, date, tracer, remoteFlush, program, processes, threads, implicitPages, unattributed)');
      }
    }
    return r;
  }

  /** `observed`: what the real kernel did during an event — the flushes its tlb_flush tracepoint saw. */
  private observed(line: number, v: unknown): { flushes: { reason: string; pages: number }[] } {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.fail(line, 'observed', `expected {"flushes":[…]}, not ${describe(v)}`);
    const o = v as Record<string, unknown>;
    for (const k of Object.keys(o)) if (k !== 'flushes') this.fail(line, `observed.${k}`, 'unknown field (observed has "flushes")');
    if (!Array.isArray(o.flushes)) this.fail(line, 'observed.flushes', `expected a list of {"reason":R,"pages":N}, not ${describe(o.flushes)}`);
    const flushes = o.flushes.map((f: unknown, i: number) => {
      const at = `observed.flushes[${i}]`;
      if (typeof f !== 'object' || f === null || Array.isArray(f)) this.fail(line, at, `expected {"reason":R,"pages":N}, not ${describe(f)}`);
      const ff = f as Record<string, unknown>;
      for (const k of Object.keys(ff)) if (k !== 'reason' && k !== 'pages') this.fail(line, `${at}.${k}`, 'unknown field (a flush has "reason" and "pages")');
      if (typeof ff.reason !== 'string' || !(FLUSH_REASONS as readonly string[]).includes(ff.reason)) this.fail(line, `${at}.reason`, `expected one of ${FLUSH_REASONS.map((r) => `"${r}"`).join(', ')}, not ${describe(ff.reason)}`);
      if (typeof ff.pages !== 'number' || !Number.isInteger(ff.pages) || ff.pages < -1) this.fail(line, `${at}.pages`, `expected a whole number of pages, or -1 for a full flush, not ${describe(ff.pages)}`);
      return { reason: ff.reason, pages: ff.pages };
    });
    return { flushes };
  }

  private tlb(line: number, v: unknown): ReplayHeader['tlb'] {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.fail(line, 'tlb', `expected an object of array name → {"sets":S,"ways":W}, not ${describe(v)}`);
    const out: Record<string, { sets: number; ways: number }> = {};
    for (const [name, g] of Object.entries(v)) {
      const f = `tlb.${name}`;
      if (!(ARRAY_NAMES as readonly string[]).includes(name)) this.fail(line, f, `unknown array (arrays: ${ARRAY_NAMES.join(', ')})`);
      if (typeof g !== 'object' || g === null || Array.isArray(g)) this.fail(line, f, `expected {"sets":S,"ways":W}, not ${describe(g)}`);
      const gg = g as Record<string, unknown>;
      for (const k of Object.keys(gg)) if (k !== 'sets' && k !== 'ways') this.fail(line, `${f}.${k}`, 'unknown field (an array has "sets" and "ways")');
      const sets = this.int(line, `${f}.sets`, gg.sets, 0, 1 << 16);
      const ways = this.int(line, `${f}.ways`, gg.ways, 0, 64);
      if (sets & (sets - 1)) this.fail(line, `${f}.sets`, `expected a power of two (or 0 for no such array), not ${sets}`);
      if (sets !== 0 && ways === 0) this.fail(line, `${f}.ways`, `an array with ${sets} sets needs at least 1 way (or "sets": 0 for no such array)`);
      if (sets * ways > MAX_ARRAY_ENTRIES) {
        this.fail(line, `${f}.ways`, `${sets} sets × ${ways} ways is ${sets * ways} entries, more than an array holds (2^20 = ${MAX_ARRAY_ENTRIES}); with ${sets} sets at most ${MAX_ARRAY_ENTRIES / sets} ways`);
      }
      out[name] = { sets, ways };
    }
    return out as ReplayHeader['tlb'];
  }

  private parseEvent(line: number, e: Record<string, unknown>): ReplayEvent {
    if (e.format !== undefined) this.fail(line, 'format', 'a second header: the header is the first non-comment line only');
    if (typeof e.op !== 'string') this.fail(line, 'op', e.op === undefined ? 'every event needs an "op"' : `expected a string, not ${describe(e.op)}`);
    const op = e.op;
    const schema = Object.hasOwn(SCHEMAS, op) ? SCHEMAS[op] : undefined;
    if (!schema) this.fail(line, 'op', `unknown op "${op}" (ops: ${Object.keys(SCHEMAS).join(', ')})`);
    // Own properties only: a key such as "__proto__", "constructor" or "toString" is an unknown field,
    // never an inherited one; only the schema's own names are written into the event, so no key of a
    // trace reaches an object's prototype.
    const out: ReplayEvent = { op };
    for (const [name, type] of Object.entries(schema.required)) {
      if (!Object.hasOwn(e, name) || e[name] === undefined) this.fail(line, name, `"${op}" needs this field`);
      out[name] = this.value(line, name, type, e[name]);
    }
    for (const [name, v] of Object.entries(e)) {
      if (name === 'op' || Object.hasOwn(schema.required, name)) continue;
      if (name === 'observed') {
        out.observed = this.observed(line, v);
        continue;
      }
      const type = schema.optional && Object.hasOwn(schema.optional, name) ? schema.optional[name] : undefined;
      if (type !== undefined) out[name] = this.value(line, name, type, v);
      else if (schema.parks && (name === 'id' || name === 'until')) out[name] = this.value(line, name, 'name', v);
      else this.fail(line, name, `unknown field for "${op}"${name === 'id' || name === 'until' ? ' (this op cannot be parked: it has no steps)' : ''}`);
    }
    this.crossCheck(line, op, out);
    return out;
  }

  /** The rules that involve more than one field. */
  private crossCheck(line: number, op: string, e: ReplayEvent): void {
    if (e.cpu !== undefined && (e.cpu as number) >= this.header!.cpus) this.fail(line, 'cpu', `CPU ${e.cpu as number} does not exist (the header says ${this.header!.cpus} CPUs, numbered from 0)`);
    // A resume's step is checked by the replay, which knows the parked operation.
    if (e.until !== undefined && op !== 'resume') {
      const steps = STEPS[op === 'madvise' ? `madvise ${e.advice as string}` : op] ?? [];
      if (!steps.length) this.fail(line, 'until', `madvise ${e.advice as string} cannot be parked: it has no steps`);
      if (!steps.includes(e.until as string)) this.fail(line, 'until', `"${e.until as string}" is not a step of ${op === 'madvise' ? `madvise ${e.advice as string}` : op} (steps: ${steps.join(', ')})`);
    }
    if (e.until !== undefined && op !== 'resume' && e.id === undefined) this.fail(line, 'id', `a parked operation needs an "id" to resume it by`);
    switch (op) {
      case 'mmap':
        if (e.offset !== undefined && e.file === undefined) this.fail(line, 'offset', 'an offset needs a "file"');
        if (e.hugetlb !== undefined && e.file !== undefined) this.fail(line, 'hugetlb', 'anonymous hugetlb maps no file: give "hugetlb" or "file", not both');
        break;
      case 'migrate':
        if (e.file !== undefined) {
          if (e.offset === undefined) this.fail(line, 'offset', 'migrating a file page needs its "offset"');
          if (e.va !== undefined || e.mm !== undefined) this.fail(line, e.va !== undefined ? 'va' : 'mm', 'give either "va" (a page of an address space) or "file" and "offset", not both');
        } else if (e.va === undefined) this.fail(line, 'va', 'migrate needs "va", or "file" and "offset"');
        else if (e.offset !== undefined) this.fail(line, 'offset', 'an offset needs a "file"');
        break;
      case 'accesses':
        if (e.pattern === 'stride' && e.stride === undefined) this.fail(line, 'stride', 'the "stride" pattern needs a "stride"');
        if (e.pattern !== 'stride' && e.stride !== undefined) this.fail(line, 'stride', `only the "stride" pattern takes a stride (this is "${e.pattern as string}")`);
        if (e.pattern === 'zipf' && e.theta === undefined) this.fail(line, 'theta', 'the "zipf" pattern needs a "theta"');
        if (e.pattern !== 'zipf' && e.theta !== undefined) this.fail(line, 'theta', `only the "zipf" pattern takes a theta (this is "${e.pattern as string}")`);
        if ((e.len as bigint) < 8n) this.fail(line, 'len', 'an access stream needs at least 8 bytes');
        // The stream generator counts its range in JavaScript numbers (stream-cursor.ts).
        if ((e.len as bigint) >= MAX_STREAM_LEN) this.fail(line, 'len', `an access stream spans less than 2^53 bytes (at most "0x1fffffffffffff"), not 0x${(e.len as bigint).toString(16)}`);
        if (e.stride !== undefined && (e.stride as bigint) === 0n) this.fail(line, 'stride', 'a stride of 0 would touch one address only; use "count" with one access instead');
        break;
      case 'device_access': {
        // A secondary MMU translates canonical addresses only (SDM vol. 1 §3.3.7.1 for the CPU; the
        // IOMMU and EPT likewise index with the low 48 or 57 bits).
        const levels = this.header!.paging ?? 4;
        if (!canonical(e.va as bigint, levels)) {
          this.fail(line, 'va', `0x${(e.va as bigint).toString(16)} is not a canonical address for ${levels}-level paging (bits 63 to ${levels === 5 ? 56 : 47} must all equal bit ${levels === 5 ? 56 : 47}: below 0x${(1n << (levels === 5 ? 56n : 47n)).toString(16)}, or from 0x${(((1n << 64n) - (1n << (levels === 5 ? 56n : 47n)))).toString(16)})`);
        }
        break;
      }
      case 'expect': {
        const given = ['violations', 'violation', 'segv', 'refusals', 'refused'].filter((k) => e[k] !== undefined);
        if (given.length !== 1) this.fail(line, given[1] ?? 'violation', 'an expectation says exactly one of "violations", "violation", "segv", "refusals" or "refused"');
        if (e.refusals !== undefined || e.refused !== undefined) for (const k of ['cpu', 'device', 'mm', 'va']) if (e[k] !== undefined) this.fail(line, k, 'a refusal expectation names only the error');
        if (e.segv !== undefined) {
          if (e.segv !== true) this.fail(line, 'segv', 'only "segv": true can be expected');
          if (e.cpu === undefined) this.fail(line, 'cpu', 'a segv expectation names the CPU');
          for (const k of ['device', 'mm', 'va']) if (e[k] !== undefined) this.fail(line, k, 'a segv expectation names only the CPU');
        }
        if (e.violations !== undefined) for (const k of ['cpu', 'device', 'mm', 'va']) if (e[k] !== undefined) this.fail(line, k, '"violations" counts them all; to match fields, expect one "violation" kind');
        if (e.cpu !== undefined && e.device !== undefined) this.fail(line, 'device', 'a violation is either a CPU\'s or a device\'s');
        if (e.with !== undefined && e.without !== undefined) this.fail(line, 'without', 'give "with" or "without", not both');
        if (e.with !== undefined) this.fixId(line, 'with', e.with as string);
        if (e.without !== undefined) this.fixId(line, 'without', e.without as string);
        break;
      }
    }
  }

  private fixId(line: number, field: string, id: string): void {
    if (!/^[0-9a-f]{12}$/.test(id)) this.fail(line, field, `a fix is named by its 12 lower-case hex digits, not "${id}"`);
    if (!fixById(id)) this.fail(line, field, `unknown fix ${id} (run 'mmuwasm profiles' for the list)`);
  }

  private value(line: number, field: string, type: FieldType, v: unknown): unknown {
    if (Array.isArray(type)) {
      if (typeof v !== 'string' || !type.includes(v)) this.fail(line, field, `expected one of ${type.map((t) => `"${t}"`).join(', ')}, not ${describe(v)}`);
      return v;
    }
    switch (type) {
      case 'cpu': return this.int(line, field, v, 0, MAX_CPUS - 1);
      case 'name':
        if (typeof v !== 'string' || v === '') this.fail(line, field, `expected a non-empty string, not ${describe(v)}`);
        return v;
      case 'amount': return this.amount(line, field, v);
      case 'prot': {
        const p = parseProt(v);
        if (!p.ok) this.fail(line, field, p.reason);
        return p.value;
      }
      case 'bool':
        if (typeof v !== 'boolean') this.fail(line, field, `expected true or false, not ${describe(v)}`);
        return v;
      case 'count': return this.int(line, field, v, 0, Number.MAX_SAFE_INTEGER);
      case 'int': return this.int(line, field, v, 0, 2 ** 32 - 1);
      case 'fraction':
        if (typeof v !== 'number' || !(v >= 0 && v <= 1)) this.fail(line, field, `expected a fraction from 0 to 1, not ${describe(v)}`);
        return v;
      case 'positive':
        if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v)) this.fail(line, field, `expected a positive number, not ${describe(v)}`);
        return v;
    }
    return this.fail(line, field, `unknown field type`);
  }

  private amount(line: number, field: string, v: unknown): bigint {
    const p = parseAmount(v);
    if (!p.ok) this.fail(line, field, p.reason);
    return p.value;
  }

  private int(line: number, field: string, v: unknown, min: number, max: number): number {
    if (typeof v !== 'number' || !Number.isInteger(v)) this.fail(line, field, `expected a whole number, not ${describe(v)}`);
    if (v < min || v > max) this.fail(line, field, `expected ${min} to ${max}, not ${v}`);
    return v;
  }
}
