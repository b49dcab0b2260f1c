// The platform of a web page (and the default): the core fetched and compiled as it streams in, Web
// Workers started as modules, the plain-JavaScript CRC-32. Workers share the machine's memory only on
// a cross-origin isolated page (one served with COOP `same-origin` and COEP `require-corp`): only
// there does the browser give out a SharedArrayBuffer.
import type { Platform, WorkerKind, WorkerThread } from './platform.ts';
import type { Endpoint } from 'comlink';
import { crc32 } from './crc32.ts';
import { MmuError } from '../mmu/errors.ts';

/**
 * Decompresses gzip (every member of it) through the web-standard DecompressionStream. A corrupt
 * stream rejects the next read; stopping early cancels it.
 */
async function* gunzip(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  const ds = new DecompressionStream('gzip');
  const writer = ds.writable.getWriter();
  const feeding = (async () => {
    try {
      for await (const c of chunks) await writer.write(c as Uint8Array<ArrayBuffer>);
      await writer.close();
    } catch (err) {
      await writer.abort(err).catch(() => {});
    }
  })();
  const reader = ds.readable.getReader();
  try {
    for (;;) {
      const r = await reader.read();
      if (r.done) return;
      yield r.value;
    }
  } finally {
    await reader.cancel().catch(() => {});
    await feeding;
  }
}

async function compileCore(url: URL): Promise<WebAssembly.Module> {
  let res: Response;
  try {
    res = await fetch(url);
  } catch (err) {
    const hint = url.protocol === 'file:' ? ' (in Node, import the package\'s Node entry, which reads files; or give the core\'s bytes)' : '';
    throw new MmuError(`cannot fetch the WebAssembly core from ${url.href}: ${(err as Error).message}${hint}`);
  }
  if (!res.ok) throw new MmuError(`cannot fetch the WebAssembly core from ${url.href}: HTTP ${res.status} ${res.statusText}`);
  // compileStreaming insists on the application/wasm type; a server that sends another gets the slow way.
  if ((res.headers.get('content-type') ?? '').split(';')[0].trim() === 'application/wasm') return WebAssembly.compileStreaming(res);
  return WebAssembly.compile(await res.arrayBuffer());
}

/**
 * Where the worker should load comlink from: a page that maps `comlink` with an import map resolves
 * it here, but a worker does not see the page's import map. Undefined under a bundler (the worker's
 * own dynamic import of comlink is bundled then).
 */
function comlinkUrl(): string | undefined {
  try {
    const url = import.meta.resolve?.('comlink');
    return url && /^(https?|blob|data|file):/.test(url) ? url : undefined;
  } catch {
    return undefined;
  }
}

function startWorker(what: WorkerKind | URL, name: string): WorkerThread {
  // Written out in full so that bundlers find the worker and bundle it with its imports.
  const worker = what instanceof URL ? new Worker(what, { type: 'module', name }) : new Worker(new URL('./web-worker.js', import.meta.url), { type: 'module', name });
  let rejectGone!: (err: Error) => void;
  const gone = new Promise<never>((_, r) => (rejectGone = r));
  gone.catch(() => {}); // observed by the calls that race it
  let resolveReady!: () => void;
  const ready = new Promise<void>((r) => (resolveReady = r));
  worker.addEventListener('message', function started(e: MessageEvent) {
    const d = e.data as { mmuwasm?: string; message?: string } | null;
    if (d?.mmuwasm === 'ready') resolveReady();
    else if (d?.mmuwasm === 'failed') rejectGone(new Error(`the worker failed to start: ${d.message}`));
    else return;
    worker.removeEventListener('message', started);
  });
  worker.addEventListener('error', (e: ErrorEvent) => {
    rejectGone(new Error(e.message ? `the worker failed: ${e.message}` : `the worker's script failed to load (${new URL('./web-worker.js', import.meta.url).href} and its imports)`));
  });
  // A script of the caller's exposes its API itself; the package's entry waits for the start message.
  if (what instanceof URL) resolveReady();
  else worker.postMessage({ mmuwasm: 'start', kind: what, comlink: comlinkUrl() });
  return {
    endpoint: worker as unknown as Endpoint,
    ready,
    gone,
    hold() {},
    async terminate() {
      worker.terminate();
      rejectGone(new Error('the workers were closed'));
    },
  };
}

export const webPlatform: Platform = {
  name: 'web',
  compileCore,
  startWorker,
  workersUnavailable() {
    if (typeof Worker === 'undefined') return 'this environment has no Web Workers';
    if (typeof SharedArrayBuffer === 'undefined' || (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === false) {
      return 'this page is not cross-origin isolated, so it has no SharedArrayBuffer for the workers to share the machine through: serve it with the headers "Cross-Origin-Opener-Policy: same-origin" and "Cross-Origin-Embedder-Policy: require-corp", or replay with workers: 0 (one thread)';
    }
    return undefined;
  },
  cores() {
    return (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency ?? 1;
  },
  crc32,
  gunzip,
  threadCpuNs: () => undefined,
};
