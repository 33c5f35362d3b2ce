import type { StrategySpec } from '#libs/config';
import { ConfigError } from '#libs/config';
import { createStrategy, isStrategyName } from './registry.js';

/**
 * Validates a strategy spec read from a setting, so a typo fails at start-up
 * naming the setting. Learned strategies are checked for name only: their
 * models are loaded later, by the policy service.
 */
export function checkStrategySetting(setting: string, spec: StrategySpec): void {
  try {
    if (spec.name === 'ppo' || spec.name === 'qlearning') {
      if (!isStrategyName(spec.name)) throw new Error('unknown');
      return;
    }
    createStrategy(spec);
  } catch (error) {
    throw new ConfigError([`${setting}: ${(error as Error).message}`]);
  }
}
