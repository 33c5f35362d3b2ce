import type { FlushStrategy } from '#libs/policy';
import { createStrategy, observe, readObservationScale, StrategyParams } from '#libs/policy';
import type { SimObserver } from '#libs/sim';
import { simulate, stream } from '#libs/sim';
import { Adam, clipGradNorm } from './adam.js';
import { FLUSH_ACTION, WAIT_ACTION } from './ledger.js';
import { ActorCritic, shuffle } from './ppo.js';
import type { TrainingEpisode } from './training-traffic.js';

/** A policy to imitate, fresh per episode (it may follow the episode's arrivals through its observer). */
export interface Teacher {
  strategy: FlushStrategy;
  observer?: SimObserver;
  /**
   * Per slot of the teacher's last decision, what the other action would have
   * cost. When given, each sample's loss is weighted by it (normalised to mean
   * 1 over the data): cost-sensitive imitation, so decisions that matter (the
   * flush one tick before the envelope) are not averaged away by the many
   * near-indifferent ticks.
   */
  regrets?: () => readonly number[];
}

export interface ImitationTraining {
  teacher: () => Teacher;
  episodes: readonly TrainingEpisode[];
  hidden: readonly number[];
  observationSize: number;
  /** As PpoConfig.idleInputGain: the idle input's preconditioner, folded into the exported layer. */
  idleInputGain: number;
  /** The ppo strategy parameters (observation scale) the network will be served with. */
  strategyParams: Record<string, number>;
  /**
   * DAgger rounds. Round 1 follows the teacher; later rounds follow the
   * student trained so far, so the data covers the states the student itself
   * reaches. Every visited state is labelled with the teacher's action, and
   * the data of all rounds is kept.
   */
  rounds: number;
  epochs: number;
  /**
   * Loss weight of FLUSH labels relative to WAIT. A slot is flushed once and
   * waited on every tick before, so the decisive ticks are rare; > 1 keeps
   * them from being averaged away (e.g. the teacher's flush one tick before
   * the envelope would).
   */
  flushWeight?: number;
  batchSize: number;
  learningRate: number;
  seed: number;
  onRound?: (progress: ImitationProgress) => void;
}

export interface ImitationProgress {
  round: number;
  samples: number;
  /** Share of this round's visited states where the student (before the round's update) agreed with the teacher. */
  agreement: number;
  /** Mean (weighted) cross-entropy over the last epoch. */
  loss: number;
}

const STREAM_INIT = 201;
const STREAM_SHUFFLE = 202;
/** Regrets above this (request-ms) count as this much: the envelope's own states report Infinity. */
const MAX_REGRET = 1e5;

function normalised(values: readonly number[]): Float64Array {
  const mean = values.reduce((sum, v) => sum + v, 0) / Math.max(1, values.length);
  return Float64Array.from(values, (v) => (mean > 0 ? v / mean : 1));
}

/**
 * Behaviour cloning with DAgger: trains the PPO actor network (same
 * architecture, observation and export path as `trainPpo`) to reproduce a
 * teacher's WAIT/FLUSH decisions, by cross-entropy. The teacher is typically
 * the Bayes-optimal planner, which needs the traffic model; the student needs
 * only the features the coordinator sends.
 */
export function trainImitation(t: ImitationTraining): { model: ActorCritic; history: ImitationProgress[] } {
  if (!(t.rounds >= 1 && t.epochs >= 1 && t.batchSize >= 1)) throw new Error('imitation needs rounds, epochs and batchSize >= 1');
  const model = new ActorCritic(t.hidden, stream(t.seed, STREAM_INIT), 0.5, t.observationSize, t.idleInputGain);
  const width = model.observationSize;
  const scale = readObservationScale(new StrategyParams('ppo', t.strategyParams));
  const optimiser = new Adam(model.actor.params, t.learningRate);
  const shuffleRandom = stream(t.seed, STREAM_SHUFFLE);
  const observations: Float32Array[] = [];
  const labels: number[] = [];
  const costs: number[] = [];
  const history: ImitationProgress[] = [];

  for (let round = 1; round <= t.rounds; round++) {
    const student = createStrategy({ name: 'ppo', params: t.strategyParams }, { network: model.actor.toMlp(`student-${round}`) });
    let agreed = 0;
    let visited = 0;
    for (const episode of t.episodes) {
      const teacher = t.teacher();
      const runner: FlushStrategy = {
        name: 'imitation',
        decide(slots, context) {
          const wanted = teacher.strategy.decide(slots, context);
          const regrets = teacher.regrets?.();
          const own = student.decide(slots, context);
          const obs = observe(slots, scale, width);
          wanted.forEach((decision, i) => {
            observations.push(obs.slice(i * width, (i + 1) * width));
            labels.push(decision.action === 'flush' ? FLUSH_ACTION : WAIT_ACTION);
            costs.push(regrets ? Math.min(regrets[i]!, MAX_REGRET) : 1);
            if (own[i]!.action === decision.action) agreed++;
          });
          visited += slots.length;
          return round === 1 ? wanted : own;
        },
      };
      simulate(episode.trace, runner, episode.config, teacher.observer ?? {});
    }
    const loss = fit(model, observations, labels, normalised(costs), t, optimiser, shuffleRandom);
    const progress = { round, samples: labels.length, agreement: agreed / Math.max(1, visited), loss };
    history.push(progress);
    t.onRound?.(progress);
  }
  return { model, history };
}

/** Minibatch Adam on softmax cross-entropy over the actor's [wait, flush] logits; returns the last epoch's mean loss. */
function fit(
  model: ActorCritic,
  observations: readonly Float32Array[],
  labels: readonly number[],
  sampleWeights: Float64Array,
  t: ImitationTraining,
  optimiser: Adam,
  random: () => number,
): number {
  const width = model.observationSize;
  const order = Array.from({ length: labels.length }, (_, i) => i);
  let loss = 0;
  for (let epoch = 0; epoch < t.epochs; epoch++) {
    shuffle(order, random);
    loss = 0;
    for (let start = 0; start < order.length; start += t.batchSize) {
      const batch = order.slice(start, start + t.batchSize);
      const m = batch.length;
      const x = new Float64Array(m * width);
      batch.forEach((s, b) => x.set(observations[s]!, b * width));
      model.actor.zeroGrad();
      const logits = model.actor.forward(x, m);
      const dLogits = new Float64Array(m * 2);
      batch.forEach((s, b) => {
        const wait = logits[2 * b]!;
        const flush = logits[2 * b + 1]!;
        const max = Math.max(wait, flush);
        const pFlush = Math.exp(flush - max) / (Math.exp(wait - max) + Math.exp(flush - max));
        const y = labels[s] === FLUSH_ACTION ? 1 : 0;
        const w = sampleWeights[s]! * (y === 1 ? (t.flushWeight ?? 1) : 1);
        loss -= w * Math.log(Math.max(1e-12, y === 1 ? pFlush : 1 - pFlush));
        dLogits[2 * b + FLUSH_ACTION] = (w * (pFlush - y)) / m;
        dLogits[2 * b + WAIT_ACTION] = (w * (1 - pFlush - (1 - y))) / m;
      });
      model.actor.backward(dLogits);
      clipGradNorm([model.actor.grads], 1);
      optimiser.step(model.actor.grads);
    }
    loss /= Math.max(1, order.length);
  }
  return loss;
}
