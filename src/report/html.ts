// One replay report as one self-contained HTML file: the script, the styles and the data inline, no
// request to anything when opened. The data is the JSON report with its timeline (`report.timeline`),
// exactly as `replay --json` writes it with the timeline: one source for both.
import type { TimelineReport } from './replay-report.ts';
import { CLIENT_JS } from './client.ts';
import { REPORT_CSS } from './style.ts';

/** Text for an HTML text node or attribute. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** JSON inside a <script> element: nothing in it may close the element or open a comment. */
export function scriptJson(json: string): string {
  return json.replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

/** The report as `replay --json` writes it (BigInt counters as numbers), without the indentation. */
export function reportData(report: TimelineReport): string {
  return JSON.stringify(report, (_k, v) => (typeof v === 'bigint' ? Number(v) : v));
}

export function renderReportHtml(report: TimelineReport, title: string, back?: { href: string; text: string }): string {
  // No other origin is needed: the policy says so to the browser as well.
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">
<title>${escapeHtml(title)} — mmuwasm ${escapeHtml(report.kernel)}</title>
<style>body { margin: 0; padding: 16px 20px; background: #f3f4f6; } .back { font: 13px system-ui, sans-serif; margin: 0 0 8px; }${REPORT_CSS}</style>
</head>
<body>
${back ? `<p class="back"><a href="${escapeHtml(back.href)}">${escapeHtml(back.text)}</a></p>` : ''}<div id="report"></div>
<script type="application/json" id="mmuwasm-report">${scriptJson(reportData(report))}</script>
<script>${CLIENT_JS}</script>
<script>
MmuwasmReport.render(document.getElementById('report'), JSON.parse(document.getElementById('mmuwasm-report').textContent), ${scriptJson(JSON.stringify(title))});
</script>
</body>
</html>
`;
}
