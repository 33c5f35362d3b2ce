import type { FlushStrategy } from '#libs/policy';
import { createStrategy, seededRandom } from '#libs/policy';
import { describe, expect, it } from 'vitest';
import { tickAtOrAfter } from './clock.js';
import { costGap, oracleAt, oracleFrontier, waitGap } from './frontier.js';
import { costPerRequest, summarize } from './metrics.js';
import type { OracleConfig } from './oracle.js';
import { optimalRuns, oracleSchedule, replaySchedule } from './oracle.js';
import type { SimConfig } from './simulator.js';
import { simulate } from './simulator.js';
import { generateTrace } from './traffic.js';

const config: SimConfig = {
  batchTimeoutMs: 50,
  maxBatchSize: 128,
  tickMs: 1,
  upstream: { baseMs: 5, jitterSigma: 0.3, perInFlightMs: 0.5, perItemMs: 0 },
  seed: 5,
};

/** Cost of the cheapest schedule by enumerating every split of the arrivals into runs. */
function bruteForce(times: number[], o: OracleConfig): number {
  const n = times.length;
  let best = Infinity;
  for (let mask = 0; mask < 1 << (n - 1); mask++) {
    let cost = 0;
    let start = 0;
    for (let j = 0; j < n && cost < Infinity; j++) {
      if (j < n - 1 && !(mask & (1 << j))) continue; // no split after j
      const flushAt = o.tickMs > 0 ? tickAtOrAfter(times[j]!, o.tickMs) : times[j]!;
      const feasible =
        o.tickMs > 0
          ? tickFeasible(times, start, j, flushAt, o)
          : j - start + 1 <= o.maxBatchSize && times[j]! - times[start]! <= o.batchTimeoutMs;
      if (!feasible || (j < n - 1 && times[j + 1]! <= flushAt)) cost = Infinity;
      else for (let k = start; k <= j; k++) cost += flushAt - times[k]!;
      cost += o.callCostMs;
      start = j + 1;
    }
    best = Math.min(best, cost);
  }
  return best;
}

/** The envelope must not have fired on any tick the slot saw before flushAt. */
function tickFeasible(times: number[], i: number, j: number, flushAt: number, o: OracleConfig): boolean {
  for (let tick = tickAtOrAfter(times[i]!, o.tickMs); tick < flushAt; tick += o.tickMs) {
    const size = times.slice(i, j + 1).filter((t) => t <= tick).length;
    if (size >= o.maxBatchSize || tick - times[i]! >= o.batchTimeoutMs) return false;
  }
  return true;
}

function runsCost(times: number[], o: OracleConfig): number {
  return optimalRuns(times, o).reduce((sum, [from, to, at]) => {
    let waits = 0;
    for (let k = from; k <= to; k++) waits += at - times[k]!;
    return sum + o.callCostMs + waits;
  }, 0);
}

describe('hindsight-optimal schedule', () => {
  it('matches exhaustive search over all splits, on the tick grid and in continuous time', () => {
    const random = seededRandom(11);
    for (let trial = 0; trial < 300; trial++) {
      const n = 2 + Math.floor(random() * 9);
      let t = random() * 3;
      const times = Array.from({ length: n }, () => (t += random() < 0.3 ? random() * 8 : random() * 0.8));
      const o: OracleConfig = {
        callCostMs: [0.5, 3, 20][trial % 3]!,
        batchTimeoutMs: 4,
        maxBatchSize: 3 + (trial % 3),
        tickMs: trial % 2 === 0 ? 1 : 0,
      };
      expect(runsCost(times, o)).toBeCloseTo(bruteForce(times, o), 9);
    }
  });

  it('is never worse than any policy on the same trace at the same price', () => {
    const trace = generateTrace(
      {
        process: { kind: 'mmpp', baseRatePerSec: 30, burstRatePerSec: 2500, meanBurstMs: 25, meanGapMs: 200 },
        popularity: { kind: 'zipf', keys: 10, exponent: 1 },
        durationMs: 4000,
      },
      2,
    );
    const random = seededRandom(3);
    const coinFlip: FlushStrategy = {
      name: 'coin',
      decide: (slots) => slots.map(() => ({ action: random() < 0.1 ? 'flush' : 'wait', probability: 0.1 })),
    };
    const policies: FlushStrategy[] = [
      coinFlip,
      createStrategy({ name: 'fixed_timer', params: { window_ms: 5 } }),
      createStrategy({ name: 'fixed_timer', params: { window_ms: 50 } }),
      createStrategy({ name: 'size_cap', params: { size: 1 } }),
      createStrategy({ name: 'exponential', params: {} }),
      createStrategy({ name: 'queue_depth', params: {} }),
      createStrategy({ name: 'cost_aware', params: { call_cost_ms: 200 } }),
    ];
    const frontier = oracleFrontier(trace, config, [1, 10, 100, 1000, 10_000]);
    for (const policy of policies) {
      const metrics = summarize(simulate(trace, policy, config));
      for (const point of frontier) {
        expect(point.costPerRequest).toBeLessThanOrEqual(costPerRequest(metrics, point.callCostMs) + 1e-9);
        expect(costGap(metrics, point)).toBeGreaterThanOrEqual(-1e-12);
      }
      expect(waitGap(metrics, frontier)).toBeGreaterThanOrEqual(-1e-12);
    }
  });

  it('saves more calls and waits longer as the price of a call rises, and answers everyone once', () => {
    const trace = generateTrace({ process: { kind: 'poisson', ratePerSec: 400 }, popularity: { kind: 'single' }, durationMs: 3000 }, 1);
    const cheap = oracleAt(trace, config, 2);
    const dear = oracleAt(trace, config, 2000);
    expect(dear.metrics.reduction).toBeGreaterThan(cheap.metrics.reduction);
    expect(dear.metrics.meanWaitMs).toBeGreaterThan(cheap.metrics.meanWaitMs);
    const schedule = oracleSchedule(trace, { callCostMs: 300, batchTimeoutMs: 50, maxBatchSize: 128, tickMs: 1 });
    expect(replaySchedule(trace, schedule, config).answers.every((a) => a === 1)).toBe(true);
  });
});
