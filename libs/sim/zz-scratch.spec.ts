import { it } from 'vitest';
import type { FlushStrategy } from '#libs/policy';
import { SCENARIOS, simulate, generateTrace, simConfigOf, summarize, costPerRequest, oracleAt } from './index.js';

it('scratch', () => {
  const sc = { ...SCENARIOS['seed-bursty']!, callCostMs: 800 };
  const rule = (a0: number, r0: number, amax: number, lone: number): FlushStrategy => ({
    name: 'rule',
    decide: (slots) => slots.map((s) => ({ action: (s.ageMs >= amax || (s.size > 1 && s.ageMs >= a0 && s.idleMs >= r0) || (s.size === 1 && s.ageMs >= lone)) ? 'flush' : 'wait', probability: 0 })),
  });
  const results: string[] = [];
  for (const seed of [1, 2]) {
    const trace = generateTrace(sc.traffic, seed); const cfg = simConfigOf(sc, seed);
    const o = oracleAt(trace, cfg, 800);
    console.log('oracle', (o.metrics.reduction*100).toFixed(2), o.metrics.p50.toFixed(1), o.costPerRequest.toFixed(2));
    for (const a0 of [0]) for (const r0 of [1, 2, 3, 5]) for (const lone of [0, 20, 49]) {
      const m = summarize(simulate(trace, rule(a0, r0, 49, lone), cfg));
      results.push([seed, a0, r0, lone, (m.reduction*100).toFixed(2), m.p50.toFixed(1), costPerRequest(m, 800).toFixed(2)].join(' '));
    }
  }
  console.log(results.join('\n'));
});
