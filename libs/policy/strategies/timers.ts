import type { StrategyParams } from '../params.js';
import { planTo, plannedStrategy } from '../plan.js';
import type { FlushPlan, FlushStrategy, PolicyDecision, SlotFeatures } from '../types.js';

/** Flush at age >= window_ms (default: the envelope's batch timeout). Plan: age = window. */
export function fixedTimer(p: StrategyParams): FlushStrategy {
  const windowMs = p.optional('window_ms', { min: 0, max: 600_000 });
  return plannedStrategy('fixed_timer', (slots) => slots.map((s) => planTo(windowMs ?? s.batchTimeoutMs)));
}

/** Flush at size >= size (default: the envelope's max batch size). Plan: size = n. */
export function sizeCap(p: StrategyParams): FlushStrategy {
  const size = p.optional('size', { min: 1, max: 1_000_000 });
  return plannedStrategy('size_cap', (slots) => slots.map((s) => planTo(Infinity, size ?? s.maxBatchSize)));
}

/**
 * The step at which exponential's per-tick draw is made: the live coordinator's
 * default tick (BATCHGATE_TICK_MS = 1), so a sampled plan flushes at the ages
 * the per-tick draws would have, with the same distribution.
 */
const DRAW_STEP_MS = 1;

/**
 * "Sometimes I cache" (Cloudflare 2024, seed 000): urgency grows exponentially
 * as the slot nears its deadline. p = exp(-lambda * remaining), remaining =
 * 1 - age/timeout, drawn on every decision (every coordinator tick). Its plan
 * draws the flush age once: the first 1 ms step from the slot's current age at
 * which the per-tick draw would have said FLUSH (or the timeout).
 */
export function exponential(p: StrategyParams): FlushStrategy {
  const lambda = p.get('lambda', 2, { min: 0, max: 100 });
  const flushProbability = (ageMs: number, s: SlotFeatures) => Math.exp(-lambda * Math.max(0, 1 - ageMs / s.batchTimeoutMs));
  return {
    name: 'exponential',
    decide: (slots, context) =>
      slots.map((s): PolicyDecision => {
        const probability = flushProbability(s.ageMs, s);
        return { action: context.random() < probability ? 'flush' : 'wait', probability };
      }),
    plan: (slots, context) =>
      slots.map((s): FlushPlan => {
        let age = s.ageMs;
        while (age < s.batchTimeoutMs && context.random() >= flushProbability(age, s)) age += DRAW_STEP_MS;
        return planTo(age);
      }),
  };
}
