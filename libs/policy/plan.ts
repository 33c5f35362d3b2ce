import type { DecisionContext, FlushPlan, FlushStrategy, PolicyDecision, SlotFeatures } from './types.js';

export type { FlushPlan } from './types.js';

export const FLUSH_NOW: FlushPlan = Object.freeze({ flushAtAgeMs: 0, flushAtSize: Infinity, validUntilAgeMs: Infinity });

/** A plan that holds until the next answer. */
export function planTo(flushAtAgeMs: number, flushAtSize = Infinity): FlushPlan {
  return { flushAtAgeMs, flushAtSize, validUntilAgeMs: Infinity };
}

/** Whether a slot of this size and age is due under `plan`. */
export function planDue(plan: FlushPlan, size: number, ageMs: number): boolean {
  return ageMs >= plan.flushAtAgeMs || size >= plan.flushAtSize;
}

export function planValid(plan: FlushPlan, ageMs: number): boolean {
  return ageMs < plan.validUntilAgeMs;
}

/**
 * A per-tick verdict as a plan: FLUSH is "now"; WAIT holds only at the age it
 * was given, so the slot is asked about again on the next round. This is what
 * a strategy without its own plan (a trainer's behaviour strategy, an old
 * policy replica's `actions`) means.
 */
export function planOfVerdict(decision: PolicyDecision, ageMs: number): FlushPlan {
  return decision.action === 'flush' ? FLUSH_NOW : { flushAtAgeMs: Infinity, flushAtSize: Infinity, validUntilAgeMs: ageMs };
}

/** The strategy's plans for these slots: its own `plan()`, else its verdicts as plans. */
export function plansOf(strategy: FlushStrategy, slots: readonly SlotFeatures[], context: DecisionContext): FlushPlan[] {
  if (strategy.plan) return strategy.plan(slots, context);
  return strategy.decide(slots, context).map((decision, i) => planOfVerdict(decision, slots[i]!.ageMs));
}

/** The verdict a plan gives at the slot's current features (what `actions` carries on the wire). */
export function verdictOf(plan: FlushPlan, slot: SlotFeatures): PolicyDecision {
  const flush = planDue(plan, slot.size, slot.ageMs);
  return { action: flush ? 'flush' : 'wait', probability: flush ? 1 : 0 };
}

/** A strategy from a plan rule: its per-tick `decide` is its plan read at the slot's current features. */
export function plannedStrategy(
  name: string,
  plan: (slots: readonly SlotFeatures[], context: DecisionContext) => FlushPlan[],
): FlushStrategy {
  return {
    name,
    plan,
    decide: (slots, context) => plan(slots, context).map((p, i) => verdictOf(p, slots[i]!)),
  };
}
