// The entry of an explorer worker thread from the TypeScript sources: Node 20 cannot start a worker
// from a .ts file, so this bootstrap registers tsx and imports the TypeScript side (as
// src/node/worker-thread.mjs does). Built, the worker runs explore-worker.js directly.
import { register } from 'tsx/esm/api';

register();
await import('./explore-worker.ts');
