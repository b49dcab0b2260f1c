// Where the package's own files are (package.json, the scenario library): the nearest folder above
// this module with mmuwasm's package.json — the repository root from src/cli/, the installed
// package's root from dist/src/cli/.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function find(): { root: string; version: string } {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const p = join(dir, 'package.json');
    if (existsSync(p)) {
      const pkg = JSON.parse(readFileSync(p, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'mmuwasm') return { root: dir, version: pkg.version ?? '0.0.0' };
    }
    const up = dirname(dir);
    if (up === dir) throw new Error(`mmuwasm's package.json is not above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
}

let found: { root: string; version: string } | undefined;
export const packageRoot = (): string => (found ??= find()).root;
export const packageVersion = (): string => (found ??= find()).version;
