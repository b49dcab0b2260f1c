#!/usr/bin/env node
// Builds what the package runs: the WebAssembly core (assembly/ → build/mmu.wasm) and the plain
// JavaScript with its type declarations (src/ → dist/, with the core copied to dist/build/ so that
// `../../build/mmu.wasm` from a module of src/mmu/ finds it in a clone and in the package alike).
// With --if-stale each part is built only when one of its sources is newer than its output, so
// `npm start`, `npm test` and the command line of a clone can call it every time.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const at = (...p) => join(root, ...p);
const WASM = at('build', 'mmu.wasm');
const DIST_WASM = at('dist', 'build', 'mmu.wasm');
const STAMP = at('dist', '.built');

function files(dir, test = () => true) {
  const out = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...files(p, test));
    else if (test(p)) out.push(p);
  }
  return out;
}

const newest = (paths) => Math.max(...paths.map((p) => statSync(p).mtimeMs));
const older = (out, sources) => !existsSync(out) || statSync(out).mtimeMs < newest(sources);

function run(args, what) {
  const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`mmuwasm: ${what} failed`);
    return false;
  }
  return true;
}

function buildCore() {
  const asc = at('node_modules', 'assemblyscript', 'bin', 'asc.js');
  if (!existsSync(asc)) {
    console.error('mmuwasm: building the WebAssembly core needs the dev dependencies (npm ci)');
    return false;
  }
  return run([asc, 'assembly/index.ts', '--target', 'release'], 'building the WebAssembly core');
}

// tsc keeps the `.ts` of relative imports in declaration files (it rewrites them only in the
// JavaScript); a consumer's compiler resolves `.js` to the `.d.ts` beside it.
function rewriteDeclarations(dir) {
  for (const f of files(dir, (p) => p.endsWith('.d.ts'))) {
    const s = readFileSync(f, 'utf8');
    const t = s.replace(/((?:from|import)\s*\(?\s*['"])(\.{1,2}\/[^'"]+)\.ts(['"])/g, '$1$2.js$3');
    if (t !== s) writeFileSync(f, t);
  }
}

function buildDist() {
  const tsc = at('node_modules', 'typescript', 'bin', 'tsc');
  if (!existsSync(tsc)) {
    console.error('mmuwasm: building dist/ needs the dev dependencies (npm ci)');
    return false;
  }
  rmSync(at('dist'), { recursive: true, force: true });
  if (!run([tsc, '-p', 'tsconfig.build.json'], 'compiling src/ to dist/')) return false;
  rewriteDeclarations(at('dist'));
  writeFileSync(STAMP, '');
  return true;
}

/** Builds what is missing or stale (or everything, with `force`); false when a build failed. */
export function build({ force = false } = {}) {
  const coreSources = [at('asconfig.json'), ...files(at('assembly'))];
  if ((force || older(WASM, coreSources)) && !buildCore()) return false;
  const distSources = [at('tsconfig.json'), at('tsconfig.build.json'), ...files(at('src'), (p) => p.endsWith('.ts')), at('assembly', 'layout.ts')];
  if ((force || older(STAMP, distSources)) && !buildDist()) return false;
  if (force || older(DIST_WASM, [WASM])) {
    mkdirSync(dirname(DIST_WASM), { recursive: true });
    copyFileSync(WASM, DIST_WASM);
  }
  return true;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  if (!build({ force: !process.argv.includes('--if-stale') })) process.exit(1);
}
