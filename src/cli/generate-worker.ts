// The thread that writes a generated workload: generation is synchronous, so it runs here and the
// main thread stays free to take a signal (src/cli/signals.ts) and end it at once. Loaded through
// generate-worker.mjs from the sources, as generate-worker.js when built.
import '../platform/node.ts';
import { parentPort, workerData } from 'node:worker_threads';
import { generateTrace, type GenerateArgs } from './generate.ts';

const r = generateTrace(workerData as GenerateArgs);
parentPort!.postMessage(r);
