import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseStrategySpec } from '#libs/config';
import { createStrategy } from '#libs/policy';
import type { DecisionPathSpec, FrontierPoint, PolicyEntry, Scenario, ScenarioEvaluation, Trace } from '#libs/sim';
import { evaluateScenario, meanBySeed, ORACLE_LABEL, parseDecisionDelay } from '#libs/sim';
import { DEFAULT_PPO_MODEL, DEFAULT_QTABLE, resolvePolicies, SEED_ROWS } from '../policies.js';
import { ProgressBar } from '../progress.js';
import { csv, markdownTable, textTable } from '../report/table.js';
import { frontierSvg, latencyCdfSvg } from '../report/svg.js';
import { list, loadScenario, seedList, UsageError } from '../scenario-args.js';

/** The coordinator's default embedded strategy (BATCHGATE_FALLBACK_STRATEGY). */
const DEFAULT_FALLBACK = 'fixed_timer:window_ms=20';

export const EVAL_OPTIONS = {
  scenario: { type: 'string', multiple: true },
  seeds: { type: 'string', default: '1,2,3' },
  policies: { type: 'string', default: SEED_ROWS.join(',') },
  policy: { type: 'string', multiple: true },
  ppo: { type: 'string', default: DEFAULT_PPO_MODEL },
  qtable: { type: 'string', default: DEFAULT_QTABLE },
  'call-cost': { type: 'string' },
  'duration-ms': { type: 'string' },
  'decision-delay': { type: 'string' },
  fallback: { type: 'string', default: DEFAULT_FALLBACK },
  out: { type: 'string' },
} as const;

export const EVAL_HELP = `eval [--scenario seed-bursty|<file.json>[,...]]... [--seeds 1,2,3] [--policies ${SEED_ROWS.join(',')}]
     [--policy <strategy spec>]... [--ppo ${DEFAULT_PPO_MODEL}] [--qtable ${DEFAULT_QTABLE}] [--call-cost ms] [--duration-ms ms] [--out dir]
  Every policy on every seed of every scenario, plus the oracle: per scenario a table, CSV, JSON, markdown and SVG plots
  (the latency CDF pools all seeds' requests). --scenario repeats or takes a comma list; files go to --out (one scenario)
  or --out/<scenario>/ (several), by default .run/sim/eval-<scenario>/. --call-cost and --duration-ms apply to each.
  --policy bayes[:call_cost_ms=<C>]: the Bayes-optimal causal policy (knows the on-off traffic model; one-key mmpp scenarios).
  --decision-delay p50=<ms>,p99=<ms>,late=<share>[,timeout=<ms>]: policies answer over a live-like policy.decide round
  trip (bench:policy measures these: p50 ~0.4, p99 ~1-1.5 ms, late 0.002-0.006 on this machine): one round in flight,
  the answer applied on arrival, a late round decided by --fallback (default ${DEFAULT_FALLBACK}, the coordinator's).
  Without it every answer is instant.`;

/** --decision-delay and --fallback, checked; undefined when no delay is asked for. */
export function decisionPathOption(delay: string | undefined, fallback: string): DecisionPathSpec | undefined {
  if (delay === undefined) return undefined;
  const spec = parseStrategySpec(fallback);
  if (typeof spec === 'string') throw new UsageError(`--fallback: ${spec}`);
  try {
    createStrategy(spec);
    return parseDecisionDelay(delay, spec);
  } catch (error) {
    throw new UsageError(`--decision-delay / --fallback: ${(error as Error).message}`);
  }
}

export async function evalCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: EVAL_OPTIONS, allowPositionals: false });
  const names = (values.scenario ?? ['seed-bursty']).flatMap(list);
  if (names.length === 0) throw new UsageError('--scenario needs a scenario name or file');
  const seeds = seedList(values.seeds);
  const policyNames = [...list(values.policies), ...(values.policy ?? [])];
  // Everything is loaded and resolved before the first run, so a bad name in the last scenario fails at once.
  const runs: { scenario: Scenario; policies: PolicyEntry[] }[] = [];
  for (const name of names) {
    const scenario = await loadScenario(name, { callCostMs: values['call-cost'], durationMs: values['duration-ms'] });
    // Scenario names key the output folders and the CSVs' scenario column.
    if (runs.some((r) => r.scenario.name === scenario.name)) throw new UsageError(`--scenario: two scenarios are named ${scenario.name}`);
    const policies = await resolvePolicies(policyNames, scenario, { ppo: values.ppo, qtable: values.qtable });
    runs.push({ scenario, policies });
  }
  const outOf = (scenario: Scenario) =>
    values.out === undefined
      ? join('.run', 'sim', `eval-${scenario.name}`)
      : runs.length === 1
        ? values.out
        : join(values.out, scenario.name);
  const decisionPath = decisionPathOption(values['decision-delay'], values.fallback);
  for (const { scenario, policies } of runs) await runEvaluation(scenario, policies, seeds, outOf(scenario), undefined, decisionPath);
}

/** Shared by eval and replay: run, print, write every artefact. */
export async function runEvaluation(
  scenario: Scenario,
  policies: PolicyEntry[],
  seeds: number[],
  out: string,
  trace: Trace | undefined,
  decisionPath?: DecisionPathSpec,
): Promise<ScenarioEvaluation> {
  const bar = new ProgressBar(seeds.length * (policies.length + 1));
  const evaluation = evaluateScenario(scenario, policies, seeds, {
    keepLatencies: true,
    ...(trace ? { trace } : {}),
    ...(decisionPath ? { decisionPath } : {}),
    onProgress: (done, _total, label) => bar.update(done, label),
  });
  bar.update(seeds.length * (policies.length + 1), 'done');
  bar.done();
  const summary = meanBySeed(evaluation.rows);
  const path = decisionPath
    ? `; decide round trip p50 ${decisionPath.p50Ms} / p99 ${decisionPath.p99Ms} ms, ${(decisionPath.lateShare * 100).toFixed(2)} % late -> ${decisionPath.fallback.name}`
    : '';
  const title = `${scenario.name}: ${seeds.length} seed(s), C = ${scenario.callCostMs} request-ms per call${path}`;
  console.log(`\n${title}\n${scenario.description}\n\n${textTable(summary)}\n`);
  await mkdir(out, { recursive: true });
  const frontier = meanFrontier(evaluation.frontiers);
  await writeFile(join(out, 'results.csv'), csv(evaluation.rows));
  await writeFile(join(out, 'summary.csv'), csv(summary));
  await writeFile(join(out, 'results.md'), `### ${title}\n\n${scenario.description}\n\n${markdownTable(summary)}\n`);
  await writeFile(
    join(out, 'results.json'),
    JSON.stringify(
      {
        scenario,
        seeds,
        policies: policies.map((p) => ({ label: p.label, spec: p.spec })),
        summary: summary.map(({ latencies: _l, ...row }) => row),
        runs: evaluation.rows.map(({ latencies: _l, ...row }) => row),
        frontier: frontier.map((p) => ({ callCostMs: p.callCostMs, costPerRequest: p.costPerRequest, ...p.metrics })),
      },
      null,
      2,
    ),
  );
  const pooled = seeds.length === 1 ? `seed ${seeds[0]}` : `${seeds.length} seeds pooled`;
  await writeFile(join(out, 'latency-cdf.svg'), latencyCdfSvg(`Client latency CDF — ${scenario.name} (${pooled})`, summary));
  await writeFile(join(out, 'frontier.svg'), frontierSvg(`Upstream reduction vs p50 — ${scenario.name}`, summary, frontier));
  // Zoomed on the high-savings corner where the interesting policies sit.
  const oracle = summary.find((r) => r.policy === ORACLE_LABEL);
  const zoomFrom = Math.floor((oracle?.metrics.reduction ?? 0.9) * 100 - 6);
  await writeFile(
    join(out, 'frontier-zoom.svg'),
    frontierSvg(`Upstream reduction vs p50 (zoom) — ${scenario.name}`, summary, frontier, zoomFrom),
  );
  console.log(`wrote ${out}/{results.csv,summary.csv,results.json,results.md,latency-cdf.svg,frontier.svg,frontier-zoom.svg}`);
  return evaluation;
}

/** The frontier averaged over seeds, price by price (every seed uses the same price grid). */
function meanFrontier(frontiers: Map<number, FrontierPoint[]>): FrontierPoint[] {
  const all = [...frontiers.values()];
  return all[0]!.map((point, i) => {
    const at = all.map((f) => f[i]!);
    const mean = (pick: (p: FrontierPoint) => number) => at.reduce((s, p) => s + pick(p), 0) / at.length;
    return {
      callCostMs: point.callCostMs,
      costPerRequest: mean((p) => p.costPerRequest),
      metrics: { ...point.metrics, reduction: mean((p) => p.metrics.reduction), p50: mean((p) => p.metrics.p50) },
    };
  });
}
