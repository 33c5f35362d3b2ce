import type { Random, RateProcess, Scenario, SimConfig, Trace } from '#libs/sim';
import { generateTrace, simConfigOf, traceDurationMs, traceWindow } from '#libs/sim';

/**
 * Where training episodes come from: a scenario's traffic model with its
 * parameters jittered per episode, or windows of a recorded trace. Either way
 * the policy trains on arrivals, so the rate, p99 and size features move as
 * they do live (the seed trained on interpolated flush events with the rate
 * pinned at 50 req/s).
 */
export type TrainingSource =
  { weight: number; scenario: Scenario; jitter: number } | { weight: number; scenario: Scenario; trace: Trace; name: string };

export interface TrainingEpisode {
  label: string;
  trace: Trace;
  config: SimConfig;
}

const seedOf = (random: Random) => Math.floor(random() * 2 ** 31);

export function drawEpisode(sources: readonly TrainingSource[], random: Random, episodeMs: number): TrainingEpisode {
  const source = pickWeighted(sources, random);
  const seed = seedOf(random);
  if ('trace' in source) {
    const span = Math.max(0, traceDurationMs(source.trace) - episodeMs);
    const from = random() * span;
    return { label: source.name, trace: traceWindow(source.trace, from, from + episodeMs), config: simConfigOf(source.scenario, seed) };
  }
  const scenario = jitterScenario(source.scenario, source.jitter, random);
  const trace = generateTrace(scenario.traffic, seed);
  const from = random() * Math.max(0, scenario.traffic.durationMs - episodeMs);
  return { label: scenario.name, trace: traceWindow(trace, from, from + episodeMs), config: simConfigOf(scenario, seed) };
}

/** Fixed episodes of each scenario (unjittered) for validation: the same every call for one seed. */
export function validationEpisodes(scenarios: readonly Scenario[], seeds: readonly number[]): TrainingEpisode[] {
  return scenarios.flatMap((scenario) =>
    seeds.map((seed) => ({
      label: `${scenario.name}#${seed}`,
      trace: generateTrace(scenario.traffic, seed),
      config: simConfigOf(scenario, seed),
    })),
  );
}

/** Multiplies every rate and duration of the traffic, and the upstream base latency, by factors in [1/j, j]. */
export function jitterScenario(scenario: Scenario, jitter: number, random: Random): Scenario {
  if (jitter <= 1) return scenario;
  const f = () => Math.exp((random() * 2 - 1) * Math.log(jitter));
  return {
    ...scenario,
    traffic: { ...scenario.traffic, process: jitterProcess(scenario.traffic.process, f) },
    upstream: { ...scenario.upstream, baseMs: scenario.upstream.baseMs * f() },
  };
}

function jitterProcess(process: RateProcess, f: () => number): RateProcess {
  switch (process.kind) {
    case 'poisson':
      return { ...process, ratePerSec: process.ratePerSec * f() };
    case 'mmpp':
      return {
        ...process,
        baseRatePerSec: process.baseRatePerSec * f(),
        burstRatePerSec: process.burstRatePerSec * f(),
        meanBurstMs: process.meanBurstMs * f(),
        meanGapMs: process.meanGapMs * f(),
      };
    case 'slices':
      return { ...process, baseRatePerSec: process.baseRatePerSec * f(), burstRatePerSec: process.burstRatePerSec * f() };
    case 'phases': {
      const k = f();
      return {
        ...process,
        phases: process.phases.map((p) => ({ ...p, fromRatePerSec: p.fromRatePerSec * k, toRatePerSec: p.toRatePerSec * k })),
      };
    }
    case 'diurnal': {
      const k = f();
      return { ...process, minRatePerSec: process.minRatePerSec * k, maxRatePerSec: process.maxRatePerSec * k };
    }
  }
}

function pickWeighted<T extends { weight: number }>(items: readonly T[], random: Random): T {
  const total = items.reduce((sum, item) => sum + item.weight, 0);
  let target = random() * total;
  for (const item of items) {
    target -= item.weight;
    if (target < 0) return item;
  }
  return items.at(-1)!;
}
