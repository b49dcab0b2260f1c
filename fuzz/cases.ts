// The fuzzer's cases and its in-process check. A case is a trace made from a seed trace (the scenario
// library, generated workloads) by a few mutations, deterministically from (seed, index), so any
// failure can be made again from its two numbers. The check replays it in this process and says what
// is wrong, if anything: the contract (docs, README "Replaying traces") is that a trace either
// replays (status 0 or 1, "complete": true) or stops at a line with a message naming file, line and
// field (status 2, "complete": false, an "error") — never an exception, which on the command line is
// a stack trace, and never a model bug (an internal error).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseTrace } from '../src/trace/parser.ts';
import { replayTrace } from '../src/replay/replay-trace.ts';

/** A small, fast, seedable generator (mulberry32). */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }
}

/** The seed traces: every scenario of the library (and whatever the caller adds), as lines. */
export function scenarioSeeds(root: string): { name: string; lines: string[] }[] {
  const dir = join(root, 'scenarios');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.jsonl'))
    .sort()
    .map((f) => ({ name: `scenarios/${f}`, lines: readFileSync(join(dir, f), 'utf8').split('\n') }));
}

/** Values that have broken readers before, or sit at a limit. */
const INTERESTING: unknown[] = [
  0, 1, -1, 255, 256, 4095, 4096, 2 ** 31, 2 ** 32, 2 ** 53 - 1, 2 ** 53, 1e308, 0.5, NaN, true, false, null, '', ' ', [], {}, { sets: 4, ways: 0 },
  '0x0', '0x1000', '0x7fffffffffff', '0x800000000000', '0xffff800000000000', '0xffffffffffffffff', '0x10000000000000000',
  '0x1fffffffffffff', '0x20000000000000', '2M', '1G', '1T', '64T', '4K', '0k', '99999999999999999999', '__proto__', 'constructor',
  'toString', 'A', 'B', 'F', 'm', 'none', 'rw', 'rwx', 'w', 'x', 'r', 'unmap', 'copy', 'zap', 'flush', 'free', 'lookup', 'pmd', 'put', 'ipi', 'hypercall',
  'A\uFFFD', 'é', '\u0000',
];
const KEYS = ['op', 'cpu', 'mm', 'va', 'len', 'prot', 'flags', 'file', 'offset', 'id', 'until', 'count', 'pattern', 'stride', 'theta', 'write',
  'seed', 'device', 'kind', 'rw', 'user', 'advice', 'newva', 'newlen', 'size', 'pagesize', 'mode', 'child', 'violations', 'violation',
  'segv', 'with', 'without', 'cpus', 'physmem', 'tlb', 'paging', 'pcid', 'remoteFlush', 'kernel', 'fixes', 'version', 'format',
  '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf'];
const OPS = ['mm', 'fork', 'exit', 'switch', 'idle', 'hugetlbfs', 'mmap', 'munmap', 'mprotect', 'madvise', 'mremap', 'fallocate', 'truncate',
  'migrate', 'reclaim', 'khugepaged', 'access', 'gup_fast', 'speculative_ref', 'accesses', 'attach', 'device_access', 'resume', 'expect', '__proto__', 'toString'];

/** One JSON object's text with one change to its fields; any other text with one change to its bytes. */
function mutateLine(text: string, rng: Rng, pool: string[]): string {
  let obj: Record<string, unknown> | undefined;
  try {
    const v = JSON.parse(text);
    if (v && typeof v === 'object' && !Array.isArray(v)) obj = v;
  } catch {
    // not JSON: a byte-level change
  }
  if (!obj || rng.next() < 0.15) {
    const i = rng.int(text.length + 1);
    switch (rng.int(4)) {
      case 0: return text.slice(0, i);
      case 1: return text.slice(0, i) + String.fromCharCode(rng.int(128)) + text.slice(i + 1);
      case 2: return text.slice(0, i) + rng.pick(['"', '{', '}', ',', ':', '\\', '0x', '-', ' ', '\uFEFF']) + text.slice(i);
      default: return text + text.slice(0, i);
    }
  }
  const keys = Object.keys(obj);
  // Keys are set with defineProperty so that "__proto__" becomes a key of the text, not a prototype.
  const set = (k: string, v: unknown) => Object.defineProperty(obj!, k, { value: v, enumerable: true, writable: true, configurable: true });
  switch (rng.int(7)) {
    case 0: if (keys.length) delete obj[rng.pick(keys)]; break;
    case 1: if (keys.length) set(rng.pick(keys), rng.pick(INTERESTING)); break;
    case 2: set(rng.pick(KEYS), rng.pick(INTERESTING)); break;
    case 3: set('op', rng.pick(OPS)); break;
    case 4: {
      // A value from another line of the trace (names, addresses that exist).
      const other = pool[rng.int(pool.length)];
      try {
        const o = JSON.parse(other);
        const ok = o && typeof o === 'object' ? Object.keys(o) : [];
        if (ok.length) {
          const k = rng.pick(ok);
          set(k, o[k]);
        }
      } catch {
        // a comment
      }
      break;
    }
    case 5: if (keys.length) {
      const k = rng.pick(keys);
      const v = obj[k];
      // A stream's count is work the trace asks for: a billion zipf accesses take minutes, not a hang.
      if (typeof v === 'number' && k === 'count') set(k, Math.max(0, v + rng.pick([-1, 1, 4096, -4096])));
      else if (typeof v === 'number') set(k, v + rng.pick([-1, 1, 4096, -4096, 2 ** 21, 2 ** 30]));
      else if (typeof v === 'string' && /^0x[0-9a-f]+$/i.test(v)) set(k, `0x${(BigInt(v) + BigInt(rng.pick([-1, 1, 4096, -4096, 2 ** 21, 2 ** 30, 2 ** 47]))).toString(16).replace('-', '')}`);
      else set(k, rng.pick(INTERESTING));
    }
      break;
    default: set(rng.pick(['id', 'until']), rng.pick(['m', 'p', 'g', 's', 'unmap', 'copy', 'zap', 'flush', 'free', 'change', 'move', 'lookup', 'install', 'pmd', 'put', 'cr3', 'loaded']));
  }
  return JSON.stringify(obj);
}

/** A mutated copy of a seed trace: 1 to 4 changes of lines, their order, or their number. */
export function mutateTrace(lines: readonly string[], rng: Rng): string[] {
  const out = [...lines];
  const n = 1 + rng.int(4);
  for (let k = 0; k < n; k++) {
    const i = rng.int(Math.max(1, out.length));
    switch (rng.int(9)) {
      case 0: out.splice(i, 1); break;
      case 1: out.splice(i, 0, out[rng.int(out.length)] ?? ''); break;
      case 2: {
        const j = rng.int(out.length);
        [out[i], out[j]] = [out[j], out[i]];
        break;
      }
      case 3: out.splice(i, 0, rng.pick(['', '# a comment', '// a comment', '   ', '\t'])); break;
      default: out[i] = mutateLine(out[i] ?? '', rng, out);
    }
  }
  return out;
}

export interface FuzzCase {
  seed: number;
  index: number;
  /** The seed trace it was made from. */
  from: string;
  lines: string[];
}

/** Case `index` of run `seed`: the same two numbers always make the same trace. */
export function makeCase(seeds: readonly { name: string; lines: string[] }[], seed: number, index: number): FuzzCase {
  const rng = new Rng((seed * 0x9e3779b1 + index * 0x85ebca6b) >>> 0);
  const s = seeds[rng.int(seeds.length)];
  return { seed, index, from: s.name, lines: mutateTrace(s.lines, rng) };
}

export interface Verdict {
  /** The class of failure ('exception:TypeError', 'complete-with-error', …); undefined: the contract held. */
  failure?: string;
  detail?: string;
  status?: number;
}

const FILE = 'fuzz.jsonl';

/** Stream accesses beyond which a trace is a long workload rather than a case: it is stopped after LONG_MS. */
const LONG_WORK = 2 ** 26;
const LONG_MS = 10_000;

/** The accesses the trace's streams ask for (a mutated `count` of 2^31 is valid: minutes of work, not a hang). */
function streamWork(lines: readonly string[]): number {
  let n = 0;
  for (const l of lines) {
    if (!l.includes('"accesses"')) continue;
    try {
      const o = JSON.parse(l);
      if (o && o.op === 'accesses' && typeof o.count === 'number' && o.count > 0) n += o.count;
    } catch {
      // not an event: the replay says so
    }
  }
  return n;
}

/**
 * Replays the lines in this process and checks the outcome against the contract. A long workload is
 * stopped after LONG_MS as Ctrl-C would stop it: then the contract is a partial report (complete:
 * false, the error naming the line it stopped at).
 */
export async function checkInProcess(lines: readonly string[]): Promise<Verdict> {
  let outcome;
  const long = streamWork(lines) > LONG_WORK ? new AbortController() : undefined;
  const timer = long && setTimeout(() => long.abort(), LONG_MS);
  try {
    outcome = await replayTrace(parseTrace(lines, FILE), FILE, { workers: 0, signal: long?.signal });
  } catch (err) {
    const e = err as Error;
    return { failure: `exception:${e?.constructor?.name ?? typeof err}`, detail: e?.stack ?? String(err) };
  } finally {
    clearTimeout(timer);
  }
  const { report, status } = outcome;
  if (status === 2) {
    if (!report.error) return { failure: 'status-2-without-error', status };
    if (report.complete) return { failure: 'complete-with-error', status };
    if (report.error.file !== FILE || !Number.isInteger(report.error.line) || report.error.line < 0 || report.error.line > lines.length) {
      return { failure: 'error-without-line', detail: JSON.stringify(report.error), status };
    }
    if (/undefined|\[object |NaN/.test(report.error.message)) return { failure: 'garbled-message', detail: report.error.message, status };
    return { status };
  }
  if (!report.complete) return { failure: 'incomplete-without-error', status };
  if (report.events < 0 || report.accesses < 0) return { failure: 'negative-count', status };
  return { status };
}

/**
 * The smallest trace (by lines, then by leaving lines out one at a time) that fails the same way:
 * what a failure's folder holds.
 */
export async function minimize(lines: readonly string[], failure: string, check: (l: readonly string[]) => Promise<Verdict>, budget = 400): Promise<string[]> {
  let cur = [...lines];
  let tries = 0;
  for (let chunk = Math.max(1, cur.length >> 1); chunk >= 1; chunk >>= 1) {
    for (let i = 0; i < cur.length && tries < budget;) {
      const cand = [...cur.slice(0, i), ...cur.slice(i + chunk)];
      tries++;
      if (cand.length && (await check(cand)).failure === failure) cur = cand;
      else i += chunk;
    }
  }
  return cur;
}
