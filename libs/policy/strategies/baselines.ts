import type { StrategyParams } from '../params.js';
import { planTo, plannedStrategy } from '../plan.js';
import type { FlushPlan, FlushStrategy, SlotFeatures } from '../types.js';

/**
 * threshold: the optimal control-limit rule for batch service (Deb & Serfozo
 * 1973): with Poisson arrivals, a fixed cost per dispatch and a linear
 * holding cost, the cost-optimal policy serves as soon as M customers wait.
 * Here M is a constant fitted per route offline on recorded traffic
 * (libs/sim fitThreshold: the M that minimises C * calls + waits on the
 * route's trace), not from the live rate as cost_aware does; the envelope's
 * timeout bounds a slot that never reaches M. The reviewer's baseline: a
 * learned policy must beat the best constant threshold, not only the timer.
 */
export function threshold(p: StrategyParams): FlushStrategy {
  const size = p.get('size', 1, { min: 1, max: 1_000_000 });
  return plannedStrategy('threshold', (slots) => slots.map(() => planTo(Infinity, size)));
}

/**
 * aimd: Clipper's adaptive batching (Crankshaw et al., NSDI 2017, section
 * 4.3): the batch size limit grows additively while the latency objective
 * holds and shrinks multiplicatively (by 10 %) when it is missed.
 *
 * Clipper dispatches whenever its model container is idle, so it never waits
 * for a batch to fill; a gateway's upstream takes calls in parallel, so here a
 * slot also has a time rule: it may wait only the part of the objective the
 * upstream does not need (slo_ms - upstream p99). The objective is read from
 * the route's observed client p99 (the observed_p99_ms feature), and the limit
 * moves at most once per interval_ms of the decider's clock, so its pace does
 * not depend on how often slots are asked about. State is the limit and when
 * it last moved; one instance per route (createStrategy per route spec).
 */
export function aimd(p: StrategyParams): FlushStrategy {
  const sloMs = p.get('slo_ms', 100, { min: 1, max: 600_000 });
  const step = p.get('step', 1, { min: 1, max: 10_000 });
  const backoff = p.get('backoff', 0.9, { min: 0.01, max: 0.99 });
  const intervalMs = p.get('interval_ms', 100, { min: 0, max: 600_000 });
  const start = p.get('start', 1, { min: 1, max: 1_000_000 });
  const state = { limit: start, movedAtMs: -Infinity };

  const adjust = (slots: readonly SlotFeatures[], nowMs: number) => {
    if (slots.length === 0 || nowMs - state.movedAtMs < intervalMs) return;
    const observed = Math.max(...slots.map((s) => s.observedP99Ms));
    const cap = Math.max(...slots.map((s) => s.maxBatchSize));
    state.limit = observed > sloMs ? Math.max(1, Math.floor(state.limit * backoff)) : Math.min(cap, state.limit + step);
    state.movedAtMs = nowMs;
  };

  return plannedStrategy('aimd', (slots, context) => {
    adjust(slots, context.nowMs);
    return slots.map((s): FlushPlan => planTo(Math.max(0, sloMs - s.upstreamP99Ms), state.limit));
  });
}
