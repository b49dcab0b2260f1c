// The repository documents itself: every file that the docs, the README, the source comments, the
// tests and the scenarios point at exists in it, and nothing points at documents outside it.
import { describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

const root = join(import.meta.dirname, '..');
const SKIP = new Set(['node_modules', 'dist', 'build', '.git']);

function files(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (SKIP.has(e.name)) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...files(p));
    else if (/\.(ts|mjs|md|jsonl|json)$/.test(e.name) && e.name !== 'package-lock.json') out.push(p);
  }
  return out;
}
const all = files(root);

describe('references', () => {
  it('every repository path named in a file exists', () => {
    const missing: string[] = [];
    // `src/cli/main.ts`, `docs/kernel.md`, `scenarios/b1-shared-pmd-migration.jsonl`, …
    const PATH = /(?<![\w./-])((?:src|docs|test|bench|scripts|bin|assembly|scenarios)\/[\w./-]*\w\.(?:jsonl|json|mjs|js|ts|md|wasm)(?![\w.]))/g;
    for (const f of all) {
      const text = readFileSync(f, 'utf8');
      for (const m of text.matchAll(PATH)) {
        if (!existsSync(join(root, m[1])) && !(m[1].startsWith('src/') && existsSync(join(root, 'dist', m[1].replace(/\.ts$/, '.js'))))) {
          missing.push(`${relative(root, f)}: ${m[1]}`);
        }
      }
    }
    expect(missing).toEqual([]);
  });

  it('every relative link of the markdown files leads to a file', () => {
    const broken: string[] = [];
    for (const f of all.filter((p) => p.endsWith('.md'))) {
      for (const m of readFileSync(f, 'utf8').matchAll(/\]\(([^)#:\s]+)(#[^)]*)?\)/g)) {
        const target = join(dirname(f), m[1]);
        if (!existsSync(target) || !statSync(target).isFile()) broken.push(`${relative(root, f)}: ${m[1]}`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('nothing points at documents outside the repository', () => {
    const outside: string[] = [];
    for (const f of all) {
      if (f === import.meta.filename) continue;
      for (const m of readFileSync(f, 'utf8').matchAll(/TRACE-FORMAT|DESIGN\.md|TOOLCHAIN|\.\.\/shared|mmuwasm bench\b/g)) outside.push(`${relative(root, f)}: ${m[0]}`);
    }
    expect(outside).toEqual([]);
  });
});
