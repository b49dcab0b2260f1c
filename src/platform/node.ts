// The Node platform: the core read from its file, worker threads (src/node/worker-thread.ts), the
// core count from node:os and zlib's native CRC-32 (several times the plain-JavaScript one, and the
// binary trace reader checks one on every record). Importing this module installs it.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { crc32, createGunzip } from 'node:zlib';
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import { usePlatform, type Platform, type WorkerKind, type WorkerThread } from './platform.ts';
import { MmuError } from '../mmu/errors.ts';

/**
 * The worker thread's entry: worker-thread.js when this runs as built JavaScript; from the TypeScript
 * sources (tests, a clone's tools) the bootstrap that registers tsx, then loads worker-thread.ts.
 */
const WORKER_THREAD_URL = new URL(import.meta.url.endsWith('.ts') ? '../node/worker-thread.mjs' : '../node/worker-thread.js', import.meta.url);

async function compileCore(url: URL): Promise<WebAssembly.Module> {
  if (url.protocol !== 'file:') {
    const res = await fetch(url);
    if (!res.ok) throw new MmuError(`cannot fetch the WebAssembly core from ${url.href}: HTTP ${res.status} ${res.statusText}`);
    return WebAssembly.compile(await res.arrayBuffer());
  }
  let bytes: Buffer;
  try {
    bytes = await readFile(url);
    return WebAssembly.compile(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) as Uint8Array<ArrayBuffer>);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new MmuError(`the WebAssembly core is not built (${fileURLToPath(url)} is missing): run \`npm run build\``);
    throw err;
  }
}

/** "Name: message" of whatever a thread threw. */
function explain(err: unknown): string {
  if (err instanceof Error) return err.name && err.name !== 'Error' ? `${err.name}: ${err.message}` : err.message;
  return String(err);
}

function startWorker(what: WorkerKind | URL, name: string): WorkerThread {
  const worker = what instanceof URL ? new Worker(what, { name }) : new Worker(WORKER_THREAD_URL, { name, workerData: { kind: what } });
  let reject!: (err: Error) => void;
  const gone = new Promise<never>((_, r) => (reject = r));
  gone.catch(() => {}); // observed by the calls that race it, not an unhandled rejection
  let closing = false;
  // An idle worker does not keep the process alive: it is held only while calls are in flight.
  worker.unref();
  worker.once('error', (err) => reject(new Error(`the thread failed: ${explain(err)}`, { cause: err })));
  worker.once('exit', (code) => reject(new Error(closing ? 'the workers were closed' : `the thread exited with code ${code}`)));
  return {
    endpoint: nodeEndpoint(worker),
    // The port queues what the host sends until the worker listens: calls need not wait.
    ready: Promise.resolve(),
    gone,
    hold(busy) {
      if (busy) worker.ref();
      else worker.unref();
    },
    async terminate() {
      closing = true;
      await worker.terminate();
    },
  };
}

/**
 * Decompresses gzip (every member) with zlib. Node 20's DecompressionStream can throw from inside its
 * stream adapter on some corrupt input ("Controller is already closed"), where no caller can catch it;
 * zlib's errors reach the reader as the rejection of its next read.
 */
async function* gunzip(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  const source = Readable.from(chunks, { objectMode: false });
  const z = createGunzip();
  source.on('error', (err) => z.destroy(err));
  source.pipe(z);
  try {
    for await (const c of z) yield c as Uint8Array;
  } finally {
    source.destroy();
    z.destroy();
  }
}

export const nodePlatform: Platform = {
  name: 'node',
  compileCore,
  startWorker,
  workersUnavailable: () => undefined,
  cores: availableParallelism,
  crc32: (bytes, seed = 0) => crc32(bytes, seed),
  gunzip,
  threadCpuNs,
};

let schedstat = process.platform === 'linux';

/**
 * Linux keeps each thread's time on a CPU, in nanoseconds, as the first field of
 * /proc/thread-self/schedstat (Node 20 has no per-thread clock of its own).
 */
function threadCpuNs(): number | undefined {
  if (!schedstat) return undefined;
  try {
    return Number(readFileSync('/proc/thread-self/schedstat', 'latin1').split(' ', 1)[0]);
  } catch {
    schedstat = false;
    return undefined;
  }
}

usePlatform(nodePlatform);
