import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { RewardConfig } from '#libs/rl';
import { rewardTerms, SEED_QLEARNING, trainPpo, trainQTable, withoutTerm } from '#libs/rl';
import type { EvalRow, PolicyEntry } from '#libs/sim';
import { evaluateScenario, meanBySeed } from '#libs/sim';
import { ProgressBar } from '../progress.js';
import { csv, markdownTable, textTable } from '../report/table.js';
import { integer, loadScenario, seedList, UsageError } from '../scenario-args.js';
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

export const ABLATE_HELP = `ablate [ppo|qlearning] [--scenario seed-bursty] [--reward seed|cost] [--steps 150000 | --episodes 200] [--seeds 1,2,3] [--out dir]
${TRAINING_HELP}
  Trains with the full reward and once with each reward term's weight set to 0 (same seed, same traffic), then
  evaluates every variant on the scenario: what each term contributes (seed 000's "future work").`;

export async function ablateCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      ...TRAINING_OPTIONS,
      reward: { type: 'string', default: 'seed' },
      scenario: { type: 'string', default: 'seed-bursty' },
      'call-cost': { type: 'string' },
      steps: { type: 'string', default: '150000' },
      episodes: { type: 'string', default: String(SEED_QLEARNING.episodes) },
      seeds: { type: 'string', default: '1,2,3' },
      out: { type: 'string' },
    },
    allowPositionals: true,
  });
  const algorithm = positionals[0] ?? 'ppo';
  if (algorithm !== 'ppo' && algorithm !== 'qlearning') throw new UsageError('ablate trains ppo or qlearning');
  const scenario = await loadScenario(values.scenario, { callCostMs: values['call-cost'] });
  const full = rewardOf(values.reward, scenario, values['forced-penalty'], values['reward-set'] ?? []);
  const sources = await trainingSources(scenario, values);
  const seed = integer('--seed', values.seed);
  const episodeMs = integer('--episode-ms', values['episode-ms']);
  const ppo = ppoConfig(values['ppo-set'] ?? []);
  const observationSize = observationSizeOf(values.observation);
  const variants: [string, RewardConfig][] = [
    ['full reward', full],
    ...rewardTerms(full).map((t): [string, RewardConfig] => [`without ${t}`, withoutTerm(full, t)]),
  ];
  const validation = algorithm === 'ppo' ? validationSet(scenario, [1001, 1002]) : [];
  const policies: PolicyEntry[] = [];
  for (const [label, reward] of variants) {
    console.log(`training ${algorithm} with ${label}`);
    if (algorithm === 'ppo') {
      const steps = integer('--steps', values.steps);
      const bar = new ProgressBar(steps);
      const result = trainPpo({
        sources,
        reward,
        ppo,
        observationSize,
        totalSteps: steps,
        seed,
        episodeMs,
        strategyParams: {},
        validation,
        validateEvery: 5,
        onUpdate: (p) => bar.update(p.steps, `reward/req ${p.rewardPerRequest.toFixed(4)} best ${p.bestValidation.toFixed(4)}`),
      });
      bar.done();
      policies.push({ label, spec: { name: 'ppo', params: {} }, models: { network: result.model.actor.toMlp(label) } });
    } else {
      const episodes = integer('--episodes', values.episodes);
      const table = trainQTable({
        ...qLearningSetup(values.observation, values['q-set'] ?? []),
        episodes,
        episodeMs,
        sources,
        reward,
        seed,
        version: label,
      });
      policies.push({ label, spec: { name: 'qlearning', params: {} }, models: { qTable: table } });
    }
  }
  const evaluation = evaluateScenario(scenario, policies, seedList(values.seeds));
  const summary: EvalRow[] = meanBySeed(evaluation.rows);
  const title = `Ablation: ${algorithm}, ${full.kind} reward, ${scenario.name} (C = ${scenario.callCostMs})`;
  console.log(`\n${title}\n\n${textTable(summary)}`);
  const out = values.out ?? join('.run', 'sim', `ablate-${algorithm}-${full.kind}-${scenario.name}`);
  await mkdir(out, { recursive: true });
  await writeFile(join(out, 'ablation.md'), `### ${title}\n\n${markdownTable(summary)}\n`);
  await writeFile(join(out, 'ablation.csv'), csv(evaluation.rows));
  console.log(`wrote ${out}/{ablation.md,ablation.csv}`);
}
