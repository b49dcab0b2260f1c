// The entry of the generate thread from the TypeScript sources: Node 20 cannot start a worker from a
// .ts file, so this bootstrap registers tsx and imports it (as src/node/worker-thread.mjs does).
import { register } from 'tsx/esm/api';

register();
await import('./generate-worker.ts');
