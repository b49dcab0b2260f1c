#!/usr/bin/env node
// The command line. In a clone of the repository it first rebuilds whatever a source is newer than
// (the core, dist/), so `npx mmuwasm …` runs what the sources say; an installed package has no
// sources and runs its dist/ as shipped.
import { existsSync } from 'node:fs';

const buildScript = new URL('../scripts/build.mjs', import.meta.url);
if (existsSync(buildScript) && existsSync(new URL('../src/', import.meta.url))) {
  const { build } = await import(buildScript.href);
  if (!build()) process.exit(2);
}
const { main } = await import('../dist/src/cli/main.js');
process.exitCode = await main(process.argv.slice(2));
