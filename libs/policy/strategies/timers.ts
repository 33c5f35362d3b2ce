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
 * "Sometimes I cache" (Cloudflare 2024, seed 000): urgency grows exponentially
 * as the slot nears its deadline. p = exp(-lambda * remaining), remaining =
 * 1 - age/timeout, drawn on every decision (every coordinator tick).
 *
 * Its plan draws the flush age once, as a hazard with the per-tick draw's
 * odds: over each 1 ms (the live tick) of age the flush rate is
 * -ln(1 - p(age)), so surviving a millisecond has probability 1 - p(age), as
 * surviving a tick's draw has. A hazard is memoryless: when the slot is asked
 * again (a waiter joined) a fresh draw from its current age is as likely to
 * flush as the old one, which a re-drawn per-tick coin would not be (it would
 * give the current millisecond a second chance).
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
        let budget = -Math.log(1 - context.random()); // Exp(1): the cumulative hazard at which it flushes
        let age = s.ageMs;
        if (budget <= 0) return planTo(age);
        while (age < s.batchTimeoutMs) {
          const stepMs = Math.min(HAZARD_STEP_MS, s.batchTimeoutMs - age);
          const p = flushProbability(age, s);
          const rate = p >= 1 ? Infinity : -Math.log(1 - p);
          if (rate * stepMs >= budget) return planTo(age + budget / rate);
          budget -= rate * stepMs;
          age += stepMs;
        }
        return planTo(s.batchTimeoutMs);
      }),
  };
}

/** Exponential's hazard is held constant over each millisecond of age: the live tick, where its per-tick draw is made. */
const HAZARD_STEP_MS = 1;
