import { describe, expect, it } from 'vitest';
import { loadCoordinatorConfig } from '../config.js';

describe('Flow B settings of the coordinator are validated at start', () => {
  it('the coordinator refuses bad batch bounds and strategies, naming the setting', () => {
    expect(loadCoordinatorConfig({}).inference).toMatchObject({
      maxBatchSize: 32,
      maxBatchTokens: 8192,
      maxInflightPerModel: 8,
      nearDuplicate: 0,
    });
    expect(() => loadCoordinatorConfig({ BATCHGATE_INFERENCE_MAX_BATCH_SIZE: '0' })).toThrow(/BATCHGATE_INFERENCE_MAX_BATCH_SIZE/);
    expect(() => loadCoordinatorConfig({ BATCHGATE_INFERENCE_STRATEGY: 'warp_speed' })).toThrow(/BATCHGATE_INFERENCE_STRATEGY/);
    expect(loadCoordinatorConfig({ BATCHGATE_INFERENCE_NEAR_DEDUP: 'true' }).inference.nearDuplicate).toBe(0.98);
  });
});
