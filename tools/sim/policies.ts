import { readFile } from 'node:fs/promises';
import { parseStrategySpec } from '#libs/config';
import { loadPolicyModel } from '#libs/onnx';
import type { QTable } from '#libs/policy';
import { validateQTable } from '#libs/policy';
import type { ModelProvenance } from '#libs/rl';
import { modelLabel, provenanceOf, recordPathOf } from '#libs/rl';
import type { PolicyEntry, Scenario } from '#libs/sim';
import { beliefPolicy, fitThreshold, generateTrace, onOffModelOf, planOnOff, simConfigOf } from '#libs/sim';

export const DEFAULT_PPO_MODEL = 'fixtures/models/ppo-v3.onnx';
export const DEFAULT_QTABLE = 'fixtures/models/qtable-v1.json';

/** The rows of the seed's results table (plus ours), in the order the issue lists them. */
export const SEED_ROWS = [
  'no_batching',
  'fixed_timer',
  'size_cap',
  'exponential',
  'queue_depth',
  'latency_aware',
  'qlearning',
  'ppo',
  'cost_aware',
  'threshold',
  'aimd',
];

/**
 * The trace seed the threshold row is fitted on: not one of the evaluation
 * seeds (1-3 by default), so its M is fitted on traffic like the route's, as
 * policy:learn fits it on recorded traffic, and judged on traffic it did not see.
 */
export const THRESHOLD_FIT_SEED = 1000;

export interface ModelPaths {
  ppo: string;
  qtable: string;
}

/**
 * Resolves policy names to strategy specs. Named rows use the seed's settings
 * (fixed timer 50 ms, size cap 128, exponential lambda 2, ...); anything else
 * is read as a strategy spec like "fixed_timer:window_ms=20" and labelled
 * with it. Learned rows load their model (--ppo / --qtable, or "ppo@file.onnx",
 * "qlearning@file.json" for extra rows); a missing model is an error that
 * names the file and the command that makes it.
 */
export async function resolvePolicies(names: readonly string[], scenario: Scenario, models: ModelPaths): Promise<PolicyEntry[]> {
  const entries: PolicyEntry[] = [];
  for (const name of names) entries.push(await resolvePolicy(name, scenario, models));
  return entries;
}

async function resolvePolicy(name: string, scenario: Scenario, models: ModelPaths): Promise<PolicyEntry> {
  // "ppo@model.onnx" / "qlearning@table.json": a learned row with its own model file.
  const [base = name, file] = name.split('@');
  if (file !== undefined && (base === 'ppo' || base === 'qlearning')) {
    return resolvePolicy(base, scenario, base === 'ppo' ? { ...models, ppo: file } : { ...models, qtable: file });
  }
  switch (name) {
    case 'no_batching':
      return { label: 'no batching (flush every tick)', spec: { name: 'size_cap', params: { size: 1 } } };
    case 'fixed_timer':
      return {
        label: `fixed timer ${scenario.batchTimeoutMs} ms`,
        spec: { name: 'fixed_timer', params: { window_ms: scenario.batchTimeoutMs } },
      };
    case 'size_cap':
      return { label: `size cap ${scenario.maxBatchSize}`, spec: { name: 'size_cap', params: { size: scenario.maxBatchSize } } };
    case 'exponential':
      return { label: 'exponential (lambda 2)', spec: { name: 'exponential', params: { lambda: 2 } } };
    case 'queue_depth':
      return { label: 'queue_depth', spec: { name: 'queue_depth', params: {} } };
    case 'latency_aware':
      return { label: 'latency_aware', spec: { name: 'latency_aware', params: {} } };
    case 'cost_aware':
      return {
        label: `cost_aware (C=${scenario.callCostMs})`,
        spec: { name: 'cost_aware', params: { call_cost_ms: scenario.callCostMs } },
      };
    case 'threshold': {
      const trace = generateTrace(scenario.traffic, THRESHOLD_FIT_SEED);
      const fit = fitThreshold(trace, simConfigOf(scenario, THRESHOLD_FIT_SEED), scenario.callCostMs);
      return {
        label: `threshold M=${fit.size} (fitted, C=${scenario.callCostMs})`,
        spec: { name: 'threshold', params: { size: fit.size } },
      };
    }
    case 'aimd':
      return { label: 'aimd (Clipper, SLO 100 ms)', spec: { name: 'aimd', params: { slo_ms: 100 } } };
    case 'qlearning': {
      const qTable = await loadQTable(models.qtable);
      return { label: `Q-learning (${qTable.version})`, spec: { name: 'qlearning', params: {} }, models: { qTable } };
    }
    case 'ppo': {
      const { network, metadata } = await loadModel(models.ppo);
      const label = modelLabel(network.version, await provenanceOfModel(models.ppo, metadata));
      return { label, spec: { name: 'ppo', params: strategyParamsOf(metadata) }, models: { network } };
    }
    default: {
      const spec = parseStrategySpec(name);
      if (typeof spec === 'string') throw new Error(`policy "${name}": ${spec}`);
      if (spec.name === BAYES) return bayesPolicy(name, spec.params, scenario);
      if (spec.name === 'ppo') {
        const { network, metadata } = await loadModel(models.ppo);
        return { label: name, spec: { name: 'ppo', params: { ...strategyParamsOf(metadata), ...spec.params } }, models: { network } };
      }
      if (spec.name === 'qlearning') return { label: name, spec, models: { qTable: await loadQTable(models.qtable) } };
      return { label: name, spec };
    }
  }
}

const BAYES = 'bayes';

/**
 * "bayes[:call_cost_ms=..][:forced_penalty_ms=...]": the Bayes-optimal causal
 * policy for the scenario's on-off traffic (libs/sim/bayes.ts) — an analysis
 * row, not a route strategy: it knows the traffic's parameters. Planned at the
 * scenario's price unless told; the forced penalty (default: one call) makes
 * it flush on its own instead of leaving slots to the envelope.
 */
function bayesPolicy(name: string, params: Record<string, number>, scenario: Scenario): PolicyEntry {
  const known = ['call_cost_ms', 'forced_penalty_ms', 'logit_step'];
  const unknown = Object.keys(params).filter((k) => !known.includes(k));
  if (unknown.length > 0) throw new Error(`policy "${name}": unknown parameter(s) ${unknown.join(', ')} (known: ${known.join(', ')})`);
  const model = onOffModelOf(scenario.traffic.process);
  if (!model || scenario.traffic.popularity.kind !== 'single') {
    throw new Error(`policy "${name}": needs one-key on-off (mmpp) traffic; scenario ${scenario.name} is not`);
  }
  const callCostMs = params.call_cost_ms ?? scenario.callCostMs;
  const plan = planOnOff(model, {
    callCostMs,
    forcedPenaltyMs: params.forced_penalty_ms ?? callCostMs,
    batchTimeoutMs: scenario.batchTimeoutMs,
    maxBatchSize: scenario.maxBatchSize,
    tickMs: scenario.tickMs,
    ...(params.logit_step !== undefined ? { logitStep: params.logit_step } : {}),
  });
  return {
    label: `Bayes-optimal causal (${[
      `C=${callCostMs}`,
      ...Object.entries(params)
        .filter(([k]) => k !== 'call_cost_ms')
        .map(([k, v]) => `${k}=${v}`),
    ].join(', ')})`,
    spec: { name: BAYES, params: { call_cost_ms: callCostMs, forced_penalty_ms: plan.options.forcedPenaltyMs } },
    instantiate: () => beliefPolicy(plan),
  };
}

/** The ppo strategy parameters the model was trained with (observation scale), from its metadata. */
export function strategyParamsOf(metadata: Record<string, string>): Record<string, number> {
  return metadata.strategy_params ? (JSON.parse(metadata.strategy_params) as Record<string, number>) : {};
}

/**
 * How the model was made: from the record beside it (<model>.json, which `train` and `imitate` write and
 * which can be corrected without touching the weights), else from the ONNX metadata, else PPO (the only
 * method before imitation; an imitated model exported before `method` existed is known only by its record).
 */
async function provenanceOfModel(path: string, metadata: Record<string, string>): Promise<ModelProvenance> {
  const recordPath = recordPathOf(path);
  let record: unknown;
  try {
    record = JSON.parse(await readFile(recordPath, 'utf8'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT')
      throw new Error(`cannot read the model record ${recordPath}: ${(error as Error).message}`, { cause: error });
  }
  return provenanceOf(record, recordPath) ?? provenanceOf(metadata, `${path} (ONNX metadata)`) ?? { method: 'ppo' };
}

async function loadModel(path: string) {
  try {
    return await loadPolicyModel(path);
  } catch (error) {
    throw new Error(`cannot load PPO model ${path} (train one with \`npm run sim -- train ppo\`): ${(error as Error).message}`, {
      cause: error,
    });
  }
}

export async function loadQTable(path: string): Promise<QTable> {
  let table: QTable;
  try {
    table = JSON.parse(await readFile(path, 'utf8')) as QTable;
  } catch (error) {
    throw new Error(`cannot load Q table ${path} (train one with \`npm run sim -- train qlearning\`): ${(error as Error).message}`, {
      cause: error,
    });
  }
  validateQTable(table);
  return table;
}
