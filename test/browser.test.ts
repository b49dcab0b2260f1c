// The package in a real browser: Debian's chromium, headless, driven by playwright-core (which never
// downloads a browser here: it is pointed at /usr/bin/chromium). A local server gives a page, dist/
// and comlink with the headers that make the page cross-origin isolated; the page imports the
// browser entry (dist/src/index.js) through an import map for comlink, creates a machine, and replays
// the founding scenario under v4.4 and v4.19 on 2 Web Workers. The reports must be those of the Node
// replay of the same trace, byte for byte. A second page without the headers replays on one thread
// and refuses workers with the reason.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { extname, join, normalize } from 'node:path';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { BrowserContext } from 'playwright-core';
import { replayFile } from '../src/node/replay-file.ts';
import { reportJson } from '../src/replay/report.ts';

const CHROMIUM = '/usr/bin/chromium';
const root = fileURLToPath(new URL('..', import.meta.url));
const SCENARIO = 'b1-shared-pmd-migration.jsonl';
const why = existsSync(CHROMIUM)
  ? undefined
  : `${CHROMIUM} is missing: install Debian's chromium package (apt-get install -y chromium; .ci/run does) to run the browser test`;
if (why) console.warn(`test/browser.test.ts skipped: ${why}`);

const TYPES: Record<string, string> = {
  '.gz': 'application/gzip', '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm', '.jsonl': 'text/plain; charset=utf-8',
};
/** What the server gives: the page, the built package, comlink and the scenarios; nothing else. */
const ROOTS: Record<string, string> = {
  '/dist/': join(root, 'dist/'),
  '/comlink/': join(root, 'node_modules/comlink/dist/esm/'),
  '/scenarios/': join(root, 'scenarios/'),
};

const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>mmuwasm</title>
<script type="importmap">{ "imports": { "comlink": "/comlink/comlink.mjs" } }</script>
<script type="module">
  import * as mmuwasm from '/dist/src/index.js';
  window.mmuwasm = mmuwasm;
  window.loaded = true;
</script>`;

function serve(): Promise<Server> {
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    // /isolated/ has the headers of a cross-origin isolated page; /plain/ has none.
    const isolated = !path.startsWith('/plain/');
    const headers: Record<string, string> = isolated
      ? { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' }
      : {};
    if (path === '/favicon.ico') {
      res.writeHead(204, headers).end();
      return;
    }
    if (path === '/isolated/' || path === '/plain/') {
      res.writeHead(200, { ...headers, 'Content-Type': TYPES['.html'] }).end(PAGE);
      return;
    }
    const prefix = Object.keys(ROOTS).find((p) => path.startsWith(p));
    const file = prefix && normalize(join(ROOTS[prefix], path.slice(prefix.length)));
    if (!file || !file.startsWith(ROOTS[prefix!]) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404, headers).end();
      return;
    }
    res.writeHead(200, { ...headers, 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(readFileSync(file));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

describe.skipIf(why !== undefined)('in Chromium', () => {
  let server: Server;
  let context: BrowserContext;
  let base: string;
  let profile = '';
  let traces = '';
  const errors: string[] = [];

  beforeAll(async () => {
    const { build } = (await import(join(root, 'scripts/build.mjs'))) as { build(): boolean };
    expect(build()).toBe(true);
    profile = mkdtempSync(join(tmpdir(), 'mmuwasm-chromium-'));
    traces = mkdtempSync(join(tmpdir(), 'mmuwasm-browser-traces-'));
    ROOTS['/traces/'] = `${traces}/`;
    // A generated workload, binary and gzip, larger than one 4 MiB chunk of the writer.
    const g = spawnSync(process.execPath, [join(root, 'bin/mmuwasm.mjs'), 'generate', 'database', '--accesses', '600000', '-o', join(traces, 'database.mmtrace.gz')], { encoding: 'utf8' });
    expect(g.status, g.stderr).toBe(0);
    server = await serve();
    const addr = server.address();
    base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
    const { chromium } = await import('playwright-core');
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  }, 120_000);

  afterAll(async () => {
    await context?.close();
    await new Promise((r) => server?.close(r));
    if (profile) rmSync(profile, { recursive: true, force: true });
    if (traces) rmSync(traces, { recursive: true, force: true });
  });

  async function open(path: string) {
    const page = await context.newPage();
    page.on('pageerror', (e) => errors.push(`${path}: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(`${path}: ${m.text()}`);
    });
    await page.goto(`${base}${path}`);
    await page.waitForFunction(() => (window as unknown as { loaded?: boolean }).loaded === true, undefined, { timeout: 30_000 });
    return page;
  }

  it('a cross-origin isolated page: a machine, and the founding scenario on 2 Web Workers, reported as in Node', async () => {
    const page = await open('/isolated/');
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);

    // A machine: map a 2 MiB page, translate through it, invalidate it.
    const machine = await page.evaluate(async () => {
      const { Machine, PageTables, PhysicalMemory, KIND } = (window as any).mmuwasm;
      const m = await Machine.create({ ncpus: 2 });
      const tables = new PageTables(m);
      const frames = new PhysicalMemory(m);
      const root = tables.newRoot();
      const frame = frames.alloc('2M');
      tables.map(root, 0x40000000n, frame, '2M');
      m.writeCr3(0, root);
      const first = m.access(0, 0x40001234n, KIND.write);
      m.invlpg(0, 0x40000000n);
      return { status: first.status, offset: String(first.pa - frame), walks: String(m.counters(0).walks), shared: m.memory.buffer instanceof SharedArrayBuffer };
    });
    expect(machine).toEqual({ status: 'ok', offset: String(0x1234), walks: '1', shared: true });

    for (const kernel of ['v4.4', 'v4.19']) {
      const inBrowser = await page.evaluate(async ({ kernel, scenario }) => {
        const { replaySource, reportJson } = (window as any).mmuwasm;
        const res = await fetch(`/scenarios/${scenario}`);
        // Every phase on the workers (workerThreshold 0): the scenario is small.
        const out = await replaySource(res.body, { name: `scenarios/${scenario}`, kernel, workers: 2, workerThreshold: 0 });
        return { status: out.status, json: reportJson(out.report), schedule: out.replay.schedule() };
      }, { kernel, scenario: SCENARIO });
      const inNode = await replayFile(`scenarios/${SCENARIO}`, { kernel });
      console.log(`chromium ${kernel}: status ${inBrowser.status}, ${JSON.parse(inBrowser.json).violations.length} violations, ${inBrowser.schedule.workerPhases} of ${inBrowser.schedule.phases} phases on 2 Web Workers`);
      expect(inBrowser.json).toBe(reportJson(inNode.report));
      expect(inBrowser.status).toBe(inNode.status);
      const violations = (JSON.parse(inBrowser.json) as { violations: { kind: string; line: number; cpu: number; va: string }[] }).violations
        .map((v) => [v.kind, v.line, v.cpu, v.va]);
      expect(violations).toEqual(kernel === 'v4.4' ? [['lost-write', 23, 1, '0x40000000'], ['stale-tlb', 24, 1, '0x40000000']] : []);
    }

    // Streams long enough to leave the probe: these phases run on the Web Workers, and the report is
    // the one Node makes on this thread.
    const streams = [
      { format: 'mmuwasm-trace', version: 1, cpus: 2, kernel: 'v4.19' },
      { op: 'hugetlbfs', file: 'F', size: '1G', pagesize: '2M' },
      { op: 'mm', mm: 'A' },
      { op: 'switch', cpu: 0, mm: 'A' },
      { op: 'switch', cpu: 1, mm: 'A' },
      { op: 'mmap', cpu: 0, va: '0x40000000', len: '1G', prot: 'rw', flags: 'shared', file: 'F', offset: 0 },
      { op: 'accesses', cpu: 0, va: '0x40000000', len: '1G', count: 512, pattern: 'stride', stride: '2M' },
      { op: 'accesses', cpu: 0, va: '0x40000000', len: '1G', count: 40000, pattern: 'random', write: 0.5 },
      { op: 'accesses', cpu: 1, va: '0x40000000', len: '1G', count: 40000, pattern: 'zipf', theta: 0.9 },
      { op: 'expect', violations: 0 },
    ].map((e) => JSON.stringify(e)).join('\n') + '\n';
    const onWorkers = await page.evaluate(async (text) => {
      const { replaySource, reportJson } = (window as any).mmuwasm;
      const out = await replaySource(new TextEncoder().encode(text), { name: 'streams.jsonl', workers: 2, workerThreshold: 0 });
      return { status: out.status, json: reportJson(out.report), schedule: out.replay.schedule() };
    }, streams);
    const { replaySource } = await import('../src/replay/replay-trace.ts');
    const here = await replaySource(streams, { name: 'streams.jsonl' });
    console.log(`chromium streams: ${JSON.parse(onWorkers.json).accesses} accesses, ${onWorkers.schedule.workerPhases} of ${onWorkers.schedule.phases} phases on 2 Web Workers`);
    expect(onWorkers.schedule.workerPhases).toBeGreaterThan(0);
    expect(onWorkers.json).toBe(reportJson(here.report));
    expect(onWorkers.status).toBe(0);
    expect(errors).toEqual([]);
  }, 120_000);

  it('a generated workload in the binary form, gzip, streamed from the server: the report of Node', async () => {
    const page = await open('/isolated/');
    const inBrowser = await page.evaluate(async () => {
      const { replaySource, reportJson } = (window as any).mmuwasm;
      const res = await fetch('/traces/database.mmtrace.gz');
      const out = await replaySource(res.body, { name: 'database.mmtrace.gz', workers: 2, workerThreshold: 0 });
      return { status: out.status, json: reportJson(out.report), schedule: out.replay.schedule() };
    });
    const inNode = await replayFile(join(traces, 'database.mmtrace.gz'));
    console.log(`chromium database.mmtrace.gz: ${JSON.parse(inBrowser.json).accesses} accesses, ${inBrowser.schedule.workerPhases} of ${inBrowser.schedule.phases} phases on 2 Web Workers`);
    expect(JSON.parse(inBrowser.json).accesses).toBe(600000);
    expect(inBrowser.schedule.workerPhases).toBeGreaterThan(0);
    expect(inBrowser.json.replace(/"file": "[^"]*"/g, '')).toBe(reportJson(inNode.report).replace(/"file": "[^"]*"/g, ''));
    expect(inBrowser.status).toBe(inNode.status);
    expect(errors).toEqual([]);
  }, 120_000);

  it('a page that is not cross-origin isolated replays on one thread and refuses workers, saying why', async () => {
    const page = await open('/plain/');
    const out = await page.evaluate(async (scenario) => {
      const { replaySource, reportJson } = (window as any).mmuwasm;
      const text = await (await fetch(`/scenarios/${scenario}`)).text();
      const one = await replaySource(text, { name: `scenarios/${scenario}`, kernel: 'v4.4' });
      const refused = await replaySource(text, { name: `scenarios/${scenario}`, kernel: 'v4.4', workers: 2 }).then(() => 'no error', (e: Error) => e.message);
      return { isolated: crossOriginIsolated, json: reportJson(one.report), refused };
    }, SCENARIO);
    expect(out.isolated).toBe(false);
    expect(out.json).toBe(reportJson((await replayFile(`scenarios/${SCENARIO}`, { kernel: 'v4.4' })).report));
    expect(out.refused).toMatch(/^cannot replay with 2 workers: this page is not cross-origin isolated/);
    expect(errors).toEqual([]);
  }, 120_000);
});
