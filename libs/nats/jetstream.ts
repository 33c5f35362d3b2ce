import type { DescMessage, MessageInitShape } from '@bufbuild/protobuf';
import { create, toBinary } from '@bufbuild/protobuf';
import type { JetStreamClient } from '@nats-io/jetstream';
import { jetstream, jetstreamManager, RetentionPolicy, StorageType } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import { Kvm } from '@nats-io/kv';
import type { ObjectStore } from '@nats-io/obj';
import { Objm } from '@nats-io/obj';
import type { MsgHdrs, NatsConnection } from '@nats-io/transport-node';
import { headers as msgHeaders, nanos } from '@nats-io/transport-node';
import { randomUUID } from 'node:crypto';
import { ACKED_EVENT_TYPES, AckedEvents } from './acked-events.js';
import type { Bus, BusLogger } from './bus.js';
import type { EventType } from './subjects.js';
import { JETSTREAM, SUBJECTS } from './subjects.js';

export interface JetStreamHandles {
  js: JetStreamClient;
  config: KV;
  bodies: ObjectStore;
  models: ObjectStore;
}

export interface ProvisionOptions {
  /** Replicas of streams and buckets (1 on one server; 3 in a production cluster). */
  replicas?: number;
  /** How long events are kept (and so how far a projection can be rebuilt). */
  eventsMaxAgeMs?: number;
  /** How many bytes of events are kept; the oldest go first. */
  eventsMaxBytes?: number;
}

/**
 * Creates (or updates) the events stream, the config KV bucket and the object
 * stores. Idempotent: every service calls it at start; consumers only bind.
 */
export async function provisionJetStream(nc: NatsConnection, options: ProvisionOptions = {}): Promise<JetStreamHandles> {
  const replicas = options.replicas ?? 1;
  const jsm = await jetstreamManager(nc);
  const stream = {
    name: JETSTREAM.eventsStream,
    subjects: [SUBJECTS.events],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    max_age: nanos(options.eventsMaxAgeMs ?? 24 * 3600 * 1000),
    max_bytes: options.eventsMaxBytes ?? 1024 ** 3,
    duplicate_window: nanos(120_000),
    num_replicas: replicas,
  };
  try {
    await jsm.streams.info(stream.name);
    await jsm.streams.update(stream.name, stream);
  } catch {
    await jsm.streams.add(stream);
  }
  const config = await new Kvm(nc).create(JETSTREAM.configBucket, { history: 10, replicas });
  const objm = new Objm(nc);
  // Large response bodies only need to outlive their fan-out.
  const bodies = await objm.create(JETSTREAM.bodiesBucket, { ttl: nanos(5 * 60_000), replicas });
  const models = await objm.create(JETSTREAM.modelsBucket, { replicas });
  return { js: jetstream(nc), config, bodies, models };
}

/** Common block of every event: a unique id (also the JetStream msgID), a timestamp and the source. */
export function eventMeta(source: string, atMs = Date.now()): { id: string; atMs: number; source: string } {
  return { id: randomUUID(), atMs, source };
}

/**
 * The schema of an event's payload (its protobuf type, versioned by package:
 * "batchgate.v1.SlotFlushed"), so a reader can tell versions apart and skip
 * one it does not know instead of misreading it.
 */
export const EVENT_SCHEMA_HEADER = 'Bg-Event-Schema';

/**
 * Publishes events to the JetStream events stream without ever making the
 * caller wait, each with its event id as Nats-Msg-Id (the stream drops
 * duplicates) and its schema in Bg-Event-Schema. The events decisions depend
 * on (ACKED_EVENT_TYPES) are published at-least-once: acknowledged, retried,
 * queued while NATS is down. The rest stay a plain publish with no ack (an
 * ack per event cost more CPU than the rest of a flush): best-effort, dropped
 * and counted while NATS is down.
 */
export class EventPublisher {
  published = 0;
  dropped = 0;
  failed = 0;
  readonly acked: AckedEvents;

  constructor(
    private readonly bus: Bus,
    private readonly logger: BusLogger,
    private readonly enabled = true,
  ) {
    this.acked = new AckedEvents(bus, logger);
  }

  publish<S extends DescMessage>(type: EventType, schema: S, event: MessageInitShape<S>): void {
    if (!this.enabled) return;
    const msgID = (event as { meta?: { id?: string } }).meta?.id;
    if (msgID && ACKED_EVENT_TYPES.has(type)) {
      this.acked.enqueue({
        subject: SUBJECTS.event(type),
        data: toBinary(schema, create(schema, event)),
        headers: eventHeaders(schema, msgID),
        msgID,
      });
      this.published++;
      return;
    }
    const nc = this.bus.connection;
    if (!nc || !this.bus.connected) {
      this.dropped++;
      return;
    }
    try {
      const data = toBinary(schema, create(schema, event));
      nc.publish(SUBJECTS.event(type), data, { headers: eventHeaders(schema, msgID) });
      this.published++;
    } catch (error) {
      this.failed++;
      if (this.failed % 100 === 1) this.logger.warn({ err: error, type }, 'event publish failed');
    }
  }
}

function eventHeaders(schema: DescMessage, msgID: string | undefined): MsgHdrs {
  const headers = msgHeaders();
  headers.set(EVENT_SCHEMA_HEADER, schema.typeName);
  if (msgID) headers.set('Nats-Msg-Id', msgID);
  return headers;
}
