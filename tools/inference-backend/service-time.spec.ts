import { describe, expect, it } from 'vitest';
import { stream } from '#libs/sim';
import { callFails, estimateTokens, GO_MOCK_DEFAULTS, serviceTimeMs } from './service-time.js';

const noNoise = { ...GO_MOCK_DEFAULTS, variance: 0 };

describe("the Go repo's mock service time", () => {
  it('is base + perToken*totalTokens + perMaxToken*maxTokens + perItem*batchSize without noise', () => {
    const p = { baseMs: 8, perTokenMs: 0.5, perMaxTokenMs: 0.015, perItemMs: 0.8, variance: 0, failureRate: 0 };
    expect(serviceTimeMs({ items: 32, totalTokens: 8192, maxTokens: 400 }, p, () => 0.5)).toBeCloseTo(8 + 4096 + 6 + 25.6, 9);
  });

  it("uses the repo's defaults: a 32-item batch of 256-token inputs costs 8 + 0.015*256 + 0.8*32 ms", () => {
    expect(serviceTimeMs({ items: 32, totalTokens: 32 * 256, maxTokens: 256 }, noNoise, () => 0.5)).toBeCloseTo(8 + 3.84 + 25.6, 9);
    // One item alone: the fixed cost dominates, which is what batching amortises.
    expect(serviceTimeMs({ items: 1, totalTokens: 256, maxTokens: 256 }, noNoise, () => 0.5)).toBeCloseTo(8 + 3.84 + 0.8, 9);
  });

  it('adds N(0,1)*base*variance noise: mean 0, standard deviation base*variance, seeded', () => {
    const shape = { items: 1, totalTokens: 0, maxTokens: 0 };
    const draw = (seed: number) => {
      const random = stream(seed, 11);
      return Array.from({ length: 20_000 }, () => serviceTimeMs(shape, { ...noNoise, perItemMs: 0, variance: 0.1 }, random));
    };
    const samples = draw(3);
    const mean = samples.reduce((a, b) => a + b, 0) / samples.length;
    const sd = Math.sqrt(samples.reduce((a, b) => a + (b - mean) ** 2, 0) / samples.length);
    expect(mean).toBeCloseTo(8, 1);
    expect(sd).toBeCloseTo(0.8, 1);
    expect(draw(3).slice(0, 5)).toEqual(samples.slice(0, 5));
    expect(draw(4).slice(0, 5)).not.toEqual(samples.slice(0, 5));
  });

  it('never goes below 1 ms', () => {
    expect(serviceTimeMs({ items: 0, totalTokens: 0, maxTokens: 0 }, { ...noNoise, baseMs: 0, perItemMs: 0 }, () => 0.5)).toBe(1);
  });

  it('fails about failureRate of the calls', () => {
    const random = stream(1, 11);
    const failures = Array.from({ length: 10_000 }, () => callFails({ ...noNoise, failureRate: 0.2 }, random)).filter(Boolean).length;
    expect(failures / 10_000).toBeCloseTo(0.2, 1);
    expect(callFails(noNoise, () => 0)).toBe(false);
  });

  it('estimates tokens as the seed does (len/4), at least 1 for a non-empty text', () => {
    expect(estimateTokens('')).toBe(0);
    expect(estimateTokens('abc')).toBe(1);
    expect(estimateTokens('x'.repeat(1000))).toBe(250);
  });
});
