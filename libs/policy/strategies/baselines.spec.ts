import { describe, expect, it } from 'vitest';
import { slotFeatures as slot } from '../features.spec-support.js';
import { seededRandom } from '../random.js';
import { createStrategy } from '../registry.js';

const at = (nowMs: number) => ({ random: seededRandom(1), nowMs });

describe('threshold (Deb & Serfozo control limit, M fitted offline)', () => {
  it('plans a flush at size M with no time rule of its own', () => {
    const strategy = createStrategy({ name: 'threshold', params: { size: 6 } });
    const [plan] = strategy.plan!([slot({ size: 2, ageMs: 10 })], at(0));
    expect(plan).toEqual({ flushAtAgeMs: Infinity, flushAtSize: 6, validUntilAgeMs: Infinity });
    const verdicts = strategy.decide([slot({ size: 5, ageMs: 40 }), slot({ size: 6, ageMs: 0 })], at(0)).map((d) => d.action);
    expect(verdicts).toEqual(['wait', 'flush']);
  });

  it('refuses a threshold below one waiter', () => {
    expect(() => createStrategy({ name: 'threshold', params: { size: 0 } })).toThrow(/threshold.size must be between 1/);
  });
});

describe('aimd (Clipper)', () => {
  it('grows the size limit by step per interval while the objective holds and cuts it by 10 % when missed', () => {
    const strategy = createStrategy({ name: 'aimd', params: { slo_ms: 100, start: 10, interval_ms: 100 } });
    const healthy = slot({ observedP99Ms: 60, upstreamP99Ms: 20 });
    const limitAt = (nowMs: number, s = healthy) => strategy.plan!([s], at(nowMs))[0]!.flushAtSize;
    expect(limitAt(0)).toBe(11);
    expect(limitAt(50)).toBe(11); // within the interval: unchanged however often it is asked
    expect(limitAt(100)).toBe(12);
    expect(limitAt(200, slot({ observedP99Ms: 140, upstreamP99Ms: 20 }))).toBe(10); // floor(12 * 0.9)
  });

  it('waits only the part of the objective the upstream does not need', () => {
    const strategy = createStrategy({ name: 'aimd', params: { slo_ms: 80 } });
    expect(strategy.plan!([slot({ upstreamP99Ms: 30 })], at(0))[0]!.flushAtAgeMs).toBe(50);
    expect(strategy.plan!([slot({ upstreamP99Ms: 120 })], at(0))[0]!.flushAtAgeMs).toBe(0);
  });

  it('never grows past the envelope size cap nor shrinks below one', () => {
    const strategy = createStrategy({ name: 'aimd', params: { start: 127, interval_ms: 0 } });
    const s = slot({ maxBatchSize: 128, observedP99Ms: 1 });
    strategy.plan!([s], at(0));
    expect(strategy.plan!([s], at(1))[0]!.flushAtSize).toBe(128);
    const slow = createStrategy({ name: 'aimd', params: { start: 1, interval_ms: 0 } });
    expect(slow.plan!([slot({ observedP99Ms: 1e6 })], at(0))[0]!.flushAtSize).toBe(1);
  });
});
