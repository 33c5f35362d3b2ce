import { createStrategy } from '#libs/policy';
import { describe, expect, it } from 'vitest';
import type { DecisionPath } from './decision-path.js';
import { checkDecisionPath, parseDecisionDelay } from './decision-path.js';
import { simulate } from './simulator.js';
import type { SimConfig } from './simulator.js';
import { traceFromArrivals } from './trace.js';
import { generateTrace } from './traffic.js';

const base: SimConfig = {
  batchTimeoutMs: 50,
  maxBatchSize: 128,
  tickMs: 1,
  upstream: { baseMs: 5, jitterSigma: 0, perInFlightMs: 0, perItemMs: 0 },
  seed: 3,
};
const path = (over: Partial<DecisionPath>): DecisionPath => ({
  p50Ms: 2,
  p99Ms: 2,
  lateShare: 0,
  timeoutMs: 5,
  fallback: createStrategy({ name: 'fixed_timer', params: { window_ms: 3 } }),
  ...over,
});
const lone = traceFromArrivals([{ tMs: 0, key: 'k', route: 'r' }]);

describe('the decide round trip in the simulator', () => {
  it('applies a plan when its answer arrives and carries it out locally: a 2 ms round trip costs a 10 ms timer nothing', () => {
    const timer = createStrategy({ name: 'fixed_timer', params: { window_ms: 10 } });
    expect(simulate(lone, timer, base).waitMs[0]).toBe(10);
    // Asked once at 0, the plan "age 10" arrives at 2 and is applied on the tick at 10 (per-tick verdicts landed at 12).
    const delayed = simulate(lone, timer, { ...base, decisionPath: path({}) });
    expect(delayed.waitMs[0]).toBe(10);
    expect(delayed.batches.map((b) => b.reason)).toEqual(['policy']);
  });

  it('a strategy without plans is asked on every round, its verdict landing one round trip later', () => {
    const timer = createStrategy({ name: 'fixed_timer', params: { window_ms: 10 } });
    const verdicts = { name: 'verdicts', decide: timer.decide };
    // Asked at 0, 2, ..., 10 (each answer takes 2 ms); the FLUSH decided at 10 lands at 12.
    expect(simulate(lone, verdicts, { ...base, decisionPath: path({}) }).waitMs[0]).toBe(12);
  });

  it('a slot with no plan when its round passes the deadline gets the embedded strategy, at the deadline', () => {
    const never = createStrategy({ name: 'size_cap', params: {} });
    const result = simulate(lone, never, { ...base, decisionPath: path({ lateShare: 1 }) });
    // Asked at 0, no answer by 5: the fallback (flush at age >= 3) flushes it then.
    expect(result.waitMs[0]).toBe(5);
    expect(result.batches.map((b) => b.reason)).toEqual(['fallback']);
  });

  it('answers every request exactly once under a slow, sometimes late policy, and keeps the envelope', () => {
    const trace = generateTrace(
      {
        process: { kind: 'mmpp', baseRatePerSec: 20, burstRatePerSec: 3000, meanBurstMs: 30, meanGapMs: 150 },
        popularity: { kind: 'zipf', keys: 20, exponent: 1.2 },
        durationMs: 3000,
      },
      5,
    );
    const strategy = createStrategy({ name: 'queue_depth', params: { low: 5, high: 60 } });
    const result = simulate(trace, strategy, { ...base, decisionPath: path({ p50Ms: 0.4, p99Ms: 3, lateShare: 0.05 }) });
    expect(result.answers.every((count) => count === 1)).toBe(true);
    const reasons = new Set(result.batches.map((b) => b.reason));
    expect(reasons.has('policy')).toBe(true);
    expect(reasons.has('fallback')).toBe(true);
    for (const b of result.batches) expect(b.flushedAtMs - b.openedAtMs).toBeLessThanOrEqual(base.batchTimeoutMs + base.tickMs);
  });

  it('refuses a decision path that cannot be, naming the number', () => {
    expect(() => checkDecisionPath({ p50Ms: 0, p99Ms: 1, lateShare: 0, timeoutMs: 5 })).toThrow('p50 must be > 0 ms');
    expect(() => checkDecisionPath({ p50Ms: 2, p99Ms: 1, lateShare: 0, timeoutMs: 5 })).toThrow('p99 must be >= p50');
    expect(() => checkDecisionPath({ p50Ms: 1, p99Ms: 2, lateShare: 2, timeoutMs: 5 })).toThrow('late share must be in [0, 1]');
  });
});

describe('parseDecisionDelay', () => {
  const fallback = { name: 'fixed_timer', params: { window_ms: 20 } };

  it('reads the CLI form, with the live 5 ms deadline by default', () => {
    expect(parseDecisionDelay('p50=0.3, p99=1.2,late=0.002', fallback)).toEqual({
      p50Ms: 0.3,
      p99Ms: 1.2,
      lateShare: 0.002,
      timeoutMs: 5,
      fallback,
    });
    expect(parseDecisionDelay('p50=1,p99=2,late=0,timeout=8', fallback).timeoutMs).toBe(8);
  });

  it('names what is wrong', () => {
    expect(() => parseDecisionDelay('p50=1,p99=2', fallback)).toThrow('needs late=');
    expect(() => parseDecisionDelay('p50=1,p99=2,late=0,jitter=3', fallback)).toThrow('"jitter=3" is not one of');
    expect(() => parseDecisionDelay('p50=1,p99=0.5,late=0', fallback)).toThrow('p99 must be >= p50');
  });
});
