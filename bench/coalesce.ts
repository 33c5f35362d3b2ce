// npm run bench:coalesce — what coalescing buys on this machine. Starts the
// same stack as `npm start` (separate processes, real NATS and Redis) in front
// of a counting origin that takes 20 ms per call, and drives it with
// autocannon: a hot key and 100 keys, at 50 and 200 connections, through
// batchgate, straight to the origin, through batchgate's pass-through and
// through NGINX as a plain reverse proxy (the pass-through peer) and through a
// lean Node proxy (bench/lean-proxy.ts: node:http + undici, nothing else: what
// a Node pass-through costs at the least), in one run.
// Prints RPS, latency p50/p99, origin calls and upstream reduction. No thresholds.
import autocannon from 'autocannon';
import { startStack } from '#stack';
import { startLeanNodeProxy, startNginx } from './peers.js';

const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 8);
const ORIGIN_DELAY_MS = 20;

interface Row {
  target: string;
  workload: string;
  connections: number;
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  errors: number;
  originCalls: number;
}

async function originCalls(upstream: string): Promise<number> {
  const response = await fetch(`${upstream}/stats`);
  return ((await response.json()) as { calls: number }).calls;
}

async function run(
  url: string,
  workload: 'hot' | '100 keys',
  connections: number,
  headers: Record<string, string>,
): Promise<autocannon.Result> {
  const keys = workload === 'hot' ? 1 : 100;
  return autocannon({
    url,
    connections,
    duration: DURATION_S,
    headers,
    requests: [{ setupRequest: (request) => ({ ...request, path: `/api/item/${Math.floor(Math.random() * keys)}` }) }],
  });
}

const stack = await startStack({ env: { ...process.env, BATCHGATE_LOG_LEVEL: 'warn' }, originDelayMs: ORIGIN_DELAY_MS });
const rows: Row[] = [];
const nginx = await startNginx(stack.env.BATCHGATE_UPSTREAM!, (line) => process.stdout.write(`  ${line}\n`));
const lean = await startLeanNodeProxy(stack.env.BATCHGATE_UPSTREAM!);
try {
  const upstream = stack.env.BATCHGATE_UPSTREAM!;
  const gateway = stack.urls.ingresses[0]!;
  const targets: Array<[string, string, Record<string, string>]> = [
    ['batchgate', gateway, {}],
    ['origin direct', upstream, {}],
    ['batchgate pass-through', gateway, { 'cache-control': 'no-cache' }],
    ...(nginx ? [['nginx pass-through', nginx.url, {}] as [string, string, Record<string, string>]] : []),
    ['lean Node proxy', lean.url, {}],
  ];
  // Warm every path once (JIT, connections, Redis scripts) before measuring.
  await autocannon({ url: `${gateway}/api/warm`, connections: 20, duration: 2 });
  for (const workload of ['hot', '100 keys'] as const) {
    for (const connections of [50, 200]) {
      for (const [target, url, headers] of targets) {
        const before = await originCalls(upstream);
        const result = await run(url, workload, connections, headers);
        const calls = (await originCalls(upstream)) - before;
        rows.push({
          target,
          workload,
          connections,
          rps: result.requests.average,
          p50: result.latency.p50,
          p99: result.latency.p99,
          requests: result.requests.total,
          errors: result.errors + result.non2xx + result.timeouts,
          originCalls: calls,
        });
        process.stdout.write(`  measured ${target} / ${workload} / ${connections} conns\n`);
      }
    }
  }
} finally {
  await nginx?.stop();
  await lean.stop();
  await stack.stop();
}

const cores = (await import('node:os')).cpus().length;
console.log(
  `\nbatchgate coalescing benchmark: ${DURATION_S} s per run, origin ${ORIGIN_DELAY_MS} ms per call, ${cores} cores shared by load generator and stack`,
);
console.log(
  `policy: ${process.env.BATCHGATE_POLICY_STRATEGY ?? 'cost_aware (default)'}, batch timeout ${process.env.BATCHGATE_BATCH_TIMEOUT_MS ?? 50} ms, max batch ${process.env.BATCHGATE_MAX_BATCH_SIZE ?? 128}\n`,
);
const header = ['target', 'workload', 'conns', 'RPS', 'p50 ms', 'p99 ms', 'requests', 'errors', 'origin calls', 'reduction'];
const table = rows.map((r) => [
  r.target,
  r.workload,
  String(r.connections),
  r.rps.toFixed(0),
  r.p50.toFixed(1),
  r.p99.toFixed(1),
  String(r.requests),
  String(r.errors),
  String(r.originCalls),
  r.target === 'origin direct' || r.target.startsWith('nginx') || r.target.startsWith('lean')
    ? '—'
    : `${((1 - r.originCalls / Math.max(1, r.requests)) * 100).toFixed(2)} %`,
]);
const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)));
const line = (cells: string[]) => cells.map((cell, i) => (i < 2 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ');
console.log(line(header));
for (const row of table) console.log(line(row));
