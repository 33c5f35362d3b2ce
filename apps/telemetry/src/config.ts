import type { CommonConfig } from '#libs/config';
import { commonSection, readConfig } from '#libs/config';

export interface TelemetryConfig extends CommonConfig {
  /** Where the fleet-wide metrics are served (seed: 9090). */
  metricsHost: string;
  metricsPort: number;
  /** Arrivals kept in memory for /export/arrivals.jsonl. */
  arrivalsKept: number;
  /** Decision episodes kept for /export/episodes.jsonl (0 = not built). */
  episodesKept: number;
}

export const TELEMETRY_CONFIG = Symbol('TELEMETRY_CONFIG');

export function loadTelemetryConfig(env: NodeJS.ProcessEnv): TelemetryConfig {
  return readConfig(env, (r) => ({
    ...commonSection(r, 'telemetry'),
    metricsHost: r.string('BATCHGATE_METRICS_HOST', '0.0.0.0'),
    metricsPort: r.int('BATCHGATE_METRICS_PORT', 9090, { max: 65_535 }),
    arrivalsKept: r.int('BATCHGATE_ARRIVALS_KEPT', 200_000, { min: 0, max: 10_000_000 }),
    // ~1 KB per episode with its decisions: 20,000 is ~20 MB.
    episodesKept: r.int('BATCHGATE_EPISODES_KEPT', 20_000, { min: 0, max: 1_000_000 }),
  }));
}
