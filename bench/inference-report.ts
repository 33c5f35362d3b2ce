// The inference benchmark's outputs: the seed's table (RPS, p50/p90/p99, error
// rate, avg batch) per scenario and target, the Go repo's recorded rows next to
// it, a CSV of every row and an SVG bar chart (hand-written, no dependencies).
import type { LoadResult } from './inference-load.js';
import { latenciesOf, quantile } from './inference-load.js';

export interface Row {
  scenario: string;
  target: string;
  requests: number;
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  criticalP99: number;
  errorRate: number;
  errors: string;
  avgBatch: number;
  backendCalls: number;
  sendLagP99: number;
}

/** FACTS.md section 4, the repo's README: RPS / p50 / p90 / p99 ms / error rate / avg batch. */
export const GO_RECORDED: Record<string, Record<string, [number, number, number, number, number, number]>> = {
  steady_state: {
    fixed: [1107.8, 70, 103, 264, 0.0558, 3.03],
    queue_depth: [1112.0, 71, 105, 266, 0.0517, 3.03],
    latency_aware: [1103.6, 71, 103, 248, 0.0565, 3.04],
  },
  ramp_up: {
    fixed: [223.4, 54, 173, 1425, 0.0036, 3.1],
    queue_depth: [223.9, 52, 168, 1448, 0.0028, 3.06],
    latency_aware: [223.5, 44, 129, 1099, 0.003, 2.83],
  },
  spike_test: {
    fixed: [1090.3, 50, 215, 282, 0.2801, 3.87],
    queue_depth: [1078.0, 49, 210, 292, 0.2823, 3.91],
    latency_aware: [1107.7, 56, 245, 371, 0.2886, 3.88],
  },
  mixed_priority: {
    fixed: [99.6, 75, 272, 3020, 0.0032, 3.08],
    queue_depth: [99.4, 73, 263, 2737, 0.0038, 2.9],
    latency_aware: [99.7, 41, 71, 226, 0.001, 1.86],
  },
  long_tail: {
    fixed: [99.4, 78, 339, 6071, 0.0045, 2.74],
    queue_depth: [99.3, 69, 317, 5747, 0.005, 2.58],
    latency_aware: [99.5, 45, 174, 440, 0.0022, 1.81],
  },
};

export function rowOf(scenario: string, target: string, result: LoadResult, calls: number, items: number): Row {
  const errorCount = Object.values(result.errors).reduce((a, b) => a + b, 0);
  return {
    scenario,
    target,
    requests: result.arrivals.length,
    rps: result.ok / (result.elapsedMs / 1000),
    p50: quantile(result.latencyMs, 0.5),
    p90: quantile(result.latencyMs, 0.9),
    p99: quantile(result.latencyMs, 0.99),
    criticalP99: quantile(latenciesOf(result, 'critical'), 0.99),
    errorRate: errorCount / Math.max(1, result.arrivals.length),
    errors: Object.entries(result.errors)
      .map(([kind, n]) => `${kind} ${n}`)
      .join(', '),
    avgBatch: calls > 0 ? items / calls : NaN,
    backendCalls: calls,
    sendLagP99: result.sendLagP99Ms,
  };
}

const f1 = (v: number) => (Number.isFinite(v) ? v.toFixed(1) : '—');
const pct = (v: number) => `${(v * 100).toFixed(2)} %`;

export function markdownTable(rows: readonly Row[]): string {
  const header = [
    'scenario',
    'target',
    'requests',
    'RPS',
    'p50 ms',
    'p90 ms',
    'p99 ms',
    'critical p99 ms',
    'error rate',
    'avg batch',
    'backend calls',
    'send lag p99 ms',
    'errors',
  ];
  const lines = rows.map((r) => [
    r.scenario,
    r.target,
    String(r.requests),
    f1(r.rps),
    f1(r.p50),
    f1(r.p90),
    f1(r.p99),
    f1(r.criticalP99),
    pct(r.errorRate),
    Number.isFinite(r.avgBatch) ? r.avgBatch.toFixed(2) : '—',
    String(r.backendCalls),
    f1(r.sendLagP99),
    r.errors || '—',
  ]);
  for (const [scenario, byStrategy] of Object.entries(GO_RECORDED)) {
    if (!rows.some((r) => r.scenario === scenario)) continue;
    for (const [strategy, [rps, p50, p90, p99, err, batch]] of Object.entries(byStrategy))
      lines.push([
        scenario,
        `Go repo ${strategy} (recorded)`,
        '—',
        f1(rps),
        f1(p50),
        f1(p90),
        f1(p99),
        '—',
        pct(err),
        batch.toFixed(2),
        '—',
        '—',
        '—',
      ]);
  }
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [fmt(header), `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`, ...lines.map(fmt)].join('\n');
}

export function csvOf(rows: readonly Row[]): string {
  const header =
    'scenario,target,requests,rps,p50_ms,p90_ms,p99_ms,critical_p99_ms,error_rate,avg_batch,backend_calls,send_lag_p99_ms,errors';
  const quote = (s: string) => `"${s.replace(/"/g, '""')}"`;
  return [
    header,
    ...rows.map((r) =>
      [
        r.scenario,
        quote(r.target),
        r.requests,
        r.rps,
        r.p50,
        r.p90,
        r.p99,
        r.criticalP99,
        r.errorRate,
        r.avgBatch,
        r.backendCalls,
        r.sendLagP99,
        quote(r.errors),
      ].join(','),
    ),
  ].join('\n');
}

const COLORS = ['#7f7f7f', '#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2'];
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Grouped bars of `value` per scenario (groups) and target (colours), log-scaled y when `log`. */
export function barChart(rows: readonly Row[], title: string, yLabel: string, value: (r: Row) => number, log: boolean): string {
  const scenarios = [...new Set(rows.map((r) => r.scenario))];
  const targets = [...new Set(rows.map((r) => r.target))];
  const width = 900;
  const height = 420;
  const m = { left: 70, right: 220, top: 40, bottom: 50 };
  const values = rows.map(value).filter((v) => Number.isFinite(v) && (!log || v > 0));
  const max = Math.max(...values, log ? 10 : 1);
  const min = log ? Math.max(0.1, Math.min(...values, 1)) : 0;
  const y = (v: number) => {
    const f = (x: number) => (log ? Math.log10(Math.max(x, min)) : x);
    return height - m.bottom - ((f(v) - f(min)) / (f(max) - f(min) || 1)) * (height - m.top - m.bottom);
  };
  const groupWidth = (width - m.left - m.right) / Math.max(1, scenarios.length);
  const barWidth = (groupWidth * 0.8) / Math.max(1, targets.length);
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${m.left}" y="22" font-size="15">${esc(title)}</text>`,
    `<text x="16" y="${(height - m.bottom + m.top) / 2}" transform="rotate(-90 16 ${(height - m.bottom + m.top) / 2})" text-anchor="middle">${esc(yLabel)}</text>`,
    `<line x1="${m.left}" y1="${height - m.bottom}" x2="${width - m.right}" y2="${height - m.bottom}" stroke="black"/>`,
  ];
  const ticks = log ? [0.1, 1, 10, 100, 1000, 10_000].filter((t) => t >= min && t <= max) : [0, max / 4, max / 2, (3 * max) / 4, max];
  for (const t of ticks)
    out.push(
      `<text x="${m.left - 6}" y="${y(t) + 4}" text-anchor="end">${Number(t.toPrecision(3))}</text>`,
      `<line x1="${m.left}" y1="${y(t)}" x2="${width - m.right}" y2="${y(t)}" stroke="#ddd"/>`,
    );
  scenarios.forEach((scenario, g) => {
    const x0 = m.left + g * groupWidth + groupWidth * 0.1;
    out.push(`<text x="${x0 + groupWidth * 0.4}" y="${height - m.bottom + 18}" text-anchor="middle">${esc(scenario)}</text>`);
    targets.forEach((target, t) => {
      const row = rows.find((r) => r.scenario === scenario && r.target === target);
      const v = row ? value(row) : NaN;
      if (!Number.isFinite(v)) return;
      const top = y(Math.max(v, min));
      out.push(
        `<rect x="${x0 + t * barWidth}" y="${top}" width="${barWidth - 1}" height="${height - m.bottom - top}" fill="${COLORS[t % COLORS.length]}"><title>${esc(`${target}: ${v.toFixed(2)}`)}</title></rect>`,
      );
    });
  });
  targets.forEach((target, t) => {
    const ly = m.top + t * 20;
    out.push(
      `<rect x="${width - m.right + 16}" y="${ly}" width="12" height="12" fill="${COLORS[t % COLORS.length]}"/>`,
      `<text x="${width - m.right + 34}" y="${ly + 10}">${esc(target)}</text>`,
    );
  });
  out.push('</svg>');
  return out.join('\n');
}
