#!/usr/bin/env node
// The command line: builds the WebAssembly core if it is missing or older than its sources (so
// `npx mmuwasm …` works right after `npm ci`), registers tsx so the TypeScript sources run as they
// are, then hands over.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { register } from 'tsx/esm/api';

const build = spawnSync(process.execPath, [fileURLToPath(new URL('../scripts/build.mjs', import.meta.url)), '--if-stale'], { stdio: 'inherit' });
if (build.status !== 0) process.exit(2);
register();
const { main } = await import('../src/cli.ts');
process.exitCode = await main(process.argv.slice(2));
