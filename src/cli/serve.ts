// `mmuwasm serve [DIR] [--port P]`: a local page where a trace is dropped or picked (DIR's scenario
// library is listed), profiles and fixes are chosen, and the replay runs in the browser with the
// package's browser entry, drawn as the HTML report draws it; two profiles side by side in one click.
// The server listens on the loopback interface only, gives nothing but the page, the built package
// (dist/), comlink and DIR's traces, and sends the headers that make the page cross-origin isolated
// (COOP same-origin, COEP require-corp), so its Web Workers share the machine's memory. Ctrl-C stops it.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join, resolve, sep } from 'node:path';
import { UsageError, type ParsedArgs } from './args.ts';
import { checkDirectory } from './files.ts';
import { packageRoot } from './package-root.ts';
import { listScenarios, SCENARIO_DIR } from './scenarios.ts';
import { renderServePage } from '../report/serve-page.ts';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm', '.json': 'application/json', '.jsonl': 'text/plain; charset=utf-8', '.map': 'application/json',
};

/** Every answer: cross-origin isolated (SharedArrayBuffer for the Web Workers), nothing cached, nothing sniffed. */
const HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'X-Content-Type-Options': 'nosniff',
  'Cache-Control': 'no-store',
};

export interface ServeArgs {
  dir: string;
  port: number;
}

/** The server's options from its parsed command line; a bad value is a UsageError naming the option. */
export function serveArgs(p: ParsedArgs): ServeArgs {
  const a: ServeArgs = { dir: p.operands[0] ?? SCENARIO_DIR, port: 8080 };
  const port = p.get('--port');
  if (port !== undefined) {
    const n = /^[0-9]+$/.test(port) ? Number(port) : NaN;
    if (!Number.isInteger(n) || n > 65535) throw new UsageError(`--port: takes a port number from 0 (any free one) to 65535 (got '${port}')`);
    a.port = n;
  }
  return a;
}

/** The folders the server gives files from, by URL prefix. */
function roots(dir: string): Record<string, string> {
  const comlink = join(dirname(createRequire(import.meta.url).resolve('comlink')), '..', 'esm');
  return {
    '/dist/': join(packageRoot(), 'dist') + sep,
    '/comlink/': comlink + sep,
    '/scenarios/': resolve(dir) + sep,
  };
}

/** The server (not yet listening): the page, the scenario list, and the files under the roots. */
export function createServeServer(dir: string): Server {
  const from = roots(dir);
  const page = renderServePage();
  return createServer((req: IncomingMessage, res: ServerResponse) => {
    const send = (status: number, type: string | undefined, body?: string | Buffer) => {
      res.writeHead(status, { ...HEADERS, ...(type ? { 'Content-Type': type } : {}) });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'text/plain', 'GET only\n');
    let path: string;
    try {
      path = decodeURIComponent(new URL(req.url ?? '/', 'http://127.0.0.1').pathname);
    } catch {
      return send(400, 'text/plain', 'bad path\n');
    }
    if (path === '/' || path === '/index.html') return send(200, TYPES['.html'], page);
    if (path === '/api/scenarios') return send(200, TYPES['.json'], JSON.stringify({ dir: resolve(dir), scenarios: listScenarios(dir) }));
    if (path === '/favicon.ico') return send(204, undefined);
    const prefix = Object.keys(from).find((p) => path.startsWith(p));
    if (!prefix) return send(404, 'text/plain', 'not found\n');
    const file = resolve(from[prefix], '.' + path.slice(prefix.length - 1));
    // Nothing outside the root (no .., no symlink games through the path).
    if (!file.startsWith(from[prefix]) || !existsSync(file) || !statSync(file).isFile()) return send(404, 'text/plain', 'not found\n');
    send(200, TYPES[extname(file)] ?? 'application/octet-stream', readFileSync(file));
  });
}

export async function runServe(p: ParsedArgs): Promise<number> {
  const args = serveArgs(p);
  checkDirectory(args.dir);
  if (!existsSync(join(packageRoot(), 'dist', 'src', 'index.js'))) {
    console.error('mmuwasm serve: the browser entry dist/src/index.js is missing (npm run build)');
    return 2;
  }
  const server = createServeServer(args.dir);
  const listening = await new Promise<Error | undefined>((done) => {
    server.once('error', done);
    server.listen(args.port, '127.0.0.1', () => done(undefined));
  });
  if (listening) {
    console.error(`mmuwasm serve: cannot listen on 127.0.0.1:${args.port}: ${listening.message}`);
    return 2;
  }
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : args.port;
  console.log(`mmuwasm serve: http://127.0.0.1:${port}/ (the traces of ${resolve(args.dir)}; Ctrl-C stops)`);
  // Ctrl-C (or a TERM): stop listening, close the connections, exit 0.
  await new Promise<void>((done) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      server.close(() => done());
      server.closeAllConnections();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  console.log('mmuwasm serve: stopped');
  return 0;
}
