import type { Random } from './distributions.js';
import { exponential, stream, STREAMS, zipfSampler } from './distributions.js';
import type { Trace } from './trace.js';

/** How the aggregate arrival rate evolves (all rates in requests per second). */
export type RateProcess =
  | { kind: 'poisson'; ratePerSec: number }
  /** On-off Markov-modulated Poisson: bursts of burstRate for Exp(meanBurstMs), then baseRate for Exp(meanGapMs). */
  | { kind: 'mmpp'; baseRatePerSec: number; burstRatePerSec: number; meanBurstMs: number; meanGapMs: number }
  /** Seed 001's bursty Poisson: each slice is a burst with probability burstProbability. */
  | { kind: 'slices'; sliceMs: number; baseRatePerSec: number; burstRatePerSec: number; burstProbability: number }
  /** Piecewise-linear rate (k6-style stages); repeats when the phases end before the trace does. */
  | { kind: 'phases'; phases: readonly RatePhase[] }
  /** Smooth ramp between min and max over one period (a compressed day). */
  | { kind: 'diurnal'; minRatePerSec: number; maxRatePerSec: number; periodMs: number };

export interface RatePhase {
  durationMs: number;
  fromRatePerSec: number;
  toRatePerSec: number;
}

/** How arrivals are spread over coalescing keys. */
export type Popularity = { kind: 'single' } | { kind: 'zipf'; keys: number; exponent: number };

export interface TrafficSpec {
  process: RateProcess;
  popularity: Popularity;
  durationMs: number;
  route?: string;
}

/** A reproducible arrival trace for a traffic spec and seed. */
export function generateTrace(spec: TrafficSpec, seed: number): Trace {
  const times = arrivalTimes(spec.process, spec.durationMs, stream(seed, STREAMS.traffic));
  const route = spec.route ?? 'default';
  if (spec.popularity.kind === 'single') {
    return { t: times, key: new Int32Array(times.length), keys: ['GET /resource'], routes: [route] };
  }
  const { keys, exponent } = spec.popularity;
  const pick = zipfSampler(keys, exponent);
  const random = stream(seed, STREAMS.keys);
  const raw = new Int32Array(times.length);
  for (let i = 0; i < times.length; i++) raw[i] = pick(random);
  // Compact to the keys that actually occur, most popular first (index 0 = rank 1).
  const used = [...new Set(raw)].sort((a, b) => a - b);
  const compact = new Map(used.map((k, i) => [k, i]));
  return {
    t: times,
    key: raw.map((k) => compact.get(k)!),
    keys: used.map((k) => `GET /resource/${k + 1}`),
    routes: used.map(() => route),
  };
}

export function arrivalTimes(process: RateProcess, durationMs: number, random: Random): Float64Array {
  const out: number[] = [];
  switch (process.kind) {
    case 'poisson':
      constantSegment(out, 0, durationMs, process.ratePerSec, random);
      break;
    case 'mmpp':
      mmpp(out, process, durationMs, random);
      break;
    case 'slices':
      for (let start = 0; start < durationMs; start += process.sliceMs) {
        const burst = random() < process.burstProbability;
        const rate = burst ? process.burstRatePerSec : process.baseRatePerSec;
        constantSegment(out, start, Math.min(durationMs, start + process.sliceMs), rate, random);
      }
      break;
    case 'phases':
      phases(out, process.phases, durationMs, random);
      break;
    case 'diurnal': {
      const { minRatePerSec: lo, maxRatePerSec: hi, periodMs } = process;
      thinned(out, 0, durationMs, hi, (t) => lo + ((hi - lo) * (1 - Math.cos((2 * Math.PI * t) / periodMs))) / 2, random);
      break;
    }
  }
  return Float64Array.from(out);
}

/** Poisson arrivals at a constant rate in [from, to); memorylessness lets segments abut. */
function constantSegment(out: number[], from: number, to: number, ratePerSec: number, random: Random): void {
  if (ratePerSec <= 0) return;
  const meanGap = 1000 / ratePerSec;
  for (let t = from + exponential(random, meanGap); t < to; t += exponential(random, meanGap)) out.push(t);
}

function mmpp(out: number[], p: Extract<RateProcess, { kind: 'mmpp' }>, durationMs: number, random: Random): void {
  // Start in the stationary state distribution so short traces are not biased to a quiet start.
  let bursting = random() < p.meanBurstMs / (p.meanBurstMs + p.meanGapMs);
  for (let t = 0; t < durationMs; bursting = !bursting) {
    const end = Math.min(durationMs, t + exponential(random, bursting ? p.meanBurstMs : p.meanGapMs));
    constantSegment(out, t, end, bursting ? p.burstRatePerSec : p.baseRatePerSec, random);
    t = end;
  }
}

function phases(out: number[], list: readonly RatePhase[], durationMs: number, random: Random): void {
  const total = list.reduce((sum, phase) => sum + phase.durationMs, 0);
  if (total <= 0) return;
  for (let cycle = 0; cycle < durationMs; cycle += total) {
    let start = cycle;
    for (const phase of list) {
      const end = Math.min(durationMs, start + phase.durationMs);
      const { fromRatePerSec: a, toRatePerSec: b } = phase;
      const at = (t: number) => a + ((b - a) * (t - start)) / phase.durationMs;
      thinned(out, start, end, Math.max(a, b), at, random);
      start += phase.durationMs;
      if (start >= durationMs) return;
    }
  }
}

/** Non-homogeneous Poisson by thinning (Lewis & Shedler): candidates at maxRate, kept with rate(t)/maxRate. */
function thinned(out: number[], from: number, to: number, maxRatePerSec: number, rateAt: (tMs: number) => number, random: Random): void {
  if (maxRatePerSec <= 0) return;
  const meanGap = 1000 / maxRatePerSec;
  for (let t = from + exponential(random, meanGap); t < to; t += exponential(random, meanGap)) {
    if (random() * maxRatePerSec < rateAt(t)) out.push(t);
  }
}
