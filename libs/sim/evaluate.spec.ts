import { describe, expect, it } from 'vitest';
import { evaluateScenario, meanBySeed, ORACLE_LABEL } from './evaluate.js';
import { SCENARIOS } from './scenarios.js';

const base = SCENARIOS['seed-bursty']!;
const scenario = { ...base, traffic: { ...base.traffic, durationMs: 3000 } };

describe('mean over seeds', () => {
  it("pools every seed's latencies for the CDF, sorted, while the metrics stay per-seed means", () => {
    const policies = [{ label: 'timer 10 ms', spec: { name: 'fixed_timer', params: { window_ms: 10 } } }];
    const { rows } = evaluateScenario(scenario, policies, [1, 2, 3], { keepLatencies: true, prices: [100, 1000] });
    const summary = meanBySeed(rows);
    expect(summary.map((r) => r.policy)).toEqual(['timer 10 ms', ORACLE_LABEL]);
    for (const row of summary) {
      const perSeed = rows.filter((r) => r.policy === row.policy);
      expect(perSeed).toHaveLength(3);
      const expected = Float64Array.from(perSeed.flatMap((r) => [...r.latencies!])).sort();
      expect(row.latencies).toEqual(expected);
      expect(row.latencies!.length).toBe(perSeed.reduce((n, r) => n + r.metrics.requests, 0));
      // The seeds differ, so pooling is not just the first seed's curve.
      expect(new Set(perSeed.map((r) => r.metrics.requests)).size).toBeGreaterThan(1);
      const meanP50 = perSeed.reduce((s, r) => s + r.metrics.p50, 0) / 3;
      expect(row.metrics.p50).toBeCloseTo(meanP50, 12);
    }
  });
});
