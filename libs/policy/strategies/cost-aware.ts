import type { StrategyParams } from '../params.js';
import type { FlushStrategy } from '../types.js';
import { decideEach } from '../types.js';

/**
 * The batch size at which to flush, for arrivals at `ratePerMs` when one
 * upstream call costs as much as `callCostMs` request-milliseconds of waiting.
 *
 * Dispatching with Poisson arrivals, linear waiting cost (1 per waiter per ms)
 * and a fixed cost C per dispatch is optimally controlled by a size threshold
 * (Deb & Serfozo 1973). A threshold N gives a cost rate of lambda*C/N +
 * (N-1)/2 per ms; the best N is the smallest with N(N+1)/2 >= lambda*C,
 * i.e. about sqrt(2*lambda*C). lambda = 0 gives 1: nobody is coming, flush.
 */
export function targetBatchSize(ratePerMs: number, callCostMs: number): number {
  const load = Math.max(0, ratePerMs) * callCostMs;
  return Math.max(1, Math.ceil((Math.sqrt(1 + 8 * load) - 1) / 2));
}

/**
 * cost_aware: an analytic policy that needs no training. It flushes when the
 * slot holds the cost-optimal number of waiters for the key's live arrival
 * rate (see targetBatchSize). The rate estimate decays while a key is idle, so
 * the target falls and a slot at the tail of a burst is flushed instead of
 * waiting for company that is not coming; the envelope bounds the rest.
 * call_cost_ms is the operator's price of one upstream call.
 */
export function costAware(p: StrategyParams): FlushStrategy {
  const callCostMs = p.get('call_cost_ms', 250, { min: 0 });
  return {
    name: 'cost_aware',
    decide: (slots) => decideEach(slots, (s) => s.size >= targetBatchSize(s.requestRate / 1000, callCostMs)),
  };
}
