// The entry of every Node worker thread mmuwasm starts (src/platform/node.ts): the API of the kind
// the host asked for (workerData.kind), exposed through comlink on the thread's parent port.
import '../platform/node.ts';
import { parentPort, workerData } from 'node:worker_threads';
import * as Comlink from 'comlink';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import { CpuWorker } from '../mmu/cpu-worker.ts';
import { LaneWorker } from '../replay/lane-worker.ts';
import type { WorkerKind } from '../platform/platform.ts';

const kind = (workerData as { kind: WorkerKind }).kind;
if (parentPort !== null) Comlink.expose(kind === 'lane' ? new LaneWorker(Comlink.transfer) : new CpuWorker(), nodeEndpoint(parentPort));
