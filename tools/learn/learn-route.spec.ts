import { generateTrace, SCENARIOS } from '#libs/sim';
import { describe, expect, it } from 'vitest';
import { learnRoute } from './learn-route.js';

const scenario = SCENARIOS['seed-bursty']!;
const DECISION_PATH = {
  p50Ms: 0.4,
  p99Ms: 1.2,
  lateShare: 0.005,
  timeoutMs: 5,
  fallback: { name: 'fixed_timer', params: { window_ms: 20 } },
};

describe('learnRoute', () => {
  it('on one-key on-off traffic, imitates the Bayes policy and beats a fixed timer far off the traffic by the margin', () => {
    const trace = generateTrace({ ...scenario.traffic, durationMs: 8_000 }, 7);
    const learning = learnRoute('api', trace, {
      scenario,
      running: { name: 'fixed_timer', params: { window_ms: 50 } },
      decisionPath: DECISION_PATH,
      budget: { rounds: 3, epochs: 4, episodes: 3, episodeMs: 4_000 },
      margin: 0.05,
      p99SlackMs: 1,
      seed: 1,
      version: 'learned-test',
    });
    console.log(
      learning.rows
        .map(
          (r) =>
            `${r.label}: ${r.costPerRequest.toFixed(2)} p99 ${r.metrics.p99.toFixed(1)} forced ${r.metrics.forcedFlushRate.toFixed(3)}`,
        )
        .join('\n'),
      learning.decision,
    );
    expect(learning.teacher).toMatch(/Bayes-optimal/);
    expect(learning.rows.map((r) => r.role).sort()).toEqual([
      'baseline',
      'baseline',
      'baseline',
      'baseline',
      'candidate',
      'oracle',
      'running',
    ]);
    expect(learning.decision.publish).toBe(true);
    expect(learning.decision.saving).toBeGreaterThan(0.05);
  });
});
