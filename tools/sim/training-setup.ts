import { readFile } from 'node:fs/promises';
import type { PpoConfig, RewardConfig, TrainingSource } from '#libs/rl';
import { costReward, SEED_PPO, seedReward } from '#libs/rl';
import type { Scenario } from '#libs/sim';
import { OBSERVATION_SIZE, OBSERVATION_SIZE_WITH_IDLE } from '#libs/policy';
import { parseTraceJsonl, SCENARIOS } from '#libs/sim';
import { positive, UsageError } from './scenario-args.js';

/** Options shared by `train` and `ablate`. */
export const TRAINING_OPTIONS = {
  reward: { type: 'string', default: 'cost' },
  'forced-penalty': { type: 'string', default: '0.25' },
  jitter: { type: 'string', default: '1.5' },
  mix: { type: 'string', default: '0' },
  trace: { type: 'string', multiple: true },
  'episode-ms': { type: 'string', default: '5000' },
  seed: { type: 'string', default: '1' },
  'ppo-set': { type: 'string', multiple: true },
  observation: { type: 'string', default: 'seed' },
} as const;

export const TRAINING_HELP = `  --reward cost|seed       cost: C * calls + request-ms waited (what the oracle minimises), seed: seed 000's reward as coded
  --forced-penalty f       cost reward: extra cost of a forced flush, as a fraction of C (default 0.25)
  --jitter j               scale traffic rates, durations and upstream latency per episode by [1/j, j] (default 1.5)
  --mix m                  share of episodes drawn from the other built-in scenarios (default 0)
  --trace file.jsonl       also train on windows of a recorded trace (repeatable)
  --episode-ms ms          traffic per episode (default 5000)   --seed n   (default 1)
  --observation seed|idle  PPO input: seed = the seed's 4 features (size, age, p99, rate); idle = those plus the time since
                           the last waiter joined, min(idle_ms/batch_timeout_ms, 1) (5 inputs)
  --ppo-set key=value      override a PPO hyper-parameter (learningRate, nSteps, batchSize, nEpochs, gamma, gaeLambda,
                           clipRange, entCoef, vfCoef, maxGradNorm, initialFlushProbability, idleInputGain); defaults are the
                           seed's SB3 ones; idleInputGain (idle observation only) scales the idle input in training and is
                           folded into the exported first layer`;

/** Observation widths by --observation name (libs/policy `observe` builds both). */
export const OBSERVATIONS: Record<string, number> = { seed: OBSERVATION_SIZE, idle: OBSERVATION_SIZE_WITH_IDLE };

export function observationSizeOf(name: string): number {
  const size = OBSERVATIONS[name];
  if (size === undefined) throw new UsageError(`--observation must be ${Object.keys(OBSERVATIONS).join(' or ')} (got "${name}")`);
  return size;
}

/** SB3's defaults (the seed's) with --ppo-set overrides. */
export function ppoConfig(pairs: readonly string[]): PpoConfig {
  const out: PpoConfig = { ...SEED_PPO };
  for (const pair of pairs) {
    const [key = '', value = ''] = pair.split('=');
    if (!Object.hasOwn(SEED_PPO, key) || key === 'hidden') throw new UsageError(`unknown PPO setting "${key}"`);
    (out as unknown as Record<string, number>)[key] = Number(value);
  }
  return out;
}

export function rewardOf(kind: string, scenario: Scenario, forcedPenalty: string): RewardConfig {
  if (kind === 'cost') return costReward(scenario.callCostMs, { forcedPenaltyMs: Number(forcedPenalty) * scenario.callCostMs });
  if (kind === 'seed') return seedReward();
  throw new UsageError(`--reward must be cost or seed (got "${kind}")`);
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
