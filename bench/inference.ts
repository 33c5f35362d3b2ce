// npm run bench:inference — the Go repo's five scenarios (seed 004, FACTS.md
// section 4), open loop and seeded, against the running stack it starts
// (scripts/stack.mjs: the simulated backend with the repo's mock parameters):
// once per batching strategy (switched with POST /admin/strategy/{name} on
// every coordinator's operator port) and once with no batching (the clients call the
// backend directly, one call per request). Prints the seed's table next to the
// repo's recorded one, writes CSV, a markdown table and SVG plots.
//   BENCH_INFER_SCALE        durations x this (default 0.4: ~12 min in all; --smoke 0.03, ~1-2 min)
//   BENCH_INFER_RATE_SCALE   rates x this (default 1: the repo's 1,200 req/s ...)
//   BENCH_INFER_STRATEGIES   default fixed,queue_depth,latency_aware,cost_aware,model_based
//   BENCH_INFER_SCENARIOS    default all five
//   BENCH_INFER_SEED         default 1
//   BENCH_INFER_OUT          default docs/plots (--smoke: .run/bench-inference)
//   --target=<base URL>      run the scenarios against that OpenAI-compatible server only (no stack)
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { startStack } from '#stack';
import type { Row } from './inference-report.js';
import { barChart, csvOf, markdownTable, rowOf } from './inference-report.js';
import { runLoad } from './inference-load.js';
import type { ScenarioSpec } from './inference-scenarios.js';
import { arrivalsOf, scenarios } from './inference-scenarios.js';

const args = process.argv.slice(2);
const smoke = args.includes('--smoke');
const target = args.find((a) => a.startsWith('--target='))?.slice('--target='.length);
const SCALE = Number(process.env.BENCH_INFER_SCALE ?? (smoke ? 0.03 : 0.4));
const RATE_SCALE = Number(process.env.BENCH_INFER_RATE_SCALE ?? 1);
const SEED = Number(process.env.BENCH_INFER_SEED ?? 1);
const STRATEGIES = (process.env.BENCH_INFER_STRATEGIES ?? 'fixed,queue_depth,latency_aware,cost_aware,model_based')
  .split(',')
  .filter(Boolean);
const WANTED = process.env.BENCH_INFER_SCENARIOS?.split(',').filter(Boolean);
const OUT = process.env.BENCH_INFER_OUT ?? (smoke ? '.run/bench-inference' : 'docs/plots');
/** The ingress's per-request deadline header (ms from arrival), so the gateway answers 504 before the client gives up. */
const DEADLINE_HEADER = 'x-batchgate-deadline-ms';
const log = (line: string) => process.stdout.write(`  ${line}\n`);

interface BackendCounts {
  calls: number;
  items: number;
}

async function backendCounts(statsUrl: string | undefined): Promise<BackendCounts> {
  if (!statsUrl) return { calls: 0, items: 0 };
  try {
    return (await (await fetch(statsUrl)).json()) as BackendCounts;
  } catch {
    return { calls: 0, items: 0 };
  }
}

/** Waits until the backend has nothing in flight or queued, so one run's backlog is not the next one's. */
async function quiet(statsUrl: string | undefined): Promise<void> {
  if (!statsUrl) return;
  for (let until = Date.now() + 30_000; Date.now() < until;) {
    const stats = (await (await fetch(statsUrl)).json()) as { in_flight: number; queued: number };
    if (stats.in_flight === 0 && stats.queued === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function measure(
  name: string,
  base: string,
  statsUrl: string | undefined,
  specs: ScenarioSpec[],
  deadlineHeader?: string,
): Promise<Row[]> {
  const rows: Row[] = [];
  for (const spec of specs) {
    await quiet(statsUrl);
    const before = await backendCounts(statsUrl);
    const result = await runLoad(arrivalsOf(spec, SEED), { base, deadlineMs: spec.deadlineMs, seed: SEED, deadlineHeader });
    await quiet(statsUrl);
    const after = await backendCounts(statsUrl);
    const row = rowOf(spec.name, name, result, after.calls - before.calls, after.items - before.items);
    rows.push(row);
    log(
      `${name} / ${spec.name}: ${row.requests} requests, ${row.rps.toFixed(0)} ok/s, p99 ${row.p99.toFixed(1)} ms, errors ${(row.errorRate * 100).toFixed(2)} %, avg batch ${row.avgBatch.toFixed(2)}`,
    );
  }
  return rows;
}

/** A short warm-up (JIT, connections, the coordinator's queues) before measuring. */
async function warm(base: string): Promise<void> {
  const spec: ScenarioSpec = { name: 'warm', durationMs: 1000, rate: () => 200, deadlineMs: 2000, tokens: () => 64 };
  await runLoad(arrivalsOf(spec, 99), { base, deadlineMs: 2000, seed: 99 });
}

const specs = scenarios(SCALE, RATE_SCALE).filter((s) => !WANTED || WANTED.includes(s.name));
const rows: Row[] = [];
if (target) {
  await warm(target);
  rows.push(...(await measure('target', target, `${new URL(target).origin}/stats`, specs)));
} else {
  // The admin API is off without a token; this run's own one switches the strategies.
  const adminToken = randomBytes(16).toString('hex');
  const stack = await startStack({ env: { ...process.env, BATCHGATE_LOG_LEVEL: 'warn', BATCHGATE_ADMIN_TOKEN: adminToken }, log });
  try {
    const backend = stack.env.BATCHGATE_INFERENCE_UPSTREAM as string;
    const gateway = stack.urls.ingresses[0]!;
    const stats = `${backend}/stats`;
    await warm(gateway);
    // The strategy belongs to the coordinators (each owns its partitions' models): switch every one.
    const coordinators = Object.entries(stack.urls.services)
      .filter(([name]) => name.startsWith('coordinator'))
      .map(([, url]) => url);
    for (const strategy of STRATEGIES) {
      const answers = await Promise.all(
        coordinators.map((url) =>
          fetch(`${url}/admin/strategy/${strategy}`, { method: 'POST', headers: { authorization: `Bearer ${adminToken}` } }).then(
            async (r) => (r.status === 200 ? undefined : `${r.status} ${await r.text()}`),
            (error: Error) => error.message,
          ),
        ),
      );
      const refused = answers.find((a) => a !== undefined);
      if (refused !== undefined) {
        log(`skipping strategy ${strategy}: POST /admin/strategy/${strategy} answered ${refused}`);
        continue;
      }
      rows.push(...(await measure(`batchgate ${strategy}`, gateway, stats, specs, DEADLINE_HEADER)));
    }
    rows.push(...(await measure('no batching (backend direct)', backend, stats, specs)));
  } finally {
    await stack.stop();
  }
}

rows.sort((a, b) => specs.findIndex((s) => s.name === a.scenario) - specs.findIndex((s) => s.name === b.scenario));
const table = markdownTable(rows);
const heading = `batchgate inference benchmark (${new Date().toISOString().slice(0, 10)}): seed ${SEED}, durations x${SCALE} (60 s = x1), rates x${RATE_SCALE}, ${cpus().length} cores shared by the load generator and every process; simulated backend with the Go repo's mock parameters (base 8 ms, 0.015 ms/max token, 0.8 ms/item, variance 0.1, 8 calls at once)`;
console.log(`\n${heading}`);
console.log(
  "latency from each request's scheduled send time (open loop); RPS = answered requests / s; avg batch = backend items / backend calls (counted at the backend)\n",
);
console.log(table);
mkdirSync(OUT, { recursive: true });
writeFileSync(join(OUT, 'inference-results.csv'), `${csvOf(rows)}\n`);
writeFileSync(join(OUT, 'inference-results.md'), `${heading}\n\n${table}\n`);
writeFileSync(
  join(OUT, 'inference-p99.svg'),
  barChart(rows, 'p99 latency per scenario (ms, log scale)', 'p99 ms', (r) => r.p99, true),
);
writeFileSync(
  join(OUT, 'inference-error-rate.svg'),
  barChart(rows, 'error rate per scenario (%)', 'error %', (r) => r.errorRate * 100, false),
);
writeFileSync(
  join(OUT, 'inference-avg-batch.svg'),
  barChart(rows, 'average batch at the backend (items per call)', 'items per call', (r) => r.avgBatch, false),
);
console.log(`\nwrote ${join(OUT, 'inference-results.csv')}, inference-results.md and inference-{p99,error-rate,avg-batch}.svg`);
