// The entry of a replay worker thread: Node 20 cannot start a worker from a .ts file, so this
// bootstrap registers tsx and imports the TypeScript side (as src/mmu/cpu-worker.mjs does).
import { register } from 'tsx/esm/api';

register();
await import('./lane-worker.ts');
