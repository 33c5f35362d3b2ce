import { describe, expect, it } from 'vitest';
import { parseTraceJsonl, traceToJsonl, traceWindow, TraceFormatError } from './trace.js';
import { generateTrace } from './traffic.js';
import type { RateProcess } from './traffic.js';

const rateOf = (process: RateProcess, durationMs: number, seed = 1) =>
  generateTrace({ process, popularity: { kind: 'single' }, durationMs }, seed).t.length / (durationMs / 1000);

describe('traffic models', () => {
  it('hit their long-run mean rates', () => {
    expect(rateOf({ kind: 'poisson', ratePerSec: 800 }, 20_000)).toBeCloseTo(800, -1.5);
    // On-off: (25 ms x 2000/s + 250 ms x 5/s) / 275 ms = 186 req/s.
    const mmpp = rateOf({ kind: 'mmpp', baseRatePerSec: 5, burstRatePerSec: 2000, meanBurstMs: 25, meanGapMs: 250 }, 200_000);
    expect(Math.abs(mmpp - 186.4) / 186.4).toBeLessThan(0.08);
    expect(rateOf({ kind: 'slices', sliceMs: 5, baseRatePerSec: 800, burstRatePerSec: 4000, burstProbability: 0.3 }, 20_000)).toBeCloseTo(
      1760,
      -2,
    );
    const ramp = { kind: 'phases', phases: [{ durationMs: 10_000, fromRatePerSec: 0, toRatePerSec: 1000 }] } as const;
    expect(rateOf(ramp, 10_000)).toBeCloseTo(500, -1.5);
    expect(rateOf({ kind: 'diurnal', minRatePerSec: 100, maxRatePerSec: 900, periodMs: 10_000 }, 20_000)).toBeCloseTo(500, -1.5);
  });

  it('are bursty where they should be: MMPP inter-arrivals are far more variable than Poisson', () => {
    const cv = (process: RateProcess) => {
      const t = generateTrace({ process, popularity: { kind: 'single' }, durationMs: 60_000 }, 2).t;
      const gaps = Array.from(t.slice(1), (v, i) => v - t[i]!);
      const mean = gaps.reduce((s, g) => s + g, 0) / gaps.length;
      return Math.sqrt(gaps.reduce((s, g) => s + (g - mean) ** 2, 0) / gaps.length) / mean;
    };
    expect(cv({ kind: 'poisson', ratePerSec: 200 })).toBeCloseTo(1, 1);
    expect(cv({ kind: 'mmpp', baseRatePerSec: 5, burstRatePerSec: 2000, meanBurstMs: 25, meanGapMs: 250 })).toBeGreaterThan(3);
  });

  it('spreads keys by Zipf popularity and is reproducible', () => {
    const spec = {
      process: { kind: 'poisson', ratePerSec: 2000 },
      popularity: { kind: 'zipf', keys: 100, exponent: 1 },
      durationMs: 10_000,
    } as const;
    const trace = generateTrace(spec, 4);
    const counts = new Map<string, number>();
    trace.key.forEach((k) => counts.set(trace.keys[k]!, (counts.get(trace.keys[k]!) ?? 0) + 1));
    // Rank 1 gets 1/H(100) = 19 % of traffic, rank 2 half of that.
    expect(counts.get('GET /resource/1')! / trace.t.length).toBeCloseTo(0.193, 1);
    expect(counts.get('GET /resource/1')! / counts.get('GET /resource/2')!).toBeCloseTo(2, 0);
    expect(generateTrace(spec, 4)).toEqual(trace);
    expect(generateTrace(spec, 5).t.length).not.toBe(trace.t.length);
  });
});

describe('recorded traces (telemetry JSONL export)', () => {
  it('round-trips, shifts epoch timestamps to 0 and ignores extra fields', () => {
    const text = [
      '{"t_ms": 1700000000010.5, "key": "GET /a", "route": "api", "ingress": "i-1"}',
      '',
      '# a comment',
      '{"t_ms": 1700000000000, "key": "GET /b"}',
      '{"t_ms": 1700000000020, "key": "GET /a", "route": "api"}',
    ].join('\n');
    const trace = parseTraceJsonl(text);
    expect(Array.from(trace.t)).toEqual([0, 10.5, 20]);
    expect(trace.keys).toEqual(['GET /b', 'GET /a']);
    expect(trace.routes).toEqual(['default', 'api']);
    expect(parseTraceJsonl(traceToJsonl(trace))).toEqual(trace);
    expect(Array.from(traceWindow(trace, 10, 30).t)).toEqual([0.5, 10]);
  });

  it('names the line of a malformed record', () => {
    expect(() => parseTraceJsonl('{"t_ms": 1, "key": "a"}\n{"t_ms": "x", "key": "a"}')).toThrow(/line 2: t_ms/);
    expect(() => parseTraceJsonl('not json')).toThrow(TraceFormatError);
  });
});
