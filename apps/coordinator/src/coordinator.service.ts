import type { OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { Inject, Injectable } from '@nestjs/common';
import { Registry } from '#libs/metrics';
import { Bus, EventPublisher } from '#libs/nats';
import { createStrategy, FeatureBook } from '#libs/policy';
import { LOGGER } from '#libs/service';
import type { Logger } from '#libs/tracing';
import { Redis } from 'ioredis';
import type { CoordinatorConfig } from './config.js';
import { COORDINATOR_CONFIG } from './config.js';
import { DecisionLoop } from './decision-loop.js';
import { FlushDispatcher } from './dispatch.js';
import { followLiveSignals } from './live-signals.js';
import { SlotMembership } from './membership.js';
import { CoordinatorMetrics } from './metrics.js';
import { PartitionLeases } from './partitions.js';
import { SlotTable } from './slot-table.js';
import { SlotStore } from './slot-store.js';

/** Wires the coordinator's parts together and owns their lifecycle. */
@Injectable()
export class CoordinatorService implements OnModuleInit, OnApplicationShutdown {
  readonly table = new SlotTable();
  readonly features = new FeatureBook();
  leases!: PartitionLeases;
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
      opened: () => this.loop.prompt(),
      onRedisError,
    });
    this.leases = new PartitionLeases(
      this.redis,
      { owner: config.instanceId, partitions: config.partitions, ttlMs: config.leaseTtlMs },
      this.membership,
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
    });
    this.stops.push(...followLiveSignals(bus, this.features));
    dispatcher.start();
    await this.leases.start();
    this.loop.start();
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
    this.dispatcher?.stop();
    for (const stop of this.stops.splice(0)) stop();
    this.membership?.unsubscribeAll();
    await this.leases?.stop(release);
    this.redis?.disconnect();
  }
}
