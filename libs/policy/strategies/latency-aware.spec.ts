import { describe, expect, it } from 'vitest';
import { createStrategy } from '../registry.js';
import type { FlushStrategy, SlotFeatures } from '../types.js';
import { slotFeatures } from '../features.spec-support.js';

// Depth 0 keeps the queue-depth window at max_wait_ms (40 ms), so the flush age is 40 ms x multiplier.
const slot = (observedP99Ms: number, ageMs: number): SlotFeatures => slotFeatures({ observedP99Ms, ageMs });

/** target 100 ms: the seed shrinks above 110 ms and grows below 80 ms. */
const strategy = (params: Record<string, number> = {}): FlushStrategy =>
  createStrategy({
    name: 'latency_aware',
    params: { target_p99_ms: 100, max_wait_ms: 40, adjust_ms: 0, min_mult: 0.5, max_mult: 1.5, ...params },
  });

/** One decision round at `nowMs` seeing `observedP99Ms`, with slots 0.01 ms either side of `ms`. */
const around = (s: FlushStrategy, observedP99Ms: number, nowMs: number, ms: number) =>
  s.decide([slot(observedP99Ms, ms - 0.01), slot(observedP99Ms, ms + 0.01)], { random: Math.random, nowMs }).map((d) => d.action);

/** What `around` returns when the round's flush age is `ms`. */
const FLUSHES_AT = ['wait', 'flush'];

describe('latency_aware (seed 004)', () => {
  it('grows the window x1.2 while p99 is below target x 0.8', () => {
    const s = strategy();
    expect(around(s, 79.9, 1, 48)).toEqual(FLUSHES_AT);
    expect(around(s, 50, 2, 57.6)).toEqual(FLUSHES_AT);
  });

  it('shrinks the window x0.8 while p99 is above target x 1.1', () => {
    const s = strategy();
    expect(around(s, 110.1, 1, 32)).toEqual(FLUSHES_AT);
    expect(around(s, 300, 2, 25.6)).toEqual(FLUSHES_AT);
  });

  it('leaves the window alone from target x 0.8 to target x 1.1, however long p99 hovers there', () => {
    const s = strategy();
    for (let t = 1; t <= 50; t++) expect(around(s, [80, 95, 100, 105, 110][t % 5]!, t, 40)).toEqual(FLUSHES_AT);
    // A change made outside the band is kept, not undone, while p99 is back inside it.
    expect(around(s, 120, 51, 32)).toEqual(FLUSHES_AT);
    for (let t = 52; t <= 60; t++) expect(around(s, 100, t, 32)).toEqual(FLUSHES_AT);
  });

  it('never shrinks below min_mult nor grows above max_mult', () => {
    const shrinking = strategy();
    for (let t = 1; t <= 20; t++) shrinking.decide([slot(500, 0)], { random: Math.random, nowMs: t });
    expect(around(shrinking, 500, 21, 20)).toEqual(FLUSHES_AT); // 0.5 x 40 ms
    const growing = strategy();
    for (let t = 1; t <= 20; t++) growing.decide([slot(10, 0)], { random: Math.random, nowMs: t });
    expect(around(growing, 10, 21, 60)).toEqual(FLUSHES_AT); // 1.5 x 40 ms
  });

  it('adjusts at most once per adjust_ms, and not at all before any p99 is observed', () => {
    const s = strategy({ adjust_ms: 100 });
    expect(around(s, 0, 0, 40)).toEqual(FLUSHES_AT);
    expect(around(s, 200, 1, 32)).toEqual(FLUSHES_AT);
    expect(around(s, 200, 100, 32)).toEqual(FLUSHES_AT);
    expect(around(s, 200, 101, 25.6)).toEqual(FLUSHES_AT);
  });
});
