import { describe, expect, it } from 'vitest';
import { fitOnOff } from './fit.js';
import { traceFromArrivals } from './trace.js';
import { generateTrace } from './traffic.js';

describe('fitOnOff', () => {
  it('recovers the parameters of on-off bursty traffic from its arrivals', () => {
    const truth = { baseRatePerSec: 5, burstRatePerSec: 2000, meanBurstMs: 25, meanGapMs: 250 };
    const trace = generateTrace({ process: { kind: 'mmpp', ...truth }, popularity: { kind: 'single' }, durationMs: 60_000 }, 4);
    const { model, iterations } = fitOnOff(trace);
    expect(iterations).toBeGreaterThan(1);
    expect(model.burstRatePerMs).toBeGreaterThan(2 * 0.93);
    expect(model.burstRatePerMs).toBeLessThan(2 * 1.07);
    expect(model.baseRatePerMs).toBeGreaterThan(0.005 * 0.6);
    expect(model.baseRatePerMs).toBeLessThan(0.005 * 1.6);
    expect(model.meanBurstMs).toBeGreaterThan(25 * 0.8);
    expect(model.meanBurstMs).toBeLessThan(25 * 1.25);
    expect(model.meanGapMs).toBeGreaterThan(250 * 0.8);
    expect(model.meanGapMs).toBeLessThan(250 * 1.25);
  });

  it('stays finite when bursts carry hundreds of arrivals per tick', () => {
    const spec = { baseRatePerSec: 5, burstRatePerSec: 400_000, meanBurstMs: 25, meanGapMs: 5000 };
    const trace = generateTrace({ process: { kind: 'mmpp', ...spec }, popularity: { kind: 'single' }, durationMs: 60_000 }, 2);
    const { model, logLikelihood } = fitOnOff(trace);
    expect(Number.isFinite(logLikelihood)).toBe(true);
    expect(model.burstRatePerMs).toBeGreaterThan(400 * 0.9);
    expect(model.burstRatePerMs).toBeLessThan(400 * 1.1);
  });

  it('names what it cannot fit', () => {
    const twoKeys = traceFromArrivals([
      { tMs: 1, key: 'a', route: 'r' },
      { tMs: 2, key: 'b', route: 'r' },
    ]);
    expect(() => fitOnOff(twoKeys)).toThrow(/one key/);
    const few = traceFromArrivals([1, 2, 3].map((tMs) => ({ tMs, key: 'a', route: 'r' })));
    expect(() => fitOnOff(few)).toThrow(/at least 10 arrivals/);
  });
});
