// Loading the core: compile once per process, instantiate in any thread against the same shared
// memory (a compiled WebAssembly.Module can be posted to workers). The caller may give the core as a
// URL (fetched and compiled as it streams in a page, read from its file in Node), as its bytes, or
// compiled; by default it is the build/mmu.wasm next to the package's modules.
import { MmuError } from './errors.ts';
import { platform } from '../platform/platform.ts';

/**
 * The core shipped with the package. Written as `new URL(…, import.meta.url)` so that bundlers copy
 * the file and rewrite the URL; from src/mmu/ (a clone) and dist/src/mmu/ (the package) alike it names
 * the build/ folder beside them.
 */
export const CORE_URL = new URL('../../build/mmu.wasm', import.meta.url);

/** The WebAssembly core as a caller may give it: where it is, its bytes, or compiled. */
export type CoreSource = URL | string | Uint8Array | ArrayBuffer | WebAssembly.Module;

/** The core's exports (assembly/index.ts). u64 parameters take BigInt. */
export interface CoreExports {
  init(): number;
  layoutVersion(): number;
  layoutProbe(which: number): number;
  cpuReset(cpu: number): number;
  setPagingLevels(cpu: number, levels: number): number;
  writeCr0(cpu: number, v: bigint): number;
  writeCr3(cpu: number, v: bigint): number;
  writeCr4(cpu: number, v: bigint): number;
  writeEfer(cpu: number, v: bigint): number;
  writeRflags(cpu: number, v: bigint): number;
  writePkru(cpu: number, v: number): number;
  invlpg(cpu: number, la: bigint): number;
  invpcid(cpu: number, type: number, pcid: number, la: bigint): number;
  tlbInit(cpu: number): number;
  /** Offsets of the valid TLB entries whose frame is in [lo, hi), as u32s in the result area; -1: too many. */
  tlbScanFrames(cpu: number, lo: bigint, hi: bigint): number;
  /** flags: RUN_RESULTS | RUN_DEFER_AD | RUN_COLUMNS (assembly/layout.ts). */
  runBatch(cpu: number, start: number, n: number, flags: number): number;
  /** A random, sequential or stride stream's next n records into the batch area (assembly/stream.ts); -1: not here. */
  fillStream(cpu: number, pattern: number, vaLo: number, vaHi: number, len: number, slots: number, write: number, stride: number,
    line: number, sHi: number, sLo: number, cursor: number, at: number, n: number): number;
  /** After fillStream: 0 the generator state's high word, 1 its low word, 2 the cursor. */
  streamOut(which: number): number;
}

let compiled: Promise<WebAssembly.Module> | undefined;

/** The compiled core: the package's (compiled once per thread) or the one `source` gives. */
export function compileCore(source?: CoreSource): Promise<WebAssembly.Module> {
  if (source === undefined) {
    compiled ??= platform().compileCore(CORE_URL);
    compiled.catch(() => (compiled = undefined));
    return compiled;
  }
  if (source instanceof WebAssembly.Module) return Promise.resolve(source);
  if (source instanceof Uint8Array || source instanceof ArrayBuffer) return WebAssembly.compile(source as BufferSource);
  let url: URL;
  try {
    url = new URL(source, typeof location === 'object' && location ? location.href : undefined);
  } catch {
    return Promise.reject(new MmuError(`the WebAssembly core: '${String(source)}' is not a URL (give a URL, the core's bytes or a WebAssembly.Module)`));
  }
  return platform().compileCore(url);
}

export async function instantiateCore(module: WebAssembly.Module, memory: WebAssembly.Memory): Promise<CoreExports> {
  const instance = await WebAssembly.instantiate(module, {
    env: {
      memory,
      abort(_msg: number, _file: number, line: number, col: number) {
        throw new MmuError(`the WebAssembly core aborted at ${line}:${col}`);
      },
    },
  });
  const core = instance.exports as unknown as CoreExports;
  if (core.init() !== 0) throw new MmuError('the memory does not hold a machine of this build\'s layout version');
  return core;
}
