import { decodePolicyModel, encodePolicyModel, compareWithOnnxRuntime } from '#libs/onnx';
import { createStrategy, observe, OBSERVATION_SIZE, OBSERVATION_SIZE_WITH_IDLE, seededRandom } from '#libs/policy';
import type { SlotFeatures } from '#libs/policy';
import { simulate } from '#libs/sim';
import { describe, expect, it } from 'vitest';
import type { PpoCheckpoint } from './checkpoint.js';
import { fromCheckpoint, toCheckpoint } from './checkpoint.js';
import { Ledger } from './ledger.js';
import type { PpoExtra } from './ppo.js';
import { ActorCritic, buildRollout, SEED_PPO, samplingStrategy } from './ppo.js';
import { costReward } from './rewards.js';
import { trainPpo } from './train-ppo.js';
import { smallBursty } from './small-scenario.spec-support.js';
import { validationEpisodes } from './training-traffic.js';

const small = smallBursty(1500);
const reward = costReward(small.callCostMs, { forcedPenaltyMs: 50 });
const scale = { sizeNorm: undefined, ageNormMs: undefined, p99NormMs: 500, rateNorm: 100 };

describe('PPO observation width', () => {
  it('records the idle feature (observe, width 5) in the rollout the update reads', () => {
    const model = new ActorCritic([8], seededRandom(1), 0.3, OBSERVATION_SIZE_WITH_IDLE);
    expect(model.observationSize).toBe(5);
    const [episode] = validationEpisodes([small], [7]);
    const ledger = new Ledger<PpoExtra>(reward);
    const seen: SlotFeatures[] = [];
    const sampling = samplingStrategy(model, scale, ledger, seededRandom(2));
    simulate(
      episode!.trace,
      { name: 'spy', decide: (slots, context) => (seen.push(...slots), sampling.decide(slots, context)) },
      episode!.config,
      ledger,
    );
    ledger.finish();
    const rollout = buildRollout(ledger.steps, 0.99, 0.95, OBSERVATION_SIZE_WITH_IDLE);
    expect(rollout.width).toBe(5);
    expect(rollout.obs.length).toBe(ledger.steps.length * 5);
    // The ledger's steps are the decisions in order: their observations are libs/policy's observe() of those slots.
    expect(Array.from(rollout.obs.subarray(0, 5 * 20))).toEqual(Array.from(observe(seen.slice(0, 20), scale, 5)));
    expect(seen.some((s) => s.idleMs > 0)).toBe(true);
    expect(() => buildRollout(ledger.steps, 0.99, 0.95, OBSERVATION_SIZE)).toThrow(/5 features, rollout 4/);
    expect(() => new ActorCritic([8], seededRandom(1), 0.5, 3)).toThrow(/no observation has 3 features/);
  });

  it('folds the idle input gain into the exported first layer (the served model reads observe() unchanged)', () => {
    const model = new ActorCritic([8, 8], seededRandom(3), 0.05, OBSERVATION_SIZE_WITH_IDLE, 10);
    const x = Float32Array.from([0.3, 0.4, 0.2, 0.9, 0.06, 0.1, 0.9, 0.2, 0.5, 0.02]);
    const trained = model.actor.forward(Float64Array.from(x), 2);
    const ungained = new ActorCritic([8, 8], seededRandom(3), 0.05, OBSERVATION_SIZE_WITH_IDLE);
    expect(Array.from(trained)).not.toEqual(Array.from(ungained.actor.forward(Float64Array.from(x), 2)));
    const served = model.actor.toMlp('g').logits(x, 2);
    served.forEach((v, i) => expect(v).toBeCloseTo(trained[i]!, 5));
    const checkpoint = toCheckpoint(model, {
      version: 'g',
      strategyParams: {},
      reward,
      ppo: { ...SEED_PPO, idleInputGain: 10 },
      training: { scenario: small.name, seed: 3, steps: 0, validation: 0 },
    });
    expect(Array.from(fromCheckpoint(checkpoint).actor.toMlp('g').logits(x, 2))).toEqual(Array.from(served));
    expect(() => new ActorCritic([8], seededRandom(1), 0.5, OBSERVATION_SIZE, 10)).toThrow(/5-feature observation only/);
  });

  /** Traffic and validation shared by the training runs below. */
  const training = () => ({
    sources: [{ weight: 1, scenario: small, jitter: 1.5 }],
    episodeMs: 1000,
    strategyParams: {},
    validation: validationEpisodes([small], [101]),
    validateEvery: 1,
  });

  it('trains a 5-input network that checkpoints, exports to ONNX and serves as the ppo strategy', async () => {
    const ppo = { ...SEED_PPO, nSteps: 512, nEpochs: 2, hidden: [16, 16], initialFlushProbability: 0.05, idleInputGain: 10 };
    const result = trainPpo({ ...training(), reward, ppo, observationSize: OBSERVATION_SIZE_WITH_IDLE, totalSteps: 1000, seed: 3 });
    expect(result.model.actor.inputSize).toBe(5);
    expect(result.model.critic.inputSize).toBe(5);

    // Fine-tuning (--init) continues from the trained weights, with the same width only.
    const base = { ...training(), ppo, observationSize: OBSERVATION_SIZE_WITH_IDLE, totalSteps: 600, seed: 4 };
    const tuned = trainPpo({ ...base, reward: costReward(small.callCostMs, { forcedPenaltyMs: 400 }), initial: result.model });
    expect(tuned.model).toBe(result.model);
    expect(() => trainPpo({ ...base, reward, initial: new ActorCritic([16, 16], seededRandom(5)) })).toThrow(
      /reads 4 features, training asks for 5/,
    );

    const meta = {
      version: 'idle-test',
      strategyParams: {},
      reward,
      ppo,
      training: { scenario: small.name, seed: 3, steps: 1000, validation: result.bestValidation },
    };
    const checkpoint = toCheckpoint(result.model, meta);
    expect(checkpoint.inputs).toBe(5);
    const restored = fromCheckpoint(<PpoCheckpoint>JSON.parse(JSON.stringify(checkpoint)));
    expect(restored.observationSize).toBe(5);
    expect(Array.from(restored.actor.params)).toEqual(Array.from(result.model.actor.params));
    // Checkpoints from before the width was recorded are the seed's 4 features.
    const old: PpoCheckpoint = toCheckpoint(new ActorCritic([16, 16], seededRandom(4)), { ...meta, ppo: SEED_PPO });
    delete old.inputs;
    expect(fromCheckpoint(old).observationSize).toBe(4);

    const network = restored.actor.toMlp('idle-test');
    const probe = Float32Array.from({ length: 50 }, (_, i) => (i % 7) / 7);
    expect(Array.from(network.logits(probe, 10))).toEqual(Array.from(result.model.actor.toMlp('t').logits(probe, 10)));
    const bytes = encodePolicyModel(network);
    const decoded = decodePolicyModel(bytes).network;
    expect(decoded.inputSize).toBe(5);
    const comparison = await compareWithOnnxRuntime(bytes, network, 1000, 5);
    expect(comparison.maxAbsDiff).toBeLessThan(1e-5);
    expect(comparison.actionMismatches).toBe(0);

    // The decoded model is what the services run: same decisions as the trained weights on a simulated run.
    const [episode] = validationEpisodes([small], [202]);
    const decisions = (n: typeof network) => {
      const out: string[] = [];
      const served = createStrategy({ name: 'ppo', params: {} }, { network: n });
      simulate(
        episode!.trace,
        { name: 'ppo', decide: (slots, context) => served.decide(slots, context).map((d) => (out.push(d.action), d)) },
        episode!.config,
      );
      return out;
    };
    expect(decisions(decoded)).toEqual(decisions(network));
  });
});
