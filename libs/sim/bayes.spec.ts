import { createStrategy } from '#libs/policy';
import { describe, expect, it } from 'vitest';
import type { OnOffModel } from './bayes.js';
import { beliefPolicy, OnOffFilter, planAdvantage, planOnOff, planSaysFlush } from './bayes.js';
import { costPerRequest, summarize } from './metrics.js';
import { oracleRun } from './frontier.js';
import type { SimConfig } from './simulator.js';
import { simulate } from './simulator.js';
import { generateTrace } from './traffic.js';

// Seed-like bursts on a smaller envelope so a plan solves in well under a second.
const model: OnOffModel = { baseRatePerMs: 0.005, burstRatePerMs: 1, meanBurstMs: 15, meanGapMs: 150 };
const envelope = { batchTimeoutMs: 20, maxBatchSize: 32, tickMs: 1 };
const config: SimConfig = { ...envelope, upstream: { baseMs: 5, jitterSigma: 0.25, perInFlightMs: 0.5, perItemMs: 0 }, seed: 5 };
const traffic = {
  process: { kind: 'mmpp' as const, baseRatePerSec: 5, burstRatePerSec: 1000, meanBurstMs: 15, meanGapMs: 150 },
  popularity: { kind: 'single' as const },
  durationMs: 40_000,
};
const C = 200;

describe('OnOffFilter', () => {
  it('is the Bayes update of a two-state chain with Poisson arrivals', () => {
    const filter = new OnOffFilter(model, 1, 0.3);
    const prior = 0.3 * Math.exp(-1 / 15) + 0.7 * (1 - Math.exp(-1 / 150));
    expect(filter.predicted()).toBeCloseTo(prior, 12);
    const burst = prior * Math.exp(-1) * 1; // Poisson(1) at k = 1
    const base = (1 - prior) * Math.exp(-0.005) * 0.005;
    const { probability, belief } = filter.step(1);
    expect(probability).toBeCloseTo(burst + base, 12);
    expect(belief).toBeCloseTo(burst / (burst + base), 12);
  });

  it('gives a distribution over arrivals, and arrivals raise the belief while silence lowers it', () => {
    const filter = new OnOffFilter(model, 1, 0.5);
    let total = 0;
    for (let k = 0; k < 40; k++) total += filter.step(k).probability;
    expect(total).toBeCloseTo(1, 9);
    expect(filter.step(2).belief).toBeGreaterThan(0.99);
    expect(filter.step(0).belief).toBeLessThan(0.5);
    for (let i = 0; i < 200; i++) filter.observe(0);
    // Long silence: the belief settles where switching in balances the evidence of no arrivals.
    expect(filter.belief).toBeLessThan(0.02);
    expect(filter.belief).toBeGreaterThan(0);
  });
});

describe('planOnOff', () => {
  const plan = planOnOff(model, { ...envelope, callCostMs: C, logitStep: 0.5 });

  it('converges', () => {
    expect(plan.residual).toBeLessThanOrEqual(plan.options.tolerance);
    expect(plan.rounds).toBeLessThan(plan.options.maxRounds);
  });

  it('flushes at once when a call costs less than a tick of waiting, and never before the envelope when calls are dear', () => {
    const cheap = planOnOff(model, { ...envelope, callCostMs: 0.5, logitStep: 0.5 });
    const dear = planOnOff(model, { ...envelope, callCostMs: 1e6, logitStep: 0.5 });
    for (const belief of [0.001, 0.1, 0.5, 0.95]) {
      for (const size of [1, 5, 31]) {
        for (const age of [0, 7, 19]) {
          expect(planSaysFlush(cheap, belief, size, age)).toBe(true);
          expect(planSaysFlush(dear, belief, size, age)).toBe(false);
        }
      }
    }
    expect(planSaysFlush(dear, 0.5, 3, 20)).toBe(true); // the envelope itself
  });

  it('reports how much the other action would cost, with the sign of the decision', () => {
    for (const [belief, size, age] of [
      [0.95, 8, 3],
      [0.001, 8, 3],
      [0.3, 1, 12],
    ] as const) {
      const advantage = planAdvantage(plan, belief, size, age);
      expect(Number.isFinite(advantage)).toBe(true);
      expect(advantage > 0).toBe(planSaysFlush(plan, belief, size, age));
    }
    expect(planAdvantage(plan, 0.5, 3, envelope.batchTimeoutMs)).toBe(Infinity);
  });

  it('holds a slot while a burst is on and lets it go once the burst is believed over', () => {
    expect(planSaysFlush(plan, 0.95, 8, 3)).toBe(false);
    expect(planSaysFlush(plan, 0.001, 8, 3)).toBe(true);
  });

  it('costs no more than tuned timers, cost_aware and queue_depth on the same trace, and no less than the oracle', () => {
    const trace = generateTrace(traffic, 11);
    const cost = (run: ReturnType<typeof simulate>) => costPerRequest(summarize(run), C);
    const bayes = beliefPolicy(plan);
    const planned = cost(simulate(trace, bayes.strategy, config, bayes.observer));
    const others = [
      ...[2, 5, 10, 20].map((w) => createStrategy({ name: 'fixed_timer', params: { window_ms: w } })),
      createStrategy({ name: 'cost_aware', params: { call_cost_ms: C } }),
      createStrategy({ name: 'queue_depth', params: { low: 2, high: 20 } }),
    ].map((strategy) => cost(simulate(trace, strategy, config)));
    expect(planned).toBeLessThan(Math.min(...others));
    expect(cost(oracleRun(trace, config, C))).toBeLessThanOrEqual(planned);
  });

  it("predicts the simulator's long-run cost from its value function", () => {
    const trace = generateTrace(traffic, 12);
    const bayes = beliefPolicy(plan);
    const run = summarize(simulate(trace, bayes.strategy, config, bayes.observer));
    const simulatedPerMs = (C * run.upstreamCalls + run.waitSumMs) / traffic.durationMs;
    // Discounted cost to go from the stationary belief ~ average cost / (1 - gamma).
    const stationary = model.meanBurstMs / (model.meanBurstMs + model.meanGapMs);
    const bin = Math.round((Math.log(stationary / (1 - stationary)) - plan.options.logitMin) / plan.options.logitStep);
    const predictedPerMs = plan.emptyValue[bin]! * (1 - plan.options.gamma);
    expect(Math.abs(predictedPerMs / simulatedPerMs - 1)).toBeLessThan(0.1);
  });

  it('names a bad setting', () => {
    expect(() => planOnOff({ ...model, burstRatePerMs: 0 }, { ...envelope, callCostMs: C })).toThrow(/burst rate/);
    expect(() => planOnOff(model, { ...envelope, callCostMs: C, gamma: 1 })).toThrow(/gamma/);
    expect(() => planOnOff(model, { ...envelope, callCostMs: -1 })).toThrow(/call cost/);
    expect(() => planOnOff(model, { ...envelope, tickMs: 3, callCostMs: C })).toThrow(/whole number of ticks/);
  });
});
