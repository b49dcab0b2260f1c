// The human summary of a replay report: what ran, every violation with its explanation, every
// expectation, and the figures a user compares profiles by. Colour only on a terminal.
import type { Report } from './engine.ts';
import { fixById } from '../kernel/fixes.ts';
import { PROFILES } from '../kernel/profiles.ts';
import { costLine, type CostBreakdown } from './cost-model.ts';
import { fidelityTable } from './fidelity.ts';

export interface Style {
  red(s: string): string;
  green(s: string): string;
  yellow(s: string): string;
  bold(s: string): string;
  dim(s: string): string;
}

export const plain: Style = { red: (s) => s, green: (s) => s, yellow: (s) => s, bold: (s) => s, dim: (s) => s };
export const ansi: Style = {
  red: (s) => `\x1b[31m${s}\x1b[39m`,
  green: (s) => `\x1b[32m${s}\x1b[39m`,
  yellow: (s) => `\x1b[33m${s}\x1b[39m`,
  bold: (s) => `\x1b[1m${s}\x1b[22m`,
  dim: (s) => `\x1b[2m${s}\x1b[22m`,
};


/** The fixes switched against the profile, as `id=on|off` words. */
export function fixOverrides(report: Report): string[] {
  const base = new Set(PROFILES[report.kernel] ?? []);
  return Object.entries(report.fixes)
    .filter(([id, on]) => on !== base.has(id))
    .map(([id, on]) => `${id}=${on ? 'on' : 'off'}`);
}

export function renderSummary(file: string, report: Report, s: Style = plain): string {
  const out: string[] = [];
  const over = fixOverrides(report);
  out.push(s.bold(`${file}`) + ` — kernel ${report.kernel}${over.length ? ` with ${over.join(' ')}` : ''}`);
  out.push(`  ${report.events} events, ${report.accesses} accesses${report.complete ? '' : s.yellow(' (incomplete)')}`);
  if (report.error) out.push(s.red(`  stopped: ${report.error.file}:${report.error.line}: ${report.error.message}`));
  if (report.violations.length === 0) out.push(s.green('  no violation'));
  else out.push(s.red(`  ${report.violations.length} violation${report.violations.length === 1 ? '' : 's'}:`));
  for (const v of report.violations) {
    const who = v.cpu !== undefined ? `CPU ${v.cpu}` : `device ${v.device}`;
    out.push(`  ${s.red(v.kind)} line ${v.line}, ${who}, ${v.mm} ${v.va}${v.fix ? s.dim(` [fix ${v.fix}: ${fixById(v.fix)?.title ?? ''}]`) : ''}`);
    out.push(`      ${v.detail}`);
  }
  for (const w of report.waited) out.push(s.dim(`  line ${w.line} waited for the operation of line ${w.behind}: ${w.reason}`));
  for (const f of report.segfaults) out.push(s.dim(`  line ${f.line}: ${f.cpu !== undefined ? `CPU ${f.cpu}` : `device ${f.device}`} got a segmentation fault at ${f.va}`));
  for (const r of report.refused ?? []) out.push(s.dim(`  line ${r.line}: ${r.op} ${r.error.startsWith('SIG') ? 'got' : 'returned'} ${r.error}: ${r.why}`));
  for (const n of report.notes) out.push(s.dim(`  line ${n.line}: ${n.text}`));
  for (const e of report.expectations) {
    const mark = !e.applies ? s.dim('–') : e.ok ? s.green('✓') : s.red('✗');
    out.push(`  ${mark} line ${e.line}: expect ${e.text}${e.applies ? '' : s.dim(' (not for this kernel)')}`);
  }
  const st = report.stats as { flush?: Record<string, number>; tlb?: Record<string, number>; notifiers?: Record<string, number>; hugetlb?: Record<string, number>; cycles?: { total: number; byKind: CostBreakdown } };
  if (st.tlb && st.flush) {
    out.push(s.dim(`  hardware: ${st.tlb.walks} walks, ${st.tlb.pageFaults} page faults, ${st.tlb.invlpg} INVLPG, ${st.tlb.cr3Flush} flushing CR3 writes, ${st.tlb.cr3NoFlush} no-flush CR3 writes`));
    out.push(s.dim(`  kernel: ${st.flush.flushes} flush_tlb_mm_range, ${st.flush.ipisSent} IPIs, ${st.flush.lazyLeaves} lazy CPUs left, ${st.hugetlb?.pmdShares ?? 0} PMD shares, ${st.hugetlb?.pmdUnshares ?? 0} unshares, ${st.hugetlb?.migrations ?? 0} migrations`));
  }
  if (st.cycles) out.push(s.dim(`  ${costLine(st.cycles)} (docs/cost-model.md)`));
  if (report.fidelity) {
    const [head, ...rest] = fidelityTable(report.fidelity);
    out.push(report.fidelity.mismatches.length ? s.yellow(head) : s.green(head), ...rest);
  }
  return out.join('\n') + '\n';
}

/** The JSON report (BigInt counters as numbers). */
export function reportJson(report: Report): string {
  return JSON.stringify(report, (_k, v) => (typeof v === 'bigint' ? Number(v) : v), 2) + '\n';
}
