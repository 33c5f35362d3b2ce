import type { CommonConfig, EnvelopeConfig, RouteTable, StrategySpec, UpstreamConfig } from '#libs/config';
import { checkFallbackStrategySetting } from '#libs/policy';
import type { IngressInferenceConfig } from './inference/config.js';
import { inferenceSection } from './inference/config.js';
import { commonSection, envelopeSection, httpPortSection, loadRoutes, readConfig, strategySection, upstreamSection } from '#libs/config';

/** The ingress's operator port default: fixed (not 0) so probes and scrapes have a documented place to look. */
export const INGRESS_OPERATOR_PORT = 9180;

export interface IngressConfig extends CommonConfig, UpstreamConfig {
  host: string;
  port: number;
  /** Operator port (health, readiness, metrics, admin API): never the gateway port, so it shares no client budget. */
  httpHost: string;
  httpPort: number;
  /** Open client connections past this get a 503 + Retry-After and are closed (seed: a 1000-permit semaphore). */
  maxConnections: number;
  /** Requests in flight past this get a 503 + Retry-After. */
  maxInflight: number;
  /** Request headers must arrive within this, or the client gets a 408. */
  headerTimeoutMs: number;
  /** Request bodies must move at least bodyMinBytesPerSecond over every window of this length, or the client gets a 408. */
  bodyTimeoutMs: number;
  bodyMinBytesPerSecond: number;
  /** An Upgrade tunnel idle (no bytes either way) for this long is closed. */
  tunnelIdleMs: number;
  /** Authorities (host[:port], lower-case) accepted in absolute-form targets besides the request's own Host. */
  publicAuthorities: string[];
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
  /** Event-loop busy share (0-1) above which sole-member calls are left to the workers (see busy-loop.ts); 1 = always call. */
  soleCallMaxBusy: number;
  /** Bearer token of the admin API; unset disables it. */
  adminToken: string | undefined;
  /** Flow B: the /v1 inference endpoints. */
  inference: IngressInferenceConfig;
}

export const INGRESS_CONFIG = Symbol('INGRESS_CONFIG');

export function loadIngressConfig(env: NodeJS.ProcessEnv): IngressConfig {
  const config = readConfig(env, (r) => ({
    ...commonSection(r, 'ingress'),
    ...upstreamSection(r),
    host: r.string('BATCHGATE_HOST', '0.0.0.0'),
    port: r.int('BATCHGATE_PORT', 8080, { max: 65_535 }),
    ...httpPortSection(r, INGRESS_OPERATOR_PORT),
    maxConnections: r.int('BATCHGATE_MAX_CONNECTIONS', 1000, { min: 1, max: 1_000_000 }),
    maxInflight: r.int('BATCHGATE_MAX_INFLIGHT', 1000, { min: 1, max: 1_000_000 }),
    // 10 s: NGINX's client_header_timeout is 60 s, far more than a proxy in front of an API needs; Node's own default fired after 76 s.
    headerTimeoutMs: r.int('BATCHGATE_HEADER_TIMEOUT_MS', 10_000, { min: 100, max: 600_000 }),
    bodyTimeoutMs: r.int('BATCHGATE_BODY_TIMEOUT_MS', 10_000, { min: 100, max: 600_000 }),
    // 1 KiB/s: an upload slower than a 2400-baud modem is an attack or a dead link, not a client.
    bodyMinBytesPerSecond: r.int('BATCHGATE_BODY_MIN_BYTES_PER_S', 1024, { min: 0, max: 1024 ** 3 }),
    tunnelIdleMs: r.int('BATCHGATE_TUNNEL_IDLE_MS', 60_000, { min: 100, max: 86_400_000 }),
    publicAuthorities: r
      .string('BATCHGATE_PUBLIC_AUTHORITY', '')
      .split(',')
      .map((entry) => entry.trim().toLowerCase())
      .filter((entry) => entry !== ''),
    envelope: envelopeSection(r),
    partitions: r.int('BATCHGATE_PARTITIONS', 64, { min: 1, max: 4096 }),
    requestTimeoutMs: r.int('BATCHGATE_REQUEST_TIMEOUT_MS', 30_000, { min: 10, max: 600_000 }),
    joinTimeoutMs: r.int('BATCHGATE_JOIN_TIMEOUT_MS', 50, { min: 1, max: 10_000 }),
    flushGraceMs: r.int('BATCHGATE_FLUSH_GRACE_MS', 2000, { min: 0, max: 60_000 }),
    reportIntervalMs: r.int('BATCHGATE_REPORT_INTERVAL_MS', 2, { min: 1, max: 1000 }),
    fallbackStrategy: strategySection(r, 'BATCHGATE_FALLBACK_STRATEGY', 'fixed_timer:window_ms=20'),
    soleCallMaxBusy: r.number('BATCHGATE_SOLE_CALL_MAX_BUSY', 0.75, { min: 0, max: 1 }),
    routesFile: r.optionalString('BATCHGATE_ROUTES_FILE'),
    adminToken: r.optionalString('BATCHGATE_ADMIN_TOKEN'),
    ...inferenceSection(r),
  }));
  checkFallbackStrategySetting('BATCHGATE_FALLBACK_STRATEGY', config.fallbackStrategy);
  const { routesFile, ...rest } = config;
  return { ...rest, routes: loadRoutes(routesFile, config.envelope) };
}
