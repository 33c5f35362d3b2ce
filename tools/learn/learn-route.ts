import type { StrategySpec } from '#libs/config';
import { formatStrategySpec } from '#libs/config';
import type { Mlp } from '#libs/policy';
import { createStrategy, OBSERVATION_SIZE_WITH_IDLE } from '#libs/policy';
import type { ImitationProgress, Teacher, TrainingEpisode } from '#libs/rl';
import { SEED_PPO, trainImitation } from '#libs/rl';
import type { DecisionPathSpec, EvalRow, PolicyEntry, RunMetrics, Scenario, Trace } from '#libs/sim';
import {
  beliefPolicy,
  decisionPathOf,
  evaluateScenario,
  fitOnOff,
  fitThreshold,
  generateTrace,
  onOffModelOf,
  ORACLE_LABEL,
  planOnOff,
  simConfigOf,
  traceDurationMs,
  traceWindow,
} from '#libs/sim';
import { fittedScenario } from '../sim/commands/fit.js';
import type { PublishDecision } from './gate.js';
import { publishDecision } from './gate.js';
import { oracleScheduleTeacher } from './teachers.js';

/** How much training a learn run may spend per route (CLI defaults are modest: this runs on shared machines). */
export interface LearnBudget {
  /** DAgger rounds (round 1 follows the teacher, later ones the student). */
  rounds: number;
  epochs: number;
  /** Training episodes per round: windows of the recorded trace, plus as many drawn from the fitted traffic model. */
  episodes: number;
  episodeMs: number;
}

export interface LearnSettings {
  /** Envelope, tick, upstream model and the price C of a call (request-ms) for this route. */
  scenario: Scenario;
  /** The strategy the route runs now (from the route config). */
  running: StrategySpec;
  /** The live decide round trip the candidate is trained and judged under. */
  decisionPath: DecisionPathSpec;
  budget: LearnBudget;
  /** Publish only at this much lower cost per request than the running strategy (0.05 = 5 %). */
  margin: number;
  /** p99 may exceed the running strategy's by this much (ms): one decision tick, the grid the percentiles sit on. */
  p99SlackMs: number;
  seed: number;
  version: string;
}

export type RowRole = 'running' | 'candidate' | 'baseline' | 'oracle';

export interface LearnRow {
  label: string;
  role: RowRole;
  /** The strategy spec as a route would configure it ("" for the oracle). */
  spec: string;
  metrics: RunMetrics;
  costPerRequest: number;
  /** Excess cost over the oracle (0.1 = 10 % above). */
  gapToOracle: number;
}

export interface RouteLearning {
  route: string;
  requests: number;
  keys: number;
  durationMs: number;
  /** How the traffic was modelled and what the candidate imitated. */
  traffic: string;
  teacher: string;
  training: { history: ImitationProgress[]; episodes: number; budget: LearnBudget };
  rows: LearnRow[];
  decision: PublishDecision;
  /** The candidate network (exported to ONNX and published when the decision says so). */
  network: Mlp;
  strategyParams: Record<string, number>;
}

/**
 * One route of the learn loop, all in the simulator: model the recorded
 * traffic, train a candidate by DAgger imitation under the live decide
 * round trip, replay the same trace under the candidate, the running
 * strategy, the hand-written baselines and the oracle, and decide whether the
 * candidate is worth publishing. In-sample: the candidate is trained on the
 * traffic it is judged on (its windows and draws of a model fitted to it),
 * and so is the threshold baseline's M — the report says so.
 */
export function learnRoute(route: string, trace: Trace, s: LearnSettings): RouteLearning {
  const oneKey = trace.keys.length === 1 && trace.t.length >= 10;
  const fitted = oneKey ? fittedScenario(s.scenario, trace, fitOnOff(trace, { tickMs: s.scenario.tickMs }), `route ${route}`) : undefined;
  const scenario: Scenario = { ...(fitted ?? s.scenario), name: `route:${route}` };
  const config = simConfigOf(scenario, s.seed);
  const C = scenario.callCostMs;
  const withPath = (episode: Omit<TrainingEpisode, 'config'>, seed: number): TrainingEpisode => ({
    ...episode,
    config: { ...simConfigOf(scenario, seed), decisionPath: decisionPathOf(s.decisionPath) },
  });
  const episodes = windows(trace, s.budget).map((window, i) => withPath({ label: `recorded window ${i}`, trace: window }, s.seed + i));
  let teacher: () => Teacher;
  let teacherLabel: string;
  if (fitted) {
    const plan = planOnOff(onOffModelOf(fitted.traffic.process)!, {
      callCostMs: C,
      forcedPenaltyMs: C, // as `sim eval`'s bayes row: flush on its own rather than leave the slot to the envelope
      batchTimeoutMs: scenario.batchTimeoutMs,
      maxBatchSize: scenario.maxBatchSize,
      tickMs: scenario.tickMs,
    });
    teacher = () => beliefPolicy(plan);
    teacherLabel = `Bayes-optimal causal policy for the fitted on-off traffic (C=${C})`;
    const drawn = { ...fitted.traffic, durationMs: s.budget.episodeMs };
    for (let i = 0; i < s.budget.episodes; i++)
      episodes.push(withPath({ label: `fitted draw ${i}`, trace: generateTrace(drawn, s.seed + 100 + i) }, s.seed + 100 + i));
  } else {
    const make = oracleScheduleTeacher(trace, {
      callCostMs: C,
      batchTimeoutMs: scenario.batchTimeoutMs,
      maxBatchSize: scenario.maxBatchSize,
      tickMs: scenario.tickMs,
    });
    teacher = make;
    teacherLabel = `hindsight oracle's schedule on the recorded trace (C=${C})`;
    // Windows start at 0 in their own time; the oracle's schedule is on the whole trace's clock, so the
    // oracle teacher trains on the whole trace (windows would misalign it).
    episodes.splice(0, episodes.length, withPath({ label: 'recorded trace', trace }, s.seed));
  }
  const strategyParams: Record<string, number> = {};
  const { model, history } = trainImitation({
    teacher,
    episodes,
    hidden: SEED_PPO.hidden,
    observationSize: OBSERVATION_SIZE_WITH_IDLE,
    idleInputGain: 10, // as `sim imitate`'s default: the idle input's preconditioner
    strategyParams,
    rounds: s.budget.rounds,
    epochs: s.budget.epochs,
    batchSize: 256,
    learningRate: 1e-3,
    seed: s.seed,
  });
  const network = model.actor.toMlp(s.version);
  const threshold = fitThreshold(trace, config, C);
  const policies: Array<PolicyEntry & { role: RowRole }> = [
    { role: 'running', label: `running: ${formatStrategySpec(s.running)}`, spec: s.running },
    { role: 'candidate', label: `candidate ${s.version}`, spec: { name: 'ppo', params: strategyParams }, models: { network } },
    ...baselines(scenario, threshold.size).map((b) => ({ ...b, role: 'baseline' as const })),
  ];
  const evaluation = evaluateScenario(scenario, policies, [s.seed], { trace, decisionPath: s.decisionPath });
  const rows = evaluation.rows.map((row) => rowOf(row, policies));
  const running = rows.find((r) => r.role === 'running')!;
  const candidate = rows.find((r) => r.role === 'candidate')!;
  return {
    route,
    requests: trace.t.length,
    keys: trace.keys.length,
    durationMs: traceDurationMs(trace),
    traffic: fitted ? fitted.description : `${trace.keys.length} keys: no on-off model fitted (one key's traffic only)`,
    teacher: teacherLabel,
    training: { history, episodes: episodes.length, budget: s.budget },
    rows,
    decision: publishDecision(candidate, running, { margin: s.margin, p99SlackMs: s.p99SlackMs }),
    network,
    strategyParams,
  };
}

/** The hand-written rules a reviewer asks a learned policy to beat, as the route would configure them. */
function baselines(scenario: Scenario, thresholdSize: number): PolicyEntry[] {
  const specs: Array<[string, StrategySpec]> = [
    [`fixed timer ${scenario.batchTimeoutMs} ms`, { name: 'fixed_timer', params: { window_ms: scenario.batchTimeoutMs } }],
    [`cost_aware (C=${scenario.callCostMs})`, { name: 'cost_aware', params: { call_cost_ms: scenario.callCostMs } }],
    [`threshold M=${thresholdSize} (fitted on this trace)`, { name: 'threshold', params: { size: thresholdSize } }],
    ['aimd (Clipper, SLO 100 ms)', { name: 'aimd', params: { slo_ms: 100 } }],
  ];
  for (const [, spec] of specs) createStrategy(spec); // a bad spec fails here, naming itself
  return specs.map(([label, spec]) => ({ label, spec }));
}

function rowOf(row: EvalRow, policies: ReadonlyArray<PolicyEntry & { role: RowRole }>): LearnRow {
  const policy = policies.find((p) => p.label === row.policy);
  return {
    label: row.policy,
    role: row.policy === ORACLE_LABEL ? 'oracle' : (policy?.role ?? 'baseline'),
    spec: policy ? formatStrategySpec(policy.spec) : '',
    metrics: row.metrics,
    costPerRequest: row.costPerRequest,
    gapToOracle: row.gap,
  };
}

/** Up to `episodes` consecutive windows of `episodeMs` (the whole trace when it is shorter). */
function windows(trace: Trace, budget: LearnBudget): Trace[] {
  const duration = traceDurationMs(trace);
  if (duration <= budget.episodeMs) return [trace];
  const count = Math.min(budget.episodes, Math.floor(duration / budget.episodeMs));
  return Array.from({ length: count }, (_, i) => traceWindow(trace, i * budget.episodeMs, (i + 1) * budget.episodeMs));
}
