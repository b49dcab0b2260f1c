// The entry of a CPU worker thread. Node 20 cannot start a worker from a .ts file, so this bootstrap
// registers tsx in the worker (most of the 0.2–0.4 s a worker takes to start) and imports the
// TypeScript side. Only a clone runs it: the package starts the compiled cpu-worker.js (cpu-workers.ts).
import { register } from 'tsx/esm/api';

register();
await import('./cpu-worker.ts');
