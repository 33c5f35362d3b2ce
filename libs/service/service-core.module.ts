import type { DynamicModule, OnApplicationShutdown } from '@nestjs/common';
import { Inject, Injectable, Module } from '@nestjs/common';
import type { CommonConfig } from '#libs/config';
import { createRegistry, Registry } from '#libs/metrics';
import { Bus, EventPublisher, inboxPrefixOf, LargeMessages } from '#libs/nats';
import type { Logger } from '#libs/tracing';
import { createLogger } from '#libs/tracing';
import { Counter, Gauge } from 'prom-client';
import { JetStreamProvider } from './jetstream.provider.js';
import { EVENTS_RETENTION, LOGGER, READINESS } from './tokens.js';

export { LOGGER, READINESS };
export type { Readiness } from './readiness.js';

export interface ServiceIdentity {
  service: 'ingress' | 'coordinator' | 'policy' | 'worker' | 'telemetry';
  common: CommonConfig;
}

@Injectable()
class BusLifecycle implements OnApplicationShutdown {
  constructor(private readonly bus: Bus) {}

  async onApplicationShutdown(): Promise<void> {
    await this.bus.close();
  }
}

function busMetrics(registry: Registry, bus: Bus, events: EventPublisher): void {
  new Gauge({
    name: 'batchgate_nats_connected',
    help: '1 while the NATS connection is up',
    registers: [registry],
    collect() {
      this.set(bus.connected ? 1 : 0);
    },
  });
  // Counters mirrored from the publisher's own tallies at scrape time.
  new Counter({
    name: 'batchgate_events_published_total',
    help: 'Events handed to the events stream (request.completed and upstream.completed acknowledged and retried, the rest best-effort)',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(events.published);
    },
  });
  new Counter({
    name: 'batchgate_events_dropped_total',
    help: 'Events not published (NATS down, publisher saturated or publish failed)',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(events.dropped + events.failed + events.acked.dropped);
    },
  });
  new Gauge({
    name: 'batchgate_events_unacknowledged',
    help: 'Acknowledged-delivery events not yet acknowledged by the stream (queued, in flight or waiting to retry)',
    registers: [registry],
    collect() {
      this.set(events.acked.pending);
    },
  });
  new Counter({
    name: 'batchgate_events_retried_total',
    help: 'Acknowledged-delivery event publishes retried (failed or not acknowledged in time)',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(events.acked.retried);
    },
  });
}

/**
 * Global providers every service gets: LOGGER, Registry, Bus, EventPublisher,
 * JetStreamProvider. Each app module lists OpsController itself so the
 * controller sees that app's READINESS check.
 */
@Module({})
export class ServiceCoreModule {
  static forRoot(identity: ServiceIdentity): DynamicModule {
    const { service, common } = identity;
    return {
      global: true,
      module: ServiceCoreModule,
      providers: [
        { provide: LOGGER, useValue: createLogger(service, common.instanceId, common.logLevel) },
        { provide: Registry, useFactory: createRegistry },
        {
          provide: Bus,
          inject: [LOGGER],
          useFactory: (logger: Logger) =>
            Bus.connect({ url: common.natsUrl, name: `${service}/${common.instanceId}`, logger, inboxPrefix: inboxPrefixOf(service) }),
        },
        {
          provide: EventPublisher,
          inject: [Bus, LOGGER, Registry],
          useFactory: (bus: Bus, logger: Logger, registry: Registry) => {
            const events = new EventPublisher(bus, logger, common.events.publish);
            busMetrics(registry, bus, events);
            return events;
          },
        },
        { provide: EVENTS_RETENTION, useValue: common.events },
        JetStreamProvider,
        {
          // Over the bucket of JetStreamProvider (undefined until provisioned: a large message then fails, and says so).
          provide: LargeMessages,
          inject: [Bus, JetStreamProvider],
          useFactory: (bus: Bus, jetstream: JetStreamProvider) => new LargeMessages(bus, () => jetstream.handles?.bodies),
        },
        BusLifecycle,
      ],
      exports: [LOGGER, Registry, Bus, EventPublisher, JetStreamProvider, LargeMessages],
    };
  }
}

/** Re-exported for apps that need to inject the logger by type. */
export const InjectLogger = () => Inject(LOGGER);
