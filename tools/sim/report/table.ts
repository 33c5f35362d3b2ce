import type { EvalRow } from '#libs/sim';

/** One line per policy: the results table of the issue, plus where the policy acts. */
export interface TableColumn {
  title: string;
  value: (row: EvalRow) => string;
}

const pct = (v: number, digits = 2) => `${(v * 100).toFixed(digits)} %`;
const ms = (v: number) => v.toFixed(1);

export const RESULT_COLUMNS: TableColumn[] = [
  { title: 'policy', value: (r) => r.policy },
  { title: 'reduction', value: (r) => pct(r.metrics.reduction) },
  { title: 'p50 ms', value: (r) => ms(r.metrics.p50) },
  { title: 'p99 ms', value: (r) => ms(r.metrics.p99) },
  { title: 'p99.9 ms', value: (r) => ms(r.metrics.p999) },
  { title: 'forced', value: (r) => pct(r.metrics.forcedFlushRate, 1) },
  { title: 'avg batch', value: (r) => r.metrics.avgBatch.toFixed(2) },
  { title: 'policy flushes', value: (r) => pct(r.metrics.policyShare, 1) },
  { title: 'cost/req', value: (r) => r.costPerRequest.toFixed(2) },
  { title: 'gap to oracle @C', value: (r) => pct(Math.max(0, r.gap), 1) },
  { title: 'wait gap to frontier', value: (r) => (Number.isFinite(r.waitGap) ? pct(Math.max(0, r.waitGap), 1) : 'n/a') },
];

export function textTable(rows: readonly EvalRow[], columns: readonly TableColumn[] = RESULT_COLUMNS): string {
  const cells = rows.map((row) => columns.map((c) => c.value(row)));
  const widths = columns.map((c, i) => Math.max(c.title.length, ...cells.map((line) => line[i]!.length)));
  const line = (values: string[]) => values.map((v, i) => (i === 0 ? v.padEnd(widths[i]!) : v.padStart(widths[i]!))).join('  ');
  return [line(columns.map((c) => c.title)), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)].join('\n');
}

export function markdownTable(rows: readonly EvalRow[], columns: readonly TableColumn[] = RESULT_COLUMNS): string {
  const header = `| ${columns.map((c) => c.title).join(' | ')} |`;
  const rule = `|${columns.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`;
  return [header, rule, ...rows.map((row) => `| ${columns.map((c) => c.value(row)).join(' | ')} |`)].join('\n');
}

/** Every run (policy x seed) with raw numbers, for spreadsheets. */
export function csv(rows: readonly EvalRow[]): string {
  const header = [
    'scenario',
    'policy',
    'seed',
    'requests',
    'upstream_calls',
    'reduction',
    'p50_ms',
    'p90_ms',
    'p99_ms',
    'p999_ms',
    'mean_latency_ms',
    'mean_wait_ms',
    'forced_flush_rate',
    'policy_share',
    'avg_batch',
    'cost_per_request',
    'gap_to_oracle',
    'wait_gap',
  ];
  const quote = (v: string) => (/[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
  const lines = rows.map((r) =>
    [
      r.scenario,
      r.policy,
      r.seed,
      r.metrics.requests,
      r.metrics.upstreamCalls,
      r.metrics.reduction,
      r.metrics.p50,
      r.metrics.p90,
      r.metrics.p99,
      r.metrics.p999,
      r.metrics.meanLatencyMs,
      r.metrics.meanWaitMs,
      r.metrics.forcedFlushRate,
      r.metrics.policyShare,
      r.metrics.avgBatch,
      r.costPerRequest,
      r.gap,
      r.waitGap,
    ]
      .map((v) => quote(String(v)))
      .join(','),
  );
  return [header.join(','), ...lines].join('\n') + '\n';
}
