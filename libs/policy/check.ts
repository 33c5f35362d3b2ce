import type { StrategySpec } from '#libs/config';
import { ConfigError } from '#libs/config';
import { createStrategy, isLearnedStrategy, readLearnedSpec, STRATEGY_NAMES } from './registry.js';

/**
 * Validates a strategy spec read from a setting or an admin write, so a typo
 * fails where it enters, naming the setting. Learned strategies have their
 * parameters checked the way a policy replica reads them; their models are
 * loaded later, by the policy service.
 */
export function checkStrategySetting(setting: string, spec: StrategySpec): void {
  try {
    if (!readLearnedSpec(spec)) createStrategy(spec);
  } catch (error) {
    throw new ConfigError([`${setting}: ${(error as Error).message}`]);
  }
}

/** The embedded fallback (coordinator, ingress) runs where no model is loaded: it must need none. */
export function checkFallbackStrategySetting(setting: string, spec: StrategySpec): void {
  if (isLearnedStrategy(spec.name)) {
    const usable = STRATEGY_NAMES.filter((name) => !isLearnedStrategy(name));
    throw new ConfigError([
      `${setting}: ${spec.name} is a learned strategy and needs a model, which only the policy service loads (use one of: ${usable.join(', ')})`,
    ]);
  }
  checkStrategySetting(setting, spec);
}
