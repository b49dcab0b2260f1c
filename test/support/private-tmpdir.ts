// The suite runs with a temporary directory of its own (TMPDIR, which os.tmpdir() and every child
// process read), so that what it leaves behind is visible: at the end the directory must be empty,
// or the run fails naming what a test forgot to remove. Other work on the machine that uses the
// shared temporary directory at the same time does not disturb the check.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';

export default function setup(): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'mmuwasm-suite-'));
  const before = process.env.TMPDIR;
  process.env.TMPDIR = dir;
  return () => {
    if (before === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = before;
    // tsx (which the worker bootstraps of the sources register) keeps its compile cache in TMPDIR/tsx-UID
    // by design: a tool's cache, not something a test made.
    const left = readdirSync(dir).filter((name) => !/^tsx-[0-9]+$/.test(name));
    rmSync(dir, { recursive: true, force: true });
    if (left.length) {
      // vitest reports an error thrown here but still exits 0: the status says it instead.
      process.stderr.write(`\nFAIL: the test suite left ${left.join(', ')} in its temporary directory (a test that does not remove what it made)\n`);
      process.exitCode = 1;
    }
  };
}
