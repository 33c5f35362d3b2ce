import type { CommonConfig, EnvelopeConfig } from '#libs/config';
import { commonSection, envelopeSection, readConfig } from '#libs/config';

export interface TelemetryConfig extends CommonConfig {
  /** Where the fleet-wide metrics are served (seed: 9090). */
  metricsHost: string;
  metricsPort: number;
  /** Arrivals kept in memory for /export/arrivals.jsonl. */
  arrivalsKept: number;
  /** The fleet's envelope (BATCHGATE_BATCH_TIMEOUT_MS, BATCHGATE_MAX_BATCH_SIZE): the flush buckets reach it. */
  envelope: EnvelopeConfig;
}

export const TELEMETRY_CONFIG = Symbol('TELEMETRY_CONFIG');

export function loadTelemetryConfig(env: NodeJS.ProcessEnv): TelemetryConfig {
  return readConfig(env, (r) => ({
    ...commonSection(r, 'telemetry'),
    metricsHost: r.string('BATCHGATE_METRICS_HOST', '0.0.0.0'),
    metricsPort: r.int('BATCHGATE_METRICS_PORT', 9090, { max: 65_535 }),
    arrivalsKept: r.int('BATCHGATE_ARRIVALS_KEPT', 200_000, { min: 0, max: 10_000_000 }),
    envelope: envelopeSection(r),
  }));
}
