// The entry of every Web Worker mmuwasm starts (src/platform/web.ts): it waits for the host's start
// message, which names the worker's kind and, on a page that maps `comlink` with an import map, the
// URL it maps it to (a worker does not see the page's import map), then exposes that kind's API on
// the worker's own scope and says it is ready. Nothing here may import a bare specifier statically.
import type * as ComlinkModule from 'comlink';
import type { WorkerKind } from './platform.ts';

interface WorkerScope {
  postMessage(message: unknown): void;
  addEventListener(type: 'message', listener: (e: MessageEvent) => void): void;
  removeEventListener(type: 'message', listener: (e: MessageEvent) => void): void;
}
const scope = globalThis as unknown as WorkerScope;

async function start(e: MessageEvent): Promise<void> {
  const d = e.data as { mmuwasm?: string; kind?: WorkerKind; comlink?: string } | null;
  if (d?.mmuwasm !== 'start') return;
  scope.removeEventListener('message', start);
  try {
    const Comlink: typeof ComlinkModule = d.comlink ? await import(/* @vite-ignore */ /* webpackIgnore: true */ d.comlink) : await import('comlink');
    const api = d.kind === 'lane'
      ? new (await import('../replay/lane-worker.ts')).LaneWorker(Comlink.transfer)
      : new (await import('../mmu/cpu-worker.ts')).CpuWorker();
    Comlink.expose(api, scope as unknown as ComlinkModule.Endpoint);
    scope.postMessage({ mmuwasm: 'ready' });
  } catch (err) {
    scope.postMessage({ mmuwasm: 'failed', message: err instanceof Error ? `${err.name}: ${err.message}` : String(err) });
  }
}

scope.addEventListener('message', start);
