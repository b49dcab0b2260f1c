// A command's output file is never left half-written under its name: it is written under a
// temporary name in the same folder (the same file system, so the rename is atomic), renamed on
// success, and removed on an error or a signal (also when a second signal ends the process).
import { renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { onForcedExit } from './signals.ts';
import { isSystemError, reasonOf } from './files.ts';

/** The temporary name of `path`: hidden, and ending in the same extension (the writers go by it). */
export function temporaryName(path: string): string {
  return join(dirname(path), `.mmuwasm-${process.pid}-${basename(path)}`);
}

/** Writes `path` through `write(temporary)`; renames it when `write` succeeds, else removes it. */
export async function writeOutput<T>(path: string, write: (temporary: string) => T | Promise<T>, signal?: AbortSignal): Promise<T> {
  // A device or a pipe (/dev/null, /dev/full, a FIFO) is written as it is: it cannot be replaced.
  const st = statSync(path, { throwIfNoEntry: false });
  if (st && !st.isFile()) return write(path);
  const tmp = temporaryName(path);
  const remove = () => rmSync(tmp, { force: true });
  const forget = onForcedExit(remove);
  try {
    const r = await write(tmp);
    signal?.throwIfAborted();
    renameSync(tmp, path);
    return r;
  } catch (err) {
    remove();
    throw err;
  } finally {
    forget();
  }
}

/**
 * The line for a file-system error of an output (ENOENT, EACCES, ENOSPC, EISDIR …) in the command
 * line's form, `PATH: reason`: of the file the user named, not of the temporary one the system names.
 */
export function outputError(path: string, err: unknown): string | undefined {
  return isSystemError(err) ? `${path}: ${reasonOf(err)}` : undefined;
}
