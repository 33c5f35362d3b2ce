import type { DescMessage, Message, MessageInitShape, MessageShape } from '@bufbuild/protobuf';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import type { GenMessage } from '@bufbuild/protobuf/codegenv2';
import type { ObjectStore } from '@nats-io/obj';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Context } from '@opentelemetry/api';
import { randomUUID } from 'node:crypto';
import type { Bus } from './bus.js';

/**
 * Room a message needs besides its payload: the trace headers and the protocol
 * line (a traceparent header block is ~100 bytes; 4 KB leaves room for more).
 */
const HEADER_ROOM_BYTES = 4 * 1024;

/** nats-server's default max_payload, for a connection that has not seen the server's INFO yet. */
const DEFAULT_MAX_PAYLOAD = 1024 * 1024;

/** Names of stored whole messages start with this (Flow A's bodies are named by their slot id). */
const MESSAGE_PREFIX = 'msg.';

/** The largest payload one message may carry on `nc`: the server's max_payload from its INFO, less room for headers. */
export function payloadLimit(nc: NatsConnection | undefined): number {
  return (nc?.info?.max_payload ?? DEFAULT_MAX_PAYLOAD) - HEADER_ROOM_BYTES;
}

/** The large-message bucket is not there (JetStream not provisioned yet, or NATS down). */
export class LargeMessageUnavailableError extends Error {
  constructor() {
    super('the large-message object store is not available');
    this.name = 'LargeMessageUnavailableError';
  }
}

/** A message type that can travel by reference: its `stored_ref` names the stored whole message. */
type Storable = Message & { storedRef: string };

/**
 * What does not fit in one NATS message goes through the Object Store
 * (JETSTREAM.bodiesBucket, whose TTL removes what nobody read). Two uses:
 *
 * - a body several receivers read (Flow A: every member ingress of a slot):
 *   `put` under a name the message carries, `get` by each receiver, left to the TTL;
 * - a whole message with exactly one receiver (Flow B: a submit to its
 *   coordinator, a batch to its worker, a batch result to its coordinator, one
 *   ingress's results): `publish` or `request` stores the encoding and sends a
 *   stub with `storedRef`; `receive` reads it back and deletes it.
 */
export class LargeMessages {
  constructor(
    private readonly bus: Bus,
    private readonly bucket: () => ObjectStore | undefined,
  ) {}

  /** The largest payload of one message on the current connection. */
  get limit(): number {
    return payloadLimit(this.bus.connection);
  }

  /** Whether a payload of `bytes` fits in one message on the current connection. */
  fits(bytes: number): boolean {
    return bytes <= this.limit;
  }

  async put(name: string, data: Uint8Array): Promise<void> {
    await this.store().putBlob({ name }, data);
  }

  /** A stored body; it stays for the other receivers until the bucket's TTL. */
  async get(name: string): Promise<Uint8Array> {
    const data = await this.store().getBlob(name);
    if (!data) throw new Error(`large message ${name} is missing from the object store`);
    return data;
  }

  /**
   * Publishes `message`, or, when its encoding is above the payload limit,
   * stores it and publishes `stub` (what a receiver needs even if the read
   * fails, e.g. ids to answer) with storedRef naming it. Resolves once sent;
   * rejects when the message needed the store and the store failed (nothing
   * was sent then: the caller answers its receiver another way).
   */
  async publish<T extends Storable>(
    subject: string,
    schema: GenMessage<T>,
    message: NoInfer<MessageInitShape<GenMessage<T>>>,
    options: { stub?: NoInfer<MessageInitShape<GenMessage<T>>>; ctx?: Context } = {},
  ): Promise<'sent' | 'stored'> {
    const data = toBinary(schema, create(schema, message));
    if (this.fits(data.length)) {
      this.bus.publishEncoded(subject, data, options.ctx);
      return 'sent';
    }
    const { stub } = await this.storeWhole(schema, data, options.stub);
    this.bus.publishEncoded(subject, stub, options.ctx);
    return 'stored';
  }

  /**
   * request() for a message with one receiver: sent whole when it fits,
   * else stored and `stub` (with storedRef) sent in its place. The stored
   * copy is deleted when the request fails (no responder, no reply in time):
   * the caller answers its client as for any failed request. Rejects as
   * Bus.request does, or when the store failed (nothing was sent then).
   */
  async request<T extends Storable, R extends DescMessage>(
    subject: string,
    schema: GenMessage<T>,
    message: NoInfer<MessageInitShape<GenMessage<T>>>,
    replySchema: R,
    timeoutMs: number,
    options: { stub?: NoInfer<MessageInitShape<GenMessage<T>>>; ctx?: Context } = {},
  ): Promise<MessageShape<R>> {
    const data = toBinary(schema, create(schema, message));
    if (this.fits(data.length)) return this.bus.requestEncoded(subject, data, replySchema, timeoutMs, options.ctx);
    const { name, stub } = await this.storeWhole(schema, data, options.stub);
    try {
      return await this.bus.requestEncoded(subject, stub, replySchema, timeoutMs, options.ctx);
    } catch (error) {
      await this.discard(name);
      throw error;
    }
  }

  /** The whole message behind a stub (the message itself when it travelled whole); the stored copy is deleted. */
  async receive<T extends Storable>(schema: GenMessage<T>, message: NoInfer<T>): Promise<T> {
    if (message.storedRef === '') return message;
    const whole = fromBinary(schema, await this.get(message.storedRef));
    await this.discard(message.storedRef);
    return whole;
  }

  /** Deletes a stored message nobody will read (its receiver no longer needs it); the TTL covers a failure. */
  async discard(name: string): Promise<void> {
    await this.store()
      .delete(name)
      .catch(() => undefined);
  }

  /** Stores an encoded message under a new name; the encoded stub (storedRef naming it) goes in its place. */
  private async storeWhole<T extends Storable>(
    schema: GenMessage<T>,
    data: Uint8Array,
    init: NoInfer<MessageInitShape<GenMessage<T>>> | undefined,
  ): Promise<{ name: string; stub: Uint8Array }> {
    const name = `${MESSAGE_PREFIX}${randomUUID()}`;
    await this.put(name, data);
    const stub = create(schema, init ?? {});
    stub.storedRef = name;
    return { name, stub: toBinary(schema, stub) };
  }

  private store(): ObjectStore {
    const store = this.bucket();
    if (!store) throw new LargeMessageUnavailableError();
    return store;
  }
}
