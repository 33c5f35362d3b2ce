import type { Scenario } from '#libs/sim';
import { SCENARIOS } from '#libs/sim';

/** A small bursty scenario for the RL specs: cheap to simulate, with a clear best policy (wait out the burst). */
export function smallBursty(durationMs: number): Scenario {
  return {
    ...SCENARIOS['seed-bursty']!,
    name: 'small-bursty',
    traffic: {
      process: { kind: 'mmpp', baseRatePerSec: 10, burstRatePerSec: 1500, meanBurstMs: 15, meanGapMs: 120 },
      popularity: { kind: 'single' },
      durationMs,
    },
    callCostMs: 200,
  };
}
