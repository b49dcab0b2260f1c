// Generated workloads (`mmuwasm generate`, docs/trace-binary.md "Generated workloads"): the same seed
// writes the same bytes, another seed others; the JSON Lines and binary forms are conversions of
// each other and replay to the same report; each kind replays with exit 0 under every profile, its
// expectation applying where the kernel has the fixes it needs.
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { generateTrace, parseGenerateArgs, parseCount } from '../src/cli/generate.ts';
import { UsageError } from '../src/cli/args.ts';
import { WORKLOAD_DEFAULTS, WORKLOAD_KINDS, WORKLOAD_NEEDS, Rng32, type WorkloadKind, type WorkloadOptions } from '../src/workloads/workloads.ts';
import { convertTrace } from '../src/node/convert.ts';
import { replayFile } from '../src/node/replay-file.ts';
import { PROFILE_NAMES, resolveFixes } from '../src/kernel/profiles.ts';
import type { Report } from '../src/replay/engine.ts';

const dir = mkdtempSync(join(tmpdir(), 'mmuwasm-generate-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const tmp = (ext: string) => join(dir, `g${++n}${ext}`);

/** Small workloads: a few rounds of every CPU and their kernel events. */
function small(kind: WorkloadKind, extra: Partial<WorkloadOptions> = {}): WorkloadOptions {
  const o: WorkloadOptions = { ...WORKLOAD_DEFAULTS[kind], accesses: 12_000, burst: 500, ...extra };
  if (kind === 'kvm') o.size = 1n << 30n;
  if (kind === 'random-anon') o.size = 4n << 20n;
  if (kind === 'migration-storm') o.ops = 8;
  return o;
}
function gen(kind: WorkloadKind, ext: string, extra: Partial<WorkloadOptions> = {}): string {
  const out = tmp(ext);
  generateTrace({ kind, out, options: small(kind, extra) });
  return out;
}

/** A report without what depends on the time it took (none today; a parallel replay may add some). */
function timeless(r: Report): unknown {
  return JSON.parse(JSON.stringify(r, (k, v) => (/time|elapsed|seconds|rate|wall/i.test(k) ? undefined : typeof v === 'bigint' ? Number(v) : v)));
}

describe.each(WORKLOAD_KINDS)('generate %s', (kind) => {
  it('the same seed writes the same bytes, another seed others; both forms are conversions of each other', async () => {
    const a = gen(kind, '.mmtrace');
    const b = gen(kind, '.mmtrace');
    const c = gen(kind, '.mmtrace', { seed: 2 });
    expect(readFileSync(a).equals(readFileSync(b))).toBe(true);
    expect(readFileSync(a).equals(readFileSync(c))).toBe(false);
    const text = gen(kind, '.jsonl');
    const conv = tmp('.mmtrace');
    await convertTrace(text, conv);
    expect(readFileSync(conv).equals(readFileSync(a))).toBe(true);
    const back = tmp('.jsonl');
    await convertTrace(a, back);
    expect(readFileSync(back, 'utf8')).toBe(readFileSync(text, 'utf8'));
    expect(readFileSync(text, 'utf8').split('\n').filter((l) => l.startsWith('{"op":"access",')).length).toBe(12_000);
  });

  it('replays from both forms to the same report, with exit 0 under every profile', async () => {
    const bin = gen(kind, '.mmtrace');
    const text = gen(kind, '.jsonl');
    for (const kernel of ['v4.4', 'v6.18']) {
      const t = await replayFile(text, { kernel });
      const b = await replayFile(bin, { kernel });
      expect(b.report.error).toBeUndefined();
      expect(timeless(b.report)).toEqual(timeless(t.report));
      expect(b.status).toBe(0);
      expect(b.report.accesses).toBe(12_000);
    }
    for (const kernel of PROFILE_NAMES.filter((p) => p !== 'v4.4' && p !== 'v6.18')) {
      const { report, status } = await replayFile(bin, { kernel });
      expect(status).toBe(0);
      const fixes = resolveFixes(kernel, {}).ids;
      // Where the kernel has every fix the workload needs, its expectations apply and hold: clean.
      if (WORKLOAD_NEEDS[kind].every((f) => fixes.includes(f))) {
        expect(report.violations).toEqual([]);
        expect(report.expectations.every((e) => e.applies && e.ok)).toBe(true);
      }
    }
  });
});

describe('the workloads meet the bugs they say they meet', () => {
  it('database and migration-storm without 017b1660df89 (v4.4): the old kernel\'s violations, expectations not applying', async () => {
    for (const kind of ['database', 'migration-storm'] as const) {
      const { report, status } = await replayFile(gen(kind, '.mmtrace'), { kernel: 'v4.4' });
      expect(status).toBe(0);
      expect(report.violations.length).toBeGreaterThan(0);
      expect(report.expectations.length).toBeGreaterThan(0);
      expect(report.expectations.every((e) => !e.applies)).toBe(true);
    }
  });

  it('migration-storm parks migrations and the other CPUs wait for them', async () => {
    const { report } = await replayFile(gen('migration-storm', '.mmtrace'), { kernel: 'v6.18' });
    expect(report.waited.length).toBeGreaterThan(0);
    expect(report.waited[0].reason).toMatch(/being migrated/);
  });

  it('kvm drives its secondary MMU; with anonymous backing, reclaim and the balloon too', async () => {
    const { report } = await replayFile(gen('kvm', '.mmtrace', { backing: 'anon', size: 16n << 20n }), { kernel: 'v6.18' });
    const devices = (report.stats as { devices: { kind: string; accesses: number; faults: number }[] }).devices;
    expect(devices).toHaveLength(1);
    expect(devices[0]).toMatchObject({ kind: 'kvm', accesses: 12_000 / 16 });
    expect(devices[0].faults).toBeGreaterThan(0);
    expect(report.violations).toEqual([]);
  });

  it('--streams writes one stream event per burst, replaying the same number of accesses', async () => {
    const p = gen('database', '.jsonl', { streams: true });
    const lines = readFileSync(p, 'utf8').split('\n');
    expect(lines.filter((l) => l.includes('"op":"accesses"')).length).toBe(24);
    const { report, status } = await replayFile(p);
    expect(status).toBe(0);
    expect(report.accesses).toBe(12_000);
  });
});

describe('the command', () => {
  it('parses counts and sizes, and refuses what it cannot write', () => {
    expect(parseCount('20M', '--accesses')).toBe(20_000_000);
    expect(parseCount('1e9', '--accesses')).toBe(1e9);
    expect(parseCount('2.5k', '--accesses')).toBe(2500);
    expect(() => parseCount('lots', '--accesses')).toThrow(UsageError);
    const a = parseGenerateArgs(['kvm', '--accesses', '2M', '--size', '1G', '--backing', 'anon', '--seed', '7', '-o', 'x.mmtrace.gz']);
    expect(a).toMatchObject({ kind: 'kvm', out: 'x.mmtrace.gz', options: { accesses: 2e6, size: 1n << 30n, backing: 'anon', seed: 7 } });
    expect(() => parseGenerateArgs(['nosuch', '-o', 'x.jsonl'])).toThrow(/unknown workload/);
    expect(() => parseGenerateArgs(['database', '-o', 'x.txt'])).toThrow(/extension/);
    expect(() => parseGenerateArgs(['database', '--backing', 'anon', '-o', 'x.jsonl'])).toThrow(/kvm/);
    expect(() => parseGenerateArgs(['database', '--size', '3M', '-o', 'x.jsonl'])).toThrow(/multiple of 2M/);
    expect(() => parseGenerateArgs(['database'])).toThrow(/-o FILE/);
  });

  it('writes a trace that `replay` runs; a usage error exits 2', () => {
    const bin = join(import.meta.dirname, '..', 'bin', 'mmuwasm.mjs');
    const out = tmp('.mmtrace.gz');
    const g = spawnSync(process.execPath, [bin, 'generate', 'random-anon', '--accesses', '5000', '--size', '4M', '-o', out], { encoding: 'utf8' });
    expect(g.status).toBe(0);
    expect(g.stderr).toContain('random-anon, 5000 CPU accesses, seed 1');
    const r = spawnSync(process.execPath, [bin, 'replay', out, '--json', '-', '--quiet'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ complete: true, accesses: 5000, violations: [] });
    const u = spawnSync(process.execPath, [bin, 'generate', 'database', '--frobnicate'], { encoding: 'utf8' });
    expect(u.status).toBe(2);
    expect(u.stderr).toContain("unknown option '--frobnicate'");
  });

  it('the generator\'s numbers are fixed: a change would change every generated trace', () => {
    const r = new Rng32(1);
    expect([r.u32(), r.u32(), r.u32()]).toEqual([2442144158, 3238099751, 3819917871]);
  });
});
