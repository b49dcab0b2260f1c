// `npm start`: the founding bug replayed under v4.4 and v4.19 side by side, then a generated
// database-style workload under the default profile with its statistics, and last the explorer
// finding the founding bug by itself from the workload alone (no schedule written).
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { replayFile } from '../node/replay-file.ts';
import { renderSummary } from '../replay/report.ts';
import { styleFor } from './style.ts';
import { SCENARIO_DIR } from './scenarios.ts';
import { WORKLOAD_DEFAULTS, writeWorkload } from '../workloads/workloads.ts';
import { writerFor } from '../node/trace-files.ts';
import { DEFAULT_PROFILE } from '../kernel/profiles.ts';
import type { Report } from '../replay/engine.ts';
import type { Style } from '../replay/report.ts';
import { readFileSync } from 'node:fs';
import { exploreLines } from '../explore/parallel.ts';
import { renderExplore } from './explore.ts';

export async function runMainJob(): Promise<number> {
  const s = styleFor(process.stdout);
  const founding = join(SCENARIO_DIR, 'b1-shared-pmd-migration.jsonl');
  process.stdout.write(
    'mmuwasm replays traces of kernel events and memory accesses through an x86-64 MMU emulated in WebAssembly (page\n' +
    'walks, TLBs, invalidations) under a model of Linux memory management. A violation is a use of a cached translation\n' +
    'that a correct kernel would have invalidated first, and the report names the flush that was missing.\n\n',
  );
  process.stdout.write(s.bold('The founding case: migrating a hugetlb page whose PMD page is shared (fix 017b1660df89)\n\n'));
  let status = 0;
  const reports: Report[] = [];
  for (const kernel of ['v4.4', 'v4.19']) {
    const r = await replayFile(founding, { kernel });
    process.stdout.write(renderSummary(`scenarios/b1-shared-pmd-migration.jsonl`, r.report, s) + '\n');
    reports.push(r.report);
    if (r.status !== 0) status = 1;
  }
  process.stdout.write(sideBySide(reports, s) + '\n');
  const dir = mkdtempSync(join(tmpdir(), 'mmuwasm-'));
  try {
    // The same workload as `mmuwasm generate database` with its defaults.
    const path = join(dir, 'database.mmtrace');
    const o = WORKLOAD_DEFAULTS.database;
    const w = writerFor(path);
    try {
      writeWorkload('database', o, w);
    } finally {
      w.close();
    }
    process.stdout.write(s.bold(`A generated database workload: ${o.processes} processes share a ${o.size >> 30n} GiB hugetlbfs segment on ${o.cpus} CPUs, ${o.accesses} accesses, with migrations and a hole punch (kernel ${DEFAULT_PROFILE})\n\n`));
    const started = Date.now();
    const r = await replayFile(path, {});
    const secs = (Date.now() - started) / 1000;
    process.stdout.write(renderSummary('generated database workload', r.report, s));
    const st = r.report.stats as { perCpu: { cpu: number; accesses: number; walks: number; ipisReceived: number; invlpg: number; fullFlushes: number }[] };
    process.stdout.write('  cpu  accesses    walks  IPIs in  INVLPG  full flushes\n');
    for (const c of st.perCpu) {
      process.stdout.write(`  ${String(c.cpu).padStart(3)}  ${String(c.accesses).padStart(8)}  ${String(c.walks).padStart(7)}  ${String(c.ipisReceived).padStart(7)}  ${String(c.invlpg).padStart(6)}  ${String(c.fullFlushes).padStart(12)}\n`);
    }
    process.stdout.write(s.dim(`  replayed in ${secs.toFixed(2)} s\n`));
    if (r.status !== 0) status = 1;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const explored = await exploreFounding(s);
  const [v44, v419] = reports;
  const lost = v44.violations.some((v) => v.kind === 'lost-write') && !v419.violations.length;
  const ok = status === 0 && lost && explored === 0;
  process.stdout.write('\n' + (ok
    ? s.green(`verdict: as expected — v4.4 loses the write (fix 017b1660df89 missing), v4.19 does not, the explorer finds it by itself, and the generated workload is clean under ${DEFAULT_PROFILE}\n`)
    : s.red('verdict: NOT as expected — an expectation failed above (exit 1)\n')));
  return ok ? 0 : 1;
}

/**
 * The founding case as a workload (scenarios/explore/b1-shared-pmd-migration.jsonl): the explorer
 * searches every schedule itself, finds the lost write under v4.4 and prints its smallest schedule as
 * the trace that replays it; under v4.19 it finds nothing. 0 when it did both.
 */
async function exploreFounding(s: Style): Promise<number> {
  const rel = 'scenarios/explore/b1-shared-pmd-migration.jsonl';
  const lines = readFileSync(join(SCENARIO_DIR, 'explore', 'b1-shared-pmd-migration.jsonl'), 'utf8').split('\n');
  process.stdout.write('\n' + s.bold('The explorer: the same workload with no schedule written; every schedule with at most 2 preemptions\n\n'));
  const bad = await exploreLines(lines, rel, { kernel: 'v4.4' });
  const good = await exploreLines(lines, rel, { kernel: 'v4.19' });
  process.stdout.write(renderExplore(rel, [bad, good], s) + '\n');
  const lost = bad.findings.find((f) => f.kind === 'lost-write');
  if (!lost || good.findings.length) return 1;
  process.stdout.write(s.bold(`The smallest schedule that loses the write under v4.4, as a trace ('mmuwasm replay' reproduces it):\n\n`));
  process.stdout.write(lost.trace.split('\n').map((l) => `  ${l}`).join('\n').trimEnd() + '\n');
  return 0;
}

/** The figures that differ between the two kernels on the founding case, one column per kernel. */
function sideBySide(reports: Report[], s: Style): string {
  type St = { flush: Record<string, number>; hugetlb: Record<string, number>; notifiers: Record<string, number> };
  const rows: [string, (r: Report) => string][] = [
    ['fix 017b1660df89', (r) => (r.fixes['017b1660df89'] ? 'yes' : 'no')],
    ['violations', (r) => (r.violations.length ? r.violations.map((v) => v.kind).join(', ') : 'none')],
    ['CPU 1 write after the copy', (r) => (r.waited.length ? 'waited for the migration' : r.violations.some((v) => v.kind === 'lost-write') ? 'lost (went to the old page)' : 'no wait')],
    ['PMD unshares', (r) => String((r.stats as St).hugetlb.pmdUnshares)],
    ['flush_tlb_mm_range calls', (r) => String((r.stats as St).flush.flushes)],
    ['IPIs sent', (r) => String((r.stats as St).flush.ipisSent)],
  ];
  const w0 = Math.max(...rows.map(([n]) => n.length));
  const cells = rows.map(([, f]) => reports.map(f));
  const w = reports.map((_, i) => Math.max(reports[i].kernel.length, ...cells.map((c) => c[i].length)));
  const line = (a: string, b: string[]) => `  ${a.padEnd(w0)}  ${b.map((x, i) => x.padEnd(w[i])).join('  ')}`.trimEnd();
  return [s.bold(line('side by side', reports.map((r) => r.kernel))), ...rows.map(([n], j) => line(n, cells[j]))].join('\n') + '\n';
}
