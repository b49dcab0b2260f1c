// Loading the core: compile once per process, instantiate in any thread against the same shared
// memory (a compiled WebAssembly.Module can be posted to workers).
import { readFile } from 'node:fs/promises';
import { MmuError } from './errors.ts';

export const CORE_URL = new URL('../../build/mmu.wasm', import.meta.url);

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
  /** flags: RUN_RESULTS | RUN_DEFER_AD (assembly/layout.ts). */
  runBatch(cpu: number, start: number, n: number, flags: number): number;
}

let compiled: Promise<WebAssembly.Module> | undefined;

export function compileCore(): Promise<WebAssembly.Module> {
  compiled ??= readFile(CORE_URL).then(
    (bytes) => WebAssembly.compile(bytes),
    (err: NodeJS.ErrnoException) => {
      compiled = undefined;
      if (err.code === 'ENOENT') throw new MmuError(`the WebAssembly core is not built (${CORE_URL.pathname} is missing): run \`npm run build\``);
      throw err;
    },
  );
  return compiled;
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
