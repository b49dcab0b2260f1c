// `mmuwasm serve`: a loopback server with the headers of a cross-origin isolated page, files only from
// its roots, and a page on which the founding case replays in the browser (the package's browser
// entry, Web Workers) under v4.4 and v4.19 side by side in one click — asserted in a real headless
// Chromium (test/support/chromium.ts). Ctrl-C stops the server cleanly.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { serveArgs } from '../src/cli/serve.ts';
import { parseCommandLine, UsageError } from '../src/cli/args.ts';
import { commandByName } from '../src/cli/commands.ts';
import { chromiumMissing, openBrowser, type Browser } from './support/chromium.ts';

const bin = join(import.meta.dirname, '..', 'bin', 'mmuwasm.mjs');

function parseServe(argv: string[]) {
  const r = parseCommandLine(commandByName('serve')!, argv);
  if (r.kind !== 'run') throw new Error(`not a run: ${r.kind}`);
  return serveArgs(r.args);
}

describe('serve arguments', () => {
  it('takes a directory and --port, and says what is wrong otherwise', () => {
    expect(parseServe(['--port', '0']).port).toBe(0);
    expect(parseServe(['scenarios', '--port=9123'])).toEqual({ dir: 'scenarios', port: 9123 });
    expect(() => parseServe(['--port', '70000'])).toThrow(new UsageError("--port: takes a port number from 0 (any free one) to 65535 (got '70000')"));
    expect(() => parseServe(['--port', '-1'])).toThrow(UsageError);
    expect(() => parseServe(['--port'])).toThrow(new UsageError('--port needs a value: --port P'));
    expect(() => parseServe(['a', 'b'])).toThrow(UsageError);
  });
});

describe('serve', () => {
  let server: ChildProcess;
  let url: string;
  let out = '';
  beforeAll(async () => {
    server = spawn(process.execPath, [bin, 'serve', '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    server.stdout!.on('data', (d) => (out += String(d)));
    server.stderr!.on('data', (d) => (out += String(d)));
    url = await new Promise<string>((resolve, reject) => {
      const check = () => {
        const m = /http:\/\/127\.0\.0\.1:\d+\//.exec(out);
        if (m) resolve(m[0]);
      };
      server.stdout!.on('data', check);
      server.once('exit', (code) => reject(new Error(`serve exited (${code}): ${out}`)));
    });
  }, 120_000);
  afterAll(() => {
    if (server.exitCode === null) server.kill('SIGKILL');
  });

  it('answers on the loopback interface with COOP/COEP, gives the page, the library and the package, and nothing outside them', async () => {
    const page = await fetch(url);
    expect(page.status).toBe(200);
    expect(page.headers.get('cross-origin-opener-policy')).toBe('same-origin');
    expect(page.headers.get('cross-origin-embedder-policy')).toBe('require-corp');
    expect(await page.text()).toContain('<script type="importmap">');
    const lib = (await (await fetch(`${url}api/scenarios`)).json()) as { scenarios: string[] };
    expect(lib.scenarios).toContain('b1-shared-pmd-migration.jsonl');
    expect((await fetch(`${url}scenarios/b1-shared-pmd-migration.jsonl`)).status).toBe(200);
    expect((await fetch(`${url}dist/src/index.js`)).headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    for (const p of ['package.json', 'scenarios/%2e%2e/package.json', 'dist/..%2f..%2fpackage.json', 'src/cli/serve.ts']) {
      expect((await fetch(`${url}${p}`)).status, p).toBe(404);
    }
  });

  describe.skipIf(chromiumMissing !== undefined)(`in Chromium${chromiumMissing ? ` (skipped: ${chromiumMissing})` : ''}`, () => {
    let browser: Browser;
    beforeAll(async () => {
      browser = await openBrowser(url.slice(0, -1));
    });
    afterAll(async () => {
      await browser?.close();
    });

    it('replays the founding case in the page under v4.4 and v4.19 side by side in one click', async () => {
      const page = browser.page;
      await page.goto(url);
      await page.waitForFunction(() => (window as unknown as { mmuwasmServeReady?: boolean }).mmuwasmServeReady === true, undefined, { timeout: 30_000 });
      expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
      await page.locator('button[data-scenario="b1-shared-pmd-migration.jsonl"]').click();
      await page.waitForFunction(() => !(document.getElementById('compare') as HTMLButtonElement).disabled);
      await page.locator('#compare').click();
      await page.waitForFunction(() => document.querySelectorAll('.col[data-status]').length === 2, undefined, { timeout: 60_000 });
      const cols = await page.locator('.col').evaluateAll((cs) => cs.map((c) => ({
        kernel: c.getAttribute('data-kernel'),
        status: c.getAttribute('data-status'),
        verdict: c.querySelector('.mmr-verdict')!.getAttribute('data-verdict'),
        violations: Array.from(c.querySelectorAll('.mmr-vrow'), (r) => Array.from(r.querySelectorAll('td'), (td) => td.textContent).slice(0, 3).join(' ')),
        lanes: Array.from(c.querySelectorAll('rect.mmr-lane'), (l) => l.getAttribute('data-lane')),
        ipis: Array.from(c.querySelectorAll('line.mmr-ipi'), (l) => `${l.getAttribute('data-from')}→${l.getAttribute('data-to')}`),
      })));
      expect(cols).toEqual([
        { kernel: 'v4.4', status: '0', verdict: 'PASS', violations: ['line 23 lost-write CPU 1', 'line 24 stale-tlb CPU 1'], lanes: ['trace', 'cpu0', 'cpu1'], ipis: [] },
        { kernel: 'v4.19', status: '0', verdict: 'PASS', violations: [], lanes: ['trace', 'cpu0', 'cpu1'], ipis: ['0→1'] },
      ]);
      expect(await page.locator('#status').textContent()).toMatch(/^b1-shared-pmd-migration\.jsonl: v4\.4, v4\.19 replayed in the browser in \d+ ms \(\d+ Web Workers?\)$/);
      expect(browser.foreign).toEqual([]);
      expect(browser.errors).toEqual([]);
    }, 120_000);
  });

  it('stops cleanly on Ctrl-C', async () => {
    const code = await new Promise<number | null>((resolve) => {
      server.once('exit', (c) => resolve(c));
      server.kill('SIGINT');
    });
    expect(code).toBe(0);
    expect(out).toContain('mmuwasm serve: stopped');
  });
});
