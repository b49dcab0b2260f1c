// The command line as users expect it, for every command of the table (src/cli/commands.ts): help
// and version, near misses, `--opt=value`, `--json -` that leaves standard output to JSON, and every
// file-system failure as one line naming the path, exit 2. Each row runs the CLI as a child process
// the way a user does, through bin/mmuwasm.mjs and the built dist/, and asserts the exit status and
// the exact first line.
import { afterAll, describe, expect, it } from 'vitest';
import { closeSync, copyFileSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { COMMANDS } from '../src/cli/commands.ts';
import { commandHelp, editDistance, nearest, synopsis } from '../src/cli/args.ts';
import { overview } from '../src/cli/main.ts';
import { WORKLOAD_KINDS } from '../src/workloads/workloads.ts';
import { PROFILE_NAMES } from '../src/kernel/profiles.ts';

const root = join(import.meta.dirname, '..');
const bin = join(root, 'bin', 'mmuwasm.mjs');
const version = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version as string;
const founding = join(root, 'scenarios', 'b1-shared-pmd-migration.jsonl');
const dir = mkdtempSync(join(tmpdir(), 'mmuwasm-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const missing = join(dir, 'missing.jsonl');
const noDir = join(dir, 'no-such-dir', 'out.jsonl');
const notDir = join(founding, 'x.jsonl');
// A file whose every write fails with ENOSPC: the full-disk case, with a name whose extension says its form.
const full = (name: string) => {
  const p = join(dir, name);
  symlinkSync('/dev/full', p);
  return p;
};
const lackeyLog = join(dir, 'prog.log');
writeFileSync(lackeyLog, 'I  04000000,3\n S 7ff000100,8\n');
const oneScenario = join(dir, 'one');
mkdirSync(oneScenario);
copyFileSync(founding, join(oneScenario, 'b1-shared-pmd-migration.jsonl'));

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}
function cli(args: readonly string[], opts: { input?: string | Buffer; stdout?: number } = {}): Run {
  const r = spawnSync(process.execPath, [bin, ...args], {
    encoding: 'utf8', input: opts.input, env: { ...process.env, NO_COLOR: '1' },
    stdio: ['pipe', opts.stdout ?? 'pipe', 'pipe'], cwd: dir,
  });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}
const firstLine = (s: string) => s.split('\n')[0];
const noStack = (r: Run) => expect(r.stderr).not.toMatch(/^\s+at /m);

describe('help and version', () => {
  it('mmuwasm, mmuwasm help, --help and -h print the overview of every command (exit 0)', () => {
    for (const args of [[], ['help'], ['--help'], ['-h']]) {
      const r = cli(args);
      expect([r.status, r.stderr]).toEqual([0, '']);
      expect(r.stdout).toBe(overview());
      expect(firstLine(r.stdout)).toBe('usage: mmuwasm COMMAND [options]');
      for (const c of COMMANDS) expect(r.stdout).toContain(`  ${c.name} `);
    }
  });

  it('--version and -V print the version (exit 0), before or after a command', () => {
    for (const args of [['--version'], ['-V'], ['replay', '--version'], ['generate', '-V']]) {
      expect(cli(args)).toEqual({ status: 0, stdout: `${version}\n`, stderr: '' });
    }
  });

  it.each(COMMANDS.map((c) => [c.name, c] as const))('%s: help COMMAND, COMMAND --help and COMMAND -h print its usage (exit 0)', (name, spec) => {
    for (const args of [['help', name], [name, '--help'], [name, '-h'], [name, 'anything', '--bogus', '-h']]) {
      const r = cli(args);
      expect([r.status, r.stderr]).toEqual([0, '']);
      expect(r.stdout).toBe(commandHelp(spec));
      expect(firstLine(r.stdout)).toBe(`usage: ${synopsis(spec)}`);
    }
  });

  it("every option of every command is in its help, and the table's kinds and profiles are the code's", () => {
    for (const c of COMMANDS) for (const o of c.options) expect(commandHelp(c)).toContain(o.name);
    expect(COMMANDS.find((c) => c.name === 'generate')!.about).toContain(`KIND: ${WORKLOAD_KINDS.join(', ')}.`);
    expect(COMMANDS.find((c) => c.name === 'replay')!.options.find((o) => o.name === '--kernel')!.help).toContain(
      `${PROFILE_NAMES.slice(0, -1).join(', ')} or ${PROFILE_NAMES.at(-1)}`,
    );
  });
});

describe('mistakes on the command line: one line, exit 2, a suggestion for a near miss', () => {
  const rows: [args: string[], line: string][] = [
    [['repaly'], "mmuwasm: unknown command 'repaly' (did you mean 'replay'?)"],
    [['scenario'], "mmuwasm: unknown command 'scenario' (did you mean 'scenarios'?)"],
    [['bench'], "mmuwasm: unknown command 'bench' (the benchmarks run from a clone of the repository: npm run bench)"],
    [['frobnicate'], "mmuwasm: unknown command 'frobnicate' (see 'mmuwasm help')"],
    [['help', 'genrate'], "mmuwasm: unknown command 'genrate' (did you mean 'generate'?)"],
    [['--verison'], "mmuwasm: unknown option '--verison' (did you mean '--version'?)"],
    [['replay', founding, '--kernle', 'v4.4'], "mmuwasm replay: unknown option '--kernle' (did you mean '--kernel'?)"],
    [['replay', founding, '--frobnicate'], "mmuwasm replay: unknown option '--frobnicate' (see 'mmuwasm replay --help')"],
    [['replay'], "mmuwasm replay: replay needs TRACE|- (see 'mmuwasm replay --help')"],
    [['replay', founding, founding], `mmuwasm replay: unexpected argument '${founding}' (replay takes TRACE|-)`],
    [['replay', founding, '--kernel'], 'mmuwasm replay: --kernel needs a value: --kernel PROFILE'],
    [['replay', founding, '--quiet=yes'], "mmuwasm replay: --quiet takes no value (got '--quiet=yes')"],
    [['replay', founding, '--kernel', 'v4.4', '--kernel=v4.19'], 'mmuwasm replay: --kernel given twice'],
    [['replay', founding, '--kernel', 'v9'], "mmuwasm replay: --kernel: unknown profile 'v9' (profiles: v4.4, v4.19, v5.16, v6.1, v6.18)"],
    [['replay', founding, '--fix', '017b1660df89'], "mmuwasm replay: --fix: takes ID=on or ID=off with a 12-hex-digit commit id (got '017b1660df89')"],
    [['replay', founding, '--fix=0123456789ab=on'], "mmuwasm replay: --fix: unknown fix 0123456789ab (run 'mmuwasm profiles' for the list)"],
    [['replay', founding, '--kernel', 'v4.4', '--fix', '5f32b265400d=on'],
      'mmuwasm replay: --fix: fix 5f32b265400d (mm/mmu_notifier: kill invalidate_page) needs fix 369ea8242c0f (mm/rmap: update to new mmu_notifier semantic v2), which is off in this replay (profile v4.4)'],
    [['replay', founding, '--workers', '0x10'], "mmuwasm replay: --workers: takes a whole number from 1 to 256 (got '0x10')"],
    [['replay', founding, '--tlb', 'big'], "mmuwasm replay: --tlb: takes retentive (the oracle's view, the default) or capacity (the real geometry, for statistics), not 'big'"],
    [['replay', founding, '--json='], 'mmuwasm replay: --json: needs a file name, or - for standard output'],
    [['scenarios', '--kernel', 'v4.4,v5'], "mmuwasm scenarios: --kernel: unknown profile 'v5' (profiles: v4.4, v4.19, v5.16, v6.1, v6.18)"],
    [['scenarios', '--json'], 'mmuwasm scenarios: --json needs a value: --json FILE|-'],
    [['profiles', 'extra'], "mmuwasm profiles: takes no operands (got 'extra')"],
    [['profiles', '--jsn', '-'], "mmuwasm profiles: unknown option '--jsn' (did you mean '--json'?)"],
    [['convert', founding], "mmuwasm convert: convert needs OUT (see 'mmuwasm convert --help')"],
    [['convert', founding, founding], 'mmuwasm convert: the output would overwrite the input'],
    [['convert', founding, 'out.txt'], "mmuwasm convert: 'out.txt': the output's extension names its form (.jsonl, .jsonl.gz, .mmtrace, .mmtrace.gz)"],
    [['convert', founding, 'x.jsonl', '--expnad'], "mmuwasm convert: unknown option '--expnad' (did you mean '--expand'?)"],
    [['generate', 'databse', '-o', 'x.jsonl'], "mmuwasm generate: unknown workload 'databse' (kinds: database, kvm, migration-storm, random-anon)"],
    [['generate', 'database'], 'mmuwasm generate: generate needs an output file: -o FILE'],
    [['generate', 'database', '--seeds', '3', '-o', 'x.jsonl'], "mmuwasm generate: unknown option '--seeds' (did you mean '--seed'?)"],
    [['import', 'strace', lackeyLog], "mmuwasm import: unknown import kind 'strace' (known: lackey)"],
    [['import', 'lackey', lackeyLog, '--kernel', 'v9'], "mmuwasm import: --kernel: unknown profile 'v9' (profiles: v4.4, v4.19, v5.16, v6.1, v6.18)"],
    [['import', 'lackey', lackeyLog, '--hugtlb'], "mmuwasm import: unknown option '--hugtlb' (did you mean '--hugetlb'?)"],
    [['start', 'now'], "mmuwasm start: takes no operands (got 'now')"],
    [['demo', '--fast'], "mmuwasm demo: unknown option '--fast' (see 'mmuwasm demo --help')"],
  ];
  it.each(rows)('%j', (args, line) => {
    const r = cli(args);
    expect(r).toEqual({ status: 2, stdout: '', stderr: `${line}\n` });
  });

  it('every option of every command, one transposition away, is suggested', () => {
    for (const c of COMMANDS) {
      for (const o of c.options) {
        const slip = `${o.name.slice(0, -2)}${o.name.at(-1)}${o.name.at(-2)}`;
        expect([c.name, nearest(slip, c.options.map((x) => x.name))]).toEqual([c.name, o.name]);
      }
    }
    expect(editDistance('repaly', 'replay')).toBe(1);
    expect(editDistance('kitten', 'sitting')).toBe(3);
  });
});

describe('--opt=value is --opt value', () => {
  it.each([
    ['replay', [founding, '--kernel=v4.4', '--fix=017b1660df89=on', '--tlb=capacity'], [founding, '--kernel', 'v4.4', '--fix', '017b1660df89=on', '--tlb', 'capacity']],
    ['generate', ['random-anon', '--accesses=300', '--size=4M', '--output=-'], ['random-anon', '--accesses', '300', '--size', '4M', '-o', '-']],
    ['profiles', ['--json=-'], ['--json', '-']],
  ] as const)('%s', (command, a, b) => {
    const x = cli([command, ...a]);
    const y = cli([command, ...b]);
    expect(x).toEqual(y);
    // generate refuses `-` as a file name: the same refusal both ways; the others succeed alike.
    expect(x.status).toBe(command === 'generate' ? 2 : 0);
  });
});

describe('--json - writes only JSON to standard output', () => {
  it('replay: the summary goes to standard error, standard output parses as the report', () => {
    const r = cli(['replay', founding, '--kernel', 'v4.4', '--json', '-']);
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout).violations.map((v: { kind: string }) => v.kind)).toEqual(['lost-write', 'stale-tlb']);
    expect(firstLine(r.stderr)).toBe(`${founding} — kernel v4.4`);
  });

  it('scenarios: the verdict table goes to standard error', () => {
    const r = cli(['scenarios', oneScenario, '--kernel', 'v4.4,v4.19', '--json', '-']);
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout).verdicts.map((v: { kernel: string; status: number; violations: number }) => [v.kernel, v.status, v.violations])).toEqual([['v4.4', 0, 2], ['v4.19', 0, 0]]);
    expect(firstLine(r.stderr)).toBe('scenario                 v4.4       v4.19');
  });

  it('profiles: the profiles and fixes', () => {
    const r = cli(['profiles', '--json', '-']);
    expect([r.status, r.stderr]).toEqual([0, '']);
    expect(Object.keys(JSON.parse(r.stdout).profiles)).toEqual(PROFILE_NAMES);
  });
});

describe('replay - reads standard input', () => {
  it('JSON Lines, gzip and binary alike; errors name standard input', () => {
    const text = readFileSync(founding);
    const a = cli(['replay', '-', '--kernel', 'v4.4', '--json', '-', '--quiet'], { input: text });
    expect(a.status).toBe(0);
    expect(JSON.parse(a.stdout).violations.map((v: { line: number }) => v.line)).toEqual([23, 24]);
    const bin = join(dir, 'b1.mmtrace.gz');
    expect(cli(['convert', founding, bin]).status).toBe(0);
    const b = cli(['replay', '-', '--kernel', 'v4.4', '--json', '-', '--quiet'], { input: readFileSync(bin) });
    expect(JSON.parse(b.stdout)).toEqual(JSON.parse(a.stdout));
    const bad = cli(['replay', '-', '--quiet'], { input: '{"format":"mmuwasm-trace","version":1,"cpus":1}\n{"op":"nope"}\n' });
    expect(bad.status).toBe(2);
    expect(firstLine(bad.stderr)).toBe('mmuwasm replay: (standard input):2: field "op": unknown op "nope" (ops: mm, fork, exit, switch, idle, hugetlbfs, mmap, munmap, mprotect, madvise, mremap, fallocate, truncate, migrate, reclaim, khugepaged, access, gup_fast, speculative_ref, accesses, attach, device_access, resume, expect, concurrent, join)');
  });
});

describe('file-system errors: one line naming the path, exit 2, no stack trace, no report', () => {
  const rows: [args: string[], line: string][] = [
    [['replay', missing], `mmuwasm replay: ${missing}: no such file or directory`],
    [['replay', dir], `mmuwasm replay: ${dir}: is a directory`],
    [['replay', notDir], `mmuwasm replay: ${notDir}: not a directory`],
    [['replay', founding, '--quiet', '--json', noDir], `mmuwasm replay: ${noDir}: no such directory ${join(dir, 'no-such-dir')}`],
    [['replay', founding, '--quiet', '--json', '/dev/full'], 'mmuwasm replay: /dev/full: no space left on device'],
    [['replay', founding, '--quiet', '--json', dir], `mmuwasm replay: ${dir}: is a directory`],
    [['scenarios', missing], `mmuwasm scenarios: ${missing}: no such file or directory`],
    [['scenarios', founding], `mmuwasm scenarios: ${founding}: not a directory`],
    [['scenarios', oneScenario, '--kernel', 'v6.18', '--json', noDir], `mmuwasm scenarios: ${noDir}: no such directory ${join(dir, 'no-such-dir')}`],
    [['profiles', '--json', '/dev/full'], 'mmuwasm profiles: /dev/full: no space left on device'],
    [['profiles', '--json', noDir], `mmuwasm profiles: ${noDir}: no such directory ${join(dir, 'no-such-dir')}`],
    [['convert', missing, 'x.jsonl'], `mmuwasm convert: ${missing}: no such file or directory`],
    [['convert', founding, noDir], `mmuwasm convert: ${noDir}: no such directory ${join(dir, 'no-such-dir')}`],
    [['convert', founding, full('convert.jsonl')], `mmuwasm convert: ${join(dir, 'convert.jsonl')}: no space left on device`],
    [['generate', 'random-anon', '--accesses', '300', '--size', '4M', '-o', noDir], `mmuwasm generate: ${noDir}: no such directory ${join(dir, 'no-such-dir')}`],
    [['generate', 'random-anon', '--accesses', '300', '--size', '4M', '-o', full('generate.jsonl')], `mmuwasm generate: ${join(dir, 'generate.jsonl')}: no space left on device`],
    [['import', 'lackey', missing], `mmuwasm import: ${missing}: no such file or directory`],
    [['import', 'lackey', lackeyLog, '-o', noDir], `mmuwasm import: ${noDir}: no such directory ${join(dir, 'no-such-dir')}`],
    [['import', 'lackey', lackeyLog, '-o', full('import.mmtrace')], `mmuwasm import: ${join(dir, 'import.mmtrace')}: no space left on device`],
  ];
  it.each(rows)('%j', (args, line) => {
    const r = cli(args);
    expect(r).toEqual({ status: 2, stdout: '', stderr: `${line}\n` });
  });

  it('a full standard output (> /dev/full): one line, exit 2', () => {
    const fd = openSync('/dev/full', 'w');
    try {
      for (const [args, who] of [[['replay', founding, '--json', '-', '--quiet'], 'replay'], [['profiles'], 'profiles'], [['import', 'lackey', lackeyLog], 'import']] as const) {
        const r = cli(args, { stdout: fd });
        expect([who, r.status, r.stderr.split('\n').filter((l) => !l.startsWith('mmuwasm import lackey: ')).join('\n')]).toEqual([who, 2, `mmuwasm ${who}: standard output: no space left on device\n`]);
        noStack(r);
      }
    } finally {
      closeSync(fd);
    }
  });
});
