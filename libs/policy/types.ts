/** Why a slot was flushed. `policy` is the only one that counts as the policy acting. */
export type FlushReason = 'policy' | 'timeout' | 'size_cap' | 'fallback';

export const FLUSH_REASONS: readonly FlushReason[] = ['policy', 'timeout', 'size_cap', 'fallback'];

export type Action = 'wait' | 'flush';

/** Everything a strategy may look at for one open slot (units in the names). */
export interface SlotFeatures {
  /** Fleet-wide waiters parked in the slot. */
  size: number;
  ageMs: number;
  /** p99 of upstream latency over a sliding window for the slot's origin. */
  upstreamP99Ms: number;
  /** Arrival rate of the slot's key, req/s (time-decayed estimate). */
  requestRate: number;
  /** Waiters parked across all open slots of the deciding coordinator. */
  queueDepth: number;
  /** p99 of client latency observed on the route (ms). */
  observedP99Ms: number;
  /** Milliseconds since the last waiter joined. */
  idleMs: number;
  batchTimeoutMs: number;
  maxBatchSize: number;
}

/**
 * A policy's answer for one slot, which its decider carries out alone until a
 * newer answer: flush once the slot's age reaches `flushAtAgeMs` or its size
 * reaches `flushAtSize`, whichever comes first. Ages are the slot's own (ms
 * since it opened), so a plan means the same on every clock. `validUntilAgeMs`
 * bounds how long the plan holds; past it the slot is asked about again and,
 * until an answer, it has no valid plan (the embedded strategy covers it).
 */
export interface FlushPlan {
  /** 0 = flush now; Infinity = no time rule (the envelope's timeout bounds it). */
  flushAtAgeMs: number;
  /** Infinity = no size rule (the envelope's size cap bounds it). */
  flushAtSize: number;
  /** Infinity = until the next answer. */
  validUntilAgeMs: number;
}

export interface PolicyDecision {
  action: Action;
  /** Probability of FLUSH where the strategy has one, else 0 or 1. */
  probability: number;
}

export interface DecisionContext {
  /** Uniform [0,1) source; seeded in the simulator and in tests. */
  random: () => number;
  nowMs: number;
}

/**
 * A flush strategy: features of many open slots in, one decision per slot out.
 * Implementations are deterministic given their inputs, their own explicit
 * state and the context's random source.
 */
export interface FlushStrategy {
  readonly name: string;
  decide(slots: readonly SlotFeatures[], context: DecisionContext): PolicyDecision[];
  /**
   * The strategy's plan per slot (see FlushPlan in plan.ts): what it would do
   * from now on if asked no more. Absent: its verdicts are read as plans that
   * hold for one round only.
   */
  plan?(slots: readonly SlotFeatures[], context: DecisionContext): FlushPlan[];
}

export const WAIT: PolicyDecision = Object.freeze({ action: 'wait', probability: 0 });
export const FLUSH: PolicyDecision = Object.freeze({ action: 'flush', probability: 1 });

export function decideEach(slots: readonly SlotFeatures[], rule: (slot: SlotFeatures) => boolean): PolicyDecision[] {
  return slots.map((slot) => (rule(slot) ? FLUSH : WAIT));
}
