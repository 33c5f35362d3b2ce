import { describe, expect, it } from 'vitest';
import { flushAgeBucketsMs, flushAgeBucketsSeconds, flushSizeBuckets } from './buckets.js';

describe('flush buckets cover the configured envelope', () => {
  it("keep the seed's boundaries at the seed's envelope (128, 50 ms)", () => {
    expect(flushSizeBuckets(128)).toEqual([1, 5, 10, 20, 50, 100, 128]);
    expect(flushAgeBucketsMs(50)).toEqual([5, 10, 20, 30, 40, 50, 60]);
  });

  it('reach a larger max batch size, ending at it', () => {
    expect(flushSizeBuckets(1000)).toEqual([1, 5, 10, 20, 50, 100, 128, 256, 512, 1000]);
    expect(flushSizeBuckets(100_000).at(-1)).toBe(100_000);
  });

  it('reach a longer batch timeout, ending at it, so timeout flushes are not all +Inf', () => {
    expect(flushAgeBucketsMs(2000)).toEqual([5, 10, 20, 30, 40, 50, 60, 100, 250, 500, 1000, 2000, 2500]);
    expect(flushAgeBucketsSeconds(2000)).toEqual([0.001, 0.002, 0.005, 0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.1, 0.25, 0.5, 1, 2, 2.5]);
  });
});
