import { createStrategy } from '#libs/policy';
import { costPerRequest, summarize } from './metrics.js';
import type { SimConfig } from './simulator.js';
import { simulate } from './simulator.js';
import type { Trace } from './trace.js';

export interface ThresholdFit {
  /** The constant batch size M that minimised the cost on the trace. */
  size: number;
  /** C * calls + waits per request at that M (request-ms). */
  costPerRequest: number;
  /** Every M tried, with its cost, ascending M. */
  tried: ReadonlyArray<{ size: number; costPerRequest: number }>;
}

/**
 * Fits the threshold strategy's M for one route: simulates the route's trace
 * under `threshold:size=M` for every M from 1 to the envelope's size cap and
 * keeps the cheapest at the route's price of a call. Exhaustive rather than
 * searched: the cost in M is not unimodal under the envelope (a threshold the
 * bursts rarely reach turns into the timer), and a run of a recorded trace
 * costs milliseconds.
 */
export function fitThreshold(trace: Trace, config: SimConfig, callCostMs: number, maxSize = config.maxBatchSize): ThresholdFit {
  const tried: Array<{ size: number; costPerRequest: number }> = [];
  for (let size = 1; size <= maxSize; size++) {
    const result = simulate(trace, createStrategy({ name: 'threshold', params: { size } }), config);
    tried.push({ size, costPerRequest: costPerRequest(summarize(result), callCostMs) });
  }
  const best = tried.reduce((a, b) => (b.costPerRequest < a.costPerRequest ? b : a));
  return { size: best.size, costPerRequest: best.costPerRequest, tried };
}
