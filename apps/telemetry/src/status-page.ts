// The status page's HTML, script and styles, shipped inside the service (no
// build step, no CDN). The script only sets textContent and chart data, so
// nothing from the event stream is ever parsed as HTML.

export const STATUS_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>batchgate status</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/status/uplot.css">
<link rel="stylesheet" href="/status/app.css">
</head>
<body>
<header><h1>batchgate</h1><span id="state">connecting…</span></header>
<section class="tiles">
  <div class="tile"><span class="label">requests / s</span><span class="value" id="rps">–</span></div>
  <div class="tile"><span class="label">upstream reduction (1 min)</span><span class="value" id="reduction">–</span></div>
  <div class="tile"><span class="label">open slots</span><span class="value" id="open-slots">–</span></div>
  <div class="tile"><span class="label">policy fallbacks (1 min / total)</span><span class="value" id="fallbacks">–</span></div>
  <div class="tile"><span class="label">shed (1 min / total)</span><span class="value" id="shed">–</span></div>
</section>
<section>
  <h2>Client latency by path (last minute)</h2>
  <table><thead><tr><th>path</th><th>p50 ms</th><th>p99 ms</th><th>requests</th></tr></thead><tbody id="latency"></tbody></table>
</section>
<section><h2>Requests and upstream calls per second</h2><div id="traffic-chart" class="chart"></div></section>
<section><h2>Flushes per second by reason</h2><div id="flush-chart" class="chart"></div></section>
<section>
  <h2>Strategy per route</h2>
  <table><thead><tr><th>route</th><th>strategy</th><th>model</th></tr></thead><tbody id="routes"></tbody></table>
</section>
<section>
  <h2>Recent slots</h2>
  <table><thead><tr><th>flushed</th><th>route</th><th>reason</th><th>size</th><th>age ms</th><th>last decision (action, strategy, model · size, age, rate)</th></tr></thead>
  <tbody id="recent"></tbody></table>
</section>
<section id="inference">
  <h2>Inference batching (Flow B)</h2>
  <div class="tiles">
    <div class="tile"><span class="label">items / s</span><span class="value" id="infer-items">–</span></div>
    <div class="tile"><span class="label">batches / s</span><span class="value" id="infer-batches">–</span></div>
    <div class="tile"><span class="label">items per batch (1 min)</span><span class="value" id="infer-per-batch">–</span></div>
    <div class="tile"><span class="label">items sharing an input in their batch (1 min / total)</span><span class="value" id="infer-dedup">–</span></div>
    <div class="tile"><span class="label">backend p50 / p99 ms (1 min)</span><span class="value" id="infer-backend">–</span></div>
    <div class="tile"><span class="label">backend errors (1 min)</span><span class="value" id="infer-errors">–</span></div>
  </div>
  <div id="infer-chart" class="chart"></div>
  <h2>Batches per model (last minute)</h2>
  <table><thead><tr><th>model</th><th>kind</th><th>strategy</th><th>batches</th><th>items</th><th>inputs sent</th><th>tokens</th></tr></thead>
  <tbody id="infer-models"></tbody></table>
  <h2>Recent batches</h2>
  <table><thead><tr><th>flushed</th><th>model</th><th>priority</th><th>reason</th><th>items</th><th>inputs</th><th>tokens</th><th>age ms</th><th>backend ms</th><th>status</th></tr></thead>
  <tbody id="infer-recent"></tbody></table>
</section>
<script src="/status/uplot.js"></script>
<script src="/status/app.js"></script>
</body>
</html>
`;

export const STATUS_CSS = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 0 24px 24px; color: #1d2330; background: #f6f7f9; }
header { display: flex; align-items: baseline; gap: 16px; }
h1 { font-size: 22px; margin: 16px 0 8px; }
h2 { font-size: 15px; margin: 18px 0 6px; }
#state { color: #667; }
.tiles { display: flex; flex-wrap: wrap; gap: 12px; }
.tile { background: #fff; border: 1px solid #dde; border-radius: 6px; padding: 10px 14px; min-width: 170px; display: flex; flex-direction: column; }
.label { color: #667; font-size: 12px; }
.value { font-size: 24px; font-variant-numeric: tabular-nums; }
table { border-collapse: collapse; background: #fff; border: 1px solid #dde; }
th, td { padding: 4px 10px; border-bottom: 1px solid #eef; text-align: left; font-variant-numeric: tabular-nums; }
.chart { background: #fff; border: 1px solid #dde; border-radius: 6px; padding: 6px; max-width: 980px; }
`;

export const STATUS_JS = `'use strict';
(function () {
  const $ = (id) => document.getElementById(id);
  const PATHS = ['coalesced', 'passthrough', 'fallback', 'shed'];
  const REASONS = ['policy', 'timeout', 'size_cap', 'fallback'];
  const COLORS = { coalesced: '#2a7ae2', passthrough: '#7a5bd1', fallback: '#e08a1e', shed: '#c0392b', upstream: '#1e9e5a',
    policy: '#2a7ae2', timeout: '#c0392b', size_cap: '#7a5bd1', items: '#2a7ae2', batches: '#1e9e5a' };
  const width = () => Math.min(960, document.body.clientWidth - 40);
  const chart = (el, names) => new uPlot({ width: width(), height: 220, scales: { x: { time: true } },
    series: [{}].concat(names.map((name) => ({ label: name, stroke: COLORS[name] || '#333', width: 2 }))) },
    [[]].concat(names.map(() => [])), el);
  const traffic = chart($('traffic-chart'), PATHS.concat(['upstream']));
  const flushes = chart($('flush-chart'), REASONS);
  const inference = chart($('infer-chart'), ['items', 'batches']);
  const fixed = (v, digits) => (v === undefined || v === null ? '–' : Number(v).toFixed(digits));
  const row = (cells) => { const tr = document.createElement('tr');
    for (const cell of cells) { const td = document.createElement('td'); td.textContent = String(cell); tr.appendChild(td); }
    return tr; };
  const fill = (id, rows) => $(id).replaceChildren(...rows.map(row));

  function render(s) {
    $('state').textContent = 'live · ' + new Date(s.atMs).toLocaleTimeString();
    $('rps').textContent = fixed(s.rps, 1);
    $('reduction').textContent = s.reduction === undefined ? '–' : (s.reduction * 100).toFixed(1) + ' %';
    $('open-slots').textContent = String(s.openSlots);
    $('fallbacks').textContent = s.fallbacks.window + ' / ' + s.fallbacks.total;
    $('shed').textContent = s.shed.window + ' / ' + s.shed.total;
    fill('latency', Object.entries(s.latency).filter(([, l]) => l.count > 0).map(([path, l]) => [path, fixed(l.p50, 1), fixed(l.p99, 1), l.count]));
    fill('routes', s.routes.map((r) => [r.route, r.strategy, r.modelVersion || '–']));
    fill('recent', s.recentSlots.map((slot) => [new Date(slot.atMs).toLocaleTimeString(), slot.route, slot.reason, slot.size, fixed(slot.ageMs, 1),
      slot.decision ? [slot.decision.action, slot.decision.strategy, slot.decision.modelVersion || '–'].join(', ') + ' · ' +
        [slot.decision.size, fixed(slot.decision.ageMs, 1) + ' ms', fixed(slot.decision.requestRate, 0) + '/s'].join(', ') : '–']));
    const x = s.seconds;
    traffic.setData([x].concat(PATHS.map((p) => s.requests[p] || x.map(() => 0)), [s.upstreamCalls]));
    flushes.setData([x].concat(REASONS.map((r) => s.flushes[r] || x.map(() => 0))));
    const b = s.inference;
    $('infer-items').textContent = fixed(b.itemsPerSecond, 1);
    $('infer-batches').textContent = fixed(b.batchesPerSecond, 1);
    $('infer-per-batch').textContent = fixed(b.itemsPerBatch, 1);
    $('infer-dedup').textContent = b.dedup.window + ' / ' + b.dedup.total;
    $('infer-backend').textContent = b.backend.count > 0 ? fixed(b.backend.p50, 1) + ' / ' + fixed(b.backend.p99, 1) : '–';
    $('infer-errors').textContent = String(b.backend.errors);
    fill('infer-models', b.models.map((m) => [m.model, m.kind, m.strategy, m.batches, m.items, m.inputs, m.tokens]));
    fill('infer-recent', b.recentBatches.map((r) => [new Date(r.atMs).toLocaleTimeString(), r.model, r.priority, r.reason, r.items, r.inputs,
      r.tokens, fixed(r.ageMs, 1), fixed(r.backendMs, 1), r.status === undefined ? '–' : r.status]));
    inference.setData([x, b.items, b.batches]);
  }

  const source = new EventSource('/status/stream');
  source.onmessage = (message) => render(JSON.parse(message.data));
  source.onerror = () => { $('state').textContent = 'disconnected, retrying…'; };
})();
`;
