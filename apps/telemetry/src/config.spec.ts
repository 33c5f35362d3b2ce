import { describe, expect, it } from 'vitest';
import { loadTelemetryConfig } from './config.js';

describe('telemetry config: the scheduled learn loop', () => {
  it('is off by default and refuses a period under a minute, naming the setting', () => {
    expect(loadTelemetryConfig({}).learnEveryMs).toBe(0);
    expect(() => loadTelemetryConfig({ BATCHGATE_LEARN_EVERY_MS: '1000' })).toThrow(
      /BATCHGATE_LEARN_EVERY_MS must be 0 \(off\) or at least 60000 \(got 1000\)/,
    );
    expect(
      loadTelemetryConfig({ BATCHGATE_LEARN_EVERY_MS: '3600000', BATCHGATE_LEARN_ARGS: '--margin 0.1  --rounds 2' }).learnArgs,
    ).toEqual(['--margin', '0.1', '--rounds', '2']);
  });
});
