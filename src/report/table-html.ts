// The scenario × profile table as a page: each cell says pass, FAIL or ERROR (with the violations the
// trace expects) and links to that replay's HTML report — another file of a folder, or, in one file,
// the report rendered below the table from the data the page holds (the same script as html.ts).
import { CLIENT_JS } from './client.ts';
import { REPORT_CSS } from './style.ts';
import { escapeHtml, reportData, scriptJson } from './html.ts';
import type { TimelineReport } from './replay-report.ts';

export interface Cell {
  scenario: string;
  kernel: string;
  /** As replay's exit status: 0 pass, 1 an expectation failed, 2 bad input, 3 a bug of mmuwasm. */
  status: 0 | 1 | 2 | 3;
  violations: number;
  failed: number;
  expectations: number;
  error?: string;
}

const TABLE_CSS = `
.mmt { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2937; }
.mmt h1 { font-size: 19px; margin: 0 0 4px; } .mmt p { margin: 0 0 10px; color: #4b5563; }
.mmt table { border-collapse: collapse; background: #fff; border: 1px solid #e5e7eb; }
.mmt th, .mmt td { padding: 4px 10px; border-bottom: 1px solid #f3f4f6; text-align: left; font-size: 13px; }
.mmt th { color: #4b5563; } .mmt td.name { font-family: ui-monospace, Menlo, monospace; }
.mmt a.cell { display: inline-block; min-width: 64px; padding: 2px 8px; border-radius: 5px; text-decoration: none; font-weight: 600; color: #fff; }
.mmt a.cell.pass { background: #15803d; } .mmt a.cell.fail { background: #b91c1c; } .mmt a.cell.error { background: #a16207; }
.mmt a.cell.sel { outline: 3px solid #111827; }
`;

/** What a cell says: pass (with N violations the trace expects), FAIL, ERROR, BUG (as the text table). */
export function cellWord(c: Cell): string {
  return c.status === 0 ? (c.violations ? `pass ${c.violations}v` : 'pass') : c.status === 1 ? 'FAIL' : c.status === 3 ? 'BUG' : 'ERROR';
}

/** The page of one report of the folder form: `scenario.kernel.html`. */
export function cellFile(c: { scenario: string; kernel: string }): string {
  return `${c.scenario}.${c.kernel}.html`;
}

function table(cells: Cell[], kernels: string[], href: (c: Cell) => string): string {
  const names = [...new Set(cells.map((c) => c.scenario))];
  const rows = names.map((n) => {
    const tds = kernels.map((k) => {
      const c = cells.find((x) => x.scenario === n && x.kernel === k);
      if (!c) return '<td></td>';
      const cls = c.status === 0 ? 'pass' : c.status === 1 ? 'fail' : 'error';
      const title = c.status >= 2 ? `line ${c.error}` : `${c.expectations - c.failed} of ${c.expectations} expectations held, ${c.violations} violations`;
      return `<td><a class="cell ${cls}" data-scenario="${escapeHtml(n)}" data-kernel="${escapeHtml(k)}" href="${escapeHtml(href(c))}" title="${escapeHtml(title)}">${escapeHtml(cellWord(c))}</a></td>`;
    });
    return `<tr><td class="name">${escapeHtml(n)}</td>${tds.join('')}</tr>`;
  });
  return `<table class="scenarios"><thead><tr><th>scenario</th>${kernels.map((k) => `<th>${escapeHtml(k)}</th>`).join('')}</tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function page(title: string, body: string, extraCss = ''): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">
<title>${escapeHtml(title)}</title>
<style>body { margin: 0; padding: 16px 20px; background: #f3f4f6; }${TABLE_CSS}${extraCss}</style>
</head>
<body>
${body}
</body>
</html>
`;
}

const SUMMARY = (cells: Cell[]) => {
  const bad = cells.filter((c) => c.status !== 0).length;
  return `${cells.length} replays, ${bad ? `${bad} not passing` : 'every expectation held'}. “pass Nv”: every expectation held, N violations reported (as the trace expects). Each cell links to its report.`;
};

/** The folder form's index: cells link to the pages beside it. */
export function renderTableHtml(cells: Cell[], kernels: string[], title = 'mmuwasm scenarios'): string {
  return page(title, `<div class="mmt"><h1>${escapeHtml(title)}</h1><p>${escapeHtml(SUMMARY(cells))}</p>${table(cells, kernels, cellFile)}</div>`);
}

/** One file: the table and every report, the selected one (the page's #hash) rendered below. */
export function renderTableWithReportsHtml(cells: Cell[], kernels: string[], reports: Map<string, TimelineReport>, title = 'mmuwasm scenarios'): string {
  const key = (c: { scenario: string; kernel: string }) => `${c.scenario}/${c.kernel}`;
  const data = `{${[...reports].map(([k, r]) => `${JSON.stringify(k)}:${reportData(r)}`).join(',')}}`;
  const body = `<div class="mmt"><h1>${escapeHtml(title)}</h1><p>${escapeHtml(SUMMARY(cells))}</p>${table(cells, kernels, (c) => `#${key(c)}`)}</div>
<div id="report" style="margin-top:16px"></div>
<script type="application/json" id="mmuwasm-reports">${scriptJson(data)}</script>
<script>${CLIENT_JS}</script>
<script>
(function () {
  var reports = JSON.parse(document.getElementById('mmuwasm-reports').textContent);
  function show() {
    var k = decodeURIComponent(location.hash.slice(1));
    var cells = document.querySelectorAll('a.cell');
    for (var i = 0; i < cells.length; i++) cells[i].classList.toggle('sel', cells[i].getAttribute('href') === '#' + k);
    var root = document.getElementById('report');
    if (!reports[k]) { root.textContent = ''; return; }
    MmuwasmReport.render(root, reports[k], k.replace('/', ' under '));
    root.scrollIntoView();
  }
  window.addEventListener('hashchange', show);
  show();
})();
</script>`;
  return page(title, body, REPORT_CSS);
}
