// The file system as the commands meet it: every failure is one line that names the path and says
// what is wrong in words (exit status 2), never a stack trace. Inputs are checked before any work
// starts, so a missing trace prints no report; outputs are checked for a directory to go into first
// and their write errors (a full disk) are caught where the path is known.
import { closeSync, fstatSync, openSync, statSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/** A file-system failure on the command line: `PATH: what is wrong`. */
export class FileError extends Error {
  constructor(readonly path: string, readonly reason: string) {
    super(`${path}: ${reason}`);
  }
}

const REASONS: Record<string, string> = {
  ENOENT: 'no such file or directory',
  ENOTDIR: 'not a directory',
  EISDIR: 'is a directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'read-only file system',
  EEXIST: 'already exists',
  ENAMETOOLONG: 'file name too long',
  ELOOP: 'too many levels of symbolic links',
  EMFILE: 'too many open files',
  EIO: 'input/output error',
  EFBIG: 'file too large',
  EPIPE: 'the reader of the output went away',
};

/** A Node.js system error (it has an errno code such as ENOENT). */
export function isSystemError(err: unknown): err is NodeJS.ErrnoException & { code: string } {
  return err instanceof Error && typeof (err as NodeJS.ErrnoException).code === 'string' && /^E[A-Z]+$/.test((err as NodeJS.ErrnoException).code!);
}

/** The reason of a system error in words (`no such file or directory`). */
export function reasonOf(err: NodeJS.ErrnoException): string {
  return REASONS[err.code ?? ''] ?? (err.code ? `${err.code.toLowerCase()}` : err.message);
}

/** A system error as a FileError naming `path` (the error's own path when it has one). */
export function fileError(err: NodeJS.ErrnoException, path: string): FileError {
  return new FileError(err.path ?? (path === '-' ? 'standard output' : path), reasonOf(err));
}

/** Checks that `path` is a regular file (or a device, a pipe) this process can open for reading. */
export function checkInput(path: string): void {
  if (path === '-') return;
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    if (isSystemError(err)) throw fileError(err, path);
    throw err;
  }
  try {
    if (fstatSync(fd).isDirectory()) throw new FileError(path, 'is a directory');
  } finally {
    closeSync(fd);
  }
}

/** Checks that `path` is a directory (`scenarios DIR`). */
export function checkDirectory(path: string): void {
  let isDir: boolean;
  try {
    isDir = statSync(path).isDirectory();
  } catch (err) {
    if (isSystemError(err)) throw fileError(err, path);
    throw err;
  }
  if (!isDir) throw new FileError(path, 'not a directory');
}

/** Checks that an output file can be created where `path` says: its directory exists, and it is not a directory itself. */
export function checkOutput(path: string): void {
  if (path === '-') return;
  const dir = dirname(resolve(path));
  try {
    if (!statSync(dir).isDirectory()) throw new FileError(path, `${dirname(path)} is not a directory`);
  } catch (err) {
    if (isSystemError(err)) throw new FileError(path, err.code === 'ENOENT' ? `no such directory ${dirname(path)}` : reasonOf(err));
    throw err;
  }
  try {
    if (statSync(path).isDirectory()) throw new FileError(path, 'is a directory');
  } catch (err) {
    if (!isSystemError(err) || err.code !== 'ENOENT') throw isSystemError(err) ? fileError(err, path) : err;
  }
}

/** Writes `text` to the file at `path`, or to standard output for `-`; a failure names the path. */
export function writeOutput(path: string, text: string): void {
  if (path === '-') {
    process.stdout.write(text);
    return;
  }
  try {
    writeFileSync(path, text);
  } catch (err) {
    if (isSystemError(err)) throw fileError(err, path);
    throw err;
  }
}

/** Runs `work`, turning a system error (one without a path: a write to a full disk) into a FileError naming `path`. */
export function naming<T>(path: string, work: () => T): T {
  try {
    return work();
  } catch (err) {
    if (isSystemError(err)) throw fileError(err, path);
    throw err;
  }
}
