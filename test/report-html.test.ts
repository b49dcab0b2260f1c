// `mmuwasm replay --html`: one self-contained file whose data is the JSON report with its timeline
// (the same bytes' worth of data `--json --timeline` writes), and that stays small for a large trace.
import { afterAll, describe, expect, it } from 'vitest';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { SCENARIO_DIR } from '../src/cli/scenarios.ts';
import type { TimelineReport } from '../src/report/replay-report.ts';

const bin = join(import.meta.dirname, '..', 'bin', 'mmuwasm.mjs');
const dir = mkdtempSync(join(tmpdir(), 'mmuwasm-html-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const B1 = join(SCENARIO_DIR, 'b1-shared-pmd-migration.jsonl');

function cli(...args: string[]) {
  return spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });
}

/** The report the page renders: the JSON in its data element. */
export function htmlData(html: string): TimelineReport {
  const m = /<script type="application\/json" id="mmuwasm-report">([^]*?)<\/script>/.exec(html);
  if (!m) throw new Error('no report data in the page');
  return JSON.parse(m[1]) as TimelineReport;
}

describe('replay --html', () => {
  it('writes one file that needs nothing else: no external script, style, image or link to another origin', () => {
    const out = join(dir, 'b1.html');
    const r = cli('replay', B1, '--kernel', 'v4.4', '--html', out, '--quiet');
    expect(r.status).toBe(0);
    const html = readFileSync(out, 'utf8');
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).not.toMatch(/<script[^>]+src=/i);
    expect(html).not.toMatch(/<link\b/i);
    expect(html).not.toMatch(/<img\b/i);
    expect(html).not.toMatch(/url\((?!#)/);
    expect(html).not.toMatch(/(src|href)=["']?(https?:)?\/\//i);
    expect(html).toContain("default-src 'none'");
  });

  it('holds exactly the JSON report with its timeline (`replay --json FILE --timeline`)', () => {
    const page = join(dir, 'b1-same.html');
    const json = join(dir, 'b1.json');
    expect(cli('replay', B1, '--kernel', 'v4.4', '--html', page, '--json', json, '--timeline', '--quiet').status).toBe(0);
    const data = htmlData(readFileSync(page, 'utf8'));
    const report = JSON.parse(readFileSync(json, 'utf8')) as TimelineReport;
    expect(data).toEqual(report);
    expect(data.violations.map((v) => `${v.kind}@${v.line}`)).toEqual(['lost-write@23', 'stale-tlb@24']);
    expect(data.timeline.lanes.map((l) => l.id)).toEqual(['trace', 'cpu0', 'cpu1']);
  });

  it('keeps a plain --json report free of the timeline', () => {
    const json = join(dir, 'plain.json');
    expect(cli('replay', B1, '--kernel', 'v4.4', '--json', json, '--quiet').status).toBe(0);
    expect('timeline' in JSON.parse(readFileSync(json, 'utf8'))).toBe(false);
  });

  it('stays under 512 KiB for a generated database trace of a million accesses (runs merged, items capped)', () => {
    const trace = join(dir, 'db.mmtrace');
    expect(cli('generate', 'database', '--accesses', '1e6', '-o', trace).status).toBe(0);
    const page = join(dir, 'db.html');
    const r = cli('replay', trace, '--html', page, '--quiet', '--workers', '1');
    expect(r.status).toBe(0);
    expect(statSync(page).size).toBeLessThan(512 * 1024);
    const data = htmlData(readFileSync(page, 'utf8'));
    expect(data.accesses).toBe(1_000_000);
    const runs = data.timeline.items.filter((i) => i.k === 'access');
    // A million accesses of 4 CPUs drawn as fewer than a thousand runs, every access in one of them.
    expect(runs.length).toBeLessThan(1000);
    expect(runs.reduce((s, i) => s + (i.k === 'access' ? i.count : 0), 0)).toBe(1_000_000);
    expect(data.timeline.items.length).toBeLessThanOrEqual(data.timeline.maxItems);
  });
});

describe('scenarios --html', () => {
  const lib = join(dir, 'lib');
  mkdirSync(lib);
  for (const f of ['b1-shared-pmd-migration.jsonl', 'clean-exit.jsonl']) copyFileSync(join(SCENARIO_DIR, f), join(lib, f));
  const cells = (html: string) => [...html.matchAll(/<a class="cell (\w+)" data-scenario="([^"]+)" data-kernel="([^"]+)" href="([^"]+)"[^>]*>([^<]+)<\/a>/g)].map((m) => `${m[2]} ${m[3]} ${m[1]} ${m[5]} → ${m[4]}`);

  it('a folder: index.html with the table, each cell linked to the report of its replay beside it', () => {
    const out = join(dir, 'table');
    const r = cli('scenarios', lib, '--kernel', 'v4.4,v4.19', '--html', out);
    expect(r.status).toBe(0);
    const index = readFileSync(join(out, 'index.html'), 'utf8');
    expect(cells(index)).toEqual([
      'b1-shared-pmd-migration v4.4 pass pass 2v → b1-shared-pmd-migration.v4.4.html',
      'b1-shared-pmd-migration v4.19 pass pass → b1-shared-pmd-migration.v4.19.html',
      'clean-exit v4.4 pass pass → clean-exit.v4.4.html',
      'clean-exit v4.19 pass pass → clean-exit.v4.19.html',
    ]);
    for (const f of ['b1-shared-pmd-migration.v4.4.html', 'b1-shared-pmd-migration.v4.19.html', 'clean-exit.v4.4.html', 'clean-exit.v4.19.html']) expect(existsSync(join(out, f))).toBe(true);
    const b1 = htmlData(readFileSync(join(out, 'b1-shared-pmd-migration.v4.4.html'), 'utf8'));
    expect(b1.violations.map((v) => `${v.kind}@${v.line}`)).toEqual(['lost-write@23', 'stale-tlb@24']);
  });

  it('one file: the table, every report inside it, each cell a link to its own', () => {
    const out = join(dir, 'table.html');
    expect(cli('scenarios', lib, '--kernel', 'v4.4,v4.19', '--html', out).status).toBe(0);
    const html = readFileSync(out, 'utf8');
    expect(cells(html).map((c) => c.split(' → ')[1])).toEqual(['#b1-shared-pmd-migration/v4.4', '#b1-shared-pmd-migration/v4.19', '#clean-exit/v4.4', '#clean-exit/v4.19']);
    const m = /id="mmuwasm-reports">([^]*?)<\/script>/.exec(html)!;
    const reports = JSON.parse(m[1]) as Record<string, TimelineReport>;
    expect(Object.keys(reports)).toEqual(['b1-shared-pmd-migration/v4.4', 'b1-shared-pmd-migration/v4.19', 'clean-exit/v4.4', 'clean-exit/v4.19']);
    expect(reports['b1-shared-pmd-migration/v4.4'].violations.length).toBe(2);
    expect(reports['b1-shared-pmd-migration/v4.19'].timeline.items.some((i) => i.k === 'flush' && i.ipis.includes(1))).toBe(true);
  });
});
