import { readFile } from 'node:fs/promises';
import type { PpoConfig, RewardConfig, TrainingSource } from '#libs/rl';
import {
  costReward,
  IDLE_EDGES,
  RewardSettingError,
  SEED_PPO,
  SEED_QLEARNING,
  seedReward,
  validationEpisodes,
  withRewardSettings,
} from '#libs/rl';
import type { TrainingEpisode } from '#libs/rl';
import type { Scenario } from '#libs/sim';
import { OBSERVATION_SIZE, OBSERVATION_SIZE_WITH_IDLE, OBSERVATION_SIZE_WITH_SHORT_IDLE } from '#libs/policy';
import { parseTraceJsonl, SCENARIOS } from '#libs/sim';
import { positive, UsageError } from './scenario-args.js';

/** Options shared by `train` and `ablate`. */
export const TRAINING_OPTIONS = {
  reward: { type: 'string', default: 'cost' },
  'forced-penalty': { type: 'string', default: '0.25' },
  'reward-set': { type: 'string', multiple: true },
  jitter: { type: 'string', default: '1.5' },
  mix: { type: 'string', default: '0' },
  trace: { type: 'string', multiple: true },
  'episode-ms': { type: 'string', default: '5000' },
  seed: { type: 'string', default: '1' },
  'ppo-set': { type: 'string', multiple: true },
  'q-set': { type: 'string', multiple: true },
  observation: { type: 'string', default: 'seed' },
} as const;

export const TRAINING_HELP = `  --reward cost|seed       cost: C * calls + request-ms waited (what the oracle minimises), seed: seed 000's reward as coded
  --forced-penalty f       cost reward: extra cost of a forced flush, as a fraction of C (default 0.25)
  --reward-set key=value   override a reward setting (repeatable): cost reward term weights call, wait, forced (default 1);
                           seed reward alpha (2), beta (0.3), gamma (0.5) and term weights throughput, urgency, upstream,
                           forced, arrival, waitCost (default 1)
  --jitter j               scale traffic rates, durations and upstream latency per episode by [1/j, j] (default 1.5)
  --mix m                  share of episodes drawn from the other built-in scenarios (default 0)
  --trace file.jsonl       also train on windows of a recorded trace (repeatable)
  --episode-ms ms          traffic per episode (default 5000)   --seed n   (default 1)
  --observation seed|idle  seed = the seed's state (PPO: size, age, p99, rate; Q table: size, age, rate buckets); idle = that
                           plus the time since the last waiter joined, min(idle_ms/batch_timeout_ms, 1) (PPO: 5 inputs;
                           Q table: an idle dimension with buckets at 1..6, 8, 10, 15 ms of a 50 ms timeout);
                           idle-short (PPO) = idle plus min(idle_ms/10, 1) (6 inputs)
  --ppo-set key=value      override a PPO hyper-parameter (learningRate, nSteps, batchSize, nEpochs, gamma, gaeLambda,
                           clipRange, entCoef, vfCoef, maxGradNorm, initialFlushProbability, idleInputGain); defaults are the
                           seed's SB3 ones; idleInputGain (idle observation only) scales the idle input in training and is
                           folded into the exported first layer; discountMs > 0 discounts gamma per that many simulated ms
                           instead of per decision
  --q-set key=value        override a Q-learning setting (alpha, gamma, discountMs, epsilonStart, epsilonEnd, rateNorm)`;

/** Observation widths by --observation name (libs/policy `observe` builds both). */
export const OBSERVATIONS: Record<string, number> = {
  seed: OBSERVATION_SIZE,
  idle: OBSERVATION_SIZE_WITH_IDLE,
  'idle-short': OBSERVATION_SIZE_WITH_SHORT_IDLE,
};

/** Seed 001's Q-learning settings with --q-set overrides and the Q table's buckets for an --observation name. */
export function qLearningSetup(observation: string, pairs: readonly string[]) {
  if (observation !== 'seed' && observation !== 'idle')
    throw new UsageError(`Q tables bucket the seed's state or that plus idle time: --observation seed or idle (got "${observation}")`);
  return {
    ...withNumbers(SEED_QLEARNING, pairs, 'Q-learning'),
    sizeEdges: [...SEED_QLEARNING.sizeEdges],
    ageEdges: [...SEED_QLEARNING.ageEdges],
    rateEdges: [...SEED_QLEARNING.rateEdges],
    ...(observation === 'idle' ? { idleEdges: [...IDLE_EDGES] } : {}),
  };
}

export function observationSizeOf(name: string): number {
  const size = OBSERVATIONS[name];
  if (size === undefined) throw new UsageError(`--observation must be ${Object.keys(OBSERVATIONS).join(' or ')} (got "${name}")`);
  return size;
}

/** SB3's defaults (the seed's) with --ppo-set overrides. */
export function ppoConfig(pairs: readonly string[]): PpoConfig {
  return withNumbers(SEED_PPO, pairs, 'PPO');
}

/** Numeric key=value overrides of a settings object (unknown keys, non-numbers and arrays are refused). */
function withNumbers<T extends object>(base: T, pairs: readonly string[], what: string): T {
  const out = { ...base } as Record<string, unknown>;
  for (const pair of pairs) {
    const [key = '', value = ''] = pair.split('=');
    if (!Object.hasOwn(base, key) || typeof out[key] !== 'number') throw new UsageError(`unknown ${what} setting "${key}"`);
    const n = Number(value);
    if (value === '' || !Number.isFinite(n)) throw new UsageError(`${what} setting ${key} needs a number (got "${value}")`);
    out[key] = n;
  }
  return out as T;
}

/** The reward named by --reward, priced by the scenario and --forced-penalty, with --reward-set overrides. */
export function rewardOf(kind: string, scenario: Scenario, forcedPenalty: string, settings: readonly string[] = []): RewardConfig {
  let base: RewardConfig;
  if (kind === 'cost') {
    const penalty = Number(forcedPenalty);
    if (forcedPenalty.trim() === '' || !(penalty >= 0 && Number.isFinite(penalty)))
      throw new UsageError(`--forced-penalty must be a non-negative number (got "${forcedPenalty}")`);
    base = costReward(scenario.callCostMs, { forcedPenaltyMs: penalty * scenario.callCostMs });
  } else if (kind === 'seed') base = seedReward();
  else throw new UsageError(`--reward must be cost or seed (got "${kind}")`);
  try {
    return withRewardSettings(base, settings);
  } catch (error) {
    if (error instanceof RewardSettingError) throw new UsageError(`--reward-set: ${error.message}`);
    throw error;
  }
}

/**
 * The scenario itself (jittered), optionally mixed with the other built-in
 * single-key scenarios so the policy sees rates and upstream latencies beyond
 * its own traffic, and windows of recorded traces.
 */
export async function trainingSources(
  scenario: Scenario,
  values: { jitter: string; mix: string; trace?: string[] | undefined },
): Promise<TrainingSource[]> {
  const jitter = positive('--jitter', values.jitter);
  const mix = Number(values.mix);
  if (!(mix >= 0 && mix < 1)) throw new UsageError('--mix must be in [0, 1)');
  const traces = values.trace ?? [];
  const sources: TrainingSource[] = [{ weight: (1 - mix) * (traces.length > 0 ? 0.5 : 1), scenario, jitter }];
  if (mix > 0) {
    const others = Object.values(SCENARIOS).filter((s) => s.name !== scenario.name && s.traffic.popularity.kind === 'single');
    for (const other of others) {
      sources.push({
        weight: mix / others.length,
        scenario: { ...other, batchTimeoutMs: scenario.batchTimeoutMs, maxBatchSize: scenario.maxBatchSize },
        jitter: 2,
      });
    }
  }
  for (const path of traces) {
    sources.push({ weight: ((1 - mix) * 0.5) / traces.length, scenario, trace: parseTraceJsonl(await readFile(path, 'utf8')), name: path });
  }
  return sources;
}

/** Validation episodes for PPO model selection: the scenario's traffic, at most 20 s per seed. */
export function validationSet(scenario: Scenario, seeds: readonly number[]): TrainingEpisode[] {
  const durationMs = Math.min(20_000, scenario.traffic.durationMs);
  return validationEpisodes([{ ...scenario, traffic: { ...scenario.traffic, durationMs } }], seeds);
}
