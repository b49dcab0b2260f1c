// The entry of a worker thread started from the TypeScript sources (tests, a clone's tools): Node 20
// cannot start a worker from a .ts file, so this registers tsx in the thread (most of the 0.2–0.4 s a
// worker takes to start) and imports the TypeScript side. The built package starts worker-thread.js.
import { register } from 'tsx/esm/api';

register();
await import('./worker-thread.ts');
