import { describe, expect, it } from 'vitest';
import { createStrategy } from '../registry.js';
import type { SlotFeatures } from '../types.js';
import { BatchTimeModel } from './model-based.js';
import type { ModelBasedStrategy } from './model-based.js';

const slot = (over: Partial<SlotFeatures>): SlotFeatures => ({
  size: 1,
  ageMs: 0,
  upstreamP99Ms: 0,
  requestRate: 0,
  queueDepth: 1,
  observedP99Ms: 0,
  idleMs: 0,
  batchTimeoutMs: 50,
  maxBatchSize: 32,
  ...over,
});
const context = { random: () => 0.5, nowMs: 0 };

describe('model_based (BentoML)', () => {
  it('fits batch time = a * n + b by least squares over recent batches', () => {
    const model = new BatchTimeModel(64, { a: 0, b: 0 });
    for (const n of [1, 2, 4, 8, 16]) model.observe(n, 2 * n + 10);
    const { a, b } = model.fit();
    expect(a).toBeCloseTo(2, 6);
    expect(b).toBeCloseTo(10, 6);
    expect(model.predictMs(32)).toBeCloseTo(74, 6);
  });

  it('keeps only the most recent `window` batches', () => {
    const model = new BatchTimeModel(4, { a: 0, b: 0 });
    for (const n of [1, 2, 3, 4]) model.observe(n, 100 * n);
    for (const n of [1, 2, 3, 4]) model.observe(n, n + 1);
    expect(model.fit().a).toBeCloseTo(1, 6);
    expect(model.fit().b).toBeCloseTo(1, 6);
  });

  it('waits while rate x b exceeds the parked items, flushes once it does not', () => {
    const s = createStrategy({ name: 'model_based', params: { prior_a_ms: 1, prior_b_ms: 10 } }) as ModelBasedStrategy;
    // 1000 req/s x 10 ms = 10 expected companions' worth of saving per parked item: wait.
    expect(s.plan!([slot({ size: 3, requestRate: 1000 })], context)[0]!.flushAtAgeMs).toBe(50);
    // 10 req/s: 0.1 < 3 parked items: go now.
    expect(s.plan!([slot({ size: 3, requestRate: 10 })], context)[0]!.flushAtAgeMs).toBe(0);
    // The wait plus the predicted time of one more already exceeds the max wait: go now.
    expect(s.plan!([slot({ size: 3, requestRate: 1000, ageMs: 49 })], context)[0]!.flushAtAgeMs).toBe(0);
  });
});

describe('latency_aware with the Go repo P-controller (kP 0.05, clamp [0.5, 2])', () => {
  it('lowers the multiplier by kP x relative error per adjustment and never below 0.5', () => {
    const s = createStrategy({ name: 'latency_aware', params: { p_controller: 1, adjust_ms: 0, low: 10, high: 100, max_wait_ms: 40 } });
    // p99 at 3 x target: mult 1 - 0.05 * 2 = 0.9 -> window 40 * 0.9.
    expect(s.plan!([slot({ observedP99Ms: 180 })], { ...context, nowMs: 1 })[0]!.flushAtAgeMs).toBeCloseTo(36, 6);
    for (let t = 2; t < 100; t++) s.plan!([slot({ observedP99Ms: 180 })], { ...context, nowMs: t });
    expect(s.plan!([slot({ observedP99Ms: 180 })], { ...context, nowMs: 200 })[0]!.flushAtAgeMs).toBeCloseTo(20, 6);
  });
});
