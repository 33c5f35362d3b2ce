import { it } from 'vitest';
import { SCENARIOS, evaluateScenario, meanBySeed } from '#libs/sim';
import { trainPpo } from './train-ppo.js';
import { SEED_PPO } from './ppo.js';
import { costReward } from './rewards.js';
import { validationEpisodes } from './training-traffic.js';

it('scratch', () => {
  const sc = SCENARIOS['seed-bursty']!;
  const C = Number(process.env.C ?? 800);
  const t0 = Date.now();
  const res = trainPpo({
    sources: [{ weight: 1, scenario: sc, jitter: 1.5 }],
    reward: costReward(C),
    ppo: { ...SEED_PPO, gamma: Number(process.env.GAMMA ?? 0.99) },
    totalSteps: Number(process.env.STEPS ?? 100000),
    seed: 1,
    episodeMs: 5000,
    strategyParams: {},
    validation: validationEpisodes([{ ...sc, traffic: { ...sc.traffic, durationMs: 20000 } }], [1001, 1002]),
    validateEvery: 5,
    onUpdate: (p) => { if (p.updates % 5 === 0) console.log(p.steps, p.updates, p.rewardPerRequest.toFixed(4), p.validation?.toFixed(4), p.bestValidation.toFixed(4), JSON.stringify(Object.fromEntries(Object.entries(p.stats).map(([k, v]) => [k, +v.toFixed(4)]))), ((Date.now() - t0) / 1000).toFixed(0) + 's'); },
  });
  const mlp = res.model.actor.toMlp('t');
  const ev = evaluateScenario({ ...sc, callCostMs: C }, [
    { label: 'fixed_timer', spec: { name: 'fixed_timer', params: { window_ms: 50 } } },
    { label: 'ppo', spec: { name: 'ppo', params: {} }, models: { network: mlp } },
  ], [1, 2]);
  for (const r of meanBySeed(ev.rows)) {
    const m = r.metrics;
    console.log(r.policy.padEnd(16), (m.reduction*100).toFixed(2), m.p50.toFixed(1), m.p99.toFixed(1), (m.forcedFlushRate*100).toFixed(1), (m.policyShare*100).toFixed(1), m.avgBatch.toFixed(1), r.costPerRequest.toFixed(2), (r.gap*100).toFixed(1), (r.waitGap*100).toFixed(1));
  }
}, 3_600_000);
