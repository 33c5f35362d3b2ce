import type { OnOffModel } from './bayes.js';
import { tickIndexAtOrAfter } from './clock.js';
import type { Trace } from './trace.js';

export interface OnOffFit {
  model: OnOffModel;
  /** Log-likelihood of the per-tick counts under the fitted model (natural log). */
  logLikelihood: number;
  iterations: number;
  ticks: number;
}

/**
 * Fits on-off Markov-modulated Poisson traffic to recorded arrivals: a
 * two-state hidden Markov model over per-tick arrival counts with Poisson
 * emissions, by Baum-Welch (EM) with scaled forward-backward passes. Its
 * discrete-time form is exactly the one `OnOffFilter` and `planOnOff` use, so
 * the fitted model plugs into the Bayes-optimal planner: recorded traffic in,
 * the causal limit (and a teacher for `imitate`) out. One key's arrivals: the
 * trace must have a single key, or `key` picks one.
 */
export function fitOnOff(trace: Trace, options: { tickMs?: number; key?: number; iterations?: number; tolerance?: number } = {}): OnOffFit {
  const tickMs = options.tickMs ?? 1;
  if (options.key === undefined && trace.keys.length !== 1)
    throw new Error(`fitting on-off traffic needs one key's arrivals; the trace has ${trace.keys.length} keys (pick one)`);
  const key = options.key ?? 0;
  const times: number[] = [];
  for (let i = 0; i < trace.t.length; i++) if (trace.key[i] === key) times.push(trace.t[i]!);
  if (times.length < 10) throw new Error(`fitting on-off traffic needs at least 10 arrivals (got ${times.length})`);
  // Counts per tick, the tick an arrival is seen at (as the coordinator and the filter see it).
  const T = tickIndexAtOrAfter(times.at(-1)!, tickMs) + 1;
  const counts = new Uint16Array(T);
  for (const t of times) counts[tickIndexAtOrAfter(t, tickMs)]!++;
  let maxCount = 0;
  for (const c of counts) maxCount = Math.max(maxCount, c);
  const logFactorial = new Float64Array(maxCount + 1);
  for (let k = 2; k <= maxCount; k++) logFactorial[k] = logFactorial[k - 1]! + Math.log(k);

  const mean = times.length / T;
  let mu = [mean * 0.1, mean * 10]; // base, burst (per tick)
  let enter = 0.01; // P(base -> burst) per tick
  let leave = 0.05; // P(burst -> base) per tick
  const alpha = new Float64Array(2 * T);
  const beta = new Float64Array(2 * T);
  const scale = new Float64Array(T);
  const emission = new Float64Array(2 * T);
  const shift = new Float64Array(T);
  let logLikelihood = -Infinity;
  let iterations = 0;
  const maxIterations = options.iterations ?? 200;
  const tolerance = options.tolerance ?? 1e-6;
  for (; iterations < maxIterations;) {
    iterations++;
    // Emissions in log space, shifted per tick by their larger term so neither underflows
    // (the shift cancels in the scaled passes and is added back to the log-likelihood).
    const logMu0 = Math.log(mu[0]!);
    const logMu1 = Math.log(mu[1]!);
    for (let t = 0; t < T; t++) {
      const k = counts[t]!;
      const l0 = k * logMu0 - mu[0]! - logFactorial[k]!;
      const l1 = k * logMu1 - mu[1]! - logFactorial[k]!;
      const top = Math.max(l0, l1);
      shift[t] = top;
      emission[2 * t] = Math.exp(l0 - top);
      emission[2 * t + 1] = Math.exp(l1 - top);
    }
    const A = [
      [1 - enter, enter],
      [leave, 1 - leave],
    ];
    const pi1 = enter / (enter + leave);
    // Forward (scaled).
    let previous = [1 - pi1, pi1];
    let ll = 0;
    for (let t = 0; t < T; t++) {
      const predicted =
        t === 0 ? previous : [previous[0]! * A[0]![0]! + previous[1]! * A[1]![0]!, previous[0]! * A[0]![1]! + previous[1]! * A[1]![1]!];
      const a0 = predicted[0]! * emission[2 * t]!;
      const a1 = predicted[1]! * emission[2 * t + 1]!;
      const c = a0 + a1;
      scale[t] = c;
      ll += Math.log(c) + shift[t]!;
      alpha[2 * t] = a0 / c;
      alpha[2 * t + 1] = a1 / c;
      previous = [alpha[2 * t]!, alpha[2 * t + 1]!];
    }
    // Backward (same scales) and the expected statistics.
    beta[2 * (T - 1)] = 1;
    beta[2 * (T - 1) + 1] = 1;
    for (let t = T - 2; t >= 0; t--) {
      const e0 = emission[2 * (t + 1)]! * beta[2 * (t + 1)]!;
      const e1 = emission[2 * (t + 1) + 1]! * beta[2 * (t + 1) + 1]!;
      beta[2 * t] = (A[0]![0]! * e0 + A[0]![1]! * e1) / scale[t + 1]!;
      beta[2 * t + 1] = (A[1]![0]! * e0 + A[1]![1]! * e1) / scale[t + 1]!;
    }
    let occupancy0 = 0;
    let occupancy1 = 0;
    let weighted0 = 0;
    let weighted1 = 0;
    let from0 = 0; // expected ticks in each state before the last tick
    let from1 = 0;
    let switchesUp = 0;
    let switchesDown = 0;
    for (let t = 0; t < T; t++) {
      const g0 = alpha[2 * t]! * beta[2 * t]!;
      const g1 = alpha[2 * t + 1]! * beta[2 * t + 1]!;
      const g = g0 + g1;
      occupancy0 += g0 / g;
      occupancy1 += g1 / g;
      weighted0 += (g0 / g) * counts[t]!;
      weighted1 += (g1 / g) * counts[t]!;
      if (t + 1 < T) {
        from0 += g0 / g;
        from1 += g1 / g;
        const e0 = emission[2 * (t + 1)]! * beta[2 * (t + 1)]!;
        const e1 = emission[2 * (t + 1) + 1]! * beta[2 * (t + 1) + 1]!;
        switchesUp += (alpha[2 * t]! * A[0]![1]! * e1) / scale[t + 1]!;
        switchesDown += (alpha[2 * t + 1]! * A[1]![0]! * e0) / scale[t + 1]!;
      }
    }
    mu = [Math.max(1e-9, weighted0 / occupancy0), Math.max(1e-9, weighted1 / occupancy1)];
    enter = clampProbability(switchesUp / from0);
    leave = clampProbability(switchesDown / from1);
    const improved = ll - logLikelihood;
    logLikelihood = ll;
    if (Math.abs(improved) < tolerance * Math.abs(ll)) break;
  }
  if (mu[0]! > mu[1]!) {
    // Keep "burst" as the busier state.
    mu = [mu[1]!, mu[0]!];
    [enter, leave] = [leave, enter];
  }
  const model = {
    baseRatePerMs: mu[0]! / tickMs,
    burstRatePerMs: mu[1]! / tickMs,
    meanBurstMs: -tickMs / Math.log(1 - leave),
    meanGapMs: -tickMs / Math.log(1 - enter),
  };
  if (!Object.values(model).every(Number.isFinite) || !Number.isFinite(logLikelihood))
    throw new Error(`fitting on-off traffic did not converge to finite parameters (${JSON.stringify(model)})`);
  return {
    model,
    logLikelihood,
    iterations,
    ticks: T,
  };
}

function clampProbability(p: number): number {
  return Math.min(1 - 1e-9, Math.max(1e-9, Number.isFinite(p) ? p : 1e-9));
}
