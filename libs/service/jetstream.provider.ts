import type { OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { Inject, Injectable, Optional } from '@nestjs/common';
import type { EventsRetention } from '#libs/config';
import type { JetStreamHandles } from '#libs/nats';
import { Bus, provisionJetStream } from '#libs/nats';
import type { Logger } from '#libs/tracing';
import { EVENTS_RETENTION, LOGGER } from './tokens.js';

/**
 * JetStream, KV and Object Store handles, provisioned when NATS is (or comes)
 * up. `handles` is undefined until then; callers treat that as "unavailable".
 */
@Injectable()
export class JetStreamProvider implements OnModuleInit, OnModuleDestroy {
  handles: JetStreamHandles | undefined;
  private ready: Promise<JetStreamHandles> | undefined;
  private unsubscribe: (() => void) | undefined;
  private readonly waiters = new Set<(handles: JetStreamHandles) => void>();

  constructor(
    private readonly bus: Bus,
    @Inject(LOGGER) private readonly logger: Logger,
    @Optional() @Inject(EVENTS_RETENTION) private readonly retention?: EventsRetention,
  ) {}

  async onModuleInit(): Promise<void> {
    this.unsubscribe = this.bus.onStatus((connected) => {
      if (connected && !this.handles) void this.provision();
    });
    if (this.bus.connected) await this.provision();
  }

  onModuleDestroy(): void {
    this.unsubscribe?.();
  }

  /** Resolves once the handles exist (immediately when they already do). */
  whenReady(): Promise<JetStreamHandles> {
    if (this.handles) return Promise.resolve(this.handles);
    return new Promise((resolve) => this.waiters.add(resolve));
  }

  private provision(): Promise<JetStreamHandles | undefined> {
    const nc = this.bus.connection;
    if (!nc) return Promise.resolve(undefined);
    this.ready ??= provisionJetStream(nc, { eventsMaxAgeMs: this.retention?.maxAgeMs, eventsMaxBytes: this.retention?.maxBytes });
    return this.ready
      .then((handles) => {
        this.handles = handles;
        for (const waiter of this.waiters) waiter(handles);
        this.waiters.clear();
        return handles;
      })
      .catch((error: unknown) => {
        this.ready = undefined;
        this.logger.warn({ err: error }, 'JetStream provisioning failed; will retry on reconnect');
        return undefined;
      });
  }
}
