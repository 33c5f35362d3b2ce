import type { FlushStrategy, StrategyModels } from '#libs/policy';
import { createStrategy } from '#libs/policy';
import type { StrategySpec } from '#libs/config';
import type { FrontierPoint } from './frontier.js';
import { costGap, DEFAULT_PRICES, frontierPoint, oracleFrontier, oracleRun, waitGap } from './frontier.js';
import type { RunMetrics } from './metrics.js';
import { costPerRequest, summarize } from './metrics.js';
import type { Scenario } from './scenarios.js';
import type { DecisionPathSpec } from './decision-path.js';
import { decisionPathOf } from './decision-path.js';
import { simConfigOf } from './scenarios.js';
import type { SimObserver } from './simulator.js';
import { simulate } from './simulator.js';
import type { Trace } from './trace.js';
import { generateTrace } from './traffic.js';

/** A policy to evaluate: a strategy spec exactly as a route would configure it, plus its models. */
export interface PolicyEntry {
  label: string;
  spec: StrategySpec;
  models?: StrategyModels;
  /**
   * Analysis policies that are not a route's strategy (the Bayes-optimal
   * bound): builds a fresh strategy, and the observer that feeds it, per run.
   */
  instantiate?: () => { strategy: FlushStrategy; observer?: SimObserver; regrets?: () => readonly number[] };
}

/** One policy on one seed of one scenario. */
export interface EvalRow {
  scenario: string;
  policy: string;
  seed: number;
  metrics: RunMetrics;
  /** C * calls + waits per request at the scenario's price. */
  costPerRequest: number;
  /** Excess cost over the oracle at the scenario's price. */
  gap: number;
  /** Excess mean wait over the frontier at the same upstream reduction (distance to the frontier). */
  waitGap: number;
  /** Client latencies, ascending (kept for CDF plots when asked). */
  latencies?: Float64Array;
}

export interface ScenarioEvaluation {
  scenario: Scenario;
  rows: EvalRow[];
  /** The oracle frontier of each seed's trace. */
  frontiers: Map<number, FrontierPoint[]>;
}

export interface EvalOptions {
  keepLatencies?: boolean;
  prices?: readonly number[];
  /** Evaluate on this trace instead of generating the scenario's traffic (replay). */
  trace?: Trace;
  /** Policies answer over a live-like decide round trip (the oracle, knowing everything, needs none). */
  decisionPath?: DecisionPathSpec;
  onProgress?: (done: number, total: number, label: string) => void;
}

export const ORACLE_LABEL = 'oracle';

/** Every policy on every seed, plus the oracle row and frontier for each seed's trace. */
export function evaluateScenario(
  scenario: Scenario,
  policies: readonly PolicyEntry[],
  seeds: readonly number[],
  options: EvalOptions = {},
): ScenarioEvaluation {
  const rows: EvalRow[] = [];
  const frontiers = new Map<number, FrontierPoint[]>();
  const total = seeds.length * (policies.length + 1);
  let done = 0;
  for (const seed of seeds) {
    const trace = options.trace ?? generateTrace(scenario.traffic, seed);
    const config = simConfigOf(scenario, seed);
    const frontier = oracleFrontier(trace, config, options.prices ?? DEFAULT_PRICES);
    const oracleResult = oracleRun(trace, config, scenario.callCostMs);
    const oracle = frontierPoint(oracleResult, scenario.callCostMs);
    frontiers.set(
      seed,
      [...frontier, oracle].sort((a, b) => a.callCostMs - b.callCostMs),
    );
    const row = (policy: string, metrics: RunMetrics, latencies: Float64Array): EvalRow => ({
      scenario: scenario.name,
      policy,
      seed,
      metrics,
      costPerRequest: costPerRequest(metrics, scenario.callCostMs),
      gap: costGap(metrics, oracle),
      waitGap: waitGap(metrics, frontiers.get(seed)!),
      ...(options.keepLatencies ? { latencies: Float64Array.from(latencies).sort() } : {}),
    });
    for (const policy of policies) {
      options.onProgress?.(done++, total, `${policy.label} seed ${seed}`);
      const made = policy.instantiate?.();
      const run = options.decisionPath ? { ...config, decisionPath: decisionPathOf(options.decisionPath) } : config;
      const result = made
        ? simulate(trace, made.strategy, run, made.observer)
        : simulate(trace, createStrategy(policy.spec, policy.models), run);
      rows.push(row(policy.label, summarize(result), result.latencyMs));
    }
    options.onProgress?.(done++, total, `oracle seed ${seed}`);
    rows.push(row(ORACLE_LABEL, oracle.metrics, oracleResult.latencyMs));
  }
  return { scenario, rows, frontiers };
}

/**
 * Per-row means over seeds (percentiles are averaged per seed, as the seed
 * projects reported). Latencies, when kept, are every seed's pooled: the CDF
 * of all requests of all seeds, not the first seed's.
 */
export function meanBySeed(rows: readonly EvalRow[]): EvalRow[] {
  const groups = new Map<string, EvalRow[]>();
  for (const row of rows) {
    const list = groups.get(row.policy);
    if (list) list.push(row);
    else groups.set(row.policy, [row]);
  }
  return [...groups.values()].map((list) => {
    const mean = (pick: (r: EvalRow) => number) => list.reduce((s, r) => s + pick(r), 0) / list.length;
    const metrics = Object.fromEntries(
      Object.keys(list[0]!.metrics).map((k) => [k, mean((r) => r.metrics[k as keyof RunMetrics])]),
    ) as unknown as RunMetrics;
    return {
      scenario: list[0]!.scenario,
      policy: list[0]!.policy,
      seed: NaN,
      metrics,
      costPerRequest: mean((r) => r.costPerRequest),
      gap: mean((r) => r.gap),
      waitGap: mean((r) => r.waitGap),
      ...(list[0]!.latencies ? { latencies: pooled(list.map((r) => r.latencies ?? new Float64Array(0))) } : {}),
    };
  });
}

function pooled(parts: readonly Float64Array[]): Float64Array {
  const all = new Float64Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    all.set(part, at);
    at += part.length;
  }
  return all.sort();
}
