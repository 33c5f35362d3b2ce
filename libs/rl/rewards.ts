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

/**
 * What `--reward-set key=value` may change, per reward kind: the seed reward's
 * coefficients (alpha: wait-cost curvature, beta: upstream-load weight,
 * gamma: forced-flush penalty) and either reward's term weights by term name.
 * The cost reward's prices are not here: they are the scenario's C and
 * --forced-penalty, set in one place each.
 */
export const REWARD_SETTINGS: Record<RewardConfig['kind'], readonly string[]> = {
  cost: ['call', 'wait', 'forced'],
  seed: ['alpha', 'beta', 'gamma', 'throughput', 'urgency', 'upstream', 'forced', 'arrival', 'waitCost'],
};

/** A --reward-set pair that names no setting of the reward, or sets it to something other than a usable number. */
export class RewardSettingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RewardSettingError';
  }
}

/** The reward with "key=value" overrides applied in order (see REWARD_SETTINGS); refuses unknown keys and bad numbers. */
export function withRewardSettings(config: RewardConfig, pairs: readonly string[]): RewardConfig {
  const known = REWARD_SETTINGS[config.kind];
  let out: RewardConfig = { ...config, weights: { ...config.weights } } as RewardConfig;
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    const key = at < 0 ? pair : pair.slice(0, at);
    const text = at < 0 ? '' : pair.slice(at + 1).trim();
    if (!known.includes(key)) throw new RewardSettingError(`unknown ${config.kind} reward setting "${key}" (known: ${known.join(', ')})`);
    const value = Number(text);
    if (text === '' || !Number.isFinite(value))
      throw new RewardSettingError(`${config.kind} reward setting ${key} needs a finite number (got "${text}")`);
    // The wait cost divides by e^alpha - 1.
    if (key === 'alpha' && value === 0) throw new RewardSettingError('seed reward setting alpha must not be 0');
    out = Object.hasOwn(out.weights, key)
      ? ({ ...out, weights: { ...out.weights, [key]: value } } as RewardConfig)
      : { ...out, [key]: value };
  }
  return out;
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
