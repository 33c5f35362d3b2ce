import type { FlushStrategy, ObservationScale, PolicyDecision } from '#libs/policy';
import { observe, OBSERVATION_SIZE, OBSERVATION_SIZE_WITH_IDLE, OBSERVATION_WIDTHS } from '#libs/policy';
import type { Random } from '#libs/sim';
import { Adam, clipGradNorm } from './adam.js';
import { DenseNet } from './dense.js';
import type { Ledger, Step } from './ledger.js';
import { FLUSH_ACTION, stepDiscount, WAIT_ACTION } from './ledger.js';

/** PPO hyper-parameters; defaults are the seed's (SB3 2.3.0 PPO as configured in seed 000). */
export interface PpoConfig {
  learningRate: number;
  nSteps: number;
  batchSize: number;
  nEpochs: number;
  gamma: number;
  /** 0: gamma per decision (SB3's); > 0: gamma per this many simulated ms (see stepDiscount). */
  discountMs: number;
  gaeLambda: number;
  clipRange: number;
  entCoef: number;
  vfCoef: number;
  maxGradNorm: number;
  hidden: number[];
  /**
   * FLUSH probability of the untrained policy in every state (via the output
   * bias). SB3 starts at 0.5, which on a 1 ms tick flushes every slot within
   * a tick or two, so the states late in a slot, where the interesting
   * decisions are, are never visited; a small per-tick hazard spreads the
   * first flushes over the slot's lifetime.
   */
  initialFlushProbability: number;
  /**
   * Training-side preconditioning of the idle feature (5-feature observation
   * only): the networks read idle x this gain, and the exported actor has it
   * folded into its first layer, so the served model reads `observe`'s
   * min(idle_ms/batch_timeout_ms, 1) unchanged. The decisive idle times
   * (a few ms) are a few hundredths of that feature; with Adam's per-weight
   * step a gain lets the weights on it grow as fast as the others'.
   */
  idleInputGain: number;
}

export const SEED_PPO: PpoConfig = {
  learningRate: 3e-4,
  nSteps: 2048,
  batchSize: 64,
  nEpochs: 10,
  gamma: 0.99,
  discountMs: 0,
  gaeLambda: 0.95,
  clipRange: 0.2,
  entCoef: 0.01,
  vfCoef: 0.5,
  maxGradNorm: 0.5,
  hidden: [64, 64],
  initialFlushProbability: 0.5,
  idleInputGain: 1,
};

/**
 * Separate actor and critic MLPs (the seed's net_arch pi=[64,64], vf=[64,64], tanh)
 * over an observation of `observationSize` features: the seed's 4, or more with
 * the idle time (see `observe` in libs/policy). The width is the actor's input size.
 */
export class ActorCritic {
  readonly actor: DenseNet;
  readonly critic: DenseNet;

  constructor(
    hidden: readonly number[],
    random: Random,
    initialFlushProbability = 0.5,
    observationSize = OBSERVATION_SIZE,
    idleInputGain = 1,
  ) {
    if (!OBSERVATION_WIDTHS.includes(observationSize))
      throw new Error(`no observation has ${observationSize} features (known: ${OBSERVATION_WIDTHS.join(', ')})`);
    if (!(idleInputGain > 0)) throw new Error(`idleInputGain must be > 0 (got ${idleInputGain})`);
    if (idleInputGain !== 1 && observationSize !== OBSERVATION_SIZE_WITH_IDLE)
      throw new Error(`idleInputGain applies to the ${OBSERVATION_SIZE_WITH_IDLE}-feature observation only`);
    const sizes = [observationSize, ...hidden];
    const tanh = hidden.map(() => 'tanh' as const);
    const gains = hidden.map(() => Math.SQRT2);
    this.actor = new DenseNet([...sizes, 2], [...tanh, 'linear']).initOrthogonal([...gains, 0.01], random);
    this.critic = new DenseNet([...sizes, 1], [...tanh, 'linear']).initOrthogonal([...gains, 1], random);
    // logit(FLUSH) - logit(WAIT) = log(p / (1 - p)).
    const head = this.actor.layers.at(-1)!;
    this.actor.params[head.biasAt + FLUSH_ACTION] = Math.log(initialFlushProbability / (1 - initialFlushProbability));
    if (idleInputGain !== 1) {
      const gain = Float64Array.from({ length: observationSize }, (_, i) => (i === OBSERVATION_SIZE_WITH_IDLE - 1 ? idleInputGain : 1));
      this.actor.inputGain = gain;
      this.critic.inputGain = gain;
    }
  }

  /** Features per observation (one of OBSERVATION_WIDTHS). */
  get observationSize(): number {
    return this.actor.inputSize;
  }
}

export interface PpoExtra {
  obs: Float32Array;
  logProb: number;
  value: number;
}

/** log softmax of a [wait, flush] logit pair at `action`. */
function logSoftmax(wait: number, flush: number, action: number): number {
  const max = Math.max(wait, flush);
  const lse = max + Math.log(Math.exp(wait - max) + Math.exp(flush - max));
  return (action === FLUSH_ACTION ? flush : wait) - lse;
}

/**
 * The training-time behaviour policy: the same observation the ppo strategy
 * uses, actions sampled from the softmax instead of the argmax, and the
 * log-probability and value kept for the update.
 */
export function samplingStrategy(model: ActorCritic, scale: ObservationScale, ledger: Ledger<PpoExtra>, random: Random): FlushStrategy {
  return {
    name: 'ppo-sampling',
    decide(slots) {
      const width = model.observationSize;
      const obs = observe(slots, scale, width);
      const x = Float64Array.from(obs);
      const logits = model.actor.forward(x, slots.length);
      const values = model.critic.forward(x, slots.length);
      return slots.map((_, i): PolicyDecision => {
        const wait = logits[2 * i]!;
        const flush = logits[2 * i + 1]!;
        const pFlush = 1 / (1 + Math.exp(wait - flush));
        const action = random() < pFlush ? FLUSH_ACTION : WAIT_ACTION;
        ledger.pending.push({
          obs: obs.slice(i * width, (i + 1) * width),
          logProb: logSoftmax(wait, flush, action),
          value: values[i]!,
        });
        return { action: action === FLUSH_ACTION ? 'flush' : 'wait', probability: pFlush };
      });
    },
  };
}

/** A rollout flattened for the update. */
export interface Rollout {
  size: number;
  /** Features per observation. */
  width: number;
  /** [size x width], row-major. */
  obs: Float64Array;
  actions: Uint8Array;
  logProbs: Float64Array;
  advantages: Float64Array;
  returns: Float64Array;
}

/** GAE(lambda) along each key's trajectory (`next` links), then flattening; `width` is the observation's. */
export function buildRollout(
  steps: readonly Step<PpoExtra>[],
  gamma: number,
  lambda: number,
  width = OBSERVATION_SIZE,
  discountMs = 0,
): Rollout {
  const n = steps.length;
  const rollout: Rollout = {
    size: n,
    width,
    obs: new Float64Array(n * width),
    actions: new Uint8Array(n),
    logProbs: new Float64Array(n),
    advantages: new Float64Array(n),
    returns: new Float64Array(n),
  };
  for (let s = n - 1; s >= 0; s--) {
    const step = steps[s]!;
    const next = step.done || step.next < 0 ? undefined : step.next;
    const nextValue = next === undefined ? 0 : steps[next]!.extra.value;
    const discount = stepDiscount(step, gamma, discountMs);
    const delta = step.reward + discount * nextValue - step.extra.value;
    rollout.advantages[s] = delta + (next === undefined ? 0 : discount * lambda * rollout.advantages[next]!);
    rollout.returns[s] = rollout.advantages[s]! + step.extra.value;
    if (step.extra.obs.length !== width) throw new Error(`step observation has ${step.extra.obs.length} features, rollout ${width}`);
    rollout.obs.set(step.extra.obs, s * width);
    rollout.actions[s] = step.action;
    rollout.logProbs[s] = step.extra.logProb;
  }
  return rollout;
}

export interface UpdateStats {
  policyLoss: number;
  valueLoss: number;
  entropy: number;
  approxKl: number;
  clipFraction: number;
}

/** The PPO optimiser state for one actor-critic. */
export class PpoLearner {
  private readonly actorOpt: Adam;
  private readonly criticOpt: Adam;

  constructor(
    readonly model: ActorCritic,
    readonly config: PpoConfig,
    private readonly random: Random,
  ) {
    // Adam is per-parameter, so two instances with one learning rate equal one over both networks.
    this.actorOpt = new Adam(model.actor.params, config.learningRate);
    this.criticOpt = new Adam(model.critic.params, config.learningRate);
  }

  /** n_epochs passes of minibatch SGD on the clipped surrogate + value loss - entropy bonus. */
  update(rollout: Rollout): UpdateStats {
    const { batchSize, nEpochs } = this.config;
    const order = Array.from({ length: rollout.size }, (_, i) => i);
    const totals = { policyLoss: 0, valueLoss: 0, entropy: 0, approxKl: 0, clipFraction: 0 };
    let batches = 0;
    for (let epoch = 0; epoch < nEpochs; epoch++) {
      shuffle(order, this.random);
      for (let start = 0; start < order.length; start += batchSize) {
        const stats = this.minibatch(rollout, order.slice(start, start + batchSize));
        for (const k of Object.keys(totals) as (keyof UpdateStats)[]) totals[k] += stats[k];
        batches++;
      }
    }
    for (const k of Object.keys(totals) as (keyof UpdateStats)[]) totals[k] /= Math.max(1, batches);
    return totals;
  }

  private minibatch(rollout: Rollout, index: number[]): UpdateStats {
    const { clipRange, entCoef, vfCoef, maxGradNorm } = this.config;
    const m = index.length;
    const width = rollout.width;
    if (width !== this.model.observationSize)
      throw new Error(`rollout has ${width} features, the model takes ${this.model.observationSize}`);
    const x = new Float64Array(m * width);
    index.forEach((s, b) => x.set(rollout.obs.subarray(s * width, (s + 1) * width), b * width));
    // SB3 normalises advantages per minibatch.
    const adv = index.map((s) => rollout.advantages[s]!);
    const mean = adv.reduce((a, b) => a + b, 0) / m;
    const std = Math.sqrt(adv.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, m - 1)) || 0;
    const { actor, critic } = this.model;
    actor.zeroGrad();
    critic.zeroGrad();
    const logits = actor.forward(x, m);
    const dLogits = new Float64Array(m * 2);
    const stats = { policyLoss: 0, valueLoss: 0, entropy: 0, approxKl: 0, clipFraction: 0 };
    index.forEach((s, b) => {
      const a = rollout.actions[s]!;
      const A = (adv[b]! - mean) / (std + 1e-8);
      const wait = logits[2 * b]!;
      const flush = logits[2 * b + 1]!;
      const logP = logSoftmax(wait, flush, a);
      const p = [Math.exp(logSoftmax(wait, flush, WAIT_ACTION)), Math.exp(logSoftmax(wait, flush, FLUSH_ACTION))];
      const logRatio = logP - rollout.logProbs[s]!;
      const ratio = Math.exp(logRatio);
      const clipped = Math.min(1 + clipRange, Math.max(1 - clipRange, ratio));
      const unclippedActive = ratio * A <= clipped * A;
      const entropy = -p.reduce((h, q) => h + (q > 0 ? q * Math.log(q) : 0), 0);
      stats.policyLoss += -Math.min(ratio * A, clipped * A) / m;
      stats.entropy += entropy / m;
      stats.approxKl += (ratio - 1 - logRatio) / m;
      stats.clipFraction += (Math.abs(ratio - 1) > clipRange ? 1 : 0) / m;
      const dLogP = unclippedActive ? (-A * ratio) / m : 0;
      for (let k = 0; k < 2; k++) {
        const q = p[k]!;
        const dEntropy = q > 0 ? -q * (Math.log(q) + entropy) : 0;
        dLogits[2 * b + k] = dLogP * ((k === a ? 1 : 0) - q) - (entCoef * dEntropy) / m;
      }
    });
    actor.backward(dLogits);
    const values = critic.forward(x, m);
    const dValues = new Float64Array(m);
    index.forEach((s, b) => {
      const err = values[b]! - rollout.returns[s]!;
      stats.valueLoss += (err * err) / m;
      dValues[b] = (2 * vfCoef * err) / m;
    });
    critic.backward(dValues);
    clipGradNorm([actor.grads, critic.grads], maxGradNorm);
    this.actorOpt.step(actor.grads);
    this.criticOpt.step(critic.grads);
    return stats;
  }
}

export function shuffle(values: number[], random: Random): void {
  for (let i = values.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [values[i], values[j]] = [values[j]!, values[i]!];
  }
}
