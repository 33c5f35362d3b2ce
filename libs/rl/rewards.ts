import type { SlotFeatures } from '#libs/policy';

/**
 * Default reward: the oracle's own objective. A call costs callCostMs
 * request-ms, every waiter costs 1 per ms, and (optionally) a forced flush
 * costs extra. Rewards are the negated cost in units of one call, so a value
 * of -1 is "one upstream call's worth".
 */
export interface CostReward {
  kind: 'cost';
  callCostMs: number;
  forcedPenaltyMs: number;
  weights: { call: number; wait: number; forced: number };
}

/**
 * Seed 000's reward as its code computes it (rl/reward.py, FACTS section 1),
 * not as its README describes it: the exponential wait cost applies only on
 * WAIT steps, and WAIT also earns an arrival bonus tanh(rate/50).
 */
export interface SeedReward {
  kind: 'seed';
  alpha: number;
  beta: number;
  gamma: number;
  weights: { throughput: number; urgency: number; upstream: number; forced: number; arrival: number; waitCost: number };
}

export type RewardConfig = CostReward | SeedReward;

export function costReward(callCostMs: number, overrides: Partial<Omit<CostReward, 'kind'>> = {}): CostReward {
  return { kind: 'cost', callCostMs, forcedPenaltyMs: 0, weights: { call: 1, wait: 1, forced: 1 }, ...overrides };
}

export function seedReward(overrides: Partial<Omit<SeedReward, 'kind'>> = {}): SeedReward {
  return {
    kind: 'seed',
    alpha: 2,
    beta: 0.3,
    gamma: 0.5,
    weights: { throughput: 1, urgency: 1, upstream: 1, forced: 1, arrival: 1, waitCost: 1 },
    ...overrides,
  };
}

/** The named terms of a reward, for ablations (train with one term's weight set to 0). */
export function rewardTerms(config: RewardConfig): string[] {
  return Object.keys(config.weights);
}

export function withoutTerm(config: RewardConfig, term: string): RewardConfig {
  if (!Object.hasOwn(config.weights, term)) throw new Error(`${config.kind} reward has no term "${term}"`);
  return { ...config, weights: { ...config.weights, [term]: 0 } } as RewardConfig;
}

/** Seed FLUSH reward: log2(1+size) + age_ratio^2 - beta * p99/50 - gamma if forced (age_ratio unclipped). */
export function seedFlushReward(r: SeedReward, s: SlotFeatures, forced: boolean): number {
  const ageRatio = s.ageMs / s.batchTimeoutMs;
  const w = r.weights;
  return (
    w.throughput * Math.log2(1 + s.size) +
    w.urgency * ageRatio * ageRatio -
    // The seed divides by a literal 50 (its batch timeout), kept as coded.
    w.upstream * r.beta * (s.upstreamP99Ms / 50) -
    (forced ? w.forced * r.gamma : 0)
  );
}

/** Seed WAIT reward: tanh(rate/50) - (exp(alpha * age_ratio) - 1) / (exp(alpha) - 1). */
export function seedWaitReward(r: SeedReward, s: SlotFeatures): number {
  const ageRatio = s.ageMs / s.batchTimeoutMs;
  return r.weights.arrival * Math.tanh(s.requestRate / 50) - (r.weights.waitCost * Math.expm1(r.alpha * ageRatio)) / Math.expm1(r.alpha);
}
