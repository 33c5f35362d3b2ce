import type { JetStreamClient } from '@nats-io/jetstream';
import { jetstream } from '@nats-io/jetstream';
import type { MsgHdrs, NatsConnection } from '@nats-io/transport-node';
import type { Bus, BusLogger } from './bus.js';
import type { EventType } from './subjects.js';

/**
 * The events live decisions depend on (apps/coordinator/src/live-signals.ts
 * feeds the upstream-p99 and route-p99 features from them): published with a
 * JetStream acknowledgement and retried until acked, so the stream, and every
 * projection rebuilt from it, holds each one. Retries reuse the event id as
 * Nats-Msg-Id, so the stream keeps one copy however often one is sent.
 */
export const ACKED_EVENT_TYPES: ReadonlySet<EventType> = new Set<EventType>(['upstream.completed', 'request.completed']);

export interface AckedEvent {
  subject: string;
  data: Uint8Array;
  headers: MsgHdrs;
  msgID: string;
}

export interface AckedLimits {
  /** Events waiting for their turn or a retry; beyond this the newest are dropped and counted. */
  maxPending: number;
  /** Publishes awaiting their ack at once (one flush of a busy coordinator is ~1 event per upstream call). */
  maxInFlight: number;
  ackTimeoutMs: number;
}

/** 10,000 events is minutes of a busy ingress's batched request.completed (one per 100 requests or 50 ms). */
const DEFAULT_LIMITS: AckedLimits = { maxPending: 10_000, maxInFlight: 32, ackTimeoutMs: 2000 };

/** The wait before the n-th retry: 100 ms doubling, at most 2 s (a NATS reconnect takes ~250 ms). */
export const retryDelayMs = (attempt: number): number => Math.min(100 * 2 ** (attempt - 1), 2000);

/**
 * At-least-once publishing of events: a bounded queue drained with at most
 * maxInFlight acknowledged publishes; a publish that fails or is not acked in
 * time goes back to the queue after a backoff; nothing is sent while NATS is
 * down and the queue resumes when it is back. The caller never waits.
 */
export class AckedEvents {
  private readonly queue: AckedEvent[] = [];
  private readonly attempts = new WeakMap<AckedEvent, number>();
  private inFlight = 0;
  private client: { nc: NatsConnection; js: JetStreamClient } | undefined;
  acked = 0;
  retried = 0;
  dropped = 0;

  constructor(
    private readonly bus: Bus,
    private readonly logger: BusLogger,
    private readonly limits: AckedLimits = DEFAULT_LIMITS,
  ) {
    bus.onStatus((connected) => connected && this.pump());
  }

  /** Events not yet acknowledged (queued or in flight). */
  get pending(): number {
    return this.queue.length + this.inFlight;
  }

  enqueue(event: AckedEvent): void {
    if (this.queue.length >= this.limits.maxPending) {
      this.dropped++;
      if (this.dropped % 100 === 1) this.logger.warn({ pending: this.queue.length }, 'acknowledged event queue full; dropping events');
      return;
    }
    this.queue.push(event);
    this.pump();
  }

  private pump(): void {
    while (this.inFlight < this.limits.maxInFlight && this.queue.length > 0) {
      const js = this.jetstream();
      if (!js) return;
      const event = this.queue.shift()!;
      this.inFlight++;
      void this.send(js, event);
    }
  }

  private async send(js: JetStreamClient, event: AckedEvent): Promise<void> {
    try {
      await js.publish(event.subject, event.data, { msgID: event.msgID, headers: event.headers, timeout: this.limits.ackTimeoutMs });
      this.acked++;
    } catch (error) {
      const attempt = (this.attempts.get(event) ?? 0) + 1;
      this.attempts.set(event, attempt);
      this.retried++;
      if (this.retried % 100 === 1) this.logger.warn({ err: error, subject: event.subject, attempt }, 'event not acknowledged; retrying');
      setTimeout(() => {
        this.queue.unshift(event);
        this.pump();
      }, retryDelayMs(attempt)).unref();
    } finally {
      this.inFlight--;
      this.pump();
    }
  }

  private jetstream(): JetStreamClient | undefined {
    const nc = this.bus.connection;
    if (!nc || !this.bus.connected) return undefined;
    if (this.client?.nc !== nc) this.client = { nc, js: jetstream(nc) };
    return this.client.js;
  }
}
