import type { PolicyNetwork } from '../network.js';
import type { StrategyParams } from '../params.js';
import { StrategyConfigError } from '../params.js';
import { RATE_TAU_MS } from '../features.js';
import { planTo } from '../plan.js';
import type { FlushPlan, FlushStrategy, PolicyDecision, SlotFeatures } from '../types.js';

/**
 * Normalisers of the seed's 4-feature observation. Undefined size/age
 * normalisers mean "the slot's own envelope", so a model keeps meaning the
 * same thing (fraction of the envelope) when the envelope changes.
 */
export interface ObservationScale {
  sizeNorm: number | undefined;
  ageNormMs: number | undefined;
  p99NormMs: number;
  rateNorm: number;
}

/** The seed's 4-feature state. */
export const OBSERVATION_SIZE = 4;
/** The seed's state plus the time since the last waiter joined: lets a policy see a burst end. */
export const OBSERVATION_SIZE_WITH_IDLE = 5;
/** ...plus a short-range idle feature that saturates at SHORT_IDLE_MS, where burst ends are told apart. */
export const OBSERVATION_SIZE_WITH_SHORT_IDLE = 6;
export const SHORT_IDLE_MS = 10;
export const OBSERVATION_WIDTHS: readonly number[] = [OBSERVATION_SIZE, OBSERVATION_SIZE_WITH_IDLE, OBSERVATION_SIZE_WITH_SHORT_IDLE];

export function readObservationScale(p: StrategyParams): ObservationScale {
  return {
    sizeNorm: p.optional('size_norm', { min: 1 }),
    ageNormMs: p.optional('age_norm_ms', { min: 1 }),
    p99NormMs: p.get('p99_norm_ms', 500, { min: 1 }),
    rateNorm: p.get('rate_norm', 100, { min: 1e-6 }),
  };
}

/**
 * Seed 000's state: [batch_size/128, batch_age_ms/50, log1p(upstream_p99_ms)/log1p(500),
 * tanh(request_rate/100)], size and age clipped to 1 as the seed's normaliser did.
 * Width 5 appends idle_ms/50 (clipped to 1): how long since the last waiter joined;
 * width 6 also idle_ms/10 ms (clipped to 1), fine where burst ends are decided and
 * flat beyond, so the long-idle range does not swamp the network's inputs.
 */
export function observe(slots: readonly SlotFeatures[], scale: ObservationScale, width = OBSERVATION_SIZE): Float32Array {
  if (!OBSERVATION_WIDTHS.includes(width))
    throw new StrategyConfigError(`no observation has ${width} features (known: ${OBSERVATION_WIDTHS.join(', ')})`);
  const out = new Float32Array(slots.length * width);
  const p99Norm = Math.log1p(scale.p99NormMs);
  for (let i = 0, o = 0; i < slots.length; i++, o += width) {
    const s = slots[i]!;
    const ageNorm = scale.ageNormMs ?? s.batchTimeoutMs;
    out[o] = Math.min(s.size / (scale.sizeNorm ?? s.maxBatchSize), 1);
    out[o + 1] = Math.min(s.ageMs / ageNorm, 1);
    out[o + 2] = Math.log1p(Math.max(0, s.upstreamP99Ms)) / p99Norm;
    out[o + 3] = Math.tanh(s.requestRate / scale.rateNorm);
    if (width >= OBSERVATION_SIZE_WITH_IDLE) out[o + 4] = Math.min(s.idleMs / ageNorm, 1);
    if (width >= OBSERVATION_SIZE_WITH_SHORT_IDLE) out[o + 5] = Math.min(s.idleMs / SHORT_IDLE_MS, 1);
  }
  return out;
}

/** Greedy action from [WAIT, FLUSH] logits; the probability is softmax(FLUSH). */
export function decisionsFromLogits(logits: Float32Array, batch: number): PolicyDecision[] {
  const decisions: PolicyDecision[] = [];
  for (let b = 0; b < batch; b++) {
    const wait = logits[b * 2]!;
    const flush = logits[b * 2 + 1]!;
    if (!Number.isFinite(wait) || !Number.isFinite(flush)) throw new Error('policy network produced a non-finite logit');
    const probability = 1 / (1 + Math.exp(wait - flush));
    decisions.push({ action: flush > wait ? 'flush' : 'wait', probability });
  }
  return decisions;
}

/**
 * Future ages a learned plan looks at per slot: from the slot's age to the
 * envelope's timeout, at least 1 ms apart (the live tick), this many (rows past
 * the timeout repeat it), so a 100-slot request is one
 * model run of at most 6,400 rows.
 */
export const PROJECTED_AGES = 64;

/**
 * The slot's features at the ages a plan looks at (row k of slot i is
 * `rows[i * PROJECTED_AGES + k]`; row 0 is now) if nobody joins: the age and
 * the idle time grow, the key's rate decays as FeatureBook's estimate does
 * (exp(-dt/tau)), size stays. A join is exactly what makes the decision round
 * ask again (round-rules.ts), so a plan only has to be right for the future
 * in which nothing happens; there it is the model's own per-tick verdicts.
 */
export function projectAhead(slots: readonly SlotFeatures[]): SlotFeatures[] {
  const rows: SlotFeatures[] = [];
  for (const s of slots) {
    const stepMs = Math.max(1, (s.batchTimeoutMs - s.ageMs) / (PROJECTED_AGES - 1));
    for (let k = 0; k < PROJECTED_AGES; k++) {
      const dt = Math.min(k * stepMs, Math.max(0, s.batchTimeoutMs - s.ageMs));
      rows.push({ ...s, ageMs: s.ageMs + dt, idleMs: s.idleMs + dt, requestRate: s.requestRate * Math.exp(-dt / RATE_TAU_MS) });
    }
  }
  return rows;
}

/** Plans from one verdict per projected row: flush at the first projected age the model flushes at (else the envelope). */
export function plansFromProjection(
  slots: readonly SlotFeatures[],
  rows: readonly SlotFeatures[],
  flushes: (row: number) => boolean,
): FlushPlan[] {
  return slots.map((_, i) => {
    for (let k = 0; k < PROJECTED_AGES; k++) {
      const row = i * PROJECTED_AGES + k;
      if (flushes(row)) return planTo(rows[row]!.ageMs);
    }
    return planTo(Infinity);
  });
}

/** Plans from the logits of the projected rows of `slots` (see projectAhead). */
export function plansFromLogits(slots: readonly SlotFeatures[], rows: readonly SlotFeatures[], logits: Float32Array): FlushPlan[] {
  const decisions = decisionsFromLogits(logits, rows.length);
  return plansFromProjection(slots, rows, (row) => decisions[row]!.action === 'flush');
}

/**
 * PPO actor: the seed's observation through a network, argmax action. Plan:
 * the first future age at which the network would flush given the current
 * features projected forward (projectAhead: nobody joins), in one batched run.
 */
export function ppo(p: StrategyParams, network: PolicyNetwork | undefined): FlushStrategy {
  const scale = readObservationScale(p);
  if (!network) throw new StrategyConfigError('ppo needs a model; none is loaded');
  if (!OBSERVATION_WIDTHS.includes(network.inputSize))
    throw new StrategyConfigError(`ppo model takes ${network.inputSize} inputs, expected one of ${OBSERVATION_WIDTHS.join(', ')}`);
  return {
    name: 'ppo',
    decide: (slots) => decisionsFromLogits(network.logits(observe(slots, scale, network.inputSize), slots.length), slots.length),
    plan: (slots) => {
      const rows = projectAhead(slots);
      return plansFromLogits(slots, rows, network.logits(observe(rows, scale, network.inputSize), rows.length));
    },
  };
}

/** A tabular Q function over bucketed normalised (size, age, rate[, idle]) -> [Q(WAIT), Q(FLUSH)]. */
export interface QTable {
  version: string;
  /** Ascending bucket edges on size/max_batch, age/timeout and tanh(rate/rate_norm). */
  sizeEdges: number[];
  ageEdges: number[];
  rateEdges: number[];
  rateNorm: number;
  /**
   * Optional ascending edges on idle/timeout (time since the last waiter joined);
   * absent = the seed's 3-feature state (tables written before idle existed).
   */
  idleEdges?: number[];
  /** Flattened [size][age][rate][idle][action]. */
  values: number[];
}

export function bucketOf(value: number, edges: readonly number[]): number {
  let bucket = 0;
  while (bucket < edges.length && value >= edges[bucket]!) bucket++;
  return bucket;
}

export function qStateIndex(table: QTable, slot: SlotFeatures): number {
  const size = bucketOf(slot.size / slot.maxBatchSize, table.sizeEdges);
  const age = bucketOf(slot.ageMs / slot.batchTimeoutMs, table.ageEdges);
  const rate = bucketOf(Math.tanh(slot.requestRate / table.rateNorm), table.rateEdges);
  const index = (size * (table.ageEdges.length + 1) + age) * (table.rateEdges.length + 1) + rate;
  if (!table.idleEdges) return index;
  return index * (table.idleEdges.length + 1) + bucketOf(slot.idleMs / slot.batchTimeoutMs, table.idleEdges);
}

/** States of a table with these edges (the values hold two per state). */
export function qStateCount(table: Pick<QTable, 'sizeEdges' | 'ageEdges' | 'rateEdges' | 'idleEdges'>): number {
  const idle = table.idleEdges ? table.idleEdges.length + 1 : 1;
  return (table.sizeEdges.length + 1) * (table.ageEdges.length + 1) * (table.rateEdges.length + 1) * idle;
}

export function validateQTable(table: QTable): void {
  const edges = { sizeEdges: table.sizeEdges, ageEdges: table.ageEdges, rateEdges: table.rateEdges, idleEdges: table.idleEdges ?? [] };
  for (const [name, list] of Object.entries(edges)) {
    if (!Array.isArray(list) || !list.every((v, i) => Number.isFinite(v) && (i === 0 || v > list[i - 1]!))) {
      throw new StrategyConfigError(`Q table ${table.version}: ${name} must be ascending finite numbers`);
    }
  }
  const states = qStateCount(table);
  if (!Array.isArray(table.values) || table.values.length !== states * 2 || !table.values.every(Number.isFinite)) {
    throw new StrategyConfigError(`Q table ${table.version} must hold ${states * 2} finite values`);
  }
}

/** Greedy tabular Q-learning policy (seed 001's agent, acting on WAIT/FLUSH). */
export function qlearning(table: QTable | undefined): FlushStrategy {
  if (!table) throw new StrategyConfigError('qlearning needs a Q table; none is loaded');
  validateQTable(table);
  const flushes = (slot: SlotFeatures) => {
    const index = qStateIndex(table, slot) * 2;
    return table.values[index + 1]! > table.values[index]!;
  };
  return {
    name: 'qlearning',
    decide: (slots) =>
      slots.map((slot) => {
        const flush = flushes(slot);
        return { action: flush ? 'flush' : 'wait', probability: flush ? 1 : 0 };
      }),
    // Plan: the first projected age at which the table's greedy action is FLUSH (see projectAhead).
    plan: (slots) => {
      const rows = projectAhead(slots);
      return plansFromProjection(slots, rows, (row) => flushes(rows[row]!));
    },
  };
}
