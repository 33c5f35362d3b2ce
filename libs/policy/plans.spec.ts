import { describe, expect, it } from 'vitest';
import { FeatureBook, RATE_TAU_MS } from './features.js';
import { slotFeatures } from './features.spec-support.js';
import { Mlp } from './network.js';
import { planDue } from './plan.js';
import { seededRandom } from './random.js';
import { createStrategy } from './registry.js';
import type { QTable } from './strategies/learned.js';
import { OBSERVATION_SIZE } from './strategies/learned.js';
import type { FlushStrategy, SlotFeatures } from './types.js';

const context = { random: seededRandom(3), nowMs: 0 };
const strategy = (name: string, params: Record<string, number> = {}) => createStrategy({ name, params });
const planOf = (s: FlushStrategy, slot: SlotFeatures) => s.plan!([slot], context)[0]!;

/** The first whole-ms age from the slot's own at which per-tick decide() says FLUSH with everything else unchanged. */
function firstFlushAge(s: FlushStrategy, slot: SlotFeatures): number {
  for (let age = slot.ageMs; age < slot.batchTimeoutMs; age++) {
    if (s.decide([{ ...slot, ageMs: age }], context)[0]!.action === 'flush') return age;
  }
  return Infinity;
}

describe('plans: each strategy states when it would flush', () => {
  it('fixed_timer: age = window; size_cap: size = n', () => {
    expect(planOf(strategy('fixed_timer', { window_ms: 20 }), slotFeatures())).toMatchObject({ flushAtAgeMs: 20, flushAtSize: Infinity });
    expect(planOf(strategy('fixed_timer'), slotFeatures())).toMatchObject({ flushAtAgeMs: 50 });
    expect(planOf(strategy('size_cap', { size: 8 }), slotFeatures())).toMatchObject({ flushAtAgeMs: Infinity, flushAtSize: 8 });
  });

  it('queue_depth, latency_aware and adaptive_window: their windows, the age at which decide() flushes', () => {
    const slot = slotFeatures({ queueDepth: 55, ageMs: 3 });
    for (const s of [
      strategy('queue_depth', { low: 10, high: 100, min_wait_ms: 5, max_wait_ms: 45 }),
      strategy('latency_aware', { max_wait_ms: 40 }),
      strategy('adaptive_window', { min_size: 1, target_latency_ms: 60 }),
    ]) {
      expect(Math.ceil(planOf(s, slot).flushAtAgeMs)).toBe(firstFlushAge(s, slot));
    }
    // Below min_size adaptive_window has no time rule: a joining waiter changes its inputs and it is asked again.
    expect(planOf(strategy('adaptive_window', { min_size: 2 }), slotFeatures({ size: 1 })).flushAtAgeMs).toBe(Infinity);
  });

  it('cost_aware: size = the target at the current rate, age = when the decaying rate makes the slot due', () => {
    const s = strategy('cost_aware');
    // 2,000 req/s: target sqrt(2 x 2 x 250) ~ 32 waiters.
    const hot = planOf(s, slotFeatures({ requestRate: 2000, size: 10 }));
    expect(hot.flushAtSize).toBe(32);
    // ...and company is expected until half a ms before the timeout (2 waiters/ms).
    expect(hot.flushAtAgeMs).toBeGreaterThan(49);
    // 40 req/s and 2 waiters: due once the rate has decayed to where 2 is the target (or company is unlikely).
    const slot = slotFeatures({ requestRate: 40, size: 2, ageMs: 5 });
    const plan = planOf(s, slot);
    expect(plan.flushAtAgeMs).toBeGreaterThan(5);
    const decayedAt = (age: number) => ({ ...slot, ageMs: age, requestRate: 40 * Math.exp(-(age - 5) / RATE_TAU_MS) });
    expect(s.decide([decayedAt(plan.flushAtAgeMs - 0.01)], context)[0]!.action).toBe('wait');
    expect(s.decide([decayedAt(plan.flushAtAgeMs + 0.01)], context)[0]!.action).toBe('flush');
  });

  it('cost_aware, the default: a lone request at 5 req/s is flushed at once; at 2,500 req/s it waits for company', () => {
    const book = new FeatureBook();
    for (let t = 0; t <= 10_000; t += 200) book.recordArrivals('sparse', t);
    for (let t = 0; t <= 1000; t += 0.4) book.recordArrivals('burst', t);
    const lone = (key: string, nowMs: number) =>
      book.features({ key, route: 'r', openedAtMs: nowMs, lastArrivalMs: nowMs, size: 1, batchTimeoutMs: 50, maxBatchSize: 128 }, nowMs, 1);
    const s = strategy('cost_aware');
    const sparse = planOf(s, lone('sparse', 10_000));
    expect(sparse.flushAtAgeMs).toBe(0);
    expect(planDue(sparse, 1, 0)).toBe(true);
    const burst = planOf(s, lone('burst', 1000));
    expect(burst.flushAtAgeMs).toBeGreaterThan(0);
    expect(burst.flushAtSize).toBeGreaterThan(1);
  });

  it('exponential: draws the flush age once, surviving each ms of age with the per-tick odds, from the seeded random', () => {
    const s = strategy('exponential', { lambda: 2 });
    expect(s.plan!([slotFeatures({ ageMs: 10 })], { random: () => 0.999999, nowMs: 0 })[0]!.flushAtAgeMs).toBeGreaterThan(10);
    expect(s.plan!([slotFeatures({ ageMs: 10 })], { random: () => 0, nowMs: 0 })[0]!.flushAtAgeMs).toBe(10);
    // Over many draws from age 0, the share flushed within the first ms is the per-tick p(0) = exp(-2).
    const random = seededRandom(11);
    const ages = Array.from({ length: 20_000 }, () => s.plan!([slotFeatures()], { random, nowMs: 0 })[0]!.flushAtAgeMs);
    expect(ages.filter((a) => a < 1).length / ages.length).toBeCloseTo(Math.exp(-2), 2);
    expect(Math.max(...ages)).toBeLessThanOrEqual(50);
    const run = () =>
      s.plan!([slotFeatures(), slotFeatures({ ageMs: 20 })], { random: seededRandom(42), nowMs: 0 }).map((p) => p.flushAtAgeMs);
    expect(run()).toEqual(run());
  });

  it('ppo: the first projected age at which the network would flush, from one batched run', () => {
    // FLUSH logit = 10 x age/50 - 6: positive past 30 ms.
    const weights = new Float32Array(2 * OBSERVATION_SIZE);
    weights[OBSERVATION_SIZE + 1] = 10;
    let rows = 0;
    const network = new Mlp([{ inputs: OBSERVATION_SIZE, outputs: 2, activation: 'linear', weights, bias: new Float32Array([0, -6]) }]);
    const counting = {
      version: 'v',
      inputSize: OBSERVATION_SIZE,
      logits: (o: Float32Array, b: number) => ((rows += b), network.logits(o, b)),
    };
    const s = createStrategy({ name: 'ppo', params: {} }, { network: counting });
    const plans = s.plan!([slotFeatures({ ageMs: 2 }), slotFeatures({ ageMs: 40 })], context);
    expect(plans[0]!.flushAtAgeMs).toBeGreaterThanOrEqual(30);
    expect(plans[0]!.flushAtAgeMs).toBeLessThan(31);
    expect(plans[1]!.flushAtAgeMs).toBe(40);
    expect(rows).toBe(2 * 64);
  });

  it('qlearning: the first projected age whose greedy action is FLUSH, if nobody joins (idle grows, the rate decays)', () => {
    // One idle edge at 0.2 of the timeout: FLUSH once no waiter joined for 10 ms.
    const table: QTable = {
      version: 'q',
      sizeEdges: [],
      ageEdges: [],
      rateEdges: [],
      idleEdges: [0.2],
      rateNorm: 100,
      values: [1, 0, 0, 1],
    };
    const s = createStrategy({ name: 'qlearning', params: {} }, { qTable: table });
    const plan = planOf(s, slotFeatures({ ageMs: 6, idleMs: 4 }));
    expect(plan.flushAtAgeMs).toBeGreaterThanOrEqual(12);
    expect(plan.flushAtAgeMs).toBeLessThan(13);
    // A rate edge: FLUSH once tanh(rate/100) < 0.5, i.e. the rate decayed below ~54.9 req/s (tau 500 ms).
    const byRate: QTable = { version: 'r', sizeEdges: [], ageEdges: [], rateEdges: [0.5], rateNorm: 100, values: [0, 1, 1, 0] };
    const decayed = planOf(createStrategy({ name: 'qlearning', params: {} }, { qTable: byRate }), slotFeatures({ requestRate: 56 }));
    expect(decayed.flushAtAgeMs).toBeGreaterThan(5);
    expect(decayed.flushAtAgeMs).toBeLessThan(15);
  });
});

describe('FeatureBook: bounded per-key rate state', () => {
  it('tracks at most max keys, forgetting the one that arrived least recently', () => {
    const book = new FeatureBook(RATE_TAU_MS, 3);
    book.recordArrivals('a', 0);
    book.recordArrivals('b', 1);
    book.recordArrivals('c', 2);
    book.recordArrivals('a', 3);
    book.recordArrivals('d', 4);
    expect(book.trackedKeys).toBe(3);
    expect(book.requestRate('b', 4)).toBe(0);
    expect(book.requestRate('a', 4)).toBeGreaterThan(0);
    for (let k = 0; k < 500_000; k++) book.recordArrivals(`flood-${k}`, 5);
    expect(book.trackedKeys).toBe(3);
  });

  it('forgets keys whose rate decayed to nothing, except those it is told to keep', () => {
    const book = new FeatureBook();
    book.recordArrivals('idle', 0);
    book.recordArrivals('open', 0);
    book.recordArrivals('busy', 9_900);
    book.forgetIdleKeys(10_000, (key) => key === 'open');
    expect(book.trackedKeys).toBe(2);
    expect(book.requestRate('idle', 10_000)).toBe(0);
    expect(book.requestRate('busy', 10_000)).toBeGreaterThan(0);
  });
});
