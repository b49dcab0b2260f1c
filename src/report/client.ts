// The script of an HTML report (and of `mmuwasm serve`'s page): plain browser JavaScript, kept as
// text so that it goes into the page as it is (no bundler, no network). It defines
// `MmuwasmReport.render(root, report, title)`, which draws one replay report with its timeline into
// `root`: the verdict, the violations (each a link to its moment), the timeline (a lane per CPU and
// device, zoom and pan, hover for the trace line), the cached translations at the selected moment,
// and the statistics as charts. Every element is built with textContent (the data is never parsed
// as markup). No template literals inside: the text is a String.raw template itself.
export const CLIENT_JS = String.raw`
(function () {
'use strict';
var SVGNS = 'http://www.w3.org/2000/svg';

function h(tag, attrs, kids) {
  var e = document.createElement(tag);
  setAttrs(e, attrs);
  append(e, kids);
  return e;
}
function s(tag, attrs, kids) {
  var e = document.createElementNS(SVGNS, tag);
  setAttrs(e, attrs);
  append(e, kids);
  return e;
}
function setAttrs(e, attrs) {
  if (!attrs) return;
  for (var k in attrs) {
    var v = attrs[k];
    if (v === undefined || v === null || v === false) continue;
    if (k === 'text') e.textContent = String(v);
    else if (k === 'on') { for (var ev in v) e.addEventListener(ev, v[ev]); }
    else e.setAttribute(k, String(v));
  }
}
function append(e, kids) {
  if (kids === undefined || kids === null) return;
  if (!Array.isArray(kids)) kids = [kids];
  for (var i = 0; i < kids.length; i++) {
    var c = kids[i];
    if (c === undefined || c === null || c === false) continue;
    e.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
  }
}
function fmt(n) {
  if (n === undefined || n === null) return '–';
  if (n >= 1e9) return (n / 1e9).toFixed(n >= 1e10 ? 0 : 1) + 'G';
  if (n >= 1e6) return (n / 1e6).toFixed(n >= 1e7 ? 0 : 1) + 'M';
  if (n >= 1e4) return (n / 1e3).toFixed(0) + 'k';
  return String(n);
}
function who(v) { return v.cpu !== undefined ? 'CPU ' + v.cpu : 'device ' + v.device; }

// ---- verdict ----

function verdictOf(r) {
  if (r.error) return { word: 'ERROR', cls: 'error', text: 'stopped at ' + r.error.file + ':' + r.error.line + ': ' + r.error.message };
  var failed = r.expectations.filter(function (e) { return !e.ok; }).length;
  var nv = r.violations.length;
  if (r.expectations.length === 0) {
    return nv ? { word: 'FINDING', cls: 'fail', text: nv + ' violation' + (nv === 1 ? '' : 's') } : { word: 'CLEAN', cls: 'pass', text: 'no violation' };
  }
  if (failed) return { word: 'FAIL', cls: 'fail', text: failed + ' of ' + r.expectations.length + ' expectations failed, ' + nv + ' violation' + (nv === 1 ? '' : 's') };
  return { word: 'PASS', cls: 'pass', text: 'every expectation held; ' + (nv ? nv + ' violation' + (nv === 1 ? '' : 's') + ' (as the trace expects)' : 'no violation') };
}

function render(root, r, title, opts) {
  opts = opts || {};
  root.textContent = '';
  root.classList.add('mmr');
  var tl = r.timeline || { lanes: [], items: [], end: 0, omitted: {}, snapshots: [], cpuTlb: [], flushKinds: {}, fixTitles: {} };
  var v = verdictOf(r);
  var head = h('header', { class: 'mmr-head' }, [
    h('div', { class: 'mmr-verdict ' + v.cls, 'data-verdict': v.word, text: v.word }),
    r.violations.length ? h('div', { class: 'mmr-vcount', text: r.violations.length + ' violation' + (r.violations.length === 1 ? '' : 's') }) : null,
    h('div', { class: 'mmr-title' }, [
      h('h1', { text: title || 'replay report' }),
      h('div', { class: 'mmr-sub', text: 'kernel ' + r.kernel + ' · ' + fmt(r.events) + ' events · ' + fmt(r.accesses) + ' accesses' + (r.complete ? '' : ' · incomplete') }),
      h('div', { class: 'mmr-sub', text: v.text }),
    ]),
  ]);
  root.appendChild(head);
  var state = { selected: -1, view: null };
  var timeline = timelineView(r, tl, state);
  var snap = h('section', { class: 'mmr-snap' });
  var vsec = violationsView(r, tl, function (i) { select(i); });
  var tsec = h('section', { class: 'mmr-card' }, [h('h2', { text: 'Timeline' }), timeline.el]);
  if (opts.timelineFirst) { root.appendChild(tsec); root.appendChild(vsec); } else { root.appendChild(vsec); root.appendChild(tsec); }
  root.appendChild(snap);
  root.appendChild(statsView(r, tl));
  root.appendChild(listsView(r));
  function select(i) {
    state.selected = i;
    var rows = root.querySelectorAll('.mmr-vrow');
    for (var k = 0; k < rows.length; k++) rows[k].classList.toggle('sel', Number(rows[k].getAttribute('data-v')) === i);
    timeline.focus(i);
    snapshotView(snap, r, tl, i);
  }
  timeline.onSelect = select;
  if (r.violations.length) select(0);
  else snapshotView(snap, r, tl, -1);
  timeline.draw();
  return { select: select };
}

// ---- violations ----

function violationsView(r, tl, onSelect) {
  var sec = h('section', { class: 'mmr-card' }, [h('h2', { text: 'Violations (' + r.violations.length + ')' })]);
  if (!r.violations.length) {
    sec.appendChild(h('p', { class: 'mmr-none', text: 'No translation was used, or held at a coherence point, after a correct kernel would have invalidated it.' }));
    return sec;
  }
  var tb = h('tbody');
  r.violations.forEach(function (v, i) {
    var detail = v.detail;
    var why = '';
    var k = detail.indexOf(' Why: ');
    if (k >= 0) { why = detail.slice(k + 6); detail = detail.slice(0, k + 1); }
    var fix = v.fix ? h('div', { class: 'mmr-fix' }, [h('b', { text: 'fix ' + v.fix }), ' ', (tl.fixTitles && tl.fixTitles[v.fix]) || '']) : h('div', { class: 'mmr-fix none', text: 'no fix named' });
    var row = h('tr', { class: 'mmr-vrow', 'data-v': i, on: { click: function () { onSelect(i); } } }, [
      h('td', {}, [h('a', { href: '#t-v' + i, class: 'mmr-link', text: 'line ' + v.line, on: { click: function (e) { e.preventDefault(); onSelect(i); } } })]),
      h('td', {}, [h('span', { class: 'mmr-kind', text: v.kind })]),
      h('td', { text: who(v) }),
      h('td', { text: v.mm + ' ' + v.va }),
      h('td', {}, [h('div', { text: detail }), why ? h('div', { class: 'mmr-why', text: 'Why: ' + why }) : null, fix]),
    ]);
    tb.appendChild(row);
  });
  sec.appendChild(h('table', { class: 'mmr-table mmr-violations' }, [
    h('thead', {}, h('tr', {}, [h('th', { text: 'where' }), h('th', { text: 'kind' }), h('th', { text: 'who' }), h('th', { text: 'address' }), h('th', { text: 'explanation and the fix it names' })])),
    tb,
  ]));
  return sec;
}

// ---- the timeline ----

var LANE_H = 54, LABEL_W = 96, TOP = 22;

function timelineView(r, tl, state) {
  var lanes = tl.lanes;
  var laneIx = {};
  lanes.forEach(function (l, i) { laneIx[l.id] = i; });
  var end = Math.max(1, tl.end);
  var view = { v0: -0.5, v1: end + 0.5 };
  var wrap = h('div', { class: 'mmr-tlwrap' });
  var tools = h('div', { class: 'mmr-tools' });
  var tip = h('div', { class: 'mmr-tip' });
  var svg = s('svg', { class: 'mmr-timeline', height: TOP + lanes.length * LANE_H + 8 });
  var omitted = Object.keys(tl.omitted || {});
  var api = { el: wrap, onSelect: null, draw: draw, focus: focus };
  function btn(label, title, fn) { return h('button', { type: 'button', title: title, text: label, on: { click: fn } }); }
  append(tools, [
    btn('−', 'zoom out', function () { zoom(1.6, 0.5); }),
    btn('+', 'zoom in', function () { zoom(1 / 1.6, 0.5); }),
    btn('fit', 'show everything', function () { view.v0 = -0.5; view.v1 = end + 0.5; draw(); }),
    h('span', { class: 'mmr-hint', text: 'wheel: zoom · drag: pan · hover: the trace line · click a red mark: its cached translations' }),
    omitted.length ? h('span', { class: 'mmr-omitted', text: 'past ' + tl.maxItems + ' items, left out: ' + omitted.map(function (k) { return tl.omitted[k] + ' ' + k; }).join(', ') }) : null,
  ]);
  append(wrap, [tools, svg, tip, legend()]);

  function width() { return Math.max(480, wrap.clientWidth || 960); }
  function x(t) { return LABEL_W + (t - view.v0) / (view.v1 - view.v0) * (width() - LABEL_W - 8); }
  function laneY(id) { return TOP + laneIx[id] * LANE_H; }
  function zoom(f, at) {
    var span = view.v1 - view.v0;
    var c = view.v0 + span * at;
    var ns = Math.min(end + 1, Math.max(4, span * f));
    view.v0 = c - ns * at;
    view.v1 = view.v0 + ns;
    draw();
  }
  function focus(i) {
    var m = tl.items.find(function (it) { return it.k === 'stale' && it.v === i; });
    if (!m) { draw(); return; }
    var span = Math.min(end + 1, Math.max(view.v1 - view.v0, 12));
    if (m.t < view.v0 || m.t > view.v1) { view.v0 = m.t - span / 2; view.v1 = m.t + span / 2; }
    draw();
  }
  svg.addEventListener('wheel', function (e) {
    e.preventDefault();
    var rect = svg.getBoundingClientRect();
    var at = Math.min(1, Math.max(0, (e.clientX - rect.left - LABEL_W) / (rect.width - LABEL_W - 8)));
    zoom(e.deltaY > 0 ? 1.25 : 0.8, at);
  }, { passive: false });
  var drag = null;
  svg.addEventListener('mousedown', function (e) { drag = { x: e.clientX, v0: view.v0, v1: view.v1 }; });
  window.addEventListener('mouseup', function () { drag = null; });
  window.addEventListener('mousemove', function (e) {
    if (!drag) return;
    var per = (drag.v1 - drag.v0) / (width() - LABEL_W - 8);
    var d = (e.clientX - drag.x) * per;
    view.v0 = drag.v0 - d;
    view.v1 = drag.v1 - d;
    draw();
  });
  svg.addEventListener('mousemove', function (e) {
    var t = e.target;
    while (t && t !== svg && !(t.getAttribute && t.getAttribute('data-tip'))) t = t.parentNode;
    if (!t || t === svg) { tip.style.display = 'none'; return; }
    tip.textContent = t.getAttribute('data-tip');
    tip.style.display = 'block';
    var rect = wrap.getBoundingClientRect();
    tip.style.left = Math.min(e.clientX - rect.left + 12, rect.width - 340) + 'px';
    tip.style.top = (e.clientY - rect.top + 14) + 'px';
  });
  svg.addEventListener('mouseleave', function () { tip.style.display = 'none'; });

  function draw() {
    var W = width();
    svg.setAttribute('width', W);
    svg.textContent = '';
    var defs = s('defs', {}, [
      s('marker', { id: 'mmr-arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 5, markerHeight: 5, orient: 'auto-start-reverse' }, s('path', { d: 'M0,0 L10,5 L0,10 z', fill: '#7c3aed' })),
      s('marker', { id: 'mmr-arrow-n', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 6, markerHeight: 6, orient: 'auto-start-reverse' }, s('path', { d: 'M0,0 L10,5 L0,10 z', fill: '#0d9488' })),
      s('pattern', { id: 'mmr-hatch', width: 6, height: 6, patternUnits: 'userSpaceOnUse', patternTransform: 'rotate(45)' }, s('rect', { width: 3, height: 6, fill: '#c7d2fe' })),
    ]);
    svg.appendChild(defs);
    var gl = s('g', { class: 'mmr-lanes' });
    lanes.forEach(function (l, i) {
      var y = TOP + i * LANE_H;
      gl.appendChild(s('rect', { x: 0, y: y, width: W, height: LANE_H, class: 'mmr-lane ' + l.kind + (i % 2 ? ' odd' : ''), 'data-lane': l.id }));
      gl.appendChild(s('text', { x: 8, y: y + LANE_H / 2 + 4, class: 'mmr-lanelabel', text: l.label }));
    });
    svg.appendChild(gl);
    // The axis: trace lines at the moments where they start.
    var ga = s('g', { class: 'mmr-axis' });
    var lastX = -1e9, lastLine = -1;
    for (var a = 0; a < tl.items.length; a++) {
      var it = tl.items[a];
      if (it.t < view.v0 || it.t > view.v1) continue;
      var ax = x(it.t);
      if (ax - lastX < 44 || it.line === lastLine) continue;
      lastX = ax;
      lastLine = it.line;
      ga.appendChild(s('text', { x: ax, y: 14, text: 'line ' + it.line }));
      ga.appendChild(s('line', { x1: ax, x2: ax, y1: 17, y2: TOP + lanes.length * LANE_H, class: 'mmr-grid' }));
    }
    svg.appendChild(ga);
    var gi = s('g', { class: 'mmr-items' });
    var ga2 = s('g', { class: 'mmr-arrows' });
    var last = {};
    for (var k = 0; k < tl.items.length; k++) drawItem(tl.items[k], gi, ga2, last);
    svg.appendChild(gi);
    svg.appendChild(ga2);
  }

  function visible(t0, t1) { return t1 >= view.v0 && t0 <= view.v1; }

  function drawItem(it, g, ga, last) {
    if (!(it.lane in laneIx)) return;
    var y = laneY(it.lane);
    var mid = y + LANE_H / 2;
    // Only operations and runs last: a flush's or notifier call's end is an address.
    var endT = it.k === 'op' ? (it.end !== undefined ? it.end : end) : it.k === 'access' ? it.end : it.t;
    if (!visible(it.t, endT)) return;
    // Zoomed out, many items fall on one pixel: draw the first of each pixel per lane (never skip marks).
    var px = Math.round(x(it.t));
    var key = it.lane + ':' + it.k;
    if (it.k !== 'stale' && it.k !== 'flush' && last[key] === px) return;
    last[key] = px;
    var x0 = x(it.t), x1 = Math.max(x(endT), x0 + (it.k === 'access' ? 18 : 6));
    if (it.k === 'op') {
      var gg = s('g', { class: 'mmr-op', 'data-tip': 'line ' + it.line + ': ' + it.text + (it.end === undefined ? '  (never completed)' : '') });
      gg.appendChild(s('rect', { x: x0, y: y + 12, width: x1 - x0, height: 24, rx: 4, class: 'mmr-opbar' + (it.lane === 'trace' ? ' setup' : '') }));
      // Parked stretches (from the step it parked before to its resume) and waits.
      var parkedAt = null;
      it.steps.forEach(function (st) {
        if (st.parked) parkedAt = st;
      });
      if (parkedAt) {
        var res = it.resumed.length ? it.resumed[0].t : endT;
        gg.appendChild(s('rect', { x: x(parkedAt.t), y: y + 12, width: Math.max(2, x(res) - x(parkedAt.t)), height: 24, class: 'mmr-parked', 'data-tip': 'parked before "' + parkedAt.step + '" until the resume of line ' + (it.resumed.length ? it.resumed[0].line : '?') }));
      }
      it.waited.forEach(function (w) {
        var next = it.steps.find(function (st) { return st.t > w.t; });
        var wt = next ? next.t : endT;
        gg.appendChild(s('rect', { x: x(w.t), y: y + 12, width: Math.max(3, x(wt) - x(w.t)), height: 24, class: 'mmr-wait', 'data-tip': 'waits for the operation of line ' + w.behind + ': ' + w.reason }));
      });
      it.steps.forEach(function (st) {
        var sx = x(st.t);
        gg.appendChild(s('line', { x1: sx, x2: sx, y1: y + 9, y2: y + 39, class: 'mmr-step' + (st.parked ? ' parked' : '') }));
        gg.appendChild(s('text', { x: sx + 2, y: y + 48, class: 'mmr-steplabel', text: st.step + (st.parked ? ' (parked)' : '') }));
      });
      it.resumed.forEach(function (rs) {
        gg.appendChild(s('text', { x: x(rs.t) + 2, y: y + 9, class: 'mmr-steplabel resume', text: '▶ resume (line ' + rs.line + ')' }));
      });
      gg.appendChild(s('text', { x: x0 + 4, y: y + 28, class: 'mmr-oplabel', text: it.op + (it.id ? ' ' + it.id : '') }));
      g.appendChild(gg);
    } else if (it.k === 'access') {
      var hits = it.hits['4K'] + it.hits['2M'] + it.hits['1G'];
      var tipA = 'lines ' + it.line + (it.last !== it.line ? '–' + it.last : '') + ': ' + fmt(it.count) + ' access' + (it.count === 1 ? '' : 'es') + ' · TLB hits 4K ' + fmt(it.hits['4K']) + ', 2M ' + fmt(it.hits['2M']) + ', 1G ' + fmt(it.hits['1G']) + ' · misses ' + fmt(it.misses) + ' · walks ' + fmt(it.walks) + (it.faults ? ' · ' + fmt(it.faults) + ' page faults within' : '');
      g.appendChild(s('rect', { x: x0, y: y + 18, width: x1 - x0, height: 14, rx: 3, class: 'mmr-access' + (it.faults ? ' faulty' : ''), 'data-tip': tipA }));
      if (x1 - x0 > 30) g.appendChild(s('text', { x: x0 + 3, y: y + 29, class: 'mmr-acclabel', text: fmt(it.count) + (hits + it.misses ? ' · ' + Math.round(100 * hits / (hits + it.misses)) + '% hit' : '') }));
    } else if (it.k === 'fault' || it.k === 'segv') {
      var tf = (it.k === 'fault' ? 'page fault' : 'segmentation fault') + ' at ' + it.va + ' (line ' + it.line + ')' + (it.count > 1 ? ' ×' + it.count : '');
      if (it.k === 'fault') g.appendChild(s('path', { d: 'M' + (x0 - 6) + ',' + (y + 4) + ' h12 l-6,10 z', class: 'mmr-fault', 'data-tip': tf }));
      else g.appendChild(s('text', { x: x0 - 5, y: y + 14, class: 'mmr-segv', 'data-tip': tf, text: '✕' }));
    } else if (it.k === 'switch' || it.k === 'idle') {
      g.appendChild(s('g', { 'data-tip': 'line ' + it.line + ': ' + it.text }, [
        s('line', { x1: x0, x2: x0, y1: y + 6, y2: y + LANE_H - 6, class: 'mmr-switch' }),
        s('text', { x: x0 + 3, y: y + 14, class: 'mmr-switchlabel', text: it.k === 'switch' ? '→ ' + it.mm : 'idle' }),
      ]));
    } else if (it.k === 'flush') {
      var tfl = 'line ' + it.line + ': CPU ' + it.lane.slice(3) + ' flushes ' + (it.kind === 'sync' ? '(an empty IPI to wait out page-table walkers)' : it.kind + (it.mm ? ' of ' + it.mm : '') + (it.kind === 'full' ? '' : ' ' + it.start + '–' + it.end)) + (it.batched ? ' (the deferred batch of reclaim)' : '') + (it.local ? ', its own TLB too' : '') + ' · IPIs to ' + (it.ipis.length ? it.ipis.map(function (c) { return 'CPU ' + c; }).join(', ') : 'no CPU') + (it.count > 1 ? ' · ×' + it.count : '');
      // Flushes close together on a lane: their labels alternate above and below the mark.
      var below = last[it.lane + ':flushlabel'] !== undefined && x0 - last[it.lane + ':flushlabel'] < 70 && !last[it.lane + ':flushbelow'];
      last[it.lane + ':flushlabel'] = x0;
      last[it.lane + ':flushbelow'] = below;
      g.appendChild(s('g', { class: 'mmr-flush', 'data-tip': tfl, 'data-kind': it.kind }, [
        s('path', { d: 'M' + x0 + ',' + (mid - 9) + ' l9,9 l-9,9 l-9,-9 z', class: 'mmr-flushmark ' + it.kind }),
        s('text', { x: x0 + 11, y: below ? mid + 19 : mid - 10, class: 'mmr-flushlabel', text: 'flush ' + it.kind + (it.mm ? ' ' + it.mm : '') }),
      ]));
      // Zoomed far out, arrows are hairlines (zoom in to see their heads).
      var far = (x(1) - x(0)) < 3;
      it.ipis.forEach(function (c) {
        var ty = laneY('cpu' + c) + LANE_H / 2;
        ga.appendChild(s('line', { x1: x0, y1: mid + (ty > mid ? 9 : -9), x2: x0 + (far ? 2 : 10), y2: ty + (ty > mid ? -8 : 8), class: 'mmr-ipi' + (far ? ' far' : ''), 'marker-end': far ? undefined : 'url(#mmr-arrow)', 'data-from': it.lane.slice(3), 'data-to': c, 'data-tip': 'IPI from CPU ' + it.lane.slice(3) + ' to CPU ' + c + ' (line ' + it.line + ')' }));
      });
    } else if (it.k === 'notify') {
      var tn = 'line ' + it.line + ': ' + it.call + '(' + it.mm + ', ' + it.start + ', ' + it.end + ')' + (it.count > 1 ? ' ×' + it.count : '') + (it.from !== undefined ? ' from CPU ' + it.from : '');
      g.appendChild(s('circle', { cx: x0, cy: mid, r: 6, class: 'mmr-notify', 'data-tip': tn, 'data-call': it.call }));
      if (it.from !== undefined && ('cpu' + it.from) in laneIx) {
        var fy = laneY('cpu' + it.from) + LANE_H / 2;
        ga.appendChild(s('line', { x1: x0 - 6, y1: fy, x2: x0, y2: mid + (fy > mid ? 7 : -7), class: 'mmr-notifyarrow', 'marker-end': 'url(#mmr-arrow-n)' }));
      }
    } else if (it.k === 'stale') {
      var v = r.violations[it.v];
      var sel = state.selected === it.v;
      g.appendChild(s('g', { class: 'mmr-stale' + (sel ? ' sel' : ''), id: 't-v' + it.v, 'data-v': it.v, 'data-tip': 'line ' + it.line + ': ' + it.kind + ' — ' + (v ? v.detail : ''), on: { click: function () { if (api.onSelect) api.onSelect(it.v); } } }, [
        s('circle', { cx: x0, cy: mid + 12, r: sel ? 10 : 8, class: 'mmr-stalemark' }),
        s('text', { x: x0, y: mid + 16, class: 'mmr-staletext', text: '!' }),
        s('text', { x: x0 + 12, y: mid + 20, class: 'mmr-stalelabel', text: it.kind }),
      ]));
    }
  }
  function legend() {
    function item(cls, label) { return h('span', { class: 'mmr-leg' }, [h('i', { class: cls }), label]); }
    return h('div', { class: 'mmr-legend' }, [
      item('op', 'operation (ticks: its steps)'), item('parked', 'parked'), item('wait', 'waiting'), item('access', 'accesses (one run)'),
      item('fault', 'page fault'), item('flush', 'flush'), item('ipi', 'IPI'), item('notify', 'notifier call'), item('stale', 'stale use (violation)'),
    ]);
  }
  return api;
}

// ---- cached translations at the selected moment ----

function snapshotView(sec, r, tl, i) {
  sec.textContent = '';
  sec.className = 'mmr-card mmr-snap';
  sec.appendChild(h('h2', { text: 'Cached translations at the selected moment' }));
  var snap = (tl.snapshots || []).find(function (x) { return x.violation === i; });
  if (i < 0 || !snap) {
    sec.appendChild(h('p', { class: 'mmr-none', text: i < 0 ? 'No violation: no moment to show.' : 'No snapshot kept for this violation (only the first ' + (tl.snapshots || []).length + ' get one).' }));
    return;
  }
  var v = r.violations[i];
  sec.appendChild(h('p', { class: 'mmr-moment', text: 'Line ' + snap.line + ', ' + v.kind + ' on ' + who(v) + ' at ' + snap.va + ': what every CPU and device caches for ' + snap.va + ', and what the page tables say.' }));
  var tb = h('tbody');
  function verdict(e) { return e.freed ? 'stale: frame freed or reused' : e.agrees ? 'agrees' : 'stale: the tables say otherwise'; }
  snap.cpus.forEach(function (c) {
    var state = 'CR3: ' + c.loaded + (c.lazy ? ' (lazy)' : '');
    if (!c.tlb.length && !c.psc.length) tb.appendChild(h('tr', { class: 'empty' }, [h('td', { text: 'CPU ' + c.cpu }), h('td', { text: state }), h('td', { colspan: 5, class: 'mmr-none', text: 'nothing cached for this address' })]));
    c.tlb.forEach(function (e) {
      tb.appendChild(h('tr', { class: e.agrees && !e.freed ? 'ok' : 'bad' }, [
        h('td', { text: 'CPU ' + c.cpu }), h('td', { text: state }), h('td', { text: 'TLB ' + e.array + ' (' + e.size + ')' }),
        h('td', { text: e.va + ' pcid ' + e.pcid + (e.mm ? ' (' + e.mm + ')' : '') }), h('td', { text: '→ frame ' + e.frame }),
        h('td', { text: (e.writable ? 'W' : 'R') + (e.dirty ? 'D' : '') + (e.global ? 'G' : '') }), h('td', { text: verdict(e) }),
      ]));
    });
    c.psc.forEach(function (e) {
      tb.appendChild(h('tr', { class: e.agrees && !e.freed ? 'ok' : 'bad' }, [
        h('td', { text: 'CPU ' + c.cpu }), h('td', { text: state }), h('td', { text: 'PSC ' + e.array.toUpperCase() }),
        h('td', { text: e.va + ' pcid ' + e.pcid + (e.mm ? ' (' + e.mm + ')' : '') }), h('td', { text: '→ ' + e.level.toUpperCase() + ' table ' + e.table }),
        h('td', { text: '' }), h('td', { text: verdict(e) }),
      ]));
    });
  });
  snap.devices.forEach(function (d) {
    if (!d.entries.length) tb.appendChild(h('tr', { class: 'empty' }, [h('td', { text: 'device ' + d.device }), h('td', { text: d.kind + ' of ' + d.mm }), h('td', { colspan: 5, class: 'mmr-none', text: 'nothing cached for this address' })]));
    d.entries.forEach(function (e) {
      tb.appendChild(h('tr', { class: e.agrees && !e.freed ? 'ok' : 'bad' }, [
        h('td', { text: 'device ' + d.device }), h('td', { text: d.kind + ' of ' + d.mm }), h('td', { text: 'device TLB (' + e.size + ')' }),
        h('td', { text: e.va + ' (filled at line ' + e.filledAt + ')' }), h('td', { text: '→ frame ' + e.frame }), h('td', { text: e.writable ? 'W' : 'R' }), h('td', { text: verdict(e) }),
      ]));
    });
  });
  sec.appendChild(h('table', { class: 'mmr-table mmr-cached' }, [
    h('thead', {}, h('tr', {}, ['who', 'state', 'cache', 'tag', 'points at', 'rights', 'against the tables'].map(function (t) { return h('th', { text: t }); }))),
    tb,
  ]));
  var pt = h('div', { class: 'mmr-walks' });
  snap.tables.forEach(function (t) {
    var steps = t.walk.map(function (l) {
      return h('span', { class: 'mmr-walkstep' + (l.present ? '' : ' np') + (l.leaf ? ' leaf' : ''), title: l.level + ' table ' + l.table + ' index ' + l.index },
        l.level.toUpperCase() + ' ' + l.table + '[' + l.index + '] = ' + l.entry + (l.present ? '' : l.migration ? ' (a migration entry)' : ' (not present)'));
    });
    pt.appendChild(h('div', { class: 'mmr-walk' }, [
      h('b', { text: t.mm + ': ' }), h('span', {}, steps),
      h('span', { class: 'mmr-maps', text: t.maps ? ' ⇒ frame ' + t.maps.frame + ' (' + t.maps.size + (t.maps.writable ? ', writable' : ', read-only') + ')' : ' ⇒ nothing mapped' }),
    ]));
  });
  sec.appendChild(h('h3', { text: 'What the page tables say for ' + snap.va }));
  sec.appendChild(pt);
}

// ---- statistics ----

function barChart(title, groups, series, opts) {
  // groups: [{label, values: [..per series]}]; series: [{name, cls}]
  opts = opts || {};
  var W = 340, barH = 16, gap = 10, left = 70, top = 26;
  var max = 1;
  groups.forEach(function (g) {
    var sum = g.values.reduce(function (a, b) { return a + b; }, 0);
    max = Math.max(max, opts.stacked ? sum : Math.max.apply(null, g.values.concat([0])));
  });
  var rows = opts.stacked ? 1 : series.length;
  var H = top + groups.length * (rows * barH + gap) + 24;
  var svg = s('svg', { class: 'mmr-chart', width: W, height: H, 'data-chart': title });
  svg.appendChild(s('text', { x: 0, y: 14, class: 'mmr-charttitle', text: title }));
  groups.forEach(function (g, gi) {
    var y = top + gi * (rows * barH + gap);
    svg.appendChild(s('text', { x: left - 6, y: y + barH - 4, 'text-anchor': 'end', class: 'mmr-chartlabel', text: g.label }));
    var x = left;
    g.values.forEach(function (val, si) {
      var w = (W - left - 60) * val / max;
      var yy = opts.stacked ? y : y + si * barH;
      svg.appendChild(s('rect', { x: x, y: yy, width: Math.max(val ? 1 : 0, w), height: barH - 2, class: 'mmr-bar ' + series[si].cls, 'data-series': series[si].name }, s('title', { text: g.label + ' · ' + series[si].name + ': ' + val })));
      if (opts.stacked) x += w;
      else svg.appendChild(s('text', { x: left + w + 4, y: yy + barH - 5, class: 'mmr-chartval', text: fmt(val) }));
    });
    if (opts.stacked) svg.appendChild(s('text', { x: x + 4, y: y + barH - 5, class: 'mmr-chartval', text: g.note || fmt(g.values.reduce(function (a, b) { return a + b; }, 0)) }));
  });
  var lx = 0;
  var leg = s('g', { transform: 'translate(0,' + (H - 8) + ')' });
  series.forEach(function (se) {
    leg.appendChild(s('rect', { x: lx, y: -9, width: 10, height: 10, class: 'mmr-bar ' + se.cls }));
    leg.appendChild(s('text', { x: lx + 13, y: 0, class: 'mmr-chartlabel', text: se.name }));
    lx += 16 + se.name.length * 6.5;
  });
  svg.appendChild(leg);
  return svg;
}

function statsView(r, tl) {
  var sec = h('section', { class: 'mmr-card' }, [h('h2', { text: 'Statistics' })]);
  var st = r.stats || {};
  var charts = h('div', { class: 'mmr-charts' });
  var tlb = tl.cpuTlb || [];
  if (tlb.length) {
    charts.appendChild(barChart('TLB hits by page size and misses, per CPU', tlb.map(function (c) {
      var hits = c.hits['4K'] + c.hits['2M'] + c.hits['1G'];
      var all = hits + c.misses;
      return { label: 'CPU ' + c.cpu, values: [c.hits['4K'], c.hits['2M'], c.hits['1G'], c.misses], note: all ? Math.round(100 * hits / all) + '% hit' : 'no access' };
    }), [{ name: '4K hits', cls: 's0' }, { name: '2M hits', cls: 's1' }, { name: '1G hits', cls: 's2' }, { name: 'misses', cls: 's3' }], { stacked: true }));
    charts.appendChild(barChart('Page walks, per CPU', tlb.map(function (c) { return { label: 'CPU ' + c.cpu, values: [c.walks] }; }), [{ name: 'walks', cls: 's4' }]));
  }
  var fk = tl.flushKinds || {};
  charts.appendChild(barChart('Flushes by kind', [
    { label: 'page', values: [fk.page || 0] }, { label: 'range', values: [fk.range || 0] }, { label: 'full', values: [fk.full || 0] },
    { label: 'batched', values: [fk.batched || 0] }, { label: 'sync', values: [fk.sync || 0] },
  ], [{ name: 'flush_tlb_mm_range and friends', cls: 's5' }]));
  var per = st.perCpu || [];
  if (per.length) {
    charts.appendChild(barChart('IPIs, per CPU', per.map(function (c) { return { label: 'CPU ' + c.cpu, values: [c.ipisSent, c.ipisReceived] }; }), [{ name: 'sent', cls: 's6' }, { name: 'received', cls: 's7' }]));
  }
  if (st.cycles) {
    var by = st.cycles.byKind;
    charts.appendChild(barChart('Cost model: cycles by kind (total ' + fmt(st.cycles.total) + ')', Object.keys(by).map(function (k) { return { label: k, values: [by[k]] }; }), [{ name: 'cycles', cls: 's8' }]));
  }
  sec.appendChild(charts);
  return sec;
}

function listsView(r) {
  var sec = h('section', { class: 'mmr-card' }, [h('h2', { text: 'Expectations, waits and notes' })]);
  var ul = h('ul', { class: 'mmr-list' });
  r.expectations.forEach(function (e) {
    ul.appendChild(h('li', { class: 'mmr-exp ' + (!e.applies ? 'na' : e.ok ? 'ok' : 'bad') }, (!e.applies ? '– ' : e.ok ? '✓ ' : '✗ ') + 'line ' + e.line + ': expect ' + e.text + (e.applies ? '' : ' (not for this kernel)')));
  });
  r.waited.forEach(function (w) { ul.appendChild(h('li', { class: 'mmr-dim' }, 'line ' + w.line + ' waited for the operation of line ' + w.behind + ': ' + w.reason)); });
  r.segfaults.forEach(function (f) { ul.appendChild(h('li', { class: 'mmr-dim' }, 'line ' + f.line + ': ' + (f.cpu !== undefined ? 'CPU ' + f.cpu : 'device ' + f.device) + ' got a segmentation fault at ' + f.va)); });
  r.notes.forEach(function (n) { ul.appendChild(h('li', { class: 'mmr-dim' }, 'line ' + n.line + ': ' + n.text)); });
  if (!ul.childNodes.length) ul.appendChild(h('li', { class: 'mmr-dim', text: 'none' }));
  sec.appendChild(ul);
  return sec;
}

window.MmuwasmReport = { render: render, verdictOf: verdictOf };
})();
`;
