import { readFileSync } from 'node:fs';
import { decodePolicyModel, encodePolicyModel } from '#libs/onnx';
import { seededRandom } from '#libs/policy';
import { describe, expect, it } from 'vitest';
import { ActorCritic, SEED_PPO } from './ppo.js';
import type { MadeBy } from './provenance.js';
import { modelLabel, provenanceOf, provenanceRecords } from './provenance.js';
import { costReward } from './rewards.js';

const record = (name: string): unknown => JSON.parse(readFileSync(`fixtures/models/${name}.json`, 'utf8'));
const labelOf = (version: string, r: unknown) => modelLabel(version, provenanceOf(r, version) ?? { method: 'ppo' });

const distilled: MadeBy = {
  method: 'imitation',
  teacher: 'bayes:call_cost_ms=1600',
  reward: costReward(660),
  ppo: { ...SEED_PPO, idleInputGain: 10 },
  hidden: [64, 64],
};

describe('model provenance', () => {
  it('labels the bundled ppo-v3 as distilled from its Bayes teacher, and ppo-v1/v2 as PPO', () => {
    expect(labelOf('ppo-v3', record('ppo-v3'))).toBe('distilled ppo-v3 (DAgger of bayes:call_cost_ms=1600)');
    expect(labelOf('ppo-v1', record('ppo-v1'))).toBe('PPO (ppo-v1)');
    expect(labelOf('ppo-v2', record('ppo-v2'))).toBe('PPO (ppo-v2)');
  });

  it('reads records written before `method` existed: PPO by default, imitation by its old training.method', () => {
    expect(provenanceOf({ version: 'old', training: { seed: 1 } }, 'old')).toBeUndefined();
    expect(provenanceOf(undefined, 'missing')).toBeUndefined();
    const old = { training: { method: 'behaviour cloning with DAgger (not PPO)', teacher: 'Bayes-optimal causal (C=1100)' } };
    expect(provenanceOf(old, 'old')).toEqual({ method: 'imitation', teacher: 'Bayes-optimal causal (C=1100)' });
  });

  it('refuses a method it does not know, naming the record', () => {
    expect(() => provenanceOf({ method: 'sac' }, 'x.json')).toThrow('x.json: method must be ppo or imitation (got "sac")');
  });

  it('writes method and teacher, not a reward or PPO settings, into both records of a distilled model', () => {
    const { metadata, record: json } = provenanceRecords(distilled);
    expect(metadata).toEqual({ method: 'imitation', teacher: 'bayes:call_cost_ms=1600' });
    expect(json).toEqual({ method: 'imitation', teacher: 'bayes:call_cost_ms=1600', network: { hidden: [64, 64], idleInputGain: 10 } });
    // The ONNX metadata survives encoding, so a model published without its .json still says what it is.
    const network = new ActorCritic([8], seededRandom(1), 0.5, 5, 10).actor.toMlp('student');
    const decoded = decodePolicyModel(encodePolicyModel(network, metadata));
    expect(labelOf(decoded.network.version, decoded.metadata)).toBe('distilled student (DAgger of bayes:call_cost_ms=1600)');
    expect(labelOf('student', json)).toBe('distilled student (DAgger of bayes:call_cost_ms=1600)');
  });

  it('keeps the reward and PPO settings of a PPO model, and says ppo', () => {
    const ppo: MadeBy = { reward: distilled.reward, ppo: distilled.ppo, hidden: distilled.hidden };
    const { metadata, record: json } = provenanceRecords(ppo);
    expect(metadata).toEqual({ method: 'ppo', reward: JSON.stringify(costReward(660)) });
    expect(json).toEqual({ method: 'ppo', reward: costReward(660), ppo: ppo.ppo });
    expect(labelOf('ppo-x', metadata)).toBe('PPO (ppo-x)');
  });
});
