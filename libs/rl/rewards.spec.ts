import type { FlushStrategy, SlotFeatures } from '#libs/policy';
import { createStrategy } from '#libs/policy';
import { costPerRequest, generateTrace, simulate, summarize } from '#libs/sim';
import type { SimConfig } from '#libs/sim';
import type { StrategySpec } from '#libs/config';
import { describe, expect, it } from 'vitest';
import { Ledger, stepDiscount } from './ledger.js';
import { costReward, RewardSettingError, seedFlushReward, seedReward, seedWaitReward, withoutTerm, withRewardSettings } from './rewards.js';
import type { SeedReward } from './rewards.js';

const config: SimConfig = {
  batchTimeoutMs: 50,
  maxBatchSize: 128,
  tickMs: 1,
  upstream: { baseMs: 5, jitterSigma: 0.2, perInFlightMs: 0.5, perItemMs: 0 },
  seed: 2,
};

/** Wraps a production strategy so the ledger gets one (empty) extra per decision. */
function recorded(strategy: FlushStrategy, ledger: Ledger<undefined>): FlushStrategy {
  return {
    name: strategy.name,
    decide: (slots, ctx) => (slots.forEach(() => ledger.pending.push(undefined)), strategy.decide(slots, ctx)),
  };
}

const features = (overrides: Partial<SlotFeatures>): SlotFeatures => ({
  size: 7,
  ageMs: 25,
  upstreamP99Ms: 20,
  requestRate: 50,
  queueDepth: 7,
  observedP99Ms: 0,
  idleMs: 0,
  batchTimeoutMs: 50,
  maxBatchSize: 128,
  ...overrides,
});

describe('cost reward', () => {
  it('adds up over a run to exactly minus the oracle objective (C * calls + waits) in units of one call', () => {
    const trace = generateTrace(
      {
        process: { kind: 'mmpp', baseRatePerSec: 20, burstRatePerSec: 1500, meanBurstMs: 20, meanGapMs: 200 },
        popularity: { kind: 'zipf', keys: 5, exponent: 1 },
        durationMs: 3000,
      },
      1,
    );
    for (const spec of [
      { name: 'fixed_timer', params: { window_ms: 8 } },
      { name: 'size_cap', params: {} },
    ] as StrategySpec[]) {
      const ledger = new Ledger<undefined>(costReward(300));
      const metrics = summarize(simulate(trace, recorded(createStrategy(spec), ledger), config, ledger));
      ledger.finish();
      const total = ledger.steps.reduce((sum, s) => sum + s.reward, 0);
      expect(total * -300).toBeCloseTo(costPerRequest(metrics, 300) * metrics.requests, 6);
      // One trajectory per key, linked step to step, ending once.
      expect(ledger.steps.filter((s) => s.done).length).toBe(new Set(trace.key).size);
    }
  });

  it('records the time to the next decision of the key, and discounts per decision or per simulated ms', () => {
    const trace = generateTrace(
      {
        process: { kind: 'mmpp', baseRatePerSec: 5, burstRatePerSec: 1500, meanBurstMs: 10, meanGapMs: 300 },
        popularity: { kind: 'single' },
        durationMs: 3000,
      },
      4,
    );
    const ledger = new Ledger<undefined>(costReward(300));
    simulate(trace, recorded(createStrategy({ name: 'fixed_timer', params: { window_ms: 5 } }), ledger), config, ledger);
    ledger.finish();
    for (const step of ledger.steps) {
      const next = step.next >= 0 ? ledger.steps[step.next] : undefined;
      expect(step.dtMs).toBe(next ? next.atMs - step.atMs : 0);
    }
    // Inside a slot the key decides every tick; between slots the gap is the silence before the next arrival.
    const gaps = ledger.steps.map((s) => s.dtMs);
    expect(gaps.filter((g) => g === config.tickMs).length).toBeGreaterThan(ledger.steps.length / 2);
    expect(Math.max(...gaps)).toBeGreaterThan(100);
    expect(stepDiscount({ dtMs: 250 }, 0.99, 0)).toBe(0.99);
    expect(stepDiscount({ dtMs: 250 }, 0.999, 1)).toBeCloseTo(0.999 ** 250, 12);
    expect(stepDiscount({ dtMs: 1 }, 0.999, 1)).toBeCloseTo(0.999, 12);
  });

  it('charges the forced-flush penalty only when the envelope flushes', () => {
    const trace = generateTrace({ process: { kind: 'poisson', ratePerSec: 100 }, popularity: { kind: 'single' }, durationMs: 2000 }, 3);
    const cost = (penalty: number, spec: { name: string; params: Record<string, number> }) => {
      const ledger = new Ledger<undefined>(costReward(100, { forcedPenaltyMs: penalty }));
      const result = simulate(trace, recorded(createStrategy(spec), ledger), config, ledger);
      ledger.finish();
      return {
        total: -ledger.steps.reduce((s, x) => s + x.reward, 0) * 100,
        forced: result.batches.filter((b) => b.reason === 'timeout').length,
      };
    };
    const timer = { name: 'fixed_timer', params: { window_ms: 20 } };
    expect(cost(40, timer).total).toBeCloseTo(cost(0, timer).total, 6);
    const forced = cost(40, { name: 'size_cap', params: {} });
    expect(forced.forced).toBeGreaterThan(0);
    expect(forced.total - cost(0, { name: 'size_cap', params: {} }).total).toBeCloseTo(40 * forced.forced, 6);
  });
});

describe('seed reward (as coded, FACTS section 1)', () => {
  it('computes FLUSH and WAIT rewards with the seed coefficients', () => {
    const r = seedReward();
    const s = features({});
    expect(seedFlushReward(r, s, false)).toBeCloseTo(Math.log2(8) + 0.25 - 0.3 * (20 / 50), 12);
    expect(seedFlushReward(r, s, true)).toBeCloseTo(Math.log2(8) + 0.25 - 0.3 * (20 / 50) - 0.5, 12);
    expect(seedWaitReward(r, s)).toBeCloseTo(Math.tanh(1) - (Math.exp(1) - 1) / (Math.exp(2) - 1), 12);
    expect(seedWaitReward(withoutTerm(r, 'arrival') as typeof r, s)).toBeCloseTo(-(Math.exp(1) - 1) / (Math.exp(2) - 1), 12);
  });

  it('ends an episode at every flush and scores a timed-out slot as a forced FLUSH on its last step', () => {
    const trace = generateTrace({ process: { kind: 'poisson', ratePerSec: 50 }, popularity: { kind: 'single' }, durationMs: 2000 }, 4);
    const ledger = new Ledger<undefined>(seedReward());
    const result = simulate(trace, recorded(createStrategy({ name: 'size_cap', params: {} }), ledger), config, ledger);
    ledger.finish();
    // Every slot timed out: one terminal step per slot that was asked at least once.
    const terminal = ledger.steps.filter((s) => s.done);
    expect(terminal.length).toBe(result.batches.filter((b) => b.reason === 'timeout').length);
    expect(terminal.every((s) => s.action === 0 && s.reward < Math.log2(1 + 128))).toBe(true);
  });
});

describe('reward settings (--reward-set key=value)', () => {
  it("sets the seed reward's coefficients and term weights and leaves the rest (and the original) as they were", () => {
    const base = seedReward();
    const set = withRewardSettings(base, ['alpha=3', 'beta=0.1', 'gamma= 1.5', 'arrival=0', 'alpha=4']);
    expect(set).toEqual({ ...base, alpha: 4, beta: 0.1, gamma: 1.5, weights: { ...base.weights, arrival: 0 } });
    expect(base).toEqual(seedReward());
    expect(withRewardSettings(costReward(300), ['wait=2', 'forced=0'])).toEqual(
      costReward(300, { weights: { call: 1, wait: 2, forced: 0 } }),
    );
  });

  it('changes the seed FLUSH and WAIT rewards by the coefficient it sets', () => {
    const s = features({});
    const seedWith = (...pairs: string[]) => withRewardSettings(seedReward(), pairs) as SeedReward;
    expect(seedFlushReward(seedWith('gamma=0.5'), s, true) - seedFlushReward(seedWith('gamma=1.5'), s, true)).toBeCloseTo(1, 12);
    expect(seedWaitReward(seedWith('alpha=3'), s)).toBeCloseTo(Math.tanh(1) - Math.expm1(1.5) / Math.expm1(3), 12);
    expect(seedWaitReward(seedWith('alpha=3'), s)).not.toBeCloseTo(seedWaitReward(seedReward(), s), 3);
    expect(seedFlushReward(seedWith('beta=0'), s, false) - seedFlushReward(seedReward(), s, false)).toBeCloseTo(0.3 * (20 / 50), 12);
    expect(seedWaitReward(seedWith('waitCost=2'), s)).toBeCloseTo(Math.tanh(1) - (2 * Math.expm1(1)) / Math.expm1(2), 12);
  });

  it("weights the cost reward's wait term over a whole run: total = -(C * calls + w * waits) / C", () => {
    const trace = generateTrace({ process: { kind: 'poisson', ratePerSec: 200 }, popularity: { kind: 'single' }, durationMs: 2000 }, 5);
    const ledger = new Ledger<undefined>(withRewardSettings(costReward(200), ['wait=2.5']));
    const strategy = createStrategy({ name: 'fixed_timer', params: { window_ms: 10 } });
    const metrics = summarize(simulate(trace, recorded(strategy, ledger), config, ledger));
    ledger.finish();
    const total = -ledger.steps.reduce((sum, step) => sum + step.reward, 0) * 200;
    expect(total).toBeCloseTo(200 * metrics.upstreamCalls + 2.5 * metrics.waitSumMs, 4);
  });

  it('refuses an unknown key, a missing or non-numeric value and alpha = 0, naming what was wrong', () => {
    const refused = (config: Parameters<typeof withRewardSettings>[0], pair: string) => {
      try {
        withRewardSettings(config, [pair]);
      } catch (error) {
        expect(error).toBeInstanceOf(RewardSettingError);
        return (error as Error).message;
      }
      throw new Error(`${pair} was accepted`);
    };
    expect(refused(seedReward(), 'delta=1')).toMatch(/unknown seed reward setting "delta" \(known: alpha, beta, gamma, throughput/);
    expect(refused(costReward(100), 'alpha=1')).toMatch(/unknown cost reward setting "alpha" \(known: call, wait, forced\)/);
    expect(refused(costReward(100), 'callCostMs=5')).toMatch(/"callCostMs"/);
    expect(refused(seedReward(), 'beta=abc')).toMatch(/setting beta needs a finite number \(got "abc"\)/);
    expect(refused(seedReward(), 'beta=')).toMatch(/beta needs a finite number/);
    expect(refused(seedReward(), 'beta')).toMatch(/beta needs a finite number/);
    expect(refused(seedReward(), 'gamma=Infinity')).toMatch(/gamma needs a finite number/);
    expect(refused(seedReward(), 'alpha=0')).toMatch(/alpha must not be 0/);
  });
});
