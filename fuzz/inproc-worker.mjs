// The entry of the fuzzer's in-process thread: registers tsx and imports the TypeScript side.
import { register } from 'tsx/esm/api';

register();
await import('./inproc-worker.ts');
