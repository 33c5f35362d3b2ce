import { createStrategy, seededRandom } from '#libs/policy';
import { costPerRequest, simulate, summarize } from '#libs/sim';
import { describe, expect, it } from 'vitest';
import type { PpoCheckpoint } from './checkpoint.js';
import { fromCheckpoint, toCheckpoint } from './checkpoint.js';
import { DenseNet } from './dense.js';
import { Ledger } from './ledger.js';
import type { PpoExtra } from './ppo.js';
import { ActorCritic, SEED_PPO, samplingStrategy } from './ppo.js';
import { SEED_QLEARNING, trainQTable } from './qlearning.js';
import { costReward } from './rewards.js';
import { trainPpo } from './train-ppo.js';
import { smallBursty } from './small-scenario.spec-support.js';
import { validationEpisodes } from './training-traffic.js';

const small = smallBursty(4000);

describe('DenseNet', () => {
  it('backpropagates the exact gradient (checked against finite differences)', () => {
    const net = new DenseNet([3, 5, 4, 2], ['tanh', 'tanh', 'linear']).initOrthogonal([1.4, 1.4, 1], seededRandom(1));
    const x = Float64Array.from({ length: 6 }, (_, i) => Math.sin(i + 1));
    const loss = () => net.forward(x, 2).reduce((s, v, i) => s + v * (i + 1), 0);
    net.zeroGrad();
    net.forward(x, 2);
    net.backward(Float64Array.from({ length: 4 }, (_, i) => i + 1));
    for (const p of [0, 7, 20, 33, net.params.length - 1]) {
      const saved = net.params[p]!;
      net.params[p] = saved + 1e-6;
      const up = loss();
      net.params[p] = saved - 1e-6;
      const down = loss();
      net.params[p] = saved;
      expect(net.grads[p]).toBeCloseTo((up - down) / 2e-6, 5);
    }
  });

  it('exports to the policy lib Mlp with the same outputs (float32 weights)', () => {
    const net = new DenseNet([4, 8, 2], ['tanh', 'linear']).initOrthogonal([1.4, 0.5], seededRandom(2));
    const x = Float32Array.from([0.1, 0.5, 0.3, 0.9]);
    const ours = net.forward(Float64Array.from(x), 1);
    const theirs = net.toMlp('v').logits(x, 1);
    expect(Math.abs(ours[0]! - theirs[0]!)).toBeLessThan(1e-5);
  });
});

describe('PPO', () => {
  it('improves the policy cost over its initial random policy on a small scenario (seeded, reproducible)', () => {
    const validation = validationEpisodes([small], [101, 102]);
    const reward = costReward(small.callCostMs, { forcedPenaltyMs: 50 });
    const costOf = (run: (episode: (typeof validation)[number]) => ReturnType<typeof simulate>) =>
      validation.reduce((sum, e) => sum + costPerRequest(summarize(run(e)), small.callCostMs), 0) / validation.length;

    // The untrained policy as SB3 starts it: WAIT or FLUSH with probability 1/2 on every tick.
    const ppo = { ...SEED_PPO, nSteps: 1024, nEpochs: 4, entCoef: 0.003, learningRate: 1e-3 };
    const initial = new ActorCritic([64, 64], seededRandom(5), ppo.initialFlushProbability);
    const random = seededRandom(6);
    const initialCost = costOf((e) => {
      const ledger = new Ledger<PpoExtra>(reward);
      const scale = { sizeNorm: undefined, ageNormMs: undefined, p99NormMs: 500, rateNorm: 100 };
      return simulate(e.trace, samplingStrategy(initial, scale, ledger, random), e.config, ledger);
    });
    const neverFlush = costOf((e) => simulate(e.trace, createStrategy({ name: 'size_cap', params: {} }), e.config));

    const train = (totalSteps: number) =>
      trainPpo({
        sources: [{ weight: 1, scenario: small, jitter: 1.5 }],
        reward,
        ppo,
        totalSteps,
        seed: 3,
        episodeMs: 1500,
        strategyParams: {},
        validation,
        validateEvery: 2,
      });
    const result = train(20_000);
    const trained = createStrategy({ name: 'ppo', params: {} }, { network: result.model.actor.toMlp('t') });
    const trainedCost = costOf((e) => simulate(e.trace, trained, e.config));
    expect(trainedCost).toBeLessThan(initialCost * 0.7);
    // Not just "never flush" (which the envelope turns into a 50 ms timer): it flushes bursts early.
    expect(trainedCost).toBeLessThan(neverFlush * 0.95);
    // Same seed, same weights.
    expect(Array.from(train(2000).model.actor.params)).toEqual(Array.from(train(2000).model.actor.params));

    const restored = fromCheckpoint(
      <PpoCheckpoint>JSON.parse(
        JSON.stringify(
          toCheckpoint(result.model, {
            version: 't',
            strategyParams: {},
            reward,
            ppo: SEED_PPO,
            training: { scenario: small.name, seed: 3, steps: 20_000, validation: 0 },
          }),
        ),
      ),
    );
    expect(Array.from(restored.actor.params)).toEqual(Array.from(result.model.actor.params));
  });
});

describe('Q-learning', () => {
  it('learns a table the production qlearning strategy runs, cheaper than never flushing', () => {
    const table = trainQTable({
      ...SEED_QLEARNING,
      sizeEdges: [...SEED_QLEARNING.sizeEdges],
      ageEdges: [...SEED_QLEARNING.ageEdges],
      rateEdges: [...SEED_QLEARNING.rateEdges],
      episodes: 40,
      episodeMs: 1500,
      sources: [{ weight: 1, scenario: small, jitter: 1.5 }],
      reward: costReward(small.callCostMs, { forcedPenaltyMs: 50 }),
      seed: 4,
      version: 'q-test',
    });
    const [episode] = validationEpisodes([small], [201]);
    const cost = (spec: { name: string; params: Record<string, number> }) =>
      costPerRequest(summarize(simulate(episode!.trace, createStrategy(spec, { qTable: table }), episode!.config)), small.callCostMs);
    expect(cost({ name: 'qlearning', params: {} })).toBeLessThan(cost({ name: 'size_cap', params: {} }));
  });
});
