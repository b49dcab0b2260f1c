// `npm run bench -- [--json FILE|-] [--quick] [--filter NAME]` (bench/index.ts).
import '../src/platform/node.ts';
import { runBench } from './index.ts';

process.exitCode = await runBench(process.argv.slice(2));
