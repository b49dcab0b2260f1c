// The entry of an explore-benchmark thread: registers tsx and imports the TypeScript side.
import { register } from 'tsx/esm/api';

register();
await import('./explore-worker.ts');
