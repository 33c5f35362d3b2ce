import type { OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { Inject, Injectable } from '@nestjs/common';
import type { DescMessage, MessageShape } from '#libs/contracts';
import {
  fromBinary,
  RequestsCompletedSchema,
  SlotFlushedSchema,
  SlotOpenedSchema,
  SlotsDecidedSchema,
  UpstreamCompletedSchema,
} from '#libs/contracts';
import { Counter, Registry } from '#libs/metrics';
import type { EventType } from '#libs/nats';
import { JETSTREAM } from '#libs/nats';
import { JetStreamProvider, LOGGER } from '#libs/service';
import type { Logger } from '#libs/tracing';
import type { ConsumerMessages } from '@nats-io/jetstream';
import { DeliverPolicy } from '@nats-io/jetstream';
import type { TelemetryConfig } from './config.js';
import { TELEMETRY_CONFIG } from './config.js';
import type { StatusSnapshot } from './live-view.js';
import { FleetProjection } from './projections.js';

type Apply = (projection: FleetProjection, data: Uint8Array) => void;

function on<S extends DescMessage>(schema: S, apply: (projection: FleetProjection, event: MessageShape<S>) => void): Apply {
  return (projection, data) => apply(projection, fromBinary(schema, data));
}

/** Which projection step each event type feeds; types not listed are recorded but not projected. */
const APPLY: Partial<Record<EventType, Apply>> = {
  'slot.opened': on(SlotOpenedSchema, (p, e) => p.slotOpened(e)),
  'slot.flushed': on(SlotFlushedSchema, (p, e) => p.slotFlushed(e)),
  'slot.decided': on(SlotsDecidedSchema, (p, e) => p.slotsDecided(e)),
  'upstream.completed': on(UpstreamCompletedSchema, (p, e) => p.upstreamCompleted(e)),
  'request.completed': on(RequestsCompletedSchema, (p, e) => p.requestsCompleted(e)),
};

/**
 * The recorder: an ordered consumer that reads the event stream from its
 * first message, so the projections are rebuilt on every start and then
 * follow the stream live.
 */
@Injectable()
export class Recorder implements OnModuleInit, OnApplicationShutdown {
  readonly projection: FleetProjection;
  private readonly applied: Counter<'type'>;
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
      name: 'telemetry_events_total',
      help: 'Events applied to projections, by type',
      labelNames: ['type'],
      registers: [registry],
    });
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

  private async follow(): Promise<void> {
    const { js } = await this.jetstream.whenReady();
    if (this.stopped) return;
    const consumer = await js.consumers.get(JETSTREAM.eventsStream, { deliver_policy: DeliverPolicy.All });
    this.messages = await consumer.consume();
    this.following = true;
    for await (const message of this.messages) {
      const type = message.subject.slice('events.'.length) as EventType;
      const apply = APPLY[type];
      if (!apply) continue;
      try {
        apply(this.projection, message.data);
        this.applied.inc({ type });
      } catch (error) {
        this.logger.warn({ err: error, subject: message.subject }, 'skipping an undecodable event');
      }
    }
    this.following = false;
  }
}
