// `mmuwasm scenarios [DIR] [--kernel P[,P...]] [--fix ID=on|off]... [--json FILE|-]`: replays every
// trace of the scenario library under each profile and prints the verdicts, scenario × profile, the
// way a kernel developer checks a change. Exit 0 when every trace passes under every profile asked.
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PROFILE_NAMES } from '../kernel/profiles.ts';
import { replayFile, reportJson } from './replay-cli.ts';
import { styleFor } from './report.ts';

export const SCENARIO_DIR = fileURLToPath(new URL('../../scenarios/', import.meta.url));

export interface Verdict {
  scenario: string;
  kernel: string;
  status: 0 | 1 | 2;
  violations: number;
  expectations: number;
  failed: number;
  error?: string;
}

/** The names of traces in either form (docs/trace-binary.md), plain or gzip. */
const TRACE_NAME = /\.(jsonl|mmtrace)(\.gz)?$/;

export function listScenarios(dir = SCENARIO_DIR): string[] {
  return readdirSync(dir).filter((f) => TRACE_NAME.test(f)).sort();
}

export async function runScenarios(dir: string, kernels: string[], fixes: Record<string, boolean>): Promise<Verdict[]> {
  const out: Verdict[] = [];
  for (const f of listScenarios(dir)) {
    for (const kernel of kernels) {
      const { report, status } = await replayFile(join(dir, f), { kernel, fixes });
      out.push({
        scenario: f.replace(TRACE_NAME, ''), kernel, status, violations: report.violations.length,
        expectations: report.expectations.length, failed: report.expectations.filter((e) => !e.ok).length,
        error: report.error ? `${report.error.line}: ${report.error.message}` : undefined,
      });
    }
  }
  return out;
}

export async function runScenariosCommand(argv: string[]): Promise<number> {
  let dir = SCENARIO_DIR;
  let kernels = PROFILE_NAMES;
  const fixes: Record<string, boolean> = {};
  let json: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--kernel') {
      kernels = (argv[++i] ?? '').split(',').filter(Boolean);
      const bad = kernels.find((k) => !PROFILE_NAMES.includes(k));
      if (!kernels.length || bad) {
        console.error(`mmuwasm scenarios: --kernel takes profiles from ${PROFILE_NAMES.join(', ')} (got '${argv[i] ?? ''}')`);
        return 2;
      }
    } else if (a === '--fix') {
      const m = /^([0-9a-f]{12})=(on|off)$/.exec(argv[++i] ?? '');
      if (!m) {
        console.error(`mmuwasm scenarios: --fix takes ID=on or ID=off (got '${argv[i] ?? ''}')`);
        return 2;
      }
      fixes[m[1]] = m[2] === 'on';
    } else if (a === '--json') json = argv[++i];
    else if (a.startsWith('-')) {
      console.error(`mmuwasm scenarios: unknown option '${a}'`);
      return 2;
    } else dir = a;
  }
  const verdicts = await runScenarios(dir, kernels, fixes);
  const s = styleFor(process.stdout);
  const names = [...new Set(verdicts.map((v) => v.scenario))];
  const width = Math.max(8, ...names.map((n) => n.length));
  process.stdout.write(`${'scenario'.padEnd(width)}  ${kernels.map((k) => k.padEnd(10)).join(' ')}\n`);
  for (const n of names) {
    const cells = kernels.map((k) => {
      const v = verdicts.find((x) => x.scenario === n && x.kernel === k)!;
      const word = v.status === 0 ? (v.violations ? `pass ${v.violations}v` : 'pass') : v.status === 1 ? 'FAIL' : 'ERROR';
      const cell = word.padEnd(10);
      return v.status === 0 ? s.green(cell) : s.red(cell);
    });
    process.stdout.write(`${n.padEnd(width)}  ${cells.join(' ')}\n`);
  }
  for (const v of verdicts.filter((x) => x.status !== 0)) {
    process.stdout.write(s.red(`  ${v.scenario} under ${v.kernel}: ${v.status === 2 ? `line ${v.error}` : `${v.failed} of ${v.expectations} expectations failed (${v.violations} violations)`}\n`));
  }
  process.stdout.write(s.dim('pass Nv: every expectation held, N violations reported (expected by the trace)\n'));
  if (json) {
    const text = JSON.stringify({ verdicts }, null, 2) + '\n';
    if (json === '-') process.stdout.write(text);
    else writeFileSync(json, text);
  }
  void reportJson;
  return verdicts.every((v) => v.status === 0) ? 0 : 1;
}
