/**
 * How a policy network was made. `train ppo` optimises a reward with PPO;
 * `imitate` distils a teacher policy (usually the Bayes-optimal planner, which
 * is given the traffic's parameters) into the same network by DAgger. Both
 * export the same ONNX graph and are served by the `ppo` strategy, so the
 * label of an evaluation row must come from here, not from the strategy name.
 */
import type { PpoConfig } from './ppo.js';
import type { RewardConfig } from './rewards.js';

export type ModelMethod = 'ppo' | 'imitation';

export interface ModelProvenance {
  method: ModelMethod;
  /** Imitation: the teacher policy as `imitate --teacher` was given it, e.g. "bayes:call_cost_ms=1600". */
  teacher?: string;
}

const METHODS: readonly string[] = ['ppo', 'imitation'] satisfies ModelMethod[];

/** The evaluation row label: PPO models keep "PPO (version)"; distilled ones say so and name their teacher. */
export function modelLabel(version: string, provenance: ModelProvenance): string {
  if (provenance.method === 'ppo') return `PPO (${version})`;
  return `distilled ${version} (DAgger of ${provenance.teacher ?? 'an unnamed teacher'})`;
}

/** What a checkpoint says about how it was made (PpoCheckpoint has these fields). */
export interface MadeBy {
  method?: ModelMethod;
  teacher?: string;
  reward: RewardConfig;
  ppo: PpoConfig;
  hidden: readonly number[];
}

/**
 * The method-specific part of an exported model's two records: ONNX metadata
 * props (strings) and the JSON beside the .onnx. A PPO model carries its
 * reward and PPO settings; a distilled one its teacher and only the network
 * settings that apply (its checkpoint's reward is just the price it is judged
 * at, and no PPO update ever ran).
 */
export function provenanceRecords(made: MadeBy): { metadata: Record<string, string>; record: Record<string, unknown> } {
  const method = made.method ?? 'ppo';
  if (method === 'ppo') {
    return { metadata: { method, reward: JSON.stringify(made.reward) }, record: { method, reward: made.reward, ppo: made.ppo } };
  }
  const teacher = made.teacher ?? '';
  // Checkpoints from before idleInputGain existed have none (1).
  const idleInputGain = (made.ppo as Partial<PpoConfig>).idleInputGain ?? 1;
  return { metadata: { method, teacher }, record: { method, teacher, network: { hidden: [...made.hidden], idleInputGain } } };
}

/**
 * Reads the provenance from a model's record: the JSON written beside the
 * .onnx (`method`, `teacher`) or the ONNX metadata props (same keys, strings).
 * Records written before `method` existed say nothing (undefined), except
 * imitation records of that time, which said `training.method: "behaviour
 * cloning ..."` and named the teacher by its row label. A `method` that is
 * neither is an error, not a guess.
 */
export function provenanceOf(record: unknown, source: string): ModelProvenance | undefined {
  if (typeof record !== 'object' || record === null) return undefined;
  const r = record as Record<string, unknown>;
  if (r.method !== undefined) {
    if (typeof r.method !== 'string' || !METHODS.includes(r.method))
      throw new Error(`${source}: method must be ${METHODS.join(' or ')} (got ${JSON.stringify(r.method)})`);
    const teacher = teacherOf(r.teacher);
    return { method: r.method as ModelMethod, ...(teacher !== undefined ? { teacher } : {}) };
  }
  const training = (typeof r.training === 'object' && r.training !== null ? r.training : {}) as Record<string, unknown>;
  if (typeof training.method === 'string' && training.method.startsWith('behaviour cloning')) {
    const teacher = teacherOf(training.teacher);
    return { method: 'imitation', ...(teacher !== undefined ? { teacher } : {}) };
  }
  return undefined;
}

/** A teacher is named by a string, or by a record whose `policy` is that string. */
function teacherOf(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && value !== null && typeof (value as { policy?: unknown }).policy === 'string')
    return (value as { policy: string }).policy;
  return undefined;
}

/** Where a model's record (metadata, provenance, verification) lives: beside it, <model without .onnx>.json. */
export function recordPathOf(modelPath: string): string {
  return modelPath.replace(/\.onnx$/, '') + '.json';
}
