// A thread of the explore benchmark: reads the block trace once, keeps one schedule runner (its
// machine), and on each message explores the block `repeat` times, answering with the schedules run
// and a digest of the findings (every exploration must find the same).
import '../src/platform/node.ts';
import { parentPort, workerData } from 'node:worker_threads';
import { readExploreTrace, exploreTrace, causeOf } from '../src/explore/explore.ts';
import { ScheduleRunner } from '../src/explore/runner.ts';

const { lines, file, kernel } = workerData as { lines: string[]; file: string; kernel: string };
const t = readExploreTrace(lines, file);
const runner = await ScheduleRunner.create(t, { kernel });
parentPort!.on('message', async (repeat: number) => {
  let schedules = 0;
  let digest = '';
  for (let i = 0; i < repeat; i++) {
    const r = await exploreTrace(t, { kernel }, runner);
    schedules += r.explored;
    digest = r.findings.map((f) => `${causeOf(f)}#${f.number}`).join(',');
  }
  parentPort!.postMessage({ schedules, digest });
});
parentPort!.postMessage({ ready: true });
