// The fuzzer's in-process cases run on this thread, so that the runner (fuzz/run.ts) can end it when
// a case hangs or outgrows its memory limit, and knows which case it was (each case says it starts).
import '../src/platform/node.ts';
import { parentPort, workerData } from 'node:worker_threads';
import { checkInProcess, makeCase, minimize } from './cases.ts';

const { seeds, seed } = workerData as { seeds: { name: string; lines: string[] }[]; seed: number };

parentPort!.on('message', async (m: { from: number; count: number }) => {
  for (let i = m.from; i < m.from + m.count; i++) {
    parentPort!.postMessage({ type: 'start', index: i });
    const c = makeCase(seeds, seed, i);
    const v = await checkInProcess(c.lines);
    if (v.failure) {
      const small = await minimize(c.lines, v.failure, checkInProcess);
      parentPort!.postMessage({ type: 'failure', index: i, failure: v.failure, detail: v.detail, lines: c.lines, minimized: small, from: c.from });
    }
    parentPort!.postMessage({ type: 'done', index: i, status: v.status });
  }
  parentPort!.postMessage({ type: 'batch', from: m.from, count: m.count });
});
