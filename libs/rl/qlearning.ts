import type { FlushStrategy, QTable } from '#libs/policy';
import { qStateCount, qStateIndex } from '#libs/policy';
import type { Random } from '#libs/sim';
import { simulate, stream } from '#libs/sim';
import { FLUSH_ACTION, Ledger, stepDiscount, WAIT_ACTION } from './ledger.js';
import type { Step } from './ledger.js';
import type { RewardConfig } from './rewards.js';
import type { TrainingSource } from './training-traffic.js';
import { drawEpisode } from './training-traffic.js';

/**
 * Seed 001's tabular epsilon-greedy Q-learning (alpha 0.2, epsilon 0.25 ->
 * 0.02 linearly, 200 episodes of 5 s), acting on WAIT/FLUSH per slot instead
 * of choosing a batch size. gamma is per decision tick: the seed's 0.9 was
 * per 50 ms decision, and 0.9^50 would see nothing past one slot, so 0.99.
 */
export interface QTraining {
  sources: TrainingSource[];
  reward: RewardConfig;
  episodes: number;
  episodeMs: number;
  seed: number;
  alpha: number;
  gamma: number;
  /** 0: gamma per decision tick (as below); > 0: gamma per this many simulated ms (see stepDiscount). */
  discountMs: number;
  epsilonStart: number;
  epsilonEnd: number;
  sizeEdges: number[];
  ageEdges: number[];
  rateEdges: number[];
  /** Idle-time edges (fractions of the timeout); absent = the seed's size/age/rate state. */
  idleEdges?: number[];
  rateNorm: number;
  version: string;
  onEpisode?: (progress: { episode: number; epsilon: number; rewardPerRequest: number; visitedStates: number }) => void;
}

export const SEED_QLEARNING = {
  episodes: 200,
  episodeMs: 5000,
  alpha: 0.2,
  gamma: 0.99,
  discountMs: 0,
  epsilonStart: 0.25,
  epsilonEnd: 0.02,
  // Fractions of max_batch_size and of the timeout; finer where flush decisions happen (young slots).
  sizeEdges: [2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96].map((n) => n / 128),
  // 0.98: the last tick before the timeout gets a bucket of its own, where flushing always beats being forced.
  ageEdges: [0.02, 0.04, 0.06, 0.08, 0.1, 0.14, 0.18, 0.22, 0.26, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.96, 0.98],
  rateEdges: [0.2, 0.4, 0.6, 0.8, 0.9, 0.95],
  rateNorm: 100,
} as const;

/**
 * Idle-time edges for `--observation idle`: 1..6, 8, 10, 15 ms of a 50 ms
 * timeout. Burst ends show as a few ms without a joiner, so the fine
 * buckets are at the start.
 */
export const IDLE_EDGES: readonly number[] = [1, 2, 3, 4, 5, 6, 8, 10, 15].map((ms) => ms / 50);

export function emptyQTable(t: Pick<QTraining, 'sizeEdges' | 'ageEdges' | 'rateEdges' | 'idleEdges' | 'rateNorm' | 'version'>): QTable {
  return {
    version: t.version,
    sizeEdges: [...t.sizeEdges],
    ageEdges: [...t.ageEdges],
    rateEdges: [...t.rateEdges],
    ...(t.idleEdges ? { idleEdges: [...t.idleEdges] } : {}),
    rateNorm: t.rateNorm,
    values: new Array<number>(qStateCount(t) * 2).fill(0),
  };
}

const STREAM_EPISODES = 201;
const STREAM_EXPLORE = 202;

export function trainQTable(t: QTraining): QTable {
  const table = emptyQTable(t);
  const episodes = stream(t.seed, STREAM_EPISODES);
  const explore = stream(t.seed, STREAM_EXPLORE);
  const visited = new Set<number>();
  const update = (step: Step<number>, next: Step<number> | undefined) => {
    const at = step.extra * 2 + step.action;
    const future = next ? Math.max(table.values[next.extra * 2]!, table.values[next.extra * 2 + 1]!) : 0;
    table.values[at]! += t.alpha * (step.reward + stepDiscount(step, t.gamma, t.discountMs) * future - table.values[at]!);
  };
  for (let episode = 0; episode < t.episodes; episode++) {
    const epsilon = t.epsilonStart + ((t.epsilonEnd - t.epsilonStart) * episode) / Math.max(1, t.episodes - 1);
    const drawn = drawEpisode(t.sources, episodes, t.episodeMs);
    const ledger = new Ledger<number>(t.reward, update);
    simulate(drawn.trace, epsilonGreedy(table, epsilon, ledger, explore, visited), drawn.config, ledger);
    ledger.finish();
    const rewardPerRequest = ledger.steps.reduce((sum, s) => sum + s.reward, 0) / Math.max(1, drawn.trace.t.length);
    t.onEpisode?.({ episode, epsilon, rewardPerRequest, visitedStates: visited.size });
  }
  return table;
}

function epsilonGreedy(table: QTable, epsilon: number, ledger: Ledger<number>, random: Random, visited: Set<number>): FlushStrategy {
  return {
    name: 'qlearning-epsilon-greedy',
    decide: (slots) =>
      slots.map((slot) => {
        const state = qStateIndex(table, slot);
        visited.add(state);
        ledger.pending.push(state);
        const greedy = table.values[state * 2 + 1]! > table.values[state * 2]! ? FLUSH_ACTION : WAIT_ACTION;
        const action = random() < epsilon ? (random() < 0.5 ? FLUSH_ACTION : WAIT_ACTION) : greedy;
        return action === FLUSH_ACTION ? { action: 'flush', probability: 1 } : { action: 'wait', probability: 0 };
      }),
  };
}
