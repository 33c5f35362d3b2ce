import type { RunMetrics } from './metrics.js';
import { costPerRequest, summarize } from './metrics.js';
import type { OracleConfig } from './oracle.js';
import { oracleSchedule, replaySchedule } from './oracle.js';
import type { SimConfig, SimResult } from './simulator.js';
import type { Trace } from './trace.js';

/** The oracle's result at one price of an upstream call. */
export interface FrontierPoint {
  callCostMs: number;
  metrics: RunMetrics;
  /** The oracle's C * calls + waits per request at this price: the least any policy can pay. */
  costPerRequest: number;
}

/** Prices from 0.25 to ~65,000 request-ms, a factor 1.5 apart: from "never batch" to "always fill". */
export const DEFAULT_PRICES: readonly number[] = Array.from({ length: 32 }, (_, i) => 0.25 * Math.pow(1.5, i));

/** The oracle's schedule at one price, served through the run's upstream model. */
export function oracleRun(trace: Trace, config: SimConfig, callCostMs: number): SimResult {
  const oracle: OracleConfig = {
    callCostMs,
    batchTimeoutMs: config.batchTimeoutMs,
    maxBatchSize: config.maxBatchSize,
    tickMs: config.tickMs,
  };
  return replaySchedule(trace, oracleSchedule(trace, oracle), config);
}

export function frontierPoint(result: SimResult, callCostMs: number): FrontierPoint {
  const metrics = summarize(result);
  return { callCostMs, metrics, costPerRequest: costPerRequest(metrics, callCostMs) };
}

export function oracleAt(trace: Trace, config: SimConfig, callCostMs: number): FrontierPoint {
  return frontierPoint(oracleRun(trace, config, callCostMs), callCostMs);
}

/**
 * The reduction-vs-latency frontier the oracle traces as the call price
 * varies. Each point is optimal for C * calls + waits at its own price, so a
 * policy's distance to the frontier is measured in that same currency.
 */
export function oracleFrontier(trace: Trace, config: SimConfig, prices: readonly number[] = DEFAULT_PRICES): FrontierPoint[] {
  return prices.map((price) => oracleAt(trace, config, price));
}

/** Relative excess cost over the oracle at one price: 0 = optimal, 0.05 = 5 % worse. */
export function costGap(policy: RunMetrics, oracle: FrontierPoint): number {
  const optimal = oracle.costPerRequest;
  const paid = costPerRequest(policy, oracle.callCostMs);
  return optimal === 0 ? (paid === 0 ? 0 : Infinity) : paid / optimal - 1;
}

/**
 * Distance to the frontier at the policy's own upstream savings: how much
 * longer its requests wait on average than the least possible wait for that
 * many calls per request, as a fraction (0 = on the frontier).
 *
 * The least possible wait is bounded below by every oracle point's supporting
 * line: for any schedule, C * calls + wait >= the oracle's cost at price C,
 * so wait >= max over C of (oracle cost(C) - C * calls). That makes the gap
 * never negative, with no interpolation between frontier points. (Taking the
 * smallest cost gap over all prices instead would be degenerate: at a high
 * enough price every policy with the maximum reduction looks optimal.)
 */
export function waitGap(policy: RunMetrics, frontier: readonly FrontierPoint[]): number {
  if (policy.requests === 0) return 0;
  const calls = policy.upstreamCalls / policy.requests;
  let leastWait = 0;
  for (const point of frontier) leastWait = Math.max(leastWait, point.costPerRequest - point.callCostMs * calls);
  if (leastWait <= 0) return policy.meanWaitMs > 0 ? Infinity : 0;
  return policy.meanWaitMs / leastWait - 1;
}

/**
 * The price at which the oracle first reaches `reduction` (bisection on a log
 * scale; the oracle's call count falls monotonically as the price rises).
 */
export function priceForReduction(trace: Trace, config: SimConfig, reduction: number, lo = 0.25, hi = 100_000): number {
  if (oracleAt(trace, config, hi).metrics.reduction < reduction) return hi;
  for (let step = 0; step < 30; step++) {
    const mid = Math.sqrt(lo * hi);
    if (oracleAt(trace, config, mid).metrics.reduction >= reduction) hi = mid;
    else lo = mid;
  }
  return hi;
}
