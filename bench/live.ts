// npm run bench:live — open-loop, seeded traffic against the running stack
// and its peers, in one run: the demo origin directly (20 ms per call), NGINX
// as a plain reverse proxy, the seed's Rust proxy (timer 50 ms / cap 128, when
// BATCHGATE_SEED_PROXY_SRC names its checkout) and batchgate once per strategy
// (BENCH_LIVE_STRATEGIES, default cost_aware and fixed_timer 50). Reduction is
// counted at the origin, latency at the client from each request's scheduled
// time, errors by kind; flush reasons come from the fleet's batch_flush_total.
// Prints one table; no thresholds (the goals live in the issue and docs).
import { cpus } from 'node:os';
import type { Trace, TrafficSpec } from '#libs/sim';
import { generateTrace } from '#libs/sim';
import { startStack } from '#stack';
import { quantile, runOpenLoop } from './open-loop.js';
import type { Peer } from './peers.js';
import { startNginx, startOrigin, startSeedProxy } from './peers.js';

const SECONDS = Number(process.env.BENCH_LIVE_SECONDS ?? 10);
const ORIGIN_DELAY_MS = 20;
const SEED = Number(process.env.BENCH_LIVE_SEED ?? 1);
const STRATEGIES = (process.env.BENCH_LIVE_STRATEGIES ?? 'cost_aware,fixed_timer:window_ms=50').split(',').filter(Boolean);
const RATES = (process.env.BENCH_LIVE_RATES ?? '1000,2000,3000').split(',').map(Number);
const log = (line: string) => process.stdout.write(`  ${line}\n`);

interface Shape {
  name: string;
  trace: Trace;
  /** Requests scheduled before this time (ms) form the sparse phase. */
  sparseUntilMs?: number;
}

function shapes(): Shape[] {
  const ms = SECONDS * 1000;
  const zipf = (rate: number): Shape => {
    const spec: TrafficSpec = {
      process: { kind: 'poisson', ratePerSec: rate },
      popularity: { kind: 'zipf', keys: 100, exponent: 1.1 },
      durationMs: ms,
    };
    return { name: `100-key Zipf ${rate} req/s`, trace: generateTrace(spec, SEED) };
  };
  const half = ms / 2;
  const burst: TrafficSpec = {
    process: {
      kind: 'phases',
      phases: [
        { durationMs: half, fromRatePerSec: 5, toRatePerSec: 5 },
        { durationMs: half, fromRatePerSec: 2500, toRatePerSec: 2500 },
      ],
    },
    popularity: { kind: 'single' },
    durationMs: ms,
  };
  return [...RATES.map(zipf), { name: 'one key, 5 then 2,500 req/s', trace: generateTrace(burst, SEED), sparseUntilMs: half }];
}

interface Row {
  target: string;
  shape: string;
  requests: number;
  errors: string;
  reduction: number;
  p50: number;
  p99: number;
  p999: number;
  sparseP50: number;
  policyShare: string;
  lagP99: number;
}

async function flushReasons(metricsUrl: string | undefined): Promise<Record<string, number>> {
  if (!metricsUrl) return {};
  const text = await (await fetch(metricsUrl)).text();
  const out: Record<string, number> = {};
  for (const match of text.matchAll(/^batch_flush_total\{reason="(\w+)"\} (\d+(?:\.\d+)?)/gm)) out[match[1]!] = Number(match[2]);
  return out;
}

async function measure(target: string, base: string, calls: () => Promise<number>, metricsUrl?: string): Promise<Row[]> {
  const rows: Row[] = [];
  // Warm the target (JIT, connections) with a short burst first.
  await runOpenLoop(
    generateTrace({ process: { kind: 'poisson', ratePerSec: 500 }, popularity: { kind: 'single' }, durationMs: 1000 }, 99),
    {
      base,
      path: () => '/warm',
    },
  );
  for (const shape of shapes()) {
    const callsBefore = await calls();
    const reasonsBefore = await flushReasons(metricsUrl);
    const result = await runOpenLoop(shape.trace, { base, path: (key) => `/resource/${key + 1}` });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const originCalls = (await calls()) - callsBefore;
    const reasonsAfter = await flushReasons(metricsUrl);
    const flushes = Object.fromEntries(Object.entries(reasonsAfter).map(([reason, n]) => [reason, n - (reasonsBefore[reason] ?? 0)]));
    const totalFlushes = Object.values(flushes).reduce((a, b) => a + b, 0);
    const sparse =
      shape.sparseUntilMs === undefined ? undefined : result.latencyMs.filter((_, i) => shape.trace.t[i]! < shape.sparseUntilMs!);
    const errorCount = Object.values(result.errors).reduce((a, b) => a + b, 0);
    rows.push({
      target,
      shape: shape.name,
      requests: result.requests,
      errors:
        errorCount === 0
          ? '0'
          : `${errorCount} (${Object.entries(result.errors)
              .map(([k, v]) => `${k} ${v}`)
              .join(', ')})`,
      reduction: 1 - originCalls / result.requests,
      p50: quantile(result.latencyMs, 0.5),
      p99: quantile(result.latencyMs, 0.99),
      p999: quantile(result.latencyMs, 0.999),
      sparseP50: sparse ? quantile(sparse, 0.5) : NaN,
      policyShare: metricsUrl && totalFlushes > 0 ? `${(((flushes.policy ?? 0) / totalFlushes) * 100).toFixed(1)} %` : '—',
      lagP99: result.sendLagP99Ms,
    });
    log(`measured ${target} / ${shape.name}`);
  }
  return rows;
}

const origin = await startOrigin(ORIGIN_DELAY_MS);
const rows: Row[] = [];
try {
  rows.push(...(await measure('origin direct', origin.url, origin.calls)));
  const peers: Array<() => Promise<Peer | undefined>> = [() => startNginx(origin.url, log), () => startSeedProxy(origin.url, log)];
  for (const start of peers) {
    const peer = await start();
    if (!peer) continue;
    try {
      rows.push(...(await measure(peer.name, peer.url, origin.calls)));
    } finally {
      await peer.stop();
    }
  }
  for (const strategy of STRATEGIES) {
    const stack = await startStack({
      env: { ...process.env, BATCHGATE_UPSTREAM: origin.url, BATCHGATE_POLICY_STRATEGY: strategy, BATCHGATE_LOG_LEVEL: 'warn' },
    });
    try {
      rows.push(...(await measure(`batchgate ${strategy}`, stack.urls.ingresses[0]!, origin.calls, stack.urls.metrics)));
    } finally {
      await stack.stop();
    }
  }
} finally {
  await origin.stop();
}

console.log(
  `\nbatchgate open-loop benchmark (${new Date().toISOString().slice(0, 10)}): ${SECONDS} s per row, seed ${SEED}, origin ${ORIGIN_DELAY_MS} ms per call, ${cpus().length} cores shared by the load generator and every process`,
);
console.log("latency from each request's scheduled send time; reduction = 1 - origin calls / requests (counted at the origin)\n");
const fmt = (v: number) => (Number.isNaN(v) ? '—' : v.toFixed(1));
const header = [
  'target',
  'traffic',
  'requests',
  'errors',
  'reduction',
  'p50 ms',
  'p99 ms',
  'p99.9 ms',
  'sparse p50',
  'policy flushes',
  'send lag p99',
];
const table = rows.map((r) => [
  r.target,
  r.shape,
  String(r.requests),
  r.errors,
  r.target === 'origin direct' ? '—' : `${(r.reduction * 100).toFixed(1)} %`,
  fmt(r.p50),
  fmt(r.p99),
  fmt(r.p999),
  fmt(r.sparseP50),
  r.policyShare,
  fmt(r.lagP99),
]);
const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)));
console.log(`| ${header.map((h, i) => h.padEnd(widths[i]!)).join(' | ')} |`);
console.log(`| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`);
for (const row of table) console.log(`| ${row.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`);
