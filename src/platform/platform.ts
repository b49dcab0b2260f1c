// The little a replay needs from the place it runs in — Node or a web page — behind one interface:
// how to compile the core from a URL, how to start a worker thread and talk to it through comlink,
// how many cores there are, and a fast CRC-32. Everything else (the machine, the kernel model, the
// trace readers) is plain JavaScript over bytes and runs the same in both.
//
// The web platform is the default; the Node entries (src/node.ts, the command line, the Node worker
// bootstrap) install the Node platform when they load (src/platform/node.ts), so that a browser's
// import graph never reaches a `node:` module.
import type { Endpoint } from 'comlink';
import { webPlatform } from './web.ts';

/** Which worker to start: a CPU worker (src/mmu/cpu-worker.ts) or a replay lane worker (src/replay/lane-worker.ts). */
export type WorkerKind = 'cpu' | 'lane';

/** One worker thread as the host holds it. */
export interface WorkerThread {
  /** The comlink endpoint of the worker's API (wrap it with Comlink.wrap). */
  readonly endpoint: Endpoint;
  /** Resolves once the worker's API is exposed: calls wait for it. */
  readonly ready: Promise<void>;
  /** Rejects once the thread is gone (it failed to load, threw, exited, was terminated). */
  readonly gone: Promise<never>;
  /** Whether the thread keeps the process alive while it is idle (Node; nothing to do in a page). */
  hold(busy: boolean): void;
  terminate(): Promise<void>;
}

export interface Platform {
  readonly name: 'node' | 'web';
  /** Compiles the WebAssembly core found at `url` (a file or an http(s) URL). */
  compileCore(url: URL): Promise<WebAssembly.Module>;
  /**
   * Starts a worker thread that offers the API of a `kind` worker through comlink, or runs the module
   * at a URL (a script of the caller's that exposes its API on the thread's endpoint itself).
   */
  startWorker(what: WorkerKind | URL, name: string): WorkerThread;
  /** Why worker threads cannot share the machine's memory here, or undefined when they can. */
  workersUnavailable(): string | undefined;
  /** The number of logical cores (the default number of workers). */
  cores(): number;
  /** CRC-32 (IEEE, the zlib/gzip one) of `bytes`, continuing from `seed`. */
  crc32(bytes: Uint8Array, seed?: number): number;
  /** The gzip stream `chunks` decompressed (every member); a corrupt stream rejects the next read. */
  gunzip(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array>;
  /**
   * CPU time the calling thread has used, in nanoseconds, or undefined where the platform cannot tell
   * (the benchmarks' per-thread breakdown: which thread bounds a replay).
   */
  threadCpuNs(): number | undefined;
}

let current: Platform = webPlatform;

/** The platform this process runs on. */
export function platform(): Platform {
  return current;
}

/** Installs a platform (the Node entries do, when they load). */
export function usePlatform(p: Platform): void {
  current = p;
}
