import type { StrategyParams } from '../params.js';
import type { FlushStrategy, PolicyDecision } from '../types.js';
import { decideEach } from '../types.js';

/** Flush at age >= window_ms (default: the envelope's batch timeout). */
export function fixedTimer(p: StrategyParams): FlushStrategy {
  const windowMs = p.optional('window_ms', { min: 0, max: 600_000 });
  return {
    name: 'fixed_timer',
    decide: (slots) => decideEach(slots, (s) => s.ageMs >= (windowMs ?? s.batchTimeoutMs)),
  };
}

/** Flush at size >= size (default: the envelope's max batch size). */
export function sizeCap(p: StrategyParams): FlushStrategy {
  const size = p.optional('size', { min: 1, max: 1_000_000 });
  return {
    name: 'size_cap',
    decide: (slots) => decideEach(slots, (s) => s.size >= (size ?? s.maxBatchSize)),
  };
}

/**
 * "Sometimes I cache" (Cloudflare 2024, seed 000): urgency grows exponentially
 * as the slot nears its deadline. p = exp(-lambda * remaining), remaining =
 * 1 - age/timeout, evaluated on every decision (every coordinator tick).
 */
export function exponential(p: StrategyParams): FlushStrategy {
  const lambda = p.get('lambda', 2, { min: 0, max: 100 });
  return {
    name: 'exponential',
    decide: (slots, context) =>
      slots.map((s): PolicyDecision => {
        const remaining = Math.max(0, 1 - s.ageMs / s.batchTimeoutMs);
        const probability = Math.exp(-lambda * remaining);
        return { action: context.random() < probability ? 'flush' : 'wait', probability };
      }),
  };
}
