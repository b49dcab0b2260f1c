// The HTML report of the founding case opened in a real headless Chromium (test/support/chromium.ts):
// what a reader sees, asserted from the rendered DOM — the verdict, the violation rows with their
// explanation and fix, a timeline lane per CPU, the IPI arrows (none under v4.4, where CPU 1 is never
// flushed; one from CPU 0 to CPU 1 under v4.19), the cached translations at the selected violation —
// and a screenshot that is not blank. The page asks for nothing over the network.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { SCENARIO_DIR } from '../src/cli/scenarios.ts';
import { chromiumMissing, openBrowser, pixelVariance, type Browser } from './support/chromium.ts';

const bin = join(import.meta.dirname, '..', 'bin', 'mmuwasm.mjs');
const B1 = join(SCENARIO_DIR, 'b1-shared-pmd-migration.jsonl');
const dir = mkdtempSync(join(tmpdir(), 'mmuwasm-browser-'));

function htmlReport(kernel: string): string {
  const out = join(dir, `b1-${kernel}.html`);
  const r = spawnSync(process.execPath, [bin, 'replay', B1, '--kernel', kernel, '--html', out, '--quiet'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`replay --html failed: ${r.stderr}`);
  return pathToFileURL(out).href;
}

if (chromiumMissing) console.warn(`report-browser.test.ts skipped: ${chromiumMissing}`);

describe.skipIf(chromiumMissing !== undefined)(`the HTML report in Chromium${chromiumMissing ? ` (skipped: ${chromiumMissing})` : ''}`, () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await openBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the founding case under v4.4: verdict, violation rows, a lane per CPU, no IPI, the stale uses, a screenshot that is not blank', async () => {
    const page = browser.page;
    await page.goto(htmlReport('v4.4'));
    await page.waitForSelector('.mmr-vrow');
    expect(await page.locator('.mmr-verdict').getAttribute('data-verdict')).toBe('PASS');
    const rows = await page.locator('.mmr-vrow').evaluateAll((trs) => trs.map((tr) => Array.from(tr.querySelectorAll('td'), (td) => td.textContent)));
    expect(rows.map((r) => r.slice(0, 4))).toEqual([
      ['line 23', 'lost-write', 'CPU 1', 'B 0x40000000'],
      ['line 24', 'stale-tlb', 'CPU 1', 'B 0x40000000'],
    ]);
    for (const r of rows) {
      expect(r[4]).toContain('Why: the migration unmapped the page in the PMD page A shares');
      expect(r[4]).toContain('fix 017b1660df89 mm: migration: fix migration of huge PMD shared pages');
    }
    const lanes = await page.locator('rect.mmr-lane').evaluateAll((rs) => rs.map((r) => r.getAttribute('data-lane')));
    expect(lanes).toEqual(['trace', 'cpu0', 'cpu1']);
    expect(await page.locator('.mmr-lanelabel').allTextContents()).toEqual(['setup', 'CPU 0', 'CPU 1']);
    // Without the fix the migration flushes A's CPU alone: one flush mark, no IPI arrow.
    expect(await page.locator('.mmr-flush').evaluateAll((fs) => fs.map((f) => f.getAttribute('data-kind')))).toEqual(['page']);
    expect(await page.locator('line.mmr-ipi').count()).toBe(0);
    expect(await page.locator('.mmr-stale').evaluateAll((ms) => ms.map((m) => m.getAttribute('data-v')))).toEqual(['0', '1']);
    // The first violation is selected: CPU 1's TLB still maps the old frame, the shared PMD does not.
    expect(await page.locator('.mmr-moment').textContent()).toBe('Line 23, lost-write on CPU 1 at 0x40000000: what every CPU and device caches for 0x40000000, and what the page tables say.');
    const bad = await page.locator('.mmr-cached tr.bad').evaluateAll((trs) => trs.map((tr) => Array.from(tr.querySelectorAll('td'), (td) => td.textContent).join(' | ')));
    expect(bad).toEqual(['CPU 1 | CR3: B | TLB dtlb2m (2M) | 0x40000000 pcid 0 (B) | → frame 0x400000000 | WD | stale: the tables say otherwise']);
    expect(await page.locator('.mmr-maps').allTextContents()).toEqual([' ⇒ nothing mapped', ' ⇒ nothing mapped']);
    const shot = await page.screenshot({ fullPage: true });
    expect(await pixelVariance(page, shot)).toBeGreaterThan(500);
    expect(browser.foreign).toEqual([]);
    expect(browser.errors).toEqual([]);
  });

  it('selecting a violation shows its moment; hovering an operation shows its trace line; zoom widens the timeline', async () => {
    const page = browser.page;
    await page.goto(htmlReport('v4.4'));
    await page.locator('.mmr-vrow').nth(1).click();
    expect(await page.locator('.mmr-moment').textContent()).toContain('Line 24, stale-tlb on CPU 1');
    expect(await page.locator('.mmr-cached tr.bad td:last-child').allTextContents()).toEqual(['stale: frame freed or reused']);
    expect(await page.locator('.mmr-stale.sel').getAttribute('data-v')).toBe('1');
    const migrate = page.locator('g.mmr-op', { hasText: 'migrate m' });
    await migrate.locator('text.mmr-oplabel').hover({ force: true });
    expect(await page.locator('.mmr-tip').textContent()).toBe('line 22: {"op":"migrate","cpu":0,"va":"0x40000000","id":"m","until":"remap"}');
    const width = async () => Number(await migrate.locator('rect.mmr-opbar').getAttribute('width'));
    const before = await width();
    await page.getByRole('button', { name: '+' }).click();
    expect(await width()).toBeGreaterThan(before * 1.5);
    expect(browser.errors).toEqual([]);
  });

  it('the founding case under v4.19: no violation, and the flush of B reaches CPU 1 by IPI', async () => {
    const page = browser.page;
    await page.goto(htmlReport('v4.19'));
    await page.waitForSelector('.mmr-timeline');
    expect(await page.locator('.mmr-vrow').count()).toBe(0);
    const arrows = await page.locator('line.mmr-ipi').evaluateAll((ls) => ls.map((l) => `${l.getAttribute('data-from')}→${l.getAttribute('data-to')}`));
    expect(arrows).toEqual(['0→1']);
    // Both flushes of the migration are drawn: the full flush of A on CPU 0, then B's page, by IPI.
    expect(await page.locator('.mmr-flush').evaluateAll((fs) => fs.map((f) => f.getAttribute('data-kind')))).toEqual(['full', 'page']);
    expect(await page.locator('.mmr-stale').count()).toBe(0);
    expect(browser.foreign).toEqual([]);
    expect(browser.errors).toEqual([]);
  });
});
