// The package the way a user meets it: `npm pack`, the tarball installed into a fresh project with no
// network (comlink, the one dependency, from npm's cache, which `npm ci` filled; where the cache does
// not have it, from this repository's node_modules packed too), a plain `node app.mjs` that creates a
// machine, maps, translates, invalidates and replays the founding scenario, the installed command,
// and a TypeScript consumer checked by `tsc` with a standard strict NodeNext configuration.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';

const root = join(import.meta.dirname, '..');
const version = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version as string;
const dir = mkdtempSync(join(tmpdir(), 'mmuwasm-package-'));
const app = join(dir, 'app');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// npm without its network chatter; its cache is the user's (where `npm ci` put comlink).
const env = { ...process.env, NO_COLOR: '1', npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' };
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
function run(cmd: string, args: string[], cwd: string): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { cwd, env, encoding: 'utf8', timeout: 240_000 });
}
const ok = (r: SpawnSyncReturns<string>) => {
  if (r.status !== 0) throw new Error(`exit ${r.status}: ${r.stderr}`);
  return r;
};

interface Packed {
  filename: string;
  size: number;
  unpackedSize: number;
  entryCount: number;
  files: { path: string; size: number }[];
}
let packed: Packed;
let comlinkFrom = 'the npm cache';
let installOutput = '';

beforeAll(() => {
  const r = ok(run(npm, ['pack', '--json', '--pack-destination', dir], root));
  packed = (JSON.parse(r.stdout) as Packed[])[0];
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, type: 'module' }, null, 2));
  const tarball = join(dir, packed.filename);
  let install = run(npm, ['install', '--offline', '--no-audit', '--no-fund', tarball], app);
  if (install.status !== 0 && /ENOTCACHED/.test(install.stderr)) {
    // A cache without comlink (a machine whose node_modules came from elsewhere): the installed copy, packed.
    const c = ok(run(npm, ['pack', '--json', '--pack-destination', dir, join(root, 'node_modules', 'comlink')], root));
    install = run(npm, ['install', '--offline', '--no-audit', '--no-fund', join(dir, (JSON.parse(c.stdout) as Packed[])[0].filename), tarball], app);
    comlinkFrom = "this repository's node_modules/comlink, packed";
  }
  ok(install);
  installOutput = install.stdout + install.stderr;
  console.log(`npm pack: ${packed.filename}, ${packed.size} bytes, ${packed.entryCount} files (${packed.unpackedSize} bytes unpacked); comlink from ${comlinkFrom}`);
}, 600_000);

describe('the tarball', () => {
  it('holds exactly what a user needs: dist/, bin/mmuwasm.mjs, scenarios/, README.md, LICENSE, package.json', () => {
    const paths = packed.files.map((f) => f.path).sort();
    const shipped = (p: string) =>
      ['package.json', 'README.md', 'LICENSE', 'bin/mmuwasm.mjs'].includes(p) ||
      /^scenarios\/[a-z0-9-]+\.jsonl$/.test(p) ||
      /^dist\/(src|assembly)\/[a-z0-9/_-]+(\.js|\.d\.ts|\.mjs)$/.test(p) ||
      p === 'dist/build/mmu.wasm';
    expect(paths.filter((p) => !shipped(p))).toEqual([]);
    for (const need of ['dist/build/mmu.wasm', 'dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/node.js', 'dist/src/node.d.ts', 'dist/src/cli/main.js', 'scenarios/b1-shared-pmd-migration.jsonl', 'LICENSE', 'README.md']) {
      expect(paths).toContain(need);
    }
    for (const never of [/^test\//, /^\.ci\//, /^bench\//, /^src\//, /^assembly\//, /^scripts\//, /\.ts$(?<!\.d\.ts)/, /^dist\/\.built$/]) {
      expect(paths.filter((p) => never.test(p))).toEqual([]);
    }
  });

  it('depends on comlink alone, has no install scripts, and nothing is compiled at run time', () => {
    const pkg = JSON.parse(readFileSync(join(app, 'node_modules', 'mmuwasm', 'package.json'), 'utf8'));
    expect(pkg.dependencies).toEqual({ comlink: '4.4.2' });
    // npm runs these for a package installed from a tarball (and asks the user to allow them): none.
    expect(Object.keys(pkg.scripts ?? {}).filter((k) => ['preinstall', 'install', 'postinstall', 'prepare'].includes(k))).toEqual([]);
    expect(installOutput).not.toMatch(/install-scripts|mmuwasm@[0-9.]+ \(/);
    expect(readFileSync(join(app, 'package-lock.json'), 'utf8')).not.toMatch(/"node_modules\/(tsx|esbuild|assemblyscript|typescript)"/);
  });
});

describe('installed from the tarball', () => {
  it('a plain app.mjs creates a machine, maps, translates, invalidates and replays the founding scenario', () => {
    writeFileSync(join(app, 'app.mjs'), `import { Machine, PageTables, PhysicalMemory, KIND, replayFile } from 'mmuwasm';
import { fileURLToPath } from 'node:url';

const hex = (v) => \`0x\${v.toString(16)}\`;
const show = (r) => (r.status === 'ok' ? \`ok \${hex(r.pa)}\` : \`\${r.status} \${r.errorCode}\`);
const m = await Machine.create({ ncpus: 2 });
const tables = new PageTables(m);
const frames = new PhysicalMemory(m);
const root = tables.newRoot();
const first = frames.alloc('2M');
tables.map(root, 0x4000_0000n, first, '2M');
m.writeCr3(0, root);
console.log(\`frame \${hex(first)}\`);
console.log(\`translate: \${show(m.access(0, 0x4000_1234n, KIND.write))}\`);
const second = frames.alloc('2M');
tables.unmap(root, 0x4000_0000n, '2M');
tables.map(root, 0x4000_0000n, second, '2M');
console.log(\`remapped to \${hex(second)} without a flush: \${show(m.access(0, 0x4000_1234n, KIND.read))}\`);
m.invlpg(0, 0x4000_0000n);
console.log(\`after invlpg: \${show(m.access(0, 0x4000_1234n, KIND.read))}\`);
console.log(\`walks: \${m.counters(0).walks}\`);
const founding = fileURLToPath(new URL('scenarios/b1-shared-pmd-migration.jsonl', import.meta.resolve('mmuwasm/package.json')));
for (const kernel of ['v4.4', 'v4.19']) {
  const { report, status } = await replayFile(founding, { kernel });
  console.log(\`\${kernel}: status \${status}, violations \${report.violations.map((v) => \`\${v.kind} line \${v.line} cpu \${v.cpu} \${v.mm} \${v.va}\`).join('; ') || 'none'}\`);
}
`);
    const r = run(process.execPath, ['app.mjs'], app);
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
    expect(r.stdout).toBe([
      'frame 0x400000000',
      'translate: ok 0x400001234',
      'remapped to 0x400200000 without a flush: ok 0x400001234',
      'after invlpg: ok 0x400201234',
      'walks: 2',
      'v4.4: status 0, violations lost-write line 23 cpu 1 B 0x40000000; stale-tlb line 24 cpu 1 B 0x40000000',
      'v4.19: status 0, violations none',
      '',
    ].join('\n'));
  });

  it('npx mmuwasm --version and npx mmuwasm replay', () => {
    const v = run('npx', ['--offline', 'mmuwasm', '--version'], app);
    expect({ status: v.status, stdout: v.stdout }).toEqual({ status: 0, stdout: `${version}\n` });
    const founding = join(app, 'node_modules', 'mmuwasm', 'scenarios', 'b1-shared-pmd-migration.jsonl');
    const r = run('npx', ['--offline', 'mmuwasm', 'replay', founding, '--kernel', 'v4.4', '--json', '-'], app);
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout).violations.map((x: { kind: string; line: number }) => `${x.kind} ${x.line}`)).toEqual(['lost-write 23', 'stale-tlb 24']);
    expect(r.stderr.split('\n')[0]).toBe(`${founding} — kernel v4.4`);
    const h = run('npx', ['--offline', 'mmuwasm', 'help'], app);
    expect([h.status, h.stdout.split('\n')[0]]).toEqual([0, 'usage: mmuwasm COMMAND [options]']);
  });

  it('a TypeScript consumer type-checks with strict NodeNext and no special flags', () => {
    // @types/node as a consumer has it: in its node_modules (the repository's copy, linked).
    mkdirSync(join(app, 'node_modules', '@types'), { recursive: true });
    symlinkSync(join(root, 'node_modules', '@types', 'node'), join(app, 'node_modules', '@types', 'node'), 'dir');
    writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true }, files: ['consumer.ts'] }));
    writeFileSync(join(app, 'consumer.ts'), `import {
  Machine, PageTables, PhysicalMemory, KIND, replayFile, readTrace, parseTrace, Replay, CpuWorkers, PROFILE_NAMES, FIXES, TraceError,
  type AccessResult, type Report, type ReplayOutcome, type Violation, type Counters,
} from 'mmuwasm';

const m: Machine = await Machine.create({ ncpus: 2 });
const tables = new PageTables(m);
const frames = new PhysicalMemory(m);
const root: bigint = tables.newRoot();
tables.map(root, 0x4000_0000n, frames.alloc('2M'), '2M');
m.writeCr3(0, root);
const r: AccessResult = m.access(0, 0x4000_1234n, KIND.write);
const pa: bigint = r.status === 'ok' ? r.pa : 0n;
m.invlpg(0, 0x4000_0000n);
const c: Counters = m.counters(0);
const out: ReplayOutcome = await replayFile('trace.jsonl', { kernel: PROFILE_NAMES[0] });
const report: Report = out.report;
const kinds: string[] = report.violations.map((v: Violation) => v.kind);
for await (const item of readTrace('trace.jsonl')) console.log(item.line);
for (const item of parseTrace(['{"format":"mmuwasm-trace","version":1,"cpus":1}'])) console.log(item.kind);
console.log(pa, c.walks, kinds, Replay, CpuWorkers, FIXES.length, TraceError);
`);
    const tsc = run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], app);
    expect({ status: tsc.status, stdout: tsc.stdout }).toEqual({ status: 0, stdout: '' });
  });
});
