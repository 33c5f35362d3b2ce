import type { StrategySpec } from '#libs/config';
import type { FlushStrategy } from '#libs/policy';
import { createStrategy } from '#libs/policy';
import type { Random } from './distributions.js';
import { normal } from './distributions.js';

/**
 * The policy.decide round trip as the live coordinator lives it, for runs that
 * should not assume an instant answer (the round's rules are DecisionRound's:
 * one round in flight, a round past the deadline keeps previous plans and
 * planless slots get the embedded strategy's, reason `fallback`; a late answer
 * is still applied when it arrives). Delays are lognormal through the measured
 * p50 and p99 (bench:policy), plus a share of rounds that stall outright and
 * are never answered: the measured fallback rate, whose stalls (a descheduled
 * process) are not in a lognormal's tail.
 */
export interface DecisionPath {
  p50Ms: number;
  p99Ms: number;
  /** Share of rounds answered after the deadline. */
  lateShare: number;
  /** The coordinator's decision deadline (live default 5 ms). */
  timeoutMs: number;
  /** The coordinator's embedded strategy (live default fixed_timer:window_ms=20). */
  fallback: FlushStrategy;
}

/** When a round's answer arrives, relative to its question; a stalled round is never answered. */
export interface ReplyTiming {
  afterMs: number;
  stalled: boolean;
}

const Z99 = 2.3263478740408408;

export function replyTiming(path: DecisionPath, random: Random): ReplyTiming {
  const sigma = Math.log(path.p99Ms / path.p50Ms) / Z99;
  const delay = path.p50Ms * Math.exp(sigma * normal(random));
  return { afterMs: delay, stalled: random() < path.lateShare };
}

/** Checks a decision path's numbers, naming the bad one. */
export function checkDecisionPath(path: Omit<DecisionPath, 'fallback'>): void {
  if (!(path.p50Ms > 0)) throw new Error(`decision delay p50 must be > 0 ms (got ${path.p50Ms})`);
  if (!(path.p99Ms >= path.p50Ms)) throw new Error(`decision delay p99 must be >= p50 (got ${path.p99Ms} < ${path.p50Ms})`);
  if (!(path.lateShare >= 0 && path.lateShare <= 1)) throw new Error(`decision late share must be in [0, 1] (got ${path.lateShare})`);
  if (!(path.timeoutMs > 0)) throw new Error(`decision timeout must be > 0 ms (got ${path.timeoutMs})`);
}

/** A decision path as configured: the embedded strategy by spec, built fresh per run (strategies may hold state). */
export interface DecisionPathSpec extends Omit<DecisionPath, 'fallback'> {
  fallback: StrategySpec;
}

export function decisionPathOf(spec: DecisionPathSpec): DecisionPath {
  return { ...spec, fallback: createStrategy(spec.fallback) };
}

/**
 * "p50=0.4,p99=1.2,late=0.005[,timeout=5]" (ms, ms, share, ms), the form of
 * `sim eval --decision-delay`; the timeout defaults to the live 5 ms.
 */
export function parseDecisionDelay(text: string, fallback: StrategySpec): DecisionPathSpec {
  const values: Record<string, number> = { timeout: 5 };
  for (const pair of text.split(',')) {
    const [key = '', raw] = pair.split('=', 2).map((part) => part.trim());
    if (!['p50', 'p99', 'late', 'timeout'].includes(key) || raw === undefined || !Number.isFinite(Number(raw)))
      throw new Error(`decision delay "${pair}" is not one of p50=ms, p99=ms, late=share, timeout=ms`);
    values[key] = Number(raw);
  }
  for (const key of ['p50', 'p99', 'late']) if (values[key] === undefined) throw new Error(`decision delay needs ${key}=...`);
  const spec = { p50Ms: values.p50!, p99Ms: values.p99!, lateShare: values.late!, timeoutMs: values.timeout!, fallback };
  checkDecisionPath(spec);
  return spec;
}
