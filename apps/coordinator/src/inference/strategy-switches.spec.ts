import { describe, expect, it } from 'vitest';
import { StrategyConfigError } from '#libs/policy';
import { InferKind } from '#libs/contracts';
import { InferStrategies } from './infer-strategies.js';
import { NO_SWITCHES, parseSwitches, switchesJson, withSwitch } from './strategy-switches.js';

const CONFIGURED = { name: 'queue_depth', params: { low: 8, high: 80 } };
const shape = (model: string) => ({ shape: { model, kind: InferKind.EMBEDDING } }) as Parameters<InferStrategies['strategyOf']>[0];

describe('Flow B strategy switches as stored in the config bucket', () => {
  it('round-trips the document: default and per-model specs, aliases resolved', () => {
    const switches = withSwitch(withSwitch(NO_SWITCHES, { name: 'model_based', params: { window: 16 } }, 'm1'), {
      name: 'fixed_timer',
      params: {},
    });
    const json = switchesJson(switches);
    expect(json).toEqual({ default: 'fixed_timer', models: { m1: 'model_based:window=16' } });
    expect(parseSwitches(json)).toEqual(switches);
    expect(parseSwitches({ models: { m2: 'fixed' } }).models.get('m2')?.name).toBe('fixed_timer');
  });

  it('refuses a document with any bad entry whole', () => {
    expect(() => parseSwitches({ models: { m1: 'warp_speed' } })).toThrow(StrategyConfigError);
    expect(() => parseSwitches({ default: 3 })).toThrow(StrategyConfigError);
    expect(() => parseSwitches('x')).toThrow(StrategyConfigError);
  });

  it('a revision replaces the switches; a model no longer named falls back to the default; an unchanged spec keeps its strategy instance', () => {
    const strategies = new InferStrategies(CONFIGURED);
    strategies.applySwitches(parseSwitches({ models: { m1: 'model_based:window=16' } }));
    const m1 = strategies.strategyOf(shape('m1'));
    expect(strategies.nameFor('m1/embeddings')).toBe('model_based');
    strategies.applySwitches(parseSwitches({ models: { m1: 'model_based:window=16' }, default: 'fixed_timer' }));
    expect(strategies.strategyOf(shape('m1'))).toBe(m1);
    strategies.applySwitches(parseSwitches({ models: {} }));
    expect(strategies.nameFor('m1/embeddings')).toBe('queue_depth');
  });
});
