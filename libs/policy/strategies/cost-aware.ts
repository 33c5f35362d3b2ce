import { RATE_TAU_MS } from '../features.js';
import type { StrategyParams } from '../params.js';
import { planTo, plannedStrategy } from '../plan.js';
import type { FlushPlan, FlushStrategy, SlotFeatures } from '../types.js';

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

/** Bisection steps for the company rule's age: 2^-40 of the window, far below a tick. */
const BISECTION_STEPS = 40;

/**
 * When the slot is due, in ms from now, if no one else arrives (an arrival
 * changes the inputs and the slot is asked about again). The key's rate
 * estimate decays as exp(-dt/tau) meanwhile (FeatureBook, RATE_TAU_MS), so:
 * - the target: targetBatchSize <= size  <=>  lambda(dt)*C <= size(size+1)/2;
 * - company: fewer than one more waiter is expected before the envelope's
 *   timeout, lambda(dt) * (timeout - age - dt) < 1. Deb & Serfozo's threshold
 *   assumes a slot may wait as long as it takes; under the envelope, a slot
 *   that cannot expect even one companion before its timeout bets its waiters'
 *   certain wait on a less-than-even chance. At 5 req/s and 50 ms that is
 *   0.3 expected companions: the lone request goes at once.
 */
function dueInMs(s: SlotFeatures, callCostMs: number): number {
  const ratePerMs = s.requestRate / 1000;
  const remainingMs = s.batchTimeoutMs - s.ageMs;
  const served = (s.size * (s.size + 1)) / 2;
  const load = ratePerMs * callCostMs;
  const targetAt = load <= served ? 0 : RATE_TAU_MS * Math.log(load / served);
  const expectedCompany = (dt: number) => ratePerMs * Math.exp(-dt / RATE_TAU_MS) * (remainingMs - dt);
  if (expectedCompany(0) < 1) return 0;
  let lo = 0;
  let hi = Math.max(0, remainingMs);
  for (let i = 0; i < BISECTION_STEPS; i++) {
    const mid = (lo + hi) / 2;
    if (expectedCompany(mid) < 1) hi = mid;
    else lo = mid;
  }
  return Math.min(targetAt, hi);
}

/**
 * cost_aware: an analytic policy that needs no training. It flushes when the
 * slot holds the cost-optimal number of waiters for the key's live arrival
 * rate (see targetBatchSize), or when no company is expected before the
 * envelope's timeout (see dueInMs). The rate estimate decays while a key is
 * idle, so the target falls and a slot at the tail of a burst is flushed
 * instead of waiting for company that is not coming; the envelope bounds the
 * rest. Plan: size >= the target at the current rate, or the age at which the
 * decayed rate makes the slot due. call_cost_ms is the operator's price of one
 * upstream call.
 */
export function costAware(p: StrategyParams): FlushStrategy {
  const callCostMs = p.get('call_cost_ms', 250, { min: 0 });
  return plannedStrategy('cost_aware', (slots) =>
    slots.map((s): FlushPlan => planTo(s.ageMs + dueInMs(s, callCostMs), targetBatchSize(s.requestRate / 1000, callCostMs))),
  );
}
