// The canonical text of a plain access — {"op":"access","cpu":N,"va":"0x…","rw":"r"}, byte for byte
// as the generators and the converter write it, lower-case hex of 1 to 16 digits — read without
// JSON.parse and the parser's schema walk: most lines of a long trace are this. Anything else is not
// a plain access here and takes the general path (src/trace/parser.ts), which also says what is wrong.
// The same form is read from a line's text (scanPlainAccess) or from its bytes (scanPlainAccessBytes,
// PlainAccessScanner: the line need not be decoded at all); a test holds the two to each other.

/** A plain access: the linear address in two halves, the rw code (0 r, 1 w, 2 x). */
export interface PlainAccess {
  cpu: number;
  lo: number;
  hi: number;
  code: number;
}

const codes = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));
/** The text's bytes as little-endian 32-bit words (a byte at a time costs ~2 ns here: four at a time). */
const words = (s: string): Uint32Array => {
  const b = codes(s);
  return Uint32Array.from({ length: b.length >> 2 }, (_, k) => b[4 * k] | (b[4 * k + 1] << 8) | (b[4 * k + 2] << 16) | (b[4 * k + 3] << 24));
};
const PREFIX = codes('{"op":"access","cpu":');
const VA_KEY = codes(',"va":"0x');
const RW_KEY = codes('","rw":"');
const PREFIX_WORDS = words('{"op":"access","cpu":');
const VA_WORDS = words(',"va":"0x');
const RW_WORDS = words('","rw":"');
const R = 0x72;
const W = 0x77;
const X = 0x78;
const QUOTE = 0x22;
const BRACE = 0x7d;

/**
 * Reads the form from the bytes of `b` from `start` on, into `out`: the index just past the form (the
 * line must end there), or -1. It reads no byte from `limit` on.
 */
export function scanPlainAccessBytes(b: Uint8Array, start: number, limit: number, out: PlainAccess, view?: DataView): number {
  if (limit - start < PREFIX.length + VA_KEY.length + RW_KEY.length + 5) return -1;
  const v = view ?? new DataView(b.buffer, b.byteOffset, b.length);
  // {"op":"access","cpu": — five words and a colon.
  for (let k = 0; k < 5; k++) if (v.getUint32(start + 4 * k, true) !== PREFIX_WORDS[k]) return -1;
  if (b[start + 20] !== PREFIX[20]) return -1;
  let i = start + PREFIX.length;
  const first = b[i++] - 48;
  if (!(first >= 0 && first <= 9)) return -1;
  let cpu = first;
  for (let k = 0; first !== 0 && k < 2; k++, i++) {
    const d = b[i] - 48;
    if (!(d >= 0 && d <= 9)) break;
    cpu = cpu * 10 + d;
  }
  if (i + VA_KEY.length > limit) return -1;
  if (v.getUint32(i, true) !== VA_WORDS[0] || v.getUint32(i + 4, true) !== VA_WORDS[1] || b[i + 8] !== VA_KEY[8]) return -1;
  i += VA_KEY.length;
  let lo = 0;
  let hi = 0;
  let digits = 0;
  for (; i < limit; i++) {
    const c = b[i];
    const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : -1;
    if (d < 0) break;
    if (++digits > 16) return -1;
    hi = ((hi << 4) | (lo >>> 28)) >>> 0;
    lo = ((lo << 4) | d) >>> 0;
  }
  if (digits === 0 || i + RW_KEY.length + 3 > limit) return -1;
  if (v.getUint32(i, true) !== RW_WORDS[0] || v.getUint32(i + 4, true) !== RW_WORDS[1]) return -1;
  i += RW_KEY.length;
  const r = b[i];
  const code = r === R ? 0 : r === W ? 1 : r === X ? 2 : -1;
  if (code < 0 || b[i + 1] !== QUOTE || b[i + 2] !== BRACE) return -1;
  out.cpu = cpu;
  out.lo = lo;
  out.hi = hi;
  out.code = code;
  return i + 3;
}

/** The same form as a regular expression, for a line already decoded. */
const PLAIN_ACCESS = /^\{"op":"access","cpu":(0|[1-9][0-9]{0,2}),"va":"0x([0-9a-f]{1,16})","rw":"([rwx])"\}$/;

/** Whether the text is a plain access in the canonical form; its fields are then in `out`. */
export function scanPlainAccess(t: string, out: PlainAccess): boolean {
  const m = PLAIN_ACCESS.exec(t);
  if (!m) return false;
  const hex = m[2];
  const cut = Math.max(0, hex.length - 8);
  out.cpu = +m[1];
  out.lo = parseInt(hex.slice(cut), 16);
  out.hi = cut > 0 ? parseInt(hex.slice(0, cut), 16) : 0;
  out.code = m[3] === 'r' ? 0 : m[3] === 'w' ? 1 : 2;
  return true;
}

/**
 * Reads plain accesses from the bytes of lines (src/trace/lines.ts), into columns: the k-th line it
 * took since `reset` has its fields at index k, and its text, should the reader want it after all
 * (an access the parser must see: a CPU the header lacks, inside a concurrent block), from `text(k)`.
 */
export class PlainAccessScanner {
  n = 0;
  cpu = new Uint16Array(1024);
  lo = new Uint32Array(1024);
  hi = new Uint32Array(1024);
  code = new Uint8Array(1024);
  private from = new Int32Array(1024);
  private to = new Int32Array(1024);
  private chunk: Uint8Array = new Uint8Array(0);
  private view: DataView = new DataView(new ArrayBuffer(0));
  private readonly one: PlainAccess = { cpu: 0, lo: 0, hi: 0, code: 0 };
  private readonly ascii = new TextDecoder('latin1');

  /** A new block of lines, from this chunk: the columns start over. */
  reset(chunk: Uint8Array): void {
    this.n = 0;
    this.chunk = chunk;
    this.view = new DataView(chunk.buffer, chunk.byteOffset, chunk.length);
  }

  /**
   * Takes the line that starts at `start` of the chunk if it is a plain access ending in \n (or \r\n)
   * at or before `limit`; returns the index of that \n, or -1.
   */
  take(start: number, limit: number): number {
    const b = this.chunk;
    const end = scanPlainAccessBytes(b, start, limit, this.one, this.view);
    if (end < 0) return -1;
    const nl = b[end] === 13 ? end + 1 : end;
    if (nl > limit || b[nl] !== 10) return -1;
    const k = this.n;
    if (k === this.cpu.length) this.grow();
    this.cpu[k] = this.one.cpu;
    this.lo[k] = this.one.lo;
    this.hi[k] = this.one.hi;
    this.code[k] = this.one.code;
    this.from[k] = start;
    this.to[k] = end;
    this.n = k + 1;
    return nl;
  }

  /** The text of the k-th line taken (ASCII, as the form is). */
  text(k: number): string {
    return this.ascii.decode(this.chunk.subarray(this.from[k], this.to[k]));
  }

  private grow(): void {
    const more = <T extends Uint8Array | Uint16Array | Uint32Array | Int32Array>(a: T): T => {
      const b = new (a.constructor as new (n: number) => T)(2 * a.length);
      b.set(a);
      return b;
    };
    this.cpu = more(this.cpu);
    this.lo = more(this.lo);
    this.hi = more(this.hi);
    this.code = more(this.code);
    this.from = more(this.from);
    this.to = more(this.to);
  }
}
