import type { StrategySpec } from '#libs/config';
import type { PolicyNetwork } from './network.js';
import { StrategyConfigError, StrategyParams } from './params.js';
import { adaptiveWindow, latencyAware, queueDepth } from './strategies/adaptive.js';
import { costAware } from './strategies/cost-aware.js';
import type { QTable } from './strategies/learned.js';
import { ppo, qlearning } from './strategies/learned.js';
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
  cost_aware: (p: StrategyParams) => costAware(p),
  qlearning: (_p: StrategyParams, models: StrategyModels) => qlearning(models.qTable),
  ppo: (p: StrategyParams, models: StrategyModels) => ppo(p, models.network),
} satisfies Record<string, (p: StrategyParams, models: StrategyModels) => FlushStrategy>;

export type StrategyName = keyof typeof FACTORIES;

export const STRATEGY_NAMES = Object.keys(FACTORIES) as StrategyName[];

export function isStrategyName(name: string): name is StrategyName {
  return Object.hasOwn(FACTORIES, name);
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
