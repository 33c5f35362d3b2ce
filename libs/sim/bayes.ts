import type { DecisionContext, FlushStrategy, PolicyDecision, SlotFeatures } from '#libs/policy';
import { FLUSH, WAIT } from '#libs/policy';
import { tickIndexAtOrAfter } from './clock.js';
import type { SimObserver } from './simulator.js';
import type { RateProcess } from './traffic.js';

/**
 * The best a causal policy can do on on-off bursty traffic whose parameters
 * it knows: the Bayes-optimal flush rule of the belief MDP.
 *
 * The oracle knows the future; no policy can match it. What a policy can know
 * at a tick is the arrival history, and for on-off Markov-modulated Poisson
 * traffic all of it that matters is the posterior probability b that a burst
 * is on. The state of one key is then (b, slot size n, slot age a), and
 * minimising the oracle's own cost (C per upstream call + 1 per request-ms
 * waited) over it is a finite MDP once b is put on a grid. Its solution is the
 * causal limit for that cost: the distance from it to the oracle is the price
 * of not knowing the future, which no amount of training removes.
 *
 * Model (one step = one tick): the phase switches with probability
 * 1 - exp(-tick / mean phase length), then k ~ Poisson(rate x tick) requests
 * arrive; the belief is updated by Bayes from k. A slot's members wait one tick
 * per step (new arrivals half a tick on average, whatever is decided); flushing
 * costs C and empties the key. The envelope flushes at age >= timeout or size
 * >= max. Solved by value iteration with a per-tick discount close to 1 (the
 * empty key's value by its own fixed point each round, the slot by backward
 * induction over age), b on a grid in logit space with linear interpolation.
 */
export interface OnOffModel {
  baseRatePerMs: number;
  burstRatePerMs: number;
  meanBurstMs: number;
  meanGapMs: number;
}

export interface BeliefPlanOptions {
  callCostMs: number;
  /**
   * Extra cost charged when the envelope flushes (timeout or size cap), in
   * request-ms. 0 prices the envelope's flush like any other; a positive
   * value makes the plan flush on its own before the envelope would.
   */
  forcedPenaltyMs?: number;
  batchTimeoutMs: number;
  maxBatchSize: number;
  tickMs: number;
  /** Discount per tick; close to 1 approximates the long-run average cost. */
  gamma?: number;
  logitMin?: number;
  logitMax?: number;
  logitStep?: number;
  /** Stop when the empty key's value moves less than this share of its size between rounds. */
  tolerance?: number;
  maxRounds?: number;
}

export interface BeliefPlan {
  model: OnOffModel;
  options: Required<BeliefPlanOptions>;
  /** Grid of logit(b). */
  logits: Float64Array;
  /** (cost of waiting) - (cost of flushing), per [age][size][belief bin]; flush when > 0. */
  advantage: Float32Array;
  /** Value of an empty key per belief bin (discounted cost to go). */
  emptyValue: Float64Array;
  rounds: number;
  /** Largest change of the empty key's value in the last round, relative to its largest value. */
  residual: number;
}

/** The on-off parameters of an mmpp rate process, per ms; undefined for any other process. */
export function onOffModelOf(process: RateProcess): OnOffModel | undefined {
  if (process.kind !== 'mmpp') return undefined;
  return {
    baseRatePerMs: process.baseRatePerSec / 1000,
    burstRatePerMs: process.burstRatePerSec / 1000,
    meanBurstMs: process.meanBurstMs,
    meanGapMs: process.meanGapMs,
  };
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
const logit = (p: number) => Math.log(p / (1 - p));

/** Where a belief falls on the logit grid of B points: the lower point and the weight of the upper one. */
function gridPosition(o: { logitMin: number; logitStep: number }, B: number, belief: number) {
  const pos = Math.min(B - 1, Math.max(0, (logit(Math.min(1 - 1e-15, Math.max(1e-15, belief))) - o.logitMin) / o.logitStep));
  const lo = Math.min(B - 2, Math.floor(pos));
  return { lo, w: pos - lo };
}

/** One tick of the exact discrete filter: predict the phase switch, then condition on k arrivals. */
export class OnOffFilter {
  private readonly stayBurst: number;
  private readonly enterBurst: number;
  private readonly burstPmf: Float64Array;
  private readonly basePmf: Float64Array;
  private readonly burstMean: number;
  private readonly baseMean: number;

  constructor(
    model: OnOffModel,
    tickMs: number,
    /** P(burst) now. Starts at the stationary share of burst time. */
    public belief = model.meanBurstMs / (model.meanBurstMs + model.meanGapMs),
    private readonly maxArrivals = 64,
  ) {
    this.stayBurst = Math.exp(-tickMs / model.meanBurstMs);
    this.enterBurst = 1 - Math.exp(-tickMs / model.meanGapMs);
    this.burstMean = model.burstRatePerMs * tickMs;
    this.baseMean = model.baseRatePerMs * tickMs;
    this.burstPmf = poissonPmf(this.burstMean, maxArrivals);
    this.basePmf = poissonPmf(this.baseMean, maxArrivals);
  }

  /** The belief before the tick's arrivals are seen. */
  predicted(belief = this.belief): number {
    return belief * this.stayBurst + (1 - belief) * this.enterBurst;
  }

  /** P(k arrivals in the next tick | belief) and the belief after seeing them. */
  step(k: number, belief = this.belief): { probability: number; belief: number } {
    const prior = this.predicted(belief);
    const burst = prior * this.likelihood(k, true);
    const base = (1 - prior) * this.likelihood(k, false);
    const probability = burst + base;
    return { probability, belief: probability > 0 ? burst / probability : prior };
  }

  observe(k: number): void {
    this.belief = this.step(k).belief;
  }

  private likelihood(k: number, burst: boolean): number {
    if (k < this.maxArrivals) return (burst ? this.burstPmf : this.basePmf)[k]!;
    // Beyond the table: the exact Poisson term in log space.
    const mean = burst ? this.burstMean : this.baseMean;
    return mean > 0 ? Math.exp(k * Math.log(mean) - mean - logFactorial(k)) : 0;
  }
}

function poissonPmf(mean: number, length: number): Float64Array {
  const out = new Float64Array(length);
  out[0] = Math.exp(-mean);
  for (let k = 1; k < length; k++) out[k] = (out[k - 1]! * mean) / k;
  return out;
}

function logFactorial(k: number): number {
  let s = 0;
  for (let i = 2; i <= k; i++) s += Math.log(i);
  return s;
}

/** Solves the belief MDP for an on-off model, envelope and call price. */
export function planOnOff(model: OnOffModel, options: BeliefPlanOptions): BeliefPlan {
  const o: Required<BeliefPlanOptions> = {
    gamma: 0.9995,
    forcedPenaltyMs: 0,
    logitMin: -10,
    logitMax: 8,
    logitStep: 0.25,
    tolerance: 1e-7,
    maxRounds: 3000,
    ...options,
  };
  checkPlanOptions(model, o);
  const C = o.callCostMs;
  const T = Math.ceil(o.batchTimeoutMs / o.tickMs); // decision ticks per slot: ages 0 .. T-1
  const N = o.maxBatchSize; // sizes 1 .. N-1 are decided; N and above is the size cap
  const B = Math.round((o.logitMax - o.logitMin) / o.logitStep) + 1;
  const logits = Float64Array.from({ length: B }, (_, i) => o.logitMin + i * o.logitStep);
  const filter = new OnOffFilter(model, o.tickMs);

  // Arrivals per tick considered: the burst Poisson tail beyond K carries < 1e-12.
  let K = 1;
  for (let tail = 1; tail > 1e-12 && K < 256; K++) tail -= filter.step(K - 1, 0.999999).probability;
  const K1 = K + 1;
  const prob = new Float64Array(B * K1);
  const target = new Int32Array(B * K1);
  const weight = new Float64Array(B * K1); // weight of target, 1 - weight of target + 1
  for (let i = 0; i < B; i++) {
    let total = 0;
    for (let k = 0; k <= K; k++) {
      const { probability, belief } = filter.step(k, sigmoid(logits[i]!));
      prob[i * K1 + k] = probability;
      total += probability;
      const { lo, w } = gridPosition(o, B, belief);
      target[i * K1 + k] = lo;
      weight[i * K1 + k] = 1 - w;
    }
    for (let k = 0; k <= K; k++) prob[i * K1 + k]! /= total;
  }
  const at = (values: Float64Array | Float32Array, offset: number, j: number) =>
    weight[j]! * values[offset + target[j]!]! + (1 - weight[j]!) * values[offset + target[j]! + 1]!;

  const g = o.gamma;
  const half = 0.5 * o.tickMs;
  const value = new Float64Array(T * N * B); // [age][size][bin], size 0 unused
  const advantage = new Float32Array(T * N * B);
  let empty = new Float64Array(B);
  const flushValue = new Float64Array(B);
  const forcedValue = new Float64Array(B);
  const index = (a: number, n: number) => (a * N + n) * B;

  let rounds = 0;
  let residual = Infinity;
  let lastShift = NaN;
  let lastRatio = NaN;
  while (rounds < o.maxRounds && residual > o.tolerance) {
    rounds++;
    // Flushing costs C and leaves the key empty for the rest of the tick.
    for (let i = 0; i < B; i++) {
      flushValue[i] = C + empty[i]!;
      forcedValue[i] = flushValue[i]! + o.forcedPenaltyMs;
    }
    for (let a = T - 1; a >= 0; a--) {
      for (let n = N - 1; n >= 1; n--) {
        const row = index(a, n);
        for (let i = 0; i < B; i++) {
          let wait = n * o.tickMs;
          for (let k = 0; k <= K; k++) {
            const j = i * K1 + k;
            const p = prob[j]!;
            if (p === 0) continue;
            const m = n + k;
            const next = a + 1 >= T || m >= N ? at(forcedValue, 0, j) : at(value, index(a + 1, m), j);
            wait += p * (k * half + g * next);
          }
          const flush = flushValue[i]!;
          value[row + i] = Math.min(wait, flush);
          advantage[row + i] = wait - flush;
        }
      }
    }
    // The empty key: no arrival keeps it empty; k >= 1 open a slot decided at age 0 next tick.
    const opened = new Float64Array(B);
    for (let i = 0; i < B; i++) {
      let s = 0;
      for (let k = 1; k <= K; k++) {
        const j = i * K1 + k;
        const p = prob[j]!;
        if (p === 0) continue;
        s += p * (k * half + g * (k >= N ? at(forcedValue, 0, j) : at(value, index(0, k), j)));
      }
      opened[i] = s;
    }
    let next = empty;
    for (let sweep = 0; sweep < 100_000; sweep++) {
      const updated = new Float64Array(B);
      let change = 0;
      for (let i = 0; i < B; i++) {
        const j = i * K1;
        updated[i] = opened[i]! + prob[j]! * g * at(next, 0, j);
        change = Math.max(change, Math.abs(updated[i]! - next[i]!));
      }
      next = updated;
      if (change < o.tolerance * 1e-3 * Math.max(1, scale(next))) break;
    }
    residual = 0;
    let low = Infinity;
    let high = -Infinity;
    for (let i = 0; i < B; i++) {
      const d = next[i]! - empty[i]!;
      residual = Math.max(residual, Math.abs(d));
      low = Math.min(low, d);
      high = Math.max(high, d);
    }
    residual /= Math.max(1, scale(next));
    // Late in the iteration the change is one mode shrinking by a constant ratio
    // per round (the discount over a cycle): once the ratio is steady, jump to
    // the mode's limit (Aitken extrapolation, vector form).
    const shift = (low + high) / 2;
    const ratio = shift / lastShift;
    if (ratio > 0 && ratio < 1 && Math.abs(ratio - lastRatio) < 1e-6) {
      const gain = ratio / (1 - ratio);
      for (let i = 0; i < B; i++) next[i]! += gain * (next[i]! - empty[i]!);
      lastShift = NaN;
      lastRatio = NaN;
    } else {
      lastShift = shift;
      lastRatio = ratio;
    }
    empty = next;
  }
  return { model, options: o, logits, advantage, emptyValue: empty, rounds, residual };
}

function scale(values: Float64Array): number {
  let max = 0;
  for (const v of values) max = Math.max(max, Math.abs(v));
  return max;
}

function checkPlanOptions(model: OnOffModel, o: Required<BeliefPlanOptions>): void {
  const bad = (what: string) => {
    throw new Error(`belief plan: ${what}`);
  };
  if (!(model.burstRatePerMs > model.baseRatePerMs && model.baseRatePerMs >= 0)) bad('the burst rate must exceed the base rate (>= 0)');
  if (!(model.meanBurstMs > 0 && model.meanGapMs > 0)) bad('mean burst and gap lengths must be > 0');
  if (!(o.callCostMs > 0)) bad('call cost must be > 0');
  if (!(o.forcedPenaltyMs >= 0)) bad('forced penalty must be >= 0');
  if (!(o.tickMs > 0 && o.batchTimeoutMs >= o.tickMs)) bad('need tick > 0 and timeout >= tick');
  // Decision ages are whole ticks (0 .. T-1, forced at T); a timeout between ticks would force some slots a tick early.
  const ticks = o.batchTimeoutMs / o.tickMs;
  if (Math.abs(ticks - Math.round(ticks)) > 1e-9) bad('the batch timeout must be a whole number of ticks');
  if (!(Number.isInteger(o.maxBatchSize) && o.maxBatchSize >= 2)) bad('max batch size must be an integer >= 2');
  if (!(o.gamma > 0 && o.gamma < 1)) bad('gamma must be in (0, 1)');
  if (!(o.logitMax > o.logitMin && o.logitStep > 0)) bad('need logitMax > logitMin and logitStep > 0');
}

/**
 * Cost of waiting minus cost of flushing for one slot of a plan (request-ms),
 * b interpolated between grid points: > 0 means flush, and its size is what
 * the wrong action would cost. Infinity where the envelope flushes anyway.
 */
export function planAdvantage(plan: BeliefPlan, belief: number, size: number, ageMs: number): number {
  const { options: o, logits } = plan;
  const T = Math.ceil(o.batchTimeoutMs / o.tickMs);
  const N = o.maxBatchSize;
  const a = Math.floor(ageMs / o.tickMs + 1e-9);
  if (a >= T || size >= N) return Infinity;
  const B = logits.length;
  const { lo, w } = gridPosition(o, B, belief);
  const row = (a * N + Math.max(1, size)) * B;
  return (1 - w) * plan.advantage[row + lo]! + w * plan.advantage[row + lo + 1]!;
}

/** Flush (true) or wait for one slot of a plan. */
export function planSaysFlush(plan: BeliefPlan, belief: number, size: number, ageMs: number): boolean {
  return planAdvantage(plan, belief, size, ageMs) > 0;
}

/**
 * The plan as a simulator policy: a strategy plus the observer that feeds it
 * the key's arrivals, so its belief is the exact filter over everything seen
 * up to the tick (causal: nothing after the tick). One key per trace.
 */
export function beliefPolicy(plan: BeliefPlan): {
  strategy: FlushStrategy;
  observer: SimObserver;
  /** Per slot of the last decision: what taking the other action would have cost (request-ms, expected). */
  regrets: () => readonly number[];
} {
  const tickMs = plan.options.tickMs;
  const filter = new OnOffFilter(plan.model, tickMs);
  const pending: number[] = []; // tick index of each arrival not yet filtered
  // Last tick index folded into the belief. The prior is the phase mix at t = 0 and each filter step is the
  // interval (tick-1, tick]; tick 0 has no interval before it, so an arrival at exactly t = 0 (a replayed
  // trace's first) is counted with tick 1's.
  let filteredTo = 0;
  const catchUp = (nowMs: number) => {
    const now = Math.round(nowMs / tickMs);
    let p = 0;
    for (let tick = filteredTo + 1; tick <= now; tick++) {
      let k = 0;
      while (p < pending.length && pending[p]! <= tick) {
        k++;
        p++;
      }
      filter.observe(k);
    }
    pending.splice(0, p);
    filteredTo = Math.max(filteredTo, now);
  };
  const observer: SimObserver = {
    arrival(key, tMs) {
      if (key !== 0) throw new Error('the Bayes-optimal policy is defined for one-key traffic only');
      pending.push(tickIndexAtOrAfter(tMs, tickMs));
    },
  };
  const strategy: FlushStrategy = {
    name: 'bayes_optimal',
    decide(slots: readonly SlotFeatures[], context: DecisionContext): PolicyDecision[] {
      catchUp(context.nowMs);
      const advantages = slots.map((slot) => planAdvantage(plan, filter.belief, slot.size, slot.ageMs));
      last = advantages.map(Math.abs);
      return advantages.map((advantage) => (advantage > 0 ? FLUSH : WAIT));
    },
  };
  let last: number[] = [];
  return { strategy, observer, regrets: () => last };
}
