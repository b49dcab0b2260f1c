// `mmuwasm scenarios [DIR] [options]` (options: src/cli/commands.ts): replays every
// trace of the scenario library under each profile and prints the verdicts, scenario × profile, the
// way a kernel developer checks a change (--html: also as a page, each cell linked to its report,
// scenarios-html.ts). Exit 0 when every trace passes under every profile asked.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { PROFILE_NAMES } from '../kernel/profiles.ts';
import { replayFile } from '../node/replay-file.ts';
import { UsageError, type ParsedArgs } from './args.ts';
import { checkProfile, fixesOf } from './kernel-options.ts';
import { checkDirectory, checkOutput, writeOutput } from './files.ts';
import { styleFor } from './style.ts';
import { packageRoot } from './package-root.ts';
import type { Report } from '../replay/engine.ts';

/** The scenario library shipped with the package. */
export const SCENARIO_DIR = join(packageRoot(), 'scenarios');

export interface Verdict {
  scenario: string;
  kernel: string;
  /** As replay's exit status: 3 is a bug of mmuwasm. */
  status: 0 | 1 | 2 | 3;
  violations: number;
  expectations: number;
  failed: number;
  error?: string;
}

/** The names of traces in either form (docs/trace-binary.md), plain or gzip. */
export const TRACE_NAME = /\.(jsonl|mmtrace)(\.gz)?$/;

export function listScenarios(dir = SCENARIO_DIR): string[] {
  return readdirSync(dir).filter((f) => TRACE_NAME.test(f)).sort();
}

export async function runScenarios(dir: string, kernels: string[], fixes: Record<string, boolean>): Promise<Verdict[]> {
  const out: Verdict[] = [];
  for (const f of listScenarios(dir)) {
    for (const kernel of kernels) {
      const { report, status } = await replayFile(join(dir, f), { kernel, fixes });
      out.push(verdictOf(f.replace(TRACE_NAME, ''), kernel, status, report));
    }
  }
  return out;
}

/** A cell of the table: one scenario's report under one profile. */
export function verdictOf(scenario: string, kernel: string, status: Verdict['status'], report: Report): Verdict {
  return {
    scenario, kernel, status, violations: report.violations.length,
    expectations: report.expectations.length, failed: report.expectations.filter((e) => !e.ok).length,
    error: report.error ? `${report.error.line}: ${report.error.message}` : undefined,
  };
}

export async function runScenariosCommand(p: ParsedArgs): Promise<number> {
  const dir = p.operands[0] ?? SCENARIO_DIR;
  let kernels = PROFILE_NAMES;
  const k = p.get('--kernel');
  if (k !== undefined) {
    kernels = k.split(',').filter(Boolean);
    if (!kernels.length) throw new UsageError(`--kernel: takes profiles from ${PROFILE_NAMES.join(', ')}, comma-separated (got '${k}')`);
    for (const name of kernels) checkProfile(name);
  }
  const fixes = fixesOf(p, kernels);
  const json = p.get('--json');
  if (json === '') throw new UsageError('--json: needs a file name, or - for standard output');
  const html = p.get('--html');
  if (html === '' || html === '-') throw new UsageError('--html: needs a file name (FILE.html) or a directory');
  checkDirectory(dir);
  if (json) checkOutput(json);
  if (html) checkOutput(html);
  let verdicts: Verdict[];
  if (html) {
    // Each cell's replay records its timeline: the table links every cell to its HTML report.
    const { writeScenariosHtml } = await import('./scenarios-html.ts');
    const written = await writeScenariosHtml(dir, kernels, fixes, html);
    verdicts = written.verdicts;
    console.error(`mmuwasm scenarios: the HTML table is ${written.index}`);
  } else verdicts = await runScenarios(dir, kernels, fixes);
  // With the JSON on standard output, the table goes to standard error: `--json - | jq` reads JSON only.
  const to = json === '-' ? process.stderr : process.stdout;
  const s = styleFor(to);
  const names = [...new Set(verdicts.map((v) => v.scenario))];
  const width = Math.max(8, ...names.map((n) => n.length));
  to.write(`${'scenario'.padEnd(width)}  ${kernels.map((k) => k.padEnd(10)).join(' ')}`.trimEnd() + '\n');
  for (const n of names) {
    const cells = kernels.map((k) => {
      const v = verdicts.find((x) => x.scenario === n && x.kernel === k)!;
      const word = v.status === 0 ? (v.violations ? `pass ${v.violations}v` : 'pass') : v.status === 1 ? 'FAIL' : v.status === 3 ? 'BUG' : 'ERROR';
      const cell = word.padEnd(10);
      return v.status === 0 ? s.green(cell) : s.red(cell);
    });
    to.write(`${n.padEnd(width)}  ${cells.join(' ')}\n`);
  }
  for (const v of verdicts.filter((x) => x.status !== 0)) {
    to.write(s.red(`  ${v.scenario} under ${v.kernel}: ${v.status >= 2 ? `line ${v.error}` : `${v.failed} of ${v.expectations} expectations failed (${v.violations} violations)`}\n`));
  }
  to.write(s.dim('pass Nv: every expectation held, N violations reported (expected by the trace)\n'));
  if (json) writeOutput(json, JSON.stringify({ verdicts }, null, 2) + '\n');
  return verdicts.some((v) => v.status === 3) ? 3 : verdicts.every((v) => v.status === 0) ? 0 : 1;
}
