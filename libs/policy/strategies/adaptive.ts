import type { StrategyParams } from '../params.js';
import { planTo, plannedStrategy } from '../plan.js';
import type { FlushStrategy, SlotFeatures } from '../types.js';

interface DepthWindow {
  low: number;
  high: number;
  minWaitMs: number;
  maxWaitMs: number | undefined;
}

function readDepthWindow(p: StrategyParams): DepthWindow {
  const low = p.get('low', 10, { min: 0 });
  const high = p.get('high', 100, { min: low + 1 });
  const minWaitMs = p.get('min_wait_ms', 1, { min: 0 });
  const maxWaitMs = p.optional('max_wait_ms', { min: minWaitMs });
  return { low, high, minWaitMs, maxWaitMs };
}

/**
 * Seed 004: the wait shrinks linearly from max_wait (depth <= low) to min_wait
 * (depth >= high). Depth is the number of waiters parked at the coordinator.
 */
export function depthWindowMs(w: DepthWindow, slot: SlotFeatures): number {
  const maxWait = w.maxWaitMs ?? slot.batchTimeoutMs;
  const depth = slot.queueDepth;
  if (depth <= w.low) return maxWait;
  if (depth >= w.high) return w.minWaitMs;
  return maxWait - ((depth - w.low) / (w.high - w.low)) * (maxWait - w.minWaitMs);
}

export function queueDepth(p: StrategyParams): FlushStrategy {
  const window = readDepthWindow(p);
  return plannedStrategy('queue_depth', (slots) => slots.map((s) => planTo(depthWindowMs(window, s))));
}

/** Seed 004's dead band: shrink only above target x 1.1, grow only below target x 0.8. */
const SHRINK_ABOVE = 1.1;
const GROW_BELOW = 0.8;

/** Seed 004's factor for one adjustment: x0.8 when p99 is too high, x1.2 with headroom, else 1. */
function latencyFactor(observedP99Ms: number, targetP99Ms: number): number {
  if (observedP99Ms > targetP99Ms * SHRINK_ABOVE) return 0.8;
  if (observedP99Ms < targetP99Ms * GROW_BELOW) return 1.2;
  return 1;
}

/**
 * Seed 004: the queue-depth window times a multiplier driven by the route's
 * observed p99, with the seed's thresholds and factors (latencyFactor). The
 * seed applies the factor once to each timeout, from the base; this version
 * compounds it, at most every adjust_ms and within [min_mult, max_mult], so a
 * p99 that stays high keeps shortening the window. The multiplier is this
 * instance's explicit state: each route needs its own instance.
 */
export function latencyAware(p: StrategyParams): FlushStrategy {
  const window = readDepthWindow(p);
  const targetP99Ms = p.get('target_p99_ms', 60, { min: 0.1 });
  const minMult = p.get('min_mult', 0.25, { min: 0.01 });
  const maxMult = p.get('max_mult', 2, { min: minMult });
  const adjustMs = p.get('adjust_ms', 100, { min: 0 });
  // p_controller=1: the Go repo's rule instead of the spec's (FACTS.md section 4):
  // mult -= kP * (p99 - target) / target, kP 0.05, clamped to [0.5, 2].
  const pController = p.get('p_controller', 0, { min: 0, max: 1 }) === 1;
  const kP = p.get('kp', 0.05, { min: 0 });
  let multiplier = 1;
  let adjustedAt = -Infinity;
  return plannedStrategy('latency_aware', (slots, context) => {
    const observed = slots.find((s) => s.observedP99Ms > 0)?.observedP99Ms;
    if (observed !== undefined && context.nowMs - adjustedAt >= adjustMs) {
      multiplier = pController
        ? Math.min(2, Math.max(0.5, multiplier - (kP * (observed - targetP99Ms)) / targetP99Ms))
        : Math.min(maxMult, Math.max(minMult, multiplier * latencyFactor(observed, targetP99Ms)));
      adjustedAt = context.nowMs;
    }
    return slots.map((s) => planTo(depthWindowMs(window, s) * multiplier));
  });
}

/**
 * Seed 003 (adaptive window with min_size): the window is what is left of the
 * latency target after the upstream's p99, clamped to [min_window, max_window];
 * a slot with fewer than min_size waiters keeps waiting for company until the
 * envelope's timeout.
 */
export function adaptiveWindow(p: StrategyParams): FlushStrategy {
  const minSize = p.get('min_size', 2, { min: 1 });
  const targetLatencyMs = p.get('target_latency_ms', 60, { min: 0 });
  const minWindowMs = p.get('min_window_ms', 5, { min: 0 });
  const maxWindowMs = p.get('max_window_ms', 50, { min: minWindowMs });
  // Plan: age = the window once min_size waiters are in; below it, none (a joiner re-asks).
  return plannedStrategy('adaptive_window', (slots) =>
    slots.map((s) =>
      planTo(s.size >= minSize ? Math.min(maxWindowMs, Math.max(minWindowMs, targetLatencyMs - s.upstreamP99Ms)) : Infinity),
    ),
  );
}
