// `mmuwasm scenarios --html FILE|DIR`: the scenario × profile table as HTML, each cell linked to the
// HTML report of its replay. A name ending in .html is one file (every report inside it); anything
// else is a folder that gets index.html and one page per cell.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readTrace } from '../node/read-trace.ts';
import { replayTraceWithTimeline, type TimelineReport } from '../report/replay-report.ts';
import { renderReportHtml } from '../report/html.ts';
import { cellFile, renderTableHtml, renderTableWithReportsHtml } from '../report/table-html.ts';
import { listScenarios, TRACE_NAME, verdictOf, type Verdict } from './scenarios.ts';

export async function writeScenariosHtml(dir: string, kernels: string[], fixes: Record<string, boolean>, out: string): Promise<{ verdicts: Verdict[]; index: string }> {
  const single = out.endsWith('.html');
  const verdicts: Verdict[] = [];
  const reports = new Map<string, TimelineReport>();
  if (!single) mkdirSync(out, { recursive: true });
  for (const f of listScenarios(dir)) {
    const scenario = f.replace(TRACE_NAME, '');
    for (const kernel of kernels) {
      const path = join(dir, f);
      // A folder's pages are written as each replay ends; one file keeps the reports until the end.
      const { report, status } = await replayTraceWithTimeline(readTrace(path), path, { kernel, fixes, maxItems: single ? 4000 : undefined });
      verdicts.push(verdictOf(scenario, kernel, status, report));
      if (single) reports.set(`${scenario}/${kernel}`, report);
      else writeFileSync(join(out, cellFile({ scenario, kernel })), renderReportHtml(report, `${scenario} under ${kernel}`, { href: 'index.html', text: '← every scenario under every profile' }));
    }
  }
  const index = single ? out : join(out, 'index.html');
  writeFileSync(index, single ? renderTableWithReportsHtml(verdicts, kernels, reports) : renderTableHtml(verdicts, kernels));
  return { verdicts, index };
}
