import type { CommonConfig, EnvelopeConfig, RouteTable, StrategySpec, UpstreamConfig } from '#libs/config';
import { checkFallbackStrategySetting } from '#libs/policy';
import { commonSection, envelopeSection, loadRoutes, readConfig, strategySection, upstreamSection } from '#libs/config';

export interface IngressConfig extends CommonConfig, UpstreamConfig {
  host: string;
  port: number;
  /** Cap on concurrent client connections (seed: a 1000-permit semaphore). */
  maxConnections: number;
  envelope: EnvelopeConfig;
  routes: RouteTable;
  /** Must equal the coordinators' partition count. */
  partitions: number;
  /** Hard deadline of every waiter: past it the client gets a 504, never silence. */
  requestTimeoutMs: number;
  /** How long the first waiter of a key waits for the join reply before coalescing locally (default: one seed batch window). */
  joinTimeoutMs: number;
  /** Extra time past the batch timeout before a slot with no flush is served directly (covers takeover). */
  flushGraceMs: number;
  /** How often locally attached waiters are reported to the coordinator. */
  reportIntervalMs: number;
  /** The embedded strategy for local-only coalescing when the fleet is unreachable. */
  fallbackStrategy: StrategySpec;
  /** Bearer token of the admin API; unset disables it. */
  adminToken: string | undefined;
}

export const INGRESS_CONFIG = Symbol('INGRESS_CONFIG');

export function loadIngressConfig(env: NodeJS.ProcessEnv): IngressConfig {
  const config = readConfig(env, (r) => ({
    ...commonSection(r, 'ingress'),
    ...upstreamSection(r),
    host: r.string('BATCHGATE_HOST', '0.0.0.0'),
    port: r.int('BATCHGATE_PORT', 8080, { max: 65_535 }),
    maxConnections: r.int('BATCHGATE_MAX_CONNECTIONS', 1000, { min: 1, max: 1_000_000 }),
    envelope: envelopeSection(r),
    partitions: r.int('BATCHGATE_PARTITIONS', 64, { min: 1, max: 4096 }),
    requestTimeoutMs: r.int('BATCHGATE_REQUEST_TIMEOUT_MS', 30_000, { min: 10, max: 600_000 }),
    joinTimeoutMs: r.int('BATCHGATE_JOIN_TIMEOUT_MS', 50, { min: 1, max: 10_000 }),
    flushGraceMs: r.int('BATCHGATE_FLUSH_GRACE_MS', 2000, { min: 0, max: 60_000 }),
    reportIntervalMs: r.int('BATCHGATE_REPORT_INTERVAL_MS', 2, { min: 1, max: 1000 }),
    fallbackStrategy: strategySection(r, 'BATCHGATE_FALLBACK_STRATEGY', 'fixed_timer:window_ms=20'),
    routesFile: r.optionalString('BATCHGATE_ROUTES_FILE'),
    adminToken: r.optionalString('BATCHGATE_ADMIN_TOKEN'),
  }));
  checkFallbackStrategySetting('BATCHGATE_FALLBACK_STRATEGY', config.fallbackStrategy);
  const { routesFile, ...rest } = config;
  return { ...rest, routes: loadRoutes(routesFile, config.envelope) };
}
