#!/usr/bin/env node
// Builds the WebAssembly core (assembly/ → build/mmu.wasm). With --if-stale, only when a source is
// newer than the build, so `npm start`, `npm test` and `npm run bench` can call it every time.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'build', 'mmu.wasm');
const sources = [join(root, 'asconfig.json'), ...readdirSync(join(root, 'assembly')).map((f) => join(root, 'assembly', f))];

if (process.argv.includes('--if-stale') && existsSync(out)) {
  const built = statSync(out).mtimeMs;
  if (sources.every((f) => statSync(f).mtimeMs <= built)) process.exit(0);
}
const asc = join(root, 'node_modules', 'assemblyscript', 'bin', 'asc.js');
const r = spawnSync(process.execPath, [asc, 'assembly/index.ts', '--target', 'release'], { cwd: root, stdio: 'inherit' });
if (r.status !== 0) {
  console.error('mmuwasm: building the WebAssembly core failed');
  process.exit(r.status ?? 1);
}
