// The page of `mmuwasm serve`: drop or pick a trace (the server's scenario library is listed), pick
// profiles and fixes, and replay in the browser with the package's browser entry (dist/src/index.js,
// comlink through an import map) on Web Workers when the page is cross-origin isolated. Each replay
// records its timeline (replay-report.ts) and is drawn by the HTML report's own script (client.ts), one
// column per profile: comparing two profiles side by side is the one button "v4.4 | v4.19".
import { CLIENT_JS } from './client.ts';
import { REPORT_CSS } from './style.ts';

const PAGE_CSS = `
body { margin: 0; background: #f3f4f6; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2937; }
.app { display: grid; grid-template-columns: 290px 1fr; min-height: 100vh; }
.side { background: #fff; border-right: 1px solid #e5e7eb; padding: 14px; overflow-y: auto; max-height: 100vh; position: sticky; top: 0; box-sizing: border-box; }
.side h1 { font-size: 17px; margin: 0 0 2px; } .side h2 { font-size: 13px; margin: 14px 0 6px; color: #374151; }
.muted { color: #6b7280; font-size: 12px; }
.drop { border: 2px dashed #9ca3af; border-radius: 8px; padding: 14px 10px; text-align: center; color: #4b5563; cursor: pointer; font-size: 13px; }
.drop.over { border-color: #2563eb; background: #eff6ff; }
.scenarios { list-style: none; margin: 0; padding: 0; max-height: 260px; overflow-y: auto; border: 1px solid #e5e7eb; border-radius: 6px; }
.scenarios li button { all: unset; display: block; width: 100%; box-sizing: border-box; padding: 3px 8px; font: 12px ui-monospace, Menlo, monospace; cursor: pointer; }
.scenarios li button:hover { background: #f3f4f6; } .scenarios li button.sel { background: #dbeafe; }
.chosen { margin: 8px 0 0; font-size: 13px; word-break: break-all; } .chosen b { font-family: ui-monospace, Menlo, monospace; }
.profiles label { display: inline-block; margin: 0 10px 4px 0; font-size: 13px; }
.fixes { max-height: 220px; overflow-y: auto; font-size: 12px; }
.fixes div { display: flex; gap: 6px; align-items: center; margin: 2px 0; } .fixes select { font-size: 11px; }
.fixes code { font-size: 11px; }
.actions { display: flex; gap: 8px; margin-top: 14px; flex-wrap: wrap; }
.actions button { padding: 7px 12px; border-radius: 6px; border: 1px solid #1d4ed8; background: #2563eb; color: #fff; font-weight: 600; cursor: pointer; }
.actions button.alt { background: #fff; color: #1d4ed8; }
.actions button:disabled { opacity: .5; cursor: default; }
.main { padding: 14px 18px; min-width: 0; }
.status { margin: 0 0 10px; font-size: 13px; color: #374151; } .status.err { color: #b91c1c; }
.cols { display: grid; gap: 14px; } .col { min-width: 0; }
`;

const APP_JS = String.raw`
import * as mmuwasm from '/dist/src/index.js';
import { replayTraceWithTimeline } from '/dist/src/report/replay-report.js';

var $ = function (sel) { return document.querySelector(sel); };
var state = { name: undefined, bytes: undefined, running: false };
var status = $('#status');
function say(text, err) { status.textContent = text; status.classList.toggle('err', !!err); }

var isolated = self.crossOriginIsolated === true;
var workers = isolated ? Math.max(1, Math.min(4, (navigator.hardwareConcurrency || 2) - 1)) : 0;
$('#where').textContent = isolated
  ? 'Cross-origin isolated: the CPUs\' accesses run on ' + workers + ' Web Worker' + (workers === 1 ? '' : 's') + '.'
  : 'Not cross-origin isolated: the replay runs on the page\'s thread.';

// Profiles and fixes, from the package itself.
var profiles = mmuwasm.PROFILE_NAMES;
var pbox = $('#profiles');
profiles.forEach(function (p) {
  var l = document.createElement('label');
  var c = document.createElement('input');
  c.type = 'checkbox'; c.value = p; c.name = 'profile'; c.checked = p === 'v4.4' || p === 'v4.19';
  l.appendChild(c); l.appendChild(document.createTextNode(' ' + p));
  pbox.appendChild(l);
});
var fbox = $('#fixes');
mmuwasm.FIXES.forEach(function (f) {
  var row = document.createElement('div');
  var sel = document.createElement('select');
  sel.name = 'fix'; sel.setAttribute('data-fix', f.id);
  [['', 'profile'], ['on', 'on'], ['off', 'off']].forEach(function (o) {
    var op = document.createElement('option'); op.value = o[0]; op.textContent = o[1]; sel.appendChild(op);
  });
  var code = document.createElement('code'); code.textContent = f.id;
  var t = document.createElement('span'); t.className = 'muted'; t.textContent = f.title; t.title = f.title;
  row.appendChild(sel); row.appendChild(code); row.appendChild(t);
  fbox.appendChild(row);
});

// The scenario library of the server.
var list = $('#scenarios');
fetch('/api/scenarios').then(function (r) { return r.json(); }).then(function (lib) {
  $('#libdir').textContent = lib.dir;
  lib.scenarios.forEach(function (name) {
    var li = document.createElement('li');
    var b = document.createElement('button');
    b.type = 'button'; b.textContent = name; b.setAttribute('data-scenario', name);
    b.addEventListener('click', function () { pickScenario(name, b); });
    li.appendChild(b); list.appendChild(li);
  });
  ready();
});

function choose(name, bytes) {
  state.name = name; state.bytes = bytes;
  $('#chosen').textContent = '';
  var b = document.createElement('b'); b.textContent = name;
  $('#chosen').append('Trace: ', b, ' (' + bytes.length + ' bytes)');
  ready();
}
function pickScenario(name, button) {
  var all = list.querySelectorAll('button');
  for (var i = 0; i < all.length; i++) all[i].classList.toggle('sel', all[i] === button);
  return fetch('/scenarios/' + encodeURIComponent(name)).then(function (r) {
    if (!r.ok) throw new Error('cannot load ' + name + ': HTTP ' + r.status);
    return r.arrayBuffer();
  }).then(function (buf) { choose(name, new Uint8Array(buf)); }, function (e) { say(String(e.message || e), true); });
}
function pickFile(file) {
  file.arrayBuffer().then(function (buf) { choose(file.name, new Uint8Array(buf)); });
}
var drop = $('#drop');
var input = $('#file');
drop.addEventListener('click', function () { input.click(); });
input.addEventListener('change', function () { if (input.files && input.files[0]) pickFile(input.files[0]); });
drop.addEventListener('dragover', function (e) { e.preventDefault(); drop.classList.add('over'); });
drop.addEventListener('dragleave', function () { drop.classList.remove('over'); });
drop.addEventListener('drop', function (e) {
  e.preventDefault(); drop.classList.remove('over');
  var f = e.dataTransfer && e.dataTransfer.files && e.dataTransfer.files[0];
  if (f) pickFile(f);
});

function ready() {
  var can = !!state.bytes && !state.running;
  $('#run').disabled = !can;
  $('#compare').disabled = !can;
}

function chosenFixes() {
  var out = {};
  var sels = fbox.querySelectorAll('select');
  for (var i = 0; i < sels.length; i++) if (sels[i].value) out[sels[i].getAttribute('data-fix')] = sels[i].value === 'on';
  return out;
}

async function run(kernels) {
  if (!state.bytes || state.running) return;
  state.running = true; ready();
  var cols = $('#cols');
  cols.textContent = '';
  cols.style.gridTemplateColumns = 'repeat(' + kernels.length + ', minmax(0, 1fr))';
  var fixes = chosenFixes();
  var boxes = kernels.map(function (k) {
    var col = document.createElement('div');
    col.className = 'col'; col.setAttribute('data-kernel', k);
    col.textContent = 'replaying under ' + k + '…';
    cols.appendChild(col);
    return col;
  });
  var t0 = performance.now();
  try {
    for (var i = 0; i < kernels.length; i++) {
      say('Replaying ' + state.name + ' under ' + kernels[i] + '…');
      var out = await replayTraceWithTimeline(mmuwasm.readTraceSource(state.bytes, state.name), state.name, { kernel: kernels[i], fixes: fixes, workers: workers });
      // Side by side, the timelines come first so that they line up.
      MmuwasmReport.render(boxes[i], out.report, state.name + ' under ' + kernels[i], { timelineFirst: kernels.length > 1 });
      boxes[i].setAttribute('data-status', String(out.status));
    }
    say(state.name + ': ' + kernels.join(', ') + ' replayed in the browser in ' + Math.round(performance.now() - t0) + ' ms' + (workers ? ' (' + workers + ' Web Worker' + (workers === 1 ? '' : 's') + ')' : ''));
  } catch (e) {
    say(String((e && e.message) || e), true);
  } finally {
    state.running = false; ready();
  }
}
$('#run').addEventListener('click', function () {
  var ks = Array.prototype.slice.call(pbox.querySelectorAll('input:checked')).map(function (c) { return c.value; });
  if (!ks.length) { say('Pick at least one profile.', true); return; }
  run(ks);
});
$('#compare').addEventListener('click', function () {
  var cs = pbox.querySelectorAll('input');
  for (var i = 0; i < cs.length; i++) cs[i].checked = cs[i].value === 'v4.4' || cs[i].value === 'v4.19';
  run(['v4.4', 'v4.19']);
});
window.mmuwasmServeReady = true;
`;

export function renderServePage(): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>mmuwasm — replay in the browser</title>
<style>${PAGE_CSS}${REPORT_CSS}</style>
<script type="importmap">{ "imports": { "comlink": "/comlink/comlink.mjs" } }</script>
</head>
<body>
<div class="app">
<aside class="side">
  <h1>mmuwasm</h1>
  <div class="muted" id="where"></div>
  <h2>Trace</h2>
  <div class="drop" id="drop">Drop a trace here (.jsonl, .jsonl.gz, .mmtrace) or click to pick one</div>
  <input type="file" id="file" hidden>
  <h2>Scenario library <span class="muted" id="libdir"></span></h2>
  <ul class="scenarios" id="scenarios"></ul>
  <div class="chosen" id="chosen"></div>
  <h2>Profiles</h2>
  <div class="profiles" id="profiles"></div>
  <details><summary class="muted">Fixes (switch one on or off against the profiles)</summary><div class="fixes" id="fixes"></div></details>
  <div class="actions">
    <button type="button" id="run" disabled>Replay</button>
    <button type="button" id="compare" class="alt" disabled title="the chosen trace under v4.4 and v4.19, side by side">v4.4 | v4.19</button>
  </div>
</aside>
<main class="main">
  <p class="status" id="status">Pick a trace from the library or drop one, then replay it.</p>
  <div class="cols" id="cols"></div>
</main>
</div>
<script>${CLIENT_JS}</script>
<script type="module">${APP_JS}</script>
</body>
</html>
`;
}
