// The value syntax of docs/trace-format.md, "Values": addresses, offsets and lengths as a JSON number below
// 2^53 or a string (hex, decimal, or a size with a binary suffix), and `prot` as letters. Each parser
// returns the value or a sentence saying what is wrong with it; the reader adds file, line and field.
import type { Prot } from '../kernel/mm_types.ts';

export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const bad = (reason: string): Parsed<never> => ({ ok: false, reason });

const SUFFIX: Record<string, bigint> = { k: 10n, m: 20n, g: 30n, t: 40n };
/** Addresses are at most 57 bits (LA57); anything from 2^64 on cannot be an address or a size. */
const LIMIT = 1n << 64n;

/** An address, offset, length or size: `4096`, `"0x7f0040000000"`, `"4096"`, `"2M"`, `"1g"`. */
export function parseAmount(v: unknown): Parsed<bigint> {
  if (typeof v === 'number') {
    if (!Number.isInteger(v) || v < 0) return bad(`expected a whole number of bytes, not ${v}`);
    if (v >= 2 ** 53) return bad(`${v} is not exact as a JSON number (2^53 or more); write it as a hex string`);
    return ok(BigInt(v));
  }
  if (typeof v !== 'string') return bad(`expected a number or a string such as "0x40000000" or "2M", not ${describe(v)}`);
  const s = v.trim();
  let n: bigint;
  if (/^0x[0-9a-f]+$/i.test(s)) n = BigInt(s);
  else if (/^[0-9]+$/.test(s)) n = BigInt(s);
  else {
    const m = /^([0-9]+)([kmgt])$/i.exec(s);
    if (!m) return bad(`"${v}" is neither hex ("0x…"), decimal, nor a size with a K/M/G/T suffix`);
    n = BigInt(m[1]) << SUFFIX[m[2].toLowerCase()];
  }
  if (n >= LIMIT) return bad(`"${v}" does not fit in 64 bits`);
  return ok(n);
}

/** `prot`: letters from r, w, x (each at most once), or "none". */
export function parseProt(v: unknown): Parsed<Prot> {
  if (typeof v !== 'string') return bad(`expected a string of the letters r, w, x, or "none", not ${describe(v)}`);
  if (v === 'none') return ok({ r: false, w: false, x: false });
  if (!/^[rwx]{1,3}$/.test(v) || new Set(v).size !== v.length) return bad(`"${v}" is not a protection: use the letters r, w, x (each once), or "none"`);
  return ok({ r: v.includes('r'), w: v.includes('w'), x: v.includes('x') });
}

/** A JSON value named for a message: `the string "x"`, `an object`, `true`. */
export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `the string ${JSON.stringify(v)}`;
  if (typeof v === 'object') return 'an object';
  return String(v);
}
