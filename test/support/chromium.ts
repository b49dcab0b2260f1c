// A real headless Chromium for the browser tests: the Debian package's /usr/bin/chromium driven by
// playwright-core, which never downloads a browser. Each launch gets a fresh profile in a temporary
// folder that close() removes. Where there is no Chromium, `chromiumMissing` says why the tests skip.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

/** Why the browser tests cannot run here, or undefined when they can. */
export const chromiumMissing: string | undefined = existsSync(CHROMIUM)
  ? undefined
  : `${CHROMIUM} is missing: install the Debian package (apt-get install -y chromium) to run the browser tests`;

export interface Browser {
  context: BrowserContext;
  page: Page;
  /** Requests the page made to anything but file:// and the given origin (a self-contained page makes none). */
  foreign: string[];
  errors: string[];
  close(): Promise<void>;
}

export async function openBrowser(allowOrigin?: string): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), 'mmuwasm-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 900 },
  });
  const foreign: string[] = [];
  const errors: string[] = [];
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith('file:') || url.startsWith('data:') || url.startsWith('blob:') || (allowOrigin && url.startsWith(allowOrigin))) return route.continue();
    foreign.push(url);
    return route.abort();
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  return {
    context, page, foreign, errors,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/**
 * The variance of a PNG's pixel luminance, computed by the browser itself (it decodes the image on a
 * canvas): a blank or single-colour screenshot gives 0.
 */
export async function pixelVariance(page: Page, png: Buffer): Promise<number> {
  const other = await page.context().newPage();
  try {
    await other.setContent('<canvas id="c"></canvas>');
    return await other.evaluate(async (b64: string) => {
      const img = new Image();
      img.src = `data:image/png;base64,${b64}`;
      await img.decode();
      const c = document.getElementById('c') as HTMLCanvasElement;
      c.width = img.naturalWidth;
      c.height = img.naturalHeight;
      const ctx = c.getContext('2d')!;
      ctx.drawImage(img, 0, 0);
      const d = ctx.getImageData(0, 0, c.width, c.height).data;
      let sum = 0;
      let sq = 0;
      const n = d.length / 4;
      for (let i = 0; i < d.length; i += 4) {
        const y = 0.299 * d[i] + 0.587 * d[i + 1] + 0.114 * d[i + 2];
        sum += y;
        sq += y * y;
      }
      const mean = sum / n;
      return sq / n - mean * mean;
    }, png.toString('base64'));
  } finally {
    await other.close();
  }
}
