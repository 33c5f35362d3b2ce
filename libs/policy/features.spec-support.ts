import type { SlotFeatures } from './types.js';

/**
 * One open slot's features for strategy tests: a lone waiter of a fresh slot,
 * a 20 ms upstream p99, 100 req/s, an empty queue, the seed's envelope (50 ms,
 * 128); `overrides` set what a test is about.
 */
export const slotFeatures = (overrides: Partial<SlotFeatures> = {}): SlotFeatures => ({
  size: 1,
  ageMs: 0,
  upstreamP99Ms: 20,
  requestRate: 100,
  queueDepth: 0,
  observedP99Ms: 0,
  idleMs: 0,
  batchTimeoutMs: 50,
  maxBatchSize: 128,
  ...overrides,
});
