import type { StrategySpec } from '#libs/config';
import type { PolicyNetwork } from './network.js';
import { StrategyConfigError, StrategyParams } from './params.js';
import { adaptiveWindow, latencyAware, queueDepth } from './strategies/adaptive.js';
import { aimd, threshold } from './strategies/baselines.js';
import { costAware } from './strategies/cost-aware.js';
import { modelBased } from './strategies/model-based.js';
import type { ObservationScale, QTable } from './strategies/learned.js';
import { ppo, qlearning, readObservationScale } from './strategies/learned.js';
import { exponential, fixedTimer, sizeCap } from './strategies/timers.js';
import type { FlushStrategy } from './types.js';

/** Learned artefacts a strategy may need; analytic strategies ignore them. */
export interface StrategyModels {
  network?: PolicyNetwork | undefined;
  qTable?: QTable | undefined;
}

const FACTORIES = {
  fixed_timer: (p: StrategyParams) => fixedTimer(p),
  size_cap: (p: StrategyParams) => sizeCap(p),
  exponential: (p: StrategyParams) => exponential(p),
  queue_depth: (p: StrategyParams) => queueDepth(p),
  latency_aware: (p: StrategyParams) => latencyAware(p),
  adaptive_window: (p: StrategyParams) => adaptiveWindow(p),
  threshold: (p: StrategyParams) => threshold(p),
  aimd: (p: StrategyParams) => aimd(p),
  cost_aware: (p: StrategyParams) => costAware(p),
  model_based: (p: StrategyParams) => modelBased(p),
  qlearning: (_p: StrategyParams, models: StrategyModels) => qlearning(models.qTable),
  ppo: (p: StrategyParams, models: StrategyModels) => ppo(p, models.network),
} satisfies Record<string, (p: StrategyParams, models: StrategyModels) => FlushStrategy>;

export type StrategyName = keyof typeof FACTORIES;

export const STRATEGY_NAMES = Object.keys(FACTORIES) as StrategyName[];

export function isStrategyName(name: string): name is StrategyName {
  return Object.hasOwn(FACTORIES, name);
}

/** Strategies that decide with an artefact (model, Q table) only the policy service loads. */
export function isLearnedStrategy(name: string): name is 'ppo' | 'qlearning' {
  return name === 'ppo' || name === 'qlearning';
}

/** A learned strategy's spec with its parameters read: all of it that holds without the artefact. */
export type LearnedSpec = { name: 'ppo'; scale: ObservationScale } | { name: 'qlearning' };

/**
 * Reads a learned strategy's parameters (unknown or out-of-range ones throw
 * StrategyConfigError); undefined for a strategy that is not learned. The
 * policy service builds learned routes from this, and the setting checks call
 * it, so a spec passes a check exactly when a policy replica accepts it.
 */
export function readLearnedSpec(spec: StrategySpec): LearnedSpec | undefined {
  if (!isLearnedStrategy(spec.name)) return undefined;
  const params = new StrategyParams(spec.name, spec.params);
  const learned: LearnedSpec = spec.name === 'ppo' ? { name: 'ppo', scale: readObservationScale(params) } : { name: 'qlearning' };
  params.done();
  return learned;
}

/** Builds a strategy from its spec; unknown names or parameters throw StrategyConfigError. */
export function createStrategy(spec: StrategySpec, models: StrategyModels = {}): FlushStrategy {
  if (!isStrategyName(spec.name)) {
    throw new StrategyConfigError(`unknown strategy "${spec.name}" (known: ${STRATEGY_NAMES.join(', ')})`);
  }
  const params = new StrategyParams(spec.name, spec.params);
  const strategy = FACTORIES[spec.name](params, models);
  params.done();
  return strategy;
}
