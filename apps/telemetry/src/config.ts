import type { CommonConfig, EnvelopeConfig } from '#libs/config';
import { commonSection, ConfigError, envelopeSection, readConfig } from '#libs/config';

export interface TelemetryConfig extends CommonConfig {
  /** Where the fleet-wide metrics are served (seed: 9090). */
  metricsHost: string;
  metricsPort: number;
  /** Arrivals kept in memory for /export/arrivals.jsonl. */
  arrivalsKept: number;
  /** The fleet's envelope (BATCHGATE_BATCH_TIMEOUT_MS, BATCHGATE_MAX_BATCH_SIZE): the flush buckets reach it. */
  envelope: EnvelopeConfig;
  /** Decision episodes kept for /export/episodes.jsonl (0 = not built). */
  episodesKept: number;
  /** Run policy:learn on this service's own recordings every this many ms (0 = off, the default). */
  learnEveryMs: number;
  /** Flags for those runs (e.g. "--admin-url http://ingress:9091 --policy-url http://policy:9092"); the admin token comes from BATCHGATE_ADMIN_TOKEN. */
  learnArgs: string[];
  adminToken: string | undefined;
}

export const TELEMETRY_CONFIG = Symbol('TELEMETRY_CONFIG');

export function loadTelemetryConfig(env: NodeJS.ProcessEnv): TelemetryConfig {
  const config = readConfig(env, (r) => ({
    ...commonSection(r, 'telemetry'),
    metricsHost: r.string('BATCHGATE_METRICS_HOST', '0.0.0.0'),
    metricsPort: r.int('BATCHGATE_METRICS_PORT', 9090, { max: 65_535 }),
    arrivalsKept: r.int('BATCHGATE_ARRIVALS_KEPT', 200_000, { min: 0, max: 10_000_000 }),
    envelope: envelopeSection(r),
    // ~1 KB per episode with its decisions: 20,000 is ~20 MB.
    episodesKept: r.int('BATCHGATE_EPISODES_KEPT', 20_000, { min: 0, max: 1_000_000 }),
    // At least a minute apart: one run trains for ~10 s per route on a core this service shares.
    learnEveryMs: r.int('BATCHGATE_LEARN_EVERY_MS', 0, { min: 0, max: 7 * 24 * 3_600_000 }),
    learnArgs: r
      .string('BATCHGATE_LEARN_ARGS', '')
      .split(' ')
      .filter((arg) => arg !== ''),
    adminToken: r.optionalString('BATCHGATE_ADMIN_TOKEN'),
  }));
  if (config.learnEveryMs > 0 && config.learnEveryMs < 60_000)
    throw new ConfigError([`BATCHGATE_LEARN_EVERY_MS must be 0 (off) or at least 60000 (got ${config.learnEveryMs})`]);
  return config;
}
