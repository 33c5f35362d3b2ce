import { writeFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { PpoCheckpoint, PpoProgress, RewardConfig, TrainingSource } from '#libs/rl';
import { fromCheckpoint, SEED_QLEARNING, toCheckpoint, trainPpo, trainQTable } from '#libs/rl';
import type { Scenario } from '#libs/sim';
import { ProgressBar } from '../progress.js';
import { integer, loadScenario, UsageError } from '../scenario-args.js';
import {
  observationSizeOf,
  ppoConfig,
  qLearningSetup,
  rewardOf,
  TRAINING_HELP,
  TRAINING_OPTIONS,
  trainingSources,
  validationSet,
} from '../training-setup.js';
import { exportModel } from './export.js';

export const TRAIN_HELP = `train ppo|qlearning [--scenario seed-bursty|<file.json>] [--call-cost ms] [--steps 300000 | --episodes 200]
     [--version ppo-v1] [--out dir] [--pin-rate 50 (train with the rate feature pinned, as seed 000 did)] [--ppo-set key=value]...
     [--init checkpoint.json (PPO: fine-tune a trained model, e.g. under another reward)]
${TRAINING_HELP}
  PPO writes checkpoints, best.json, <version>.onnx and <version>.json (metadata incl. the onnxruntime max abs diff);
  Q-learning writes <version>.json in the QTable format the policy service loads.`;

const OPTIONS = {
  ...TRAINING_OPTIONS,
  scenario: { type: 'string', default: 'seed-bursty' },
  'call-cost': { type: 'string' },
  steps: { type: 'string', default: '300000' },
  episodes: { type: 'string', default: String(SEED_QLEARNING.episodes) },
  version: { type: 'string' },
  out: { type: 'string' },
  'validation-seeds': { type: 'string', default: '1001,1002' },
  'pin-rate': { type: 'string' },
  init: { type: 'string' },
} as const;

export async function trainCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true });
  const algorithm = positionals[0];
  if (algorithm !== 'ppo' && algorithm !== 'qlearning') throw new UsageError('train needs an algorithm: ppo or qlearning');
  const scenario = await loadScenario(values.scenario, { callCostMs: values['call-cost'] });
  const reward = rewardOf(values.reward, scenario, values['forced-penalty'], values['reward-set'] ?? []);
  const sources = await trainingSources(scenario, values);
  const seed = integer('--seed', values.seed);
  const episodeMs = integer('--episode-ms', values['episode-ms']);
  const observationSize = observationSizeOf(values.observation);
  const observationTag = values.observation === 'seed' ? '' : `-${values.observation}`;
  const version = values.version ?? `${algorithm}-${scenario.name}-${values.reward}${observationTag}-s${seed}`;
  const out = values.out ?? join('.run', 'sim', `train-${version}`);
  await mkdir(out, { recursive: true });
  const training = { scenario: scenario.name, scenarioSpec: scenario, seed, reward, sources: sources.map(describeSource), episodeMs };
  if (algorithm === 'qlearning' && values.init)
    throw new UsageError('--init fine-tunes a PPO checkpoint; Q-learning starts from an empty table');
  if (algorithm === 'qlearning') {
    const episodes = integer('--episodes', values.episodes);
    const bar = new ProgressBar(episodes);
    const table = trainQTable({
      ...qLearningSetup(values.observation, values['q-set'] ?? []),
      episodes,
      episodeMs,
      sources,
      reward,
      seed,
      version,
      onEpisode: (p) =>
        bar.update(
          p.episode + 1,
          `episode ${p.episode + 1}/${episodes}  eps ${p.epsilon.toFixed(3)}  reward/req ${p.rewardPerRequest.toFixed(4)}  states ${p.visitedStates}`,
        ),
    });
    bar.done();
    await writeFile(join(out, `${version}.json`), JSON.stringify(table));
    await writeFile(join(out, `${version}.meta.json`), JSON.stringify({ version, kind: 'qlearning', episodes, ...training }, null, 2));
    console.log(`wrote ${join(out, `${version}.json`)}`);
    return;
  }
  const ppo = ppoConfig(values['ppo-set'] ?? []);
  const totalSteps = integer('--steps', values.steps);
  const validation = validationSet(scenario, values['validation-seeds'].split(',').map(Number));
  const bar = new ProgressBar(totalSteps);
  const history: PpoProgress[] = [];
  const strategyParams: Record<string, number> = {};
  const result = trainPpo({
    sources,
    reward,
    ppo,
    observationSize,
    totalSteps,
    seed,
    episodeMs,
    strategyParams,
    validation,
    validateEvery: 5,
    ...(values['pin-rate'] ? { pinnedRatePerSec: Number(values['pin-rate']) } : {}),
    ...(values.init ? { initial: fromCheckpoint(JSON.parse(await readFile(values.init, 'utf8')) as PpoCheckpoint) } : {}),
    onUpdate: (p) => {
      history.push(p);
      bar.update(
        p.steps,
        `steps ${p.steps}  reward/req ${p.rewardPerRequest.toFixed(4)}  val ${p.validation?.toFixed(4) ?? '   -   '}  best ${p.bestValidation.toFixed(4)}  H ${p.stats.entropy.toFixed(3)}`,
      );
    },
    onValidate: (model, p) => {
      const meta = {
        version: `${version}@${p.steps}`,
        strategyParams,
        reward,
        ppo,
        training: { scenario: scenario.name, seed, steps: p.steps, validation: p.validation ?? NaN },
      };
      writeFileSync(join(out, `checkpoint-${String(p.steps).padStart(8, '0')}.json`), JSON.stringify(toCheckpoint(model, meta)));
    },
  });
  bar.done();
  const best = toCheckpoint(result.model, {
    version,
    strategyParams,
    reward,
    ppo,
    training: { scenario: scenario.name, seed, steps: totalSteps, validation: result.bestValidation },
  });
  await writeFile(join(out, 'best.json'), JSON.stringify(best));
  await writeFile(join(out, 'history.json'), JSON.stringify(history, null, 1));
  await exportModel(best, join(out, `${version}.onnx`), {
    command: `npm run sim -- train ${argv.join(' ')}`,
    ...training,
    observation: values.observation,
    ppo,
    totalSteps,
    bestValidation: result.bestValidation,
  });
  reportReward(reward, result.bestValidation, scenario);
}

function reportReward(reward: RewardConfig, best: number, scenario: Scenario): void {
  if (reward.kind === 'cost')
    console.log(`best validation cost: ${(-best * reward.callCostMs).toFixed(2)} request-ms per request at C = ${scenario.callCostMs}`);
  else console.log(`best validation seed-reward per request: ${best.toFixed(4)}`);
}

function describeSource(s: TrainingSource) {
  return 'trace' in s ? { weight: s.weight, trace: s.name } : { weight: s.weight, scenario: s.scenario.name, jitter: s.jitter };
}
