import { OBSERVATION_SIZE, seededRandom } from '#libs/policy';
import type { PpoConfig } from './ppo.js';
import { ActorCritic } from './ppo.js';
import type { ModelMethod } from './provenance.js';
import type { RewardConfig } from './rewards.js';

/** A PPO training checkpoint: enough to resume evaluation or export, as plain JSON. */
export interface PpoCheckpoint {
  format: 'batchgate-ppo-checkpoint/v1';
  version: string;
  /**
   * How the weights were made; absent means PPO (checkpoints from before
   * imitation existed). An imitation checkpoint's reward is only the price
   * it is judged at, and of its ppo settings only hidden and idleInputGain apply.
   */
  method?: ModelMethod;
  /** Imitation: the teacher policy spec, e.g. "bayes:call_cost_ms=1600". */
  teacher?: string;
  /** Features per observation; absent in checkpoints written before the width was configurable, which are 4. */
  inputs?: number;
  hidden: number[];
  actor: number[];
  critic: number[];
  /** The ppo strategy parameters (observation scale) the model expects. */
  strategyParams: Record<string, number>;
  reward: RewardConfig;
  ppo: PpoConfig;
  training: { scenario: string; seed: number; steps: number; validation: number };
}

export function toCheckpoint(
  model: ActorCritic,
  meta: Omit<PpoCheckpoint, 'format' | 'inputs' | 'hidden' | 'actor' | 'critic'>,
): PpoCheckpoint {
  return {
    format: 'batchgate-ppo-checkpoint/v1',
    ...meta,
    inputs: model.observationSize,
    hidden: model.actor.layers.slice(0, -1).map((l) => l.outputs),
    actor: Array.from(model.actor.params),
    critic: Array.from(model.critic.params),
  };
}

export function fromCheckpoint(checkpoint: PpoCheckpoint): ActorCritic {
  if (checkpoint.format !== 'batchgate-ppo-checkpoint/v1') throw new Error(`not a PPO checkpoint (format ${String(checkpoint.format)})`);
  // The initial weights are overwritten; any seed will do.
  // Checkpoints from before idleInputGain existed have none (1).
  const model = new ActorCritic(
    checkpoint.hidden,
    seededRandom(0),
    0.5,
    checkpoint.inputs ?? OBSERVATION_SIZE,
    (checkpoint.ppo as Partial<PpoConfig>).idleInputGain ?? 1,
  );
  if (checkpoint.actor.length !== model.actor.params.length || checkpoint.critic.length !== model.critic.params.length) {
    throw new Error('checkpoint weights do not match its layer sizes');
  }
  model.actor.params.set(checkpoint.actor);
  model.critic.params.set(checkpoint.critic);
  return model;
}
