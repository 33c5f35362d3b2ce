import type { OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { Inject, Injectable } from '@nestjs/common';
import { Counter, Registry } from '#libs/metrics';
import { JETSTREAM } from '#libs/nats';
import { JetStreamProvider, LOGGER } from '#libs/service';
import type { Logger } from '#libs/tracing';
import type { ConsumerMessages } from '@nats-io/jetstream';
import { DeliverPolicy } from '@nats-io/jetstream';
import type { TelemetryConfig } from './config.js';
import { TELEMETRY_CONFIG } from './config.js';
import type { Outcome } from './event-log.js';
import { EventLogReader, FLEET_STEPS, loggedEvent } from './event-log.js';
import type { StatusSnapshot } from './live-view.js';
import { FleetProjection } from './projections.js';

/**
 * The recorder: an ordered consumer that reads the event stream from its
 * first message, so the projections are rebuilt on every start and then
 * follow the stream live.
 */
@Injectable()
export class Recorder implements OnModuleInit, OnApplicationShutdown {
  readonly projection: FleetProjection;
  private readonly applied: Counter<'type'>;
  private readonly skipped: Counter<'type' | 'reason'>;
  private readonly reader: EventLogReader<FleetProjection>;
  private messages: ConsumerMessages | undefined;
  private stopped = false;
  /** Whether the consumer is attached to the event stream (readiness). */
  following = false;

  constructor(
    @Inject(TELEMETRY_CONFIG) config: TelemetryConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly jetstream: JetStreamProvider,
    registry: Registry,
  ) {
    this.projection = new FleetProjection(registry, config.arrivalsKept, config.envelope);
    this.applied = new Counter({
      name: 'batchgate_telemetry_events_total',
      help: 'Events applied to projections, by type',
      labelNames: ['type'],
      registers: [registry],
    });
    this.skipped = new Counter({
      name: 'batchgate_telemetry_events_skipped_total',
      help: 'Events not applied: duplicate (an id already applied), unknown_schema (another version), undecodable',
      labelNames: ['type', 'reason'],
      registers: [registry],
    });
    this.reader = new EventLogReader(this.projection, FLEET_STEPS);
  }

  onModuleInit(): void {
    void this.follow();
  }

  /** What the status page shows now. */
  snapshot(nowMs: number): StatusSnapshot {
    return this.projection.live.snapshot(nowMs, this.projection.openSlots);
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    await this.messages?.close();
  }

  private count(outcome: Outcome, subject: string): void {
    const type = subject.slice('events.'.length);
    if (outcome === 'applied') this.applied.inc({ type });
    else if (outcome !== 'not_projected') {
      this.skipped.inc({ type, reason: outcome });
      if (outcome !== 'duplicate') this.logger.warn({ subject, reason: outcome }, 'skipping an event');
    }
  }

  private async follow(): Promise<void> {
    const { js } = await this.jetstream.whenReady();
    if (this.stopped) return;
    const consumer = await js.consumers.get(JETSTREAM.eventsStream, { deliver_policy: DeliverPolicy.All });
    this.messages = await consumer.consume();
    this.following = true;
    for await (const message of this.messages) {
      const outcome = this.reader.read(loggedEvent(message));
      this.count(outcome, message.subject);
    }
    this.following = false;
  }
}
