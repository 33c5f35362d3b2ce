import { describe, expect, it } from 'vitest';
import { targetBatchSize } from '#libs/policy';
import { fitThreshold } from './fit-threshold.js';
import { SCENARIOS, simConfigOf } from './scenarios.js';
import { generateTrace } from './traffic.js';

describe('fitThreshold', () => {
  it("finds Deb & Serfozo's control limit on steady Poisson traffic: about sqrt(2 * rate * C), far from both ends", () => {
    const scenario = SCENARIOS['poisson-steady']!;
    const trace = generateTrace({ ...scenario.traffic, process: { kind: 'poisson', ratePerSec: 1000 }, durationMs: 5000 }, 3);
    const callCostMs = 50;
    const fit = fitThreshold(trace, simConfigOf(scenario, 3), callCostMs);
    const analytic = targetBatchSize(1, callCostMs); // 1 req/ms: smallest N with N(N+1)/2 >= 50 -> 10
    expect(analytic).toBe(10);
    expect(Math.abs(fit.size - analytic)).toBeLessThanOrEqual(2);
    const costOf = (size: number) => fit.tried.find((t) => t.size === size)!.costPerRequest;
    expect(fit.costPerRequest).toBeLessThan(costOf(1));
    expect(fit.costPerRequest).toBeLessThan(costOf(scenario.maxBatchSize));
    expect(fit.tried).toHaveLength(scenario.maxBatchSize);
  });
});
