import { describe, expect, it } from 'vitest';
import { slotFeatures } from './features.spec-support.js';
import { FLUSH_NOW, plansOf, planTo } from './plan.js';
import { OpeningPlans, plansWithOpenings, openingRows, rateBand } from './opening.js';
import { Mlp } from './network.js';
import { createStrategy } from './registry.js';
import type { QTable } from './strategies/learned.js';

describe('opening plans', () => {
  it("one fresh-slot row per rate band of a route: size 1, age 0, the band's first slot's other inputs", () => {
    const rows = openingRows([
      slotFeatures({ size: 7, ageMs: 30, requestRate: 100, queueDepth: 9 }),
      slotFeatures({ size: 3, ageMs: 10, requestRate: 101 }),
      slotFeatures({ size: 2, ageMs: 5, requestRate: 2 }),
    ]);
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatchObject({ size: 1, ageMs: 0, idleMs: 0, requestRate: 100, queueDepth: 9 });
    expect(rows[1]).toMatchObject({ size: 1, ageMs: 0, requestRate: 2 });
  });

  it('cost_aware opens a quiet key\'s slot with "flush now" and a busy key\'s with a wait', () => {
    const strategy = createStrategy({ name: 'cost_aware', params: {} });
    const context = { random: () => 0.5, nowMs: 0 };
    const slots = [slotFeatures({ size: 3, ageMs: 10, requestRate: 2 }), slotFeatures({ requestRate: 2000 })];
    const { plans, openings } = plansWithOpenings(strategy, 'r', slots, context);
    expect(plans).toEqual(plansOf(strategy, slots, context));
    const [quiet, busy] = openings;
    expect(quiet).toMatchObject({ route: 'r', requestRate: 2, plan: { flushAtAgeMs: 0 } });
    expect(busy!.plan.flushAtAgeMs).toBeGreaterThan(0);
  });

  it('a standing plan is found for its route within x1.25 of its rate, newest first, until it expires', () => {
    const book = new OpeningPlans(1000);
    book.learn([{ route: 'r', requestRate: 10, plan: FLUSH_NOW }], 0);
    expect(book.find('r', 10, 10)?.plan).toEqual(FLUSH_NOW);
    expect(book.find('r', 12, 10)?.plan).toEqual(FLUSH_NOW);
    expect(book.find('r', 13, 10)).toBeUndefined();
    expect(book.find('other', 10, 10)).toBeUndefined();
    expect(book.find('r', 10, 499)?.stale).toBe(false);
    expect(book.find('r', 10, 500)?.stale).toBe(true);
    expect(book.find('r', 10, 1000)).toBeUndefined();
    book.learn([{ route: 'r', requestRate: 10.5, plan: planTo(5) }], 600);
    expect(book.find('r', 10, 700)?.plan).toEqual(planTo(5));
    expect(book.size).toBe(rateBand(10) === rateBand(10.5) ? 1 : 2);
  });

  it('a key nobody arrives at (rate 0) shares the lowest band with any near-zero rate', () => {
    const book = new OpeningPlans();
    book.learn([{ route: 'r', requestRate: 0, plan: FLUSH_NOW }], 0);
    expect(book.find('r', 0.001, 1)?.plan).toEqual(FLUSH_NOW);
  });

  it('the learned strategies plan new slots too: the first projected age at which the model flushes a fresh slot', () => {
    const context = { random: () => 0.5, nowMs: 0 };
    // ppo: FLUSH logit = 10 * age_ratio - 5 (flushes from half the 50 ms timeout on).
    const network = new Mlp([
      {
        inputs: 4,
        outputs: 2,
        activation: 'linear',
        weights: new Float32Array([0, 0, 0, 0, 0, 10, 0, 0]),
        bias: new Float32Array([0, -5]),
      },
    ]);
    const ppo = createStrategy({ name: 'ppo', params: {} }, { network });
    // qlearning: WAIT while age < half the timeout, FLUSH from then on, at any size.
    const qTable: QTable = { version: 't', sizeEdges: [], ageEdges: [0.5], rateEdges: [], rateNorm: 100, values: [1, 0, 0, 1] };
    const qlearning = createStrategy({ name: 'qlearning', params: {} }, { qTable });
    for (const strategy of [ppo, qlearning]) {
      const [opening] = plansWithOpenings(strategy, 'r', [slotFeatures({ size: 4, ageMs: 40 })], context).openings;
      expect(opening!.plan.flushAtAgeMs).toBeGreaterThanOrEqual(25);
      expect(opening!.plan.flushAtAgeMs).toBeLessThan(50);
    }
  });
});
