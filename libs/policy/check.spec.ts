import { ConfigError } from '#libs/config';
import { describe, expect, it } from 'vitest';
import { checkFallbackStrategySetting, checkStrategySetting } from './check.js';

const problem = (check: () => void): string => {
  try {
    check();
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.join('\n');
    throw error;
  }
  return 'accepted';
};

describe('strategy setting checks', () => {
  it('check learned strategies’ parameters the way a policy replica reads them, naming the setting', () => {
    const check = (name: string, params: Record<string, number>) => problem(() => checkStrategySetting('S', { name, params }));
    expect(check('ppo', {})).toBe('accepted');
    expect(check('ppo', { rate_norm: 50, p99_norm_ms: 250, size_norm: 64, age_norm_ms: 20 })).toBe('accepted');
    expect(check('ppo', { bogus: 1 })).toBe('S: ppo has no parameter(s) bogus');
    expect(check('ppo', { rate_norm: 0 })).toBe('S: ppo.rate_norm must be between 0.000001 and Infinity (got 0)');
    expect(check('qlearning', {})).toBe('accepted');
    expect(check('qlearning', { rate_norm: 100 })).toBe('S: qlearning has no parameter(s) rate_norm');
    expect(check('fixed_timer', { window: 3 })).toBe('S: fixed_timer has no parameter(s) window');
  });

  it('refuse a learned strategy as the embedded fallback, and check the rest as usual', () => {
    const check = (name: string, params: Record<string, number> = {}) =>
      problem(() => checkFallbackStrategySetting('BATCHGATE_FALLBACK_STRATEGY', { name, params }));
    for (const learned of ['ppo', 'qlearning']) {
      expect(check(learned)).toMatch(
        new RegExp(
          `^BATCHGATE_FALLBACK_STRATEGY: ${learned} is a learned strategy and needs a model, .*\\(use one of: fixed_timer, .*cost_aware, model_based\\)$`,
        ),
      );
    }
    expect(check('fixed_timer', { window_ms: 20 })).toBe('accepted');
    expect(check('warp_speed')).toMatch(/^BATCHGATE_FALLBACK_STRATEGY: unknown strategy "warp_speed"/);
  });
});
