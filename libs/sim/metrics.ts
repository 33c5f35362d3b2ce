import type { SimResult } from './simulator.js';

/** What a run is judged by; latencies are client latencies (wait + upstream), in ms. */
export interface RunMetrics {
  requests: number;
  upstreamCalls: number;
  /** 1 - upstream calls / requests. */
  reduction: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  meanLatencyMs: number;
  meanWaitMs: number;
  /** (size_cap + timeout flushes) / calls. */
  forcedFlushRate: number;
  /** policy flushes / calls. */
  policyShare: number;
  avgBatch: number;
  /** Sum over requests of flush time - arrival (request-ms), what the oracle trades against calls. */
  waitSumMs: number;
}

/** Nearest-rank percentile of an ascending array (q in (0,1]); 0 when empty. */
export function percentile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1]!;
}

export function summarize(result: SimResult): RunMetrics {
  const requests = result.latencyMs.length;
  const calls = result.batches.length;
  const sorted = Float64Array.from(result.latencyMs).sort();
  let forced = 0;
  let policy = 0;
  for (const batch of result.batches) {
    if (batch.reason === 'size_cap' || batch.reason === 'timeout') forced++;
    else if (batch.reason === 'policy') policy++;
  }
  const waitSumMs = sum(result.waitMs);
  return {
    requests,
    upstreamCalls: calls,
    reduction: requests === 0 ? 0 : 1 - calls / requests,
    p50: percentile(sorted, 0.5),
    p90: percentile(sorted, 0.9),
    p99: percentile(sorted, 0.99),
    p999: percentile(sorted, 0.999),
    meanLatencyMs: requests === 0 ? 0 : sum(result.latencyMs) / requests,
    meanWaitMs: requests === 0 ? 0 : waitSumMs / requests,
    forcedFlushRate: calls === 0 ? 0 : forced / calls,
    policyShare: calls === 0 ? 0 : policy / calls,
    avgBatch: calls === 0 ? 0 : requests / calls,
    waitSumMs,
  };
}

/** Cost per request at a price of `callCostMs` request-ms per upstream call (the oracle's objective). */
export function costPerRequest(m: Pick<RunMetrics, 'upstreamCalls' | 'waitSumMs' | 'requests'>, callCostMs: number): number {
  return m.requests === 0 ? 0 : (callCostMs * m.upstreamCalls + m.waitSumMs) / m.requests;
}

function sum(values: Float64Array): number {
  let total = 0;
  for (const v of values) total += v;
  return total;
}
