// The browser entry's import graph (dist/src/index.js, what a page or a bundler loads): no `node:`
// module anywhere in it, and no package but comlink. The Web Worker's entry must import no package
// statically at all: a worker does not see the page's import map (web-worker.ts loads comlink itself).
import { describe, expect, it, beforeAll } from 'vitest';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

/** Every module reachable from `entry` by static imports, re-exports and dynamic imports of a literal. */
function graph(entry: string): { files: string[]; specifiers: Map<string, { file: string; dynamic: boolean }[]> } {
  const files: string[] = [];
  const specifiers = new Map<string, { file: string; dynamic: boolean }[]>();
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    files.push(file);
    const code = readFileSync(file, 'utf8');
    const found: { spec: string; dynamic: boolean }[] = [];
    for (const m of code.matchAll(/^\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]/gm)) found.push({ spec: m[1], dynamic: false });
    for (const m of code.matchAll(/^\s*import\s*['"]([^'"]+)['"]/gm)) found.push({ spec: m[1], dynamic: false });
    for (const m of code.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) found.push({ spec: m[1], dynamic: true });
    for (const { spec, dynamic } of found) {
      if (spec.startsWith('.')) visit(resolve(dirname(file), spec));
      else specifiers.set(spec, [...(specifiers.get(spec) ?? []), { file, dynamic }]);
    }
  };
  visit(entry);
  return { files, specifiers };
}

beforeAll(async () => {
  const { build } = (await import(join(root, 'scripts/build.mjs'))) as { build(): boolean };
  expect(build()).toBe(true);
});

describe('the browser entry', () => {
  it('reaches no node: module and no package but comlink', () => {
    const g = graph(join(root, 'dist/src/index.js'));
    expect(g.files.length).toBeGreaterThan(40);
    expect(g.files.some((f) => f.endsWith('dist/src/platform/web.js'))).toBe(true);
    expect(g.files.filter((f) => /\/(node|cli)\//.test(f) || f.endsWith('platform/node.js'))).toEqual([]);
    expect([...g.specifiers.keys()]).toEqual(['comlink']);
  });

  it('its Web Worker imports no package statically, and reaches no node: module', () => {
    const g = graph(join(root, 'dist/src/platform/web-worker.js'));
    expect(g.files.some((f) => f.endsWith('dist/src/replay/lane-worker.js'))).toBe(true);
    expect(g.files.some((f) => f.endsWith('dist/src/mmu/cpu-worker.js'))).toBe(true);
    expect([...g.specifiers.entries()]).toEqual([['comlink', [{ file: join(root, 'dist/src/platform/web-worker.js'), dynamic: true }]]]);
  });

  it('the graph walker sees node: imports where there are some', () => {
    const g = graph(join(root, 'dist/src/node.js'));
    expect([...g.specifiers.keys()].filter((s) => s.startsWith('node:')).length).toBeGreaterThan(3);
  });
});
