import { describe, expect, it } from 'vitest';
import { envelopeReason } from './envelope.js';
import { DecayingRate, SlidingQuantile } from './estimators.js';
import { Mlp } from './network.js';
import { seededRandom } from './random.js';
import { createStrategy } from './registry.js';
import { targetBatchSize } from './strategies/cost-aware.js';
import { observe, qStateCount } from './strategies/learned.js';
import type { QTable } from './strategies/learned.js';
import type { SlotFeatures } from './types.js';
import { slotFeatures } from './features.spec-support.js';

const slot = slotFeatures;
const context = { random: seededRandom(7), nowMs: 0 };
const actions = (name: string, params: Record<string, number>, slots: SlotFeatures[]) =>
  createStrategy({ name, params })
    .decide(slots, context)
    .map((d) => d.action);

describe('envelope', () => {
  it('flushes size_cap at max_batch_size before looking at age', () => {
    expect(envelopeReason(slot({ size: 128, ageMs: 60 }))).toBe('size_cap');
    expect(envelopeReason(slot({ size: 127, ageMs: 49.9 }))).toBeUndefined();
    expect(envelopeReason(slot({ size: 127, ageMs: 50 }))).toBe('timeout');
  });
});

describe('fixed_timer and size_cap', () => {
  it('fixed_timer flushes at exactly window_ms and defaults to the envelope timeout', () => {
    expect(actions('fixed_timer', { window_ms: 20 }, [slot({ ageMs: 19.99 }), slot({ ageMs: 20 })])).toEqual(['wait', 'flush']);
    expect(actions('fixed_timer', {}, [slot({ ageMs: 49 }), slot({ ageMs: 50 })])).toEqual(['wait', 'flush']);
  });

  it('size_cap flushes at exactly size and defaults to max_batch_size', () => {
    expect(actions('size_cap', { size: 8 }, [slot({ size: 7 }), slot({ size: 8 })])).toEqual(['wait', 'flush']);
    expect(actions('size_cap', {}, [slot({ size: 127 }), slot({ size: 128 })])).toEqual(['wait', 'flush']);
  });
});

describe('exponential', () => {
  it('reports p = exp(-lambda * (1 - age/timeout)) and flushes when the draw is below it', () => {
    const strategy = createStrategy({ name: 'exponential', params: { lambda: 2 } });
    const draws = [0.5, 0.1, 0.99];
    let i = 0;
    const decisions = strategy.decide([slot({ ageMs: 0 }), slot({ ageMs: 25 }), slot({ ageMs: 50 })], {
      random: () => draws[i++]!,
      nowMs: 0,
    });
    expect(decisions.map((d) => d.probability)).toEqual([Math.exp(-2), Math.exp(-1), 1]);
    expect(decisions.map((d) => d.action)).toEqual(['wait', 'flush', 'flush']);
  });

  it('is reproducible under a seeded random source', () => {
    const run = () =>
      createStrategy({ name: 'exponential', params: {} })
        .decide(
          Array.from({ length: 50 }, (_, k) => slot({ ageMs: k })),
          { random: seededRandom(42), nowMs: 0 },
        )
        .map((d) => d.action);
    expect(run()).toEqual(run());
  });
});

describe('queue_depth', () => {
  it('uses max_wait at or below low, min_wait at or above high, linear between', () => {
    const params = { low: 10, high: 100, min_wait_ms: 5, max_wait_ms: 45 };
    // depth 55 is halfway: window = 45 - 0.5 * 40 = 25 ms.
    expect(actions('queue_depth', params, [slot({ queueDepth: 55, ageMs: 24.9 }), slot({ queueDepth: 55, ageMs: 25 })])).toEqual([
      'wait',
      'flush',
    ]);
    expect(actions('queue_depth', params, [slot({ queueDepth: 10, ageMs: 44 }), slot({ queueDepth: 100, ageMs: 5 })])).toEqual([
      'wait',
      'flush',
    ]);
  });
});

describe('adaptive_window', () => {
  it('waits for min_size, then flushes at target minus upstream p99, clamped', () => {
    const params = { min_size: 2, target_latency_ms: 60, min_window_ms: 5, max_window_ms: 50 };
    expect(actions('adaptive_window', params, [slot({ size: 1, ageMs: 49 }), slot({ size: 2, upstreamP99Ms: 30, ageMs: 30 })])).toEqual([
      'wait',
      'flush',
    ]);
    expect(actions('adaptive_window', params, [slot({ size: 2, upstreamP99Ms: 58, ageMs: 4.9 })])).toEqual(['wait']);
    expect(actions('adaptive_window', params, [slot({ size: 2, upstreamP99Ms: 58, ageMs: 5 })])).toEqual(['flush']);
  });
});

describe('cost_aware', () => {
  it('targets the smallest N with N(N+1)/2 >= lambda * C', () => {
    expect(targetBatchSize(0, 250)).toBe(1);
    // lambda*C = 10: 4*5/2 = 10 -> 4.
    expect(targetBatchSize(0.04, 250)).toBe(4);
    // lambda*C = 10.5 -> 5.
    expect(targetBatchSize(0.042, 250)).toBe(5);
  });

  it('flushes when the slot reaches the target for its key rate', () => {
    // 400 req/s = 0.4/ms, C = 25 -> lambda*C = 10 -> N* = 4.
    expect(actions('cost_aware', { call_cost_ms: 25 }, [slot({ requestRate: 400, size: 3 }), slot({ requestRate: 400, size: 4 })])).toEqual(
      ['wait', 'flush'],
    );
  });
});

describe('learned strategies', () => {
  it('observe() computes the seed 4-feature state with clipping', () => {
    const obs = observe([slot({ size: 256, ageMs: 25, upstreamP99Ms: 500, requestRate: 100 })], {
      sizeNorm: 128,
      ageNormMs: 50,
      p99NormMs: 500,
      rateNorm: 100,
    });
    expect(Array.from(obs)).toEqual([1, 0.5, 1, Math.fround(Math.tanh(1))]);
  });

  it('observe() appends idle/timeout (width 5) and idle/10 ms (width 6), each clipped to 1', () => {
    const scale = { sizeNorm: undefined, ageNormMs: undefined, p99NormMs: 500, rateNorm: 100 };
    const slots = [slot({ ageMs: 40, idleMs: 3 }), slot({ ageMs: 49, idleMs: 49 }), slot({ ageMs: 60, idleMs: 60 })];
    const idle = (width: number, feature: number) => Array.from(observe(slots, scale, width)).filter((_, i) => i % width === feature);
    expect(idle(5, 4)).toEqual([0.06, 0.98, 1].map(Math.fround));
    expect(idle(6, 4)).toEqual([0.06, 0.98, 1].map(Math.fround));
    expect(idle(6, 5)).toEqual([0.3, 1, 1].map(Math.fround));
    expect(() => observe(slots, scale, 7)).toThrow(/no observation has 7 features/);
  });

  it('ppo flushes when the FLUSH logit wins and reports softmax probability', () => {
    // One linear layer: FLUSH logit = 10 * age_ratio - 5, WAIT logit = 0.
    const network = new Mlp([
      {
        inputs: 4,
        outputs: 2,
        activation: 'linear',
        weights: new Float32Array([0, 0, 0, 0, 0, 10, 0, 0]),
        bias: new Float32Array([0, -5]),
      },
    ]);
    const strategy = createStrategy({ name: 'ppo', params: {} }, { network });
    const decisions = strategy.decide([slot({ ageMs: 20 }), slot({ ageMs: 30 })], context);
    expect(decisions.map((d) => d.action)).toEqual(['wait', 'flush']);
    expect(decisions[1]!.probability).toBeCloseTo(1 / (1 + Math.exp(-1)), 6);
  });

  it('qlearning takes the greedy action of the bucketed state', () => {
    const table: QTable = { version: 't', sizeEdges: [0.5], ageEdges: [0.5], rateEdges: [], rateNorm: 100, values: [] };
    // states: (size<0.5,age<0.5) wait; (size<0.5, age>=0.5) flush; (size>=0.5, *) flush.
    table.values = [1, 0, 0, 1, 0, 1, 0, 1];
    const strategy = createStrategy({ name: 'qlearning', params: {} }, { qTable: table });
    const decisions = strategy.decide([slot({ ageMs: 10 }), slot({ ageMs: 30 }), slot({ size: 100 })], context);
    expect(decisions.map((d) => d.action)).toEqual(['wait', 'flush', 'flush']);
  });

  it('qlearning with idle edges adds the time since the last joiner to the state; tables without them keep the seed state', () => {
    // size: one bucket; age < 0.5 / >= 0.5; idle < 0.06 (3 ms of 50) / >= 0.06. [age][idle][action]
    const table: QTable = { version: 'idle', sizeEdges: [], ageEdges: [0.5], rateEdges: [], idleEdges: [0.06], rateNorm: 100, values: [] };
    table.values = [1, 0, 0, 1, 0, 1, 0, 1];
    const strategy = createStrategy({ name: 'qlearning', params: {} }, { qTable: table });
    const young = [slot({ ageMs: 10, idleMs: 2.9 }), slot({ ageMs: 10, idleMs: 3 }), slot({ ageMs: 30, idleMs: 0 })];
    expect(strategy.decide(young, context).map((d) => d.action)).toEqual(['wait', 'flush', 'flush']);
    expect(qStateCount(table)).toBe(4);
    const seedState: QTable = { ...table, idleEdges: undefined };
    expect(qStateCount(seedState)).toBe(2);
    expect(() => createStrategy({ name: 'qlearning', params: {} }, { qTable: seedState })).toThrow(/must hold 4 finite values/);
    expect(() => createStrategy({ name: 'qlearning', params: {} }, { qTable: { ...table, idleEdges: [0.1, 0.05] } })).toThrow(
      /idleEdges must be ascending/,
    );
  });

  it('rejects unknown strategies and parameters with a reason', () => {
    expect(() => createStrategy({ name: 'nope', params: {} })).toThrow(/unknown strategy "nope"/);
    expect(() => createStrategy({ name: 'fixed_timer', params: { window: 3 } })).toThrow(/no parameter\(s\) window/);
    expect(() => createStrategy({ name: 'exponential', params: { lambda: -1 } })).toThrow(/lambda must be between/);
    expect(() => createStrategy({ name: 'ppo', params: {} })).toThrow(/needs a model/);
  });
});

describe('estimators', () => {
  it('DecayingRate approaches the true rate and decays while idle', () => {
    const rate = new DecayingRate(100);
    for (let t = 0; t < 2000; t += 2) rate.add(t); // 500 req/s
    expect(rate.perSecond(2000)).toBeGreaterThan(450);
    expect(rate.perSecond(2000)).toBeLessThan(550);
    expect(rate.perSecond(2000 + 100)).toBeCloseTo(rate.perSecond(2000) / Math.E, 6);
  });

  it('SlidingQuantile gives nearest-rank p99 over the last N samples', () => {
    const window = new SlidingQuantile(100);
    for (let v = 1; v <= 100; v++) window.add(v);
    expect(window.quantile(0.99)).toBe(99);
    for (let v = 0; v < 100; v++) window.add(1000);
    expect(window.quantile(0.5)).toBe(1000);
  });
});
