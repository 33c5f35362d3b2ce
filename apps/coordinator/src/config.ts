import type { CommonConfig, RedisConfig, StrategySpec } from '#libs/config';
import { checkFallbackStrategySetting, OPENING_PLAN_TTL_MS } from '#libs/policy';
import { commonSection, httpPortSection, readConfig, redisSection, strategySection } from '#libs/config';
import type { InferenceConfig } from './inference/config.js';
import { inferenceSection } from './inference/config.js';

export interface CoordinatorConfig extends CommonConfig, RedisConfig {
  httpHost: string;
  httpPort: number;
  /** How often owned slots are checked and a decision is asked for (seed-like 1 ms). */
  tickMs: number;
  /** A decision that takes longer falls back to the embedded strategy (seed: 5 ms). */
  decisionTimeoutMs: number;
  /** Fixed number of key-space partitions; much larger than the number of coordinators. */
  partitions: number;
  /** Partition lease lifetime; a dead owner's partitions move after this. */
  leaseTtlMs: number;
  /** How long to wait for a worker to accept a flushed slot before orphaning it. */
  dispatchTimeoutMs: number;
  /**
   * Heartbeat silence after which a worker counts as lost and its accepted
   * slots are dispatched again (once) or released to the ingresses: 5 of the
   * workers' 50 ms heartbeats, so a late wake-up or GC pause is not a death.
   */
  workerLostMs: number;
  /** The embedded strategy used when the policy service does not answer in time. */
  fallbackStrategy: StrategySpec;
  /** Flow B: inference batching. */
  inference: InferenceConfig;
  /**
   * Who calls the origin for a slot whose waiters are all on one ingress:
   * `ingress` (that ingress itself: no worker round trip, no result hop) or
   * `worker` (every call through the worker pool, as before).
   */
  soleMemberCalls: 'ingress' | 'worker';
  /**
   * Event ids the live signals remember to count a retried latency event once
   * (live-signals.ts). A retry comes at least the 2 s ack timeout after its
   * original, longer across a NATS outage: 100,000 ids (~12 MB) is over a
   * minute at 1,500 upstream.completed and request.completed events per second.
   */
  liveSignalIdsKept: number;
  /** How long a route's opening plan (libs/policy/opening.ts) stands for new slots; 0 = none (every new slot is asked). */
  openingPlanTtlMs: number;
}

export const COORDINATOR_CONFIG = Symbol('COORDINATOR_CONFIG');

export function loadCoordinatorConfig(env: NodeJS.ProcessEnv): CoordinatorConfig {
  const config = readConfig(env, (r) => ({
    ...commonSection(r, 'coordinator'),
    ...redisSection(r),
    ...httpPortSection(r, 0),
    tickMs: r.int('BATCHGATE_TICK_MS', 1, { min: 1, max: 1000 }),
    decisionTimeoutMs: r.int('BATCHGATE_DECISION_TIMEOUT_MS', 5, { min: 1, max: 10_000 }),
    partitions: r.int('BATCHGATE_PARTITIONS', 64, { min: 1, max: 4096 }),
    leaseTtlMs: r.int('BATCHGATE_LEASE_TTL_MS', 1000, { min: 100, max: 60_000 }),
    dispatchTimeoutMs: r.int('BATCHGATE_DISPATCH_TIMEOUT_MS', 50, { min: 1, max: 10_000 }),
    workerLostMs: r.int('BATCHGATE_WORKER_LOST_MS', 250, { min: 20, max: 60_000 }),
    fallbackStrategy: strategySection(r, 'BATCHGATE_FALLBACK_STRATEGY', 'fixed_timer:window_ms=20'),
    ...inferenceSection(r),
    liveSignalIdsKept: r.int('BATCHGATE_LIVE_SIGNAL_IDS', 100_000, { min: 1, max: 10_000_000 }),
    soleMemberCalls: r.oneOf<'ingress' | 'worker'>('BATCHGATE_SOLE_MEMBER_CALLS', 'ingress', ['ingress', 'worker']),
    openingPlanTtlMs: r.int('BATCHGATE_OPENING_PLAN_TTL_MS', OPENING_PLAN_TTL_MS, { min: 0, max: 600_000 }),
  }));
  checkFallbackStrategySetting('BATCHGATE_FALLBACK_STRATEGY', config.fallbackStrategy);
  checkFallbackStrategySetting('BATCHGATE_INFERENCE_STRATEGY', config.inference.strategy);
  return config;
}
