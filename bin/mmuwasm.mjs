#!/usr/bin/env node
// The command line. In a clone of the repository it first rebuilds whatever a source is newer than
// (the core, dist/), so `npx mmuwasm …` runs what the sources say; an installed package has no
// sources and runs its dist/ as shipped.
import { existsSync } from 'node:fs';

// A SIGINT or SIGTERM while the program starts is recorded, not fatal: the command takes it over
// (src/cli/signals.ts) and stops with its partial report.
const signals = (globalThis[Symbol.for('mmuwasm.signals')] = { received: [] });
signals.early = (sig) => signals.received.push(sig);
process.on('SIGINT', signals.early);
process.on('SIGTERM', signals.early);

const buildScript = new URL('../scripts/build.mjs', import.meta.url);
if (existsSync(buildScript) && existsSync(new URL('../src/', import.meta.url))) {
  const { build } = await import(buildScript.href);
  if (!build()) process.exit(2);
}
const { main } = await import('../dist/src/cli/main.js');
process.exitCode = await main(process.argv.slice(2));
// Stopped by a signal: what is still reading in the background (a trace's reader) must not keep the
// process alive; the report and the messages are written (pipes and files synchronously on Linux).
if (signals.received.length) process.exit(process.exitCode);
