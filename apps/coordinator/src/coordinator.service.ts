import type { OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { Inject, Injectable } from '@nestjs/common';
import { Registry } from '#libs/metrics';
import type { StrategySpec } from '#libs/config';
import { parsePolicyDocument } from '#libs/config';
import { Bus, CONFIG_KEYS, EventPublisher, LargeMessages } from '#libs/nats';
import { createStrategy, FeatureBook } from '#libs/policy';
import { JetStreamProvider, LiveConfig, LOGGER } from '#libs/service';
import type { Logger } from '#libs/tracing';
import { Redis } from 'ioredis';
import type { CoordinatorConfig } from './config.js';
import { COORDINATOR_CONFIG } from './config.js';
import { DecisionLoop } from './decision-loop.js';
import { FlushDispatcher } from './dispatch.js';
import { InferCoordinator } from './inference/infer-coordinator.js';
import { InferMetrics } from './inference/infer-metrics.js';
import { parseSwitches, resolveSpec, storeSwitch } from './inference/strategy-switches.js';
import { followLiveSignals, LiveSignals } from './live-signals.js';
import { SlotMembership } from './membership.js';
import { CoordinatorMetrics } from './metrics.js';
import { PartitionLeases } from './partitions.js';
import { SlotTable } from './slot-table.js';
import { SlotStore } from './slot-store.js';
import { wallNow } from './clock.js';

/** How long a graceful stop waits for inference batches in flight (the worker's own drain is similar). */
const INFERENCE_DRAIN_MS = 5000;

/** Route envelopes are Flow A's and unused here; parsing needs defaults, and Flow B reads only each route's `policy`. */
const ROUTE_ENVELOPE_DEFAULTS = { batchTimeoutMs: 50, maxBatchSize: 128 };

/** Wires the coordinator's parts together and owns their lifecycle. */
@Injectable()
export class CoordinatorService implements OnModuleInit, OnApplicationShutdown {
  readonly table = new SlotTable();
  readonly features = new FeatureBook();
  leases!: PartitionLeases;
  inference!: InferCoordinator;
  private redis!: Redis;
  private loop!: DecisionLoop;
  private membership!: SlotMembership;
  private dispatcher!: FlushDispatcher;
  private readonly stops: Array<() => void> = [];

  constructor(
    @Inject(COORDINATOR_CONFIG) private readonly config: CoordinatorConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly bus: Bus,
    private readonly events: EventPublisher,
    private readonly registry: Registry,
    private readonly jetstream: JetStreamProvider,
    private readonly large: LargeMessages,
  ) {}

  async onModuleInit(): Promise<void> {
    const { config, logger, bus, events } = this;
    const metrics = new CoordinatorMetrics(this.registry, {
      openSlots: () => this.table.size,
      partitions: () => this.leases.owned.size,
      redisUp: () => this.leases.redisUp,
    });
    const source = `coordinator/${config.instanceId}`;
    // Fail fast while Redis is away (the coordinator degrades to memory) instead of queueing.
    this.redis = new Redis(config.redisUrl, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      enableAutoPipelining: true,
      retryStrategy: () => 250,
      lazyConnect: true,
    });
    this.redis.on('error', () => undefined);
    await this.redis.connect().catch((error: unknown) => logger.warn({ err: error }, 'Redis not reachable at start'));
    const store = new SlotStore(this.redis);
    const onRedisError = (error: unknown) => {
      if (this.leases.redisUp) logger.warn({ err: error }, 'Redis call failed');
    };
    const dispatcher = (this.dispatcher = new FlushDispatcher({
      bus,
      events,
      table: this.table,
      store,
      metrics,
      logger,
      source,
      dispatchTimeoutMs: config.dispatchTimeoutMs,
      soleMemberCalls: config.soleMemberCalls,
      workerLostMs: config.workerLostMs,
      onRedisError,
    }));
    this.membership = new SlotMembership({
      bus,
      events,
      table: this.table,
      store,
      features: this.features,
      dispatcher,
      metrics,
      logger,
      source,
      coordinatorId: config.instanceId,
      leases: () => this.leases,
      opened: (slot, now, inReply) => {
        const opening = this.loop.open(slot, now, inReply);
        this.loop.prompt();
        return opening;
      },
      opensDue: (join, now) => this.loop.opensDue(join, now),
      onRedisError,
    });
    const inference: InferCoordinator = (this.inference = new InferCoordinator({
      bus,
      large: this.large,
      events,
      metrics: new InferMetrics(
        this.registry,
        () => inference.queued,
        () => inference.inflightBatches,
      ),
      logger,
      config: config.inference,
      coordinatorId: config.instanceId,
      tickMs: config.tickMs,
    }));
    const membership = this.membership;
    // Flow B's submit and cancel subjects follow the same partition leases as Flow A's joins.
    const listener = {
      acquired: async (p: number) => {
        await membership.acquired(p);
        inference.acquired(p, this.leases.live);
      },
      lost: (p: number) => {
        membership.lost(p);
        inference.lost(p);
      },
    };
    this.leases = new PartitionLeases(
      this.redis,
      { owner: config.instanceId, partitions: config.partitions, ttlMs: config.leaseTtlMs, written: () => store.takeWritten() },
      listener,
      logger,
    );
    this.loop = new DecisionLoop({
      bus,
      table: this.table,
      features: this.features,
      dispatcher,
      metrics,
      fallback: createStrategy(config.fallbackStrategy),
      coordinatorId: config.instanceId,
      tickMs: config.tickMs,
      decisionTimeoutMs: config.decisionTimeoutMs,
      openingPlanTtlMs: config.openingPlanTtlMs,
    });
    this.stops.push(...followLiveSignals(bus, new LiveSignals(this.features, config.liveSignalIdsKept, metrics.duplicateEvents)));
    // PUT /admin/policy/routes (ingress) reaches Flow B here: a route matching /v1/embeddings etc. sets that kind's strategy.
    const routes = new LiveConfig(
      this.jetstream,
      CONFIG_KEYS.routes,
      (json) => parsePolicyDocument(json, ROUTE_ENVELOPE_DEFAULTS).routes,
      (table) => inference.strategies.applyRoutes(table),
      logger,
    );
    routes.start();
    this.stops.push(() => routes.close());
    // POST /admin/strategy/{name} on any coordinator reaches every one here, and a restarted one reads the last revision.
    const switches = new LiveConfig(
      this.jetstream,
      CONFIG_KEYS.inferenceStrategies,
      parseSwitches,
      (s) => inference.strategies.applySwitches(s),
      logger,
    );
    switches.start();
    this.stops.push(() => switches.close());
    dispatcher.start();
    inference.start();
    await this.leases.start();
    this.loop.start();
  }

  /**
   * POST /admin/strategy/{name}: validated (StrategyConfigError), stored in the
   * config bucket for every coordinator and the partitions' next owners, and
   * applied here at once rather than when the watch brings it back.
   */
  async switchStrategy(spec: StrategySpec, model?: string): Promise<StrategySpec> {
    const resolved = resolveSpec(spec);
    await storeSwitch(this.jetstream, resolved, model);
    return this.inference.strategies.set(resolved, model);
  }

  /** GET /metrics/json (seed 004's shape, plus Flow B's strategies). */
  inferenceSnapshot(): Record<string, unknown> {
    const now = wallNow();
    const { p50, p99, rps } = this.inference.strategies.summary(now);
    return {
      timestamp: new Date().toISOString(),
      queue_depth: this.inference.queued,
      latency_p50_ms: p50,
      latency_p99_ms: p99,
      throughput_rps: rps,
      batches_in_flight: this.inference.inflightBatches,
      strategies: this.inference.strategies.specs(),
    };
  }

  /** Graceful stop hands every partition back at once; their slots stay in Redis for the next owner. */
  async onApplicationShutdown(): Promise<void> {
    await this.halt(true);
  }

  /** Stops without releasing leases, as a crash would (tests use it to prove takeover). */
  async crash(): Promise<void> {
    await this.halt(false);
  }

  private async halt(release: boolean): Promise<void> {
    this.loop?.stop();
    // A crash answers nothing (tests of takeover need the abrupt stop); a graceful stop lets batches in flight finish.
    if (release) await this.inference?.stop(INFERENCE_DRAIN_MS);
    else this.inference?.abandon();
    this.dispatcher?.stop();
    for (const stop of this.stops.splice(0)) stop();
    this.membership?.unsubscribeAll();
    await this.leases?.stop(release);
    this.redis?.disconnect();
  }
}
