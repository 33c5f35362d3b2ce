import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createStrategy, OBSERVATION_SIZE_WITH_IDLE } from '#libs/policy';
import type { ImitationProgress } from '#libs/rl';
import { costReward, SEED_PPO, toCheckpoint, trainImitation, validationEpisodes } from '#libs/rl';
import type { Scenario } from '#libs/sim';
import { DEFAULT_PPO_MODEL, DEFAULT_QTABLE, resolvePolicies } from '../policies.js';
import { integer, loadScenario, positive, seedList, UsageError } from '../scenario-args.js';
import { observationSizeOf } from '../training-setup.js';
import { exportModel } from './export.js';

export const IMITATE_HELP = `imitate --teacher <policy> [--scenario seed-bursty|<file.json>] [--seeds 101-110] [--duration-ms 20000]
     [--rounds 3] [--epochs 4] [--flush-weight 1] [--regret-weights] [--observation idle] [--idle-gain 10] [--seed 1] [--version ppo-imitation] [--out dir]
  Trains the PPO network (same observation, same ONNX export) to reproduce a teacher's decisions by behaviour
  cloning with DAgger on the scenario's traffic, e.g. --teacher bayes:call_cost_ms=1100 (the Bayes-optimal causal
  policy, which knows the traffic model; the student sees only the features the coordinator sends).
  --regret-weights weighs each decision by what the teacher says the other action would cost (teachers that report it).
  Writes best.json (checkpoint), <version>.onnx and <version>.json; both records say method "imitation" and name the
  teacher, and \`sim eval\` labels the model "distilled <version> (DAgger of <teacher>)".`;

const OPTIONS = {
  teacher: { type: 'string' },
  scenario: { type: 'string', default: 'seed-bursty' },
  seeds: { type: 'string', default: '101,102,103,104,105,106,107,108,109,110' },
  'duration-ms': { type: 'string', default: '20000' },
  rounds: { type: 'string', default: '3' },
  epochs: { type: 'string', default: '4' },
  'flush-weight': { type: 'string', default: '1' },
  'regret-weights': { type: 'boolean', default: false },
  observation: { type: 'string', default: 'idle' },
  'idle-gain': { type: 'string', default: '10' },
  seed: { type: 'string', default: '1' },
  version: { type: 'string', default: 'ppo-imitation' },
  out: { type: 'string' },
} as const;

export async function imitateCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: OPTIONS, allowPositionals: false });
  if (!values.teacher) throw new UsageError('imitate needs --teacher <policy>, e.g. bayes:call_cost_ms=1100');
  const scenario = await loadScenario(values.scenario, { durationMs: values['duration-ms'] });
  const [teacher] = await resolvePolicies([values.teacher], scenario, { ppo: DEFAULT_PPO_MODEL, qtable: DEFAULT_QTABLE });
  const observationSize = observationSizeOf(values.observation);
  const idleInputGain = observationSize === OBSERVATION_SIZE_WITH_IDLE ? positive('--idle-gain', values['idle-gain']) : 1;
  const seed = integer('--seed', values.seed);
  const version = values.version;
  const out = values.out ?? join('.run', 'sim', `imitate-${version}`);
  await mkdir(out, { recursive: true });
  const episodes = validationEpisodes([scenario], seedList(values.seeds));
  const strategyParams: Record<string, number> = {};
  const fit = {
    rounds: integer('--rounds', values.rounds),
    epochs: integer('--epochs', values.epochs),
    flushWeight: positive('--flush-weight', values['flush-weight']),
    regretWeights: values['regret-weights'],
    batchSize: 256,
    learningRate: 1e-3,
  };
  const { model, history } = trainImitation({
    teacher: () => {
      const made = teacher!.instantiate?.() ?? { strategy: createStrategy(teacher!.spec, teacher!.models) };
      return values['regret-weights'] ? made : { strategy: made.strategy, ...(made.observer ? { observer: made.observer } : {}) };
    },
    episodes,
    hidden: SEED_PPO.hidden,
    observationSize,
    idleInputGain,
    strategyParams,
    ...fit,
    seed,
    onRound: (p: ImitationProgress) =>
      console.log(
        `round ${p.round}: ${p.samples} samples, student agreed with the teacher on ${(p.agreement * 100).toFixed(2)} %, loss ${p.loss.toFixed(4)}`,
      ),
  });
  // The checkpoint format is PPO's: method and teacher say it is not a PPO model, its reward is only the
  // price it is judged at, and of the PPO settings only the network's shape and input gain apply.
  const checkpoint = toCheckpoint(model, {
    version,
    method: 'imitation',
    teacher: values.teacher,
    strategyParams,
    reward: costReward(scenario.callCostMs),
    ppo: { ...SEED_PPO, idleInputGain },
    training: { scenario: scenario.name, seed, steps: history.at(-1)!.samples, validation: NaN },
  });
  await writeFile(join(out, 'best.json'), JSON.stringify(checkpoint));
  await exportModel(checkpoint, join(out, `${version}.onnx`), {
    method: 'behaviour cloning with DAgger of the teacher (not PPO; no reward is optimised)',
    teacher: teacherRecord(values.teacher, teacher!.label, scenario),
    command: `npm run sim -- imitate ${argv.join(' ')}`,
    fit,
    scenarioSpec: scenario,
    seeds: values.seeds,
    durationMs: scenario.traffic.durationMs,
    observation: values.observation,
    history,
  });
}

/** The teacher as given and as labelled; a Bayes teacher also records the traffic parameters it planned on. */
function teacherRecord(policy: string, label: string, scenario: Scenario) {
  const planner = policy === 'bayes' || policy.startsWith('bayes:');
  return {
    policy,
    label,
    ...(planner
      ? {
          plannedOn: scenario.traffic.process,
          knows: `the traffic parameters of scenario ${scenario.name} (the student sees only the coordinator's features)`,
        }
      : {}),
  };
}
