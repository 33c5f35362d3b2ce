import type { FlushStrategy, PolicyNetwork } from '#libs/policy';
import { createStrategy, readObservationScale, StrategyParams } from '#libs/policy';
import { simulate, stream } from '#libs/sim';
import { Ledger } from './ledger.js';
import type { PpoConfig, PpoExtra, Rollout, UpdateStats } from './ppo.js';
import { ActorCritic, buildRollout, PpoLearner, samplingStrategy } from './ppo.js';
import type { RewardConfig } from './rewards.js';
import type { TrainingEpisode, TrainingSource } from './training-traffic.js';
import { drawEpisode } from './training-traffic.js';

export interface PpoTraining {
  sources: TrainingSource[];
  reward: RewardConfig;
  ppo: PpoConfig;
  /**
   * Features per observation: 4 (the seed's state, default) or 5 (plus the idle
   * time since the last waiter joined); `observe` in libs/policy builds both.
   */
  observationSize?: number;
  /** Decisions (environment steps) to train for. */
  totalSteps: number;
  seed: number;
  /** Length of the traffic window of one episode (ms). */
  episodeMs: number;
  /** Parameters of the ppo strategy the model will be served with (its observation scale). */
  strategyParams: Record<string, number>;
  validation: TrainingEpisode[];
  /** Validate (and maybe keep as best) every this many updates. */
  validateEvery: number;
  /**
   * Reproduces seed 000's training bug: the rate feature is pinned to this
   * value (req/s) in training observations, while serving sees the live rate.
   */
  pinnedRatePerSec?: number;
  /** Continue from this model (fine-tuning, e.g. with another reward) instead of fresh weights. */
  initial?: ActorCritic;
  onUpdate?: (progress: PpoProgress) => void;
  /** Called after each validation with the current (not the best) model: where checkpoints are written. */
  onValidate?: (model: ActorCritic, progress: PpoProgress) => void;
}

export interface PpoProgress {
  steps: number;
  updates: number;
  episodes: number;
  /** Mean over this rollout's episodes of total reward / requests. */
  rewardPerRequest: number;
  validation: number | undefined;
  bestValidation: number;
  stats: UpdateStats;
}

export interface PpoResult {
  /** The weights that scored best on validation. */
  model: ActorCritic;
  bestValidation: number;
  history: PpoProgress[];
}

const STREAM_INIT = 101;
const STREAM_EPISODES = 102;
const STREAM_ACTIONS = 103;
const STREAM_MINIBATCH = 104;

export function trainPpo(t: PpoTraining): PpoResult {
  const model =
    t.initial ??
    new ActorCritic(t.ppo.hidden, stream(t.seed, STREAM_INIT), t.ppo.initialFlushProbability, t.observationSize, t.ppo.idleInputGain);
  if (t.initial && t.observationSize !== undefined && t.initial.observationSize !== t.observationSize)
    throw new Error(`the initial model reads ${t.initial.observationSize} features, training asks for ${t.observationSize}`);
  const learner = new PpoLearner(model, t.ppo, stream(t.seed, STREAM_MINIBATCH));
  const episodes = stream(t.seed, STREAM_EPISODES);
  const actions = stream(t.seed, STREAM_ACTIONS);
  const scale = readObservationScale(new StrategyParams('ppo', t.strategyParams));
  let best = { score: validate(model.actor.toMlp('v'), t), actor: model.actor.params.slice(), critic: model.critic.params.slice() };
  const history: PpoProgress[] = [];
  let steps = 0;
  let episodeCount = 0;
  for (let updates = 1; steps < t.totalSteps; updates++) {
    const collected: Rollout[] = [];
    const perRequest: number[] = [];
    let size = 0;
    while (size < t.ppo.nSteps) {
      const episode = drawEpisode(t.sources, episodes, t.episodeMs);
      const ledger = new Ledger<PpoExtra>(t.reward);
      simulate(episode.trace, pinRate(samplingStrategy(model, scale, ledger, actions), t.pinnedRatePerSec), episode.config, ledger);
      ledger.finish();
      episodeCount++;
      if (ledger.steps.length === 0) continue;
      collected.push(buildRollout(ledger.steps, t.ppo.gamma, t.ppo.gaeLambda, model.observationSize, t.ppo.discountMs));
      perRequest.push(ledger.steps.reduce((sum, s) => sum + s.reward, 0) / Math.max(1, episode.trace.t.length));
      size += ledger.steps.length;
    }
    steps += size;
    const stats = learner.update(concatRollouts(collected, model.observationSize));
    let validation: number | undefined;
    if (updates % t.validateEvery === 0 || steps >= t.totalSteps) {
      validation = validate(model.actor.toMlp('v'), t);
      if (validation > best.score) best = { score: validation, actor: model.actor.params.slice(), critic: model.critic.params.slice() };
    }
    const progress: PpoProgress = {
      steps,
      updates,
      episodes: episodeCount,
      rewardPerRequest: perRequest.reduce((a, b) => a + b, 0) / Math.max(1, perRequest.length),
      validation,
      bestValidation: best.score,
      stats,
    };
    history.push(progress);
    t.onUpdate?.(progress);
    if (validation !== undefined) t.onValidate?.(model, progress);
  }
  model.actor.params.set(best.actor);
  model.critic.params.set(best.critic);
  return { model, bestValidation: best.score, history };
}

/** Greedy (argmax) reward per request over the validation episodes, through the production ppo strategy. */
export function validate(network: PolicyNetwork, t: Pick<PpoTraining, 'validation' | 'reward' | 'strategyParams'>): number {
  if (t.validation.length === 0) return 0;
  let total = 0;
  for (const episode of t.validation) {
    const ledger = new Ledger<undefined>(t.reward);
    const served = createStrategy({ name: 'ppo', params: t.strategyParams }, { network });
    const strategy: FlushStrategy = {
      name: served.name,
      decide: (slots, context) => (slots.forEach(() => ledger.pending.push(undefined)), served.decide(slots, context)),
    };
    simulate(episode.trace, strategy, episode.config, ledger);
    ledger.finish();
    total += ledger.steps.reduce((sum, s) => sum + s.reward, 0) / Math.max(1, episode.trace.t.length);
  }
  return total / t.validation.length;
}

function pinRate(strategy: FlushStrategy, ratePerSec: number | undefined): FlushStrategy {
  if (ratePerSec === undefined) return strategy;
  return {
    name: strategy.name,
    decide: (slots, context) =>
      strategy.decide(
        slots.map((s) => ({ ...s, requestRate: ratePerSec })),
        context,
      ),
  };
}

function concatRollouts(parts: Rollout[], width: number): Rollout {
  const size = parts.reduce((n, p) => n + p.size, 0);
  const out: Rollout = {
    size,
    width,
    obs: new Float64Array(size * width),
    actions: new Uint8Array(size),
    logProbs: new Float64Array(size),
    advantages: new Float64Array(size),
    returns: new Float64Array(size),
  };
  let at = 0;
  for (const p of parts) {
    out.obs.set(p.obs, at * width);
    out.actions.set(p.actions, at);
    out.logProbs.set(p.logProbs, at);
    out.advantages.set(p.advantages, at);
    out.returns.set(p.returns, at);
    at += p.size;
  }
  return out;
}
