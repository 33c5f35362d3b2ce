import type { DescMessage, MessageInitShape, MessageShape } from '@bufbuild/protobuf';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import type { Msg, MsgHdrs, NatsConnection, Subscription } from '@nats-io/transport-node';
import { connect, errors as natsErrors, headers as msgHeaders } from '@nats-io/transport-node';
import { NoRespondersError, RequestMux, RequestTimeoutError } from './request-mux.js';
import type { Context, Span } from '@opentelemetry/api';
import { context, ROOT_CONTEXT, SpanStatusCode, trace } from '@opentelemetry/api';
import { natsConnectOptions, redactNatsUrl } from '#libs/config';
import type { NatsConnectOptions } from '#libs/config';
import { processSpan, sendSpan } from './messaging-spans.js';
import { contextFromHeaders, traceHeaders } from './trace-headers.js';

export interface BusLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** Raised by request() when NATS is not connected, so callers can fall back at once. */
export class BusUnavailableError extends Error {
  constructor(reason: string) {
    super(`NATS unavailable: ${reason}`);
    this.name = 'BusUnavailableError';
  }
}

export { NoRespondersError, RequestTimeoutError };

export type RequestFailure = 'unavailable' | 'timeout' | 'error';

/** Why a request failed: nobody listening (or NATS down), no answer in time, or anything else. */
export function requestFailure(error: unknown): RequestFailure {
  if (error instanceof BusUnavailableError || error instanceof NoRespondersError || error instanceof natsErrors.NoRespondersError)
    return 'unavailable';
  if (error instanceof RequestTimeoutError || error instanceof natsErrors.TimeoutError) return 'timeout';
  return 'error';
}

/** A decoded inbound message with its trace context and a typed responder. */
export interface Incoming {
  subject: string;
  headers: MsgHdrs | undefined;
  /** Trace context propagated by the sender (ROOT when none). */
  context: Context;
  /** The payload exactly as received. */
  data: Uint8Array;
  /** Answers a request; returns the encoded reply (for callers that record it). */
  respond<S extends DescMessage>(schema: S, message: MessageInitShape<S>): Uint8Array;
}

export type Handler<S extends DescMessage> = DecodedHandler<MessageShape<S>>;
export type DecodedHandler<T> = (message: T, incoming: Incoming) => void | Promise<void>;
/** Turns a payload into a message; throwing means the payload is undecodable. */
export type Decoder<T> = (bytes: Uint8Array) => T;

interface Registration {
  subject: string;
  queue: string | undefined;
  callback: (error: Error | null, msg: Msg) => void;
  subscription?: Subscription;
  closed: boolean;
}

export interface BusOptions {
  /** NATS_URL: a server or a comma-separated list; "user:pass@" or "token@" in the URLs authenticates. */
  url: string;
  name: string;
  logger: BusLogger;
  /** First connection attempt's timeout; after that the bus keeps retrying in the background. */
  connectTimeoutMs?: number;
  /**
   * Subject prefix of this connection's reply inboxes (requests, JetStream acks and API replies, KV and Object
   * Store deliveries); nats.js's default is "_INBOX". Each service has its own ("_INBOX_ingress", ...), so the
   * shipped deploy/nats/nats.conf lets a service user subscribe to its own replies only.
   */
  inboxPrefix?: string;
}

/**
 * The one typed wrapper over the @nats-io v3 client: protobuf in and out,
 * W3C trace context in headers. It starts even when NATS is down (publishes
 * are dropped, requests fail fast with BusUnavailableError, subscriptions are
 * applied once connected) so every service can degrade instead of refusing to start.
 */
export class Bus {
  private nc: NatsConnection | undefined;
  private online = false;
  private stopped = false;
  private readonly registrations = new Set<Registration>();
  private readonly listeners = new Set<(connected: boolean) => void>();
  /** Messages dropped because NATS was down, for the metrics. */
  droppedPublishes = 0;
  private readonly requests: RequestMux;
  /** Servers and credentials, parsed once: mixed credentials throw from connect() instead of retrying forever. */
  private readonly server: NatsConnectOptions;
  /** The URL for logs, with passwords and tokens redacted. */
  private readonly shownUrl: string;

  private constructor(private readonly options: BusOptions) {
    this.server = natsConnectOptions(options.url);
    this.requests = new RequestMux(options.inboxPrefix);
    this.shownUrl = redactNatsUrl(options.url);
  }

  static async connect(options: BusOptions): Promise<Bus> {
    const bus = new Bus(options);
    await bus.firstConnect();
    return bus;
  }

  get connected(): boolean {
    return this.online;
  }

  /** The raw connection (JetStream, KV and Object Store clients are built on it); undefined while down. */
  get connection(): NatsConnection | undefined {
    return this.nc;
  }

  onStatus(listener: (connected: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  publish<S extends DescMessage>(subject: string, schema: S, message: MessageInitShape<S>, ctx?: Context): void {
    if (!this.nc || !this.online) {
      this.droppedPublishes++;
      return;
    }
    this.publishEncoded(subject, toBinary(schema, create(schema, message)), ctx);
  }

  /** publish() of a payload the caller encoded already (it measured it first, e.g. LargeMessages). */
  publishEncoded(subject: string, data: Uint8Array, ctx?: Context): void {
    if (!this.nc || !this.online) {
      this.droppedPublishes++;
      return;
    }
    const parent = ctx ?? context.active();
    const span = sendSpan(subject, parent);
    const headers = traceHeaders(span ? trace.setSpan(parent, span) : parent);
    this.nc.publish(subject, data, headers ? { headers } : undefined);
    span?.end();
  }

  async request<Q extends DescMessage, R extends DescMessage>(
    subject: string,
    requestSchema: Q,
    message: MessageInitShape<Q>,
    replySchema: R,
    timeoutMs: number,
    ctx?: Context,
  ): Promise<MessageShape<R>> {
    return this.requestEncoded(subject, toBinary(requestSchema, create(requestSchema, message)), replySchema, timeoutMs, ctx);
  }

  /** request() of a message already encoded (LargeMessages decides by its size whether it travels whole). */
  async requestEncoded<R extends DescMessage>(
    subject: string,
    data: Uint8Array,
    replySchema: R,
    timeoutMs: number,
    ctx?: Context,
  ): Promise<MessageShape<R>> {
    if (!this.nc || !this.online) throw new BusUnavailableError('not connected');
    const parent = ctx ?? context.active();
    const span = sendSpan(subject, parent);
    try {
      const reply = await this.requests.send(this.nc, subject, data, timeoutMs, traceHeaders(span ? trace.setSpan(parent, span) : parent));
      const error = reply.headers?.get('bg-error');
      if (error) throw new Error(`${subject} answered with an error: ${error}`);
      return fromBinary(replySchema, reply.data);
    } catch (error) {
      span?.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
      throw error;
    } finally {
      span?.end();
    }
  }

  /** Subscribes (now, or as soon as NATS is up) with a decoding, error-logging handler. */
  subscribe<S extends DescMessage>(subject: string, schema: S, handler: Handler<S>, queue?: string): () => void {
    return this.subscribeDecoded(subject, (bytes) => fromBinary(schema, bytes), handler, queue);
  }

  /** subscribe() with a decoder of the caller's (a hot path that reads the wire form itself). */
  subscribeDecoded<T>(subject: string, decode: Decoder<T>, handler: DecodedHandler<T>, queue?: string): () => void {
    const registration: Registration = {
      subject,
      queue,
      closed: false,
      callback: (error, msg) => {
        if (error) return this.options.logger.error({ err: error, subject }, 'subscription error');
        this.dispatch(decode, handler, msg, queue);
      },
    };
    this.registrations.add(registration);
    this.attach(registration);
    return () => {
      registration.closed = true;
      registration.subscription?.unsubscribe();
      this.registrations.delete(registration);
    };
  }

  async close(): Promise<void> {
    this.stopped = true;
    const nc = this.nc;
    this.nc = undefined;
    this.online = false;
    this.requests.failAll(new BusUnavailableError('bus closed'));
    if (nc && !nc.isClosed()) await nc.drain().catch(() => nc.close());
  }

  private dispatch<T>(decode: Decoder<T>, handler: DecodedHandler<T>, msg: Msg, queue: string | undefined): void {
    let message: T;
    try {
      message = decode(msg.data);
    } catch (error) {
      this.options.logger.warn({ err: error, subject: msg.subject }, 'dropping undecodable message');
      if (msg.reply) this.replyError(msg, 'undecodable request');
      return;
    }
    const sent = contextFromHeaders(msg.headers);
    const span = processSpan(msg.subject, sent, queue);
    const incoming: Incoming = {
      subject: msg.subject,
      headers: msg.headers,
      context: span ? trace.setSpan(sent, span) : sent,
      data: msg.data,
      respond: (replySchema, reply) => {
        const bytes = toBinary(replySchema, create(replySchema, reply));
        msg.respond(bytes);
        return bytes;
      },
    };
    const fail = (error: unknown) => {
      span?.setStatus({ code: SpanStatusCode.ERROR });
      this.options.logger.error({ err: error, subject: msg.subject }, 'message handler failed');
      if (msg.reply) this.replyError(msg, error instanceof Error ? error.message : String(error));
    };
    // Inside the message's trace context (when it has one), so the handler's log lines carry its trace id.
    if (sent === ROOT_CONTEXT) this.run(handler, message, incoming, fail, span);
    else context.with(incoming.context, this.run, this, handler, message, incoming, fail, span);
  }

  private run<T>(handler: DecodedHandler<T>, message: T, incoming: Incoming, fail: (error: unknown) => void, span: Span | undefined): void {
    try {
      const result = handler(message, incoming);
      if (result instanceof Promise) {
        void result.catch(fail).finally(() => span?.end());
        return;
      }
    } catch (error) {
      fail(error);
    }
    span?.end();
  }

  private replyError(msg: Msg, reason: string): void {
    if (!this.nc) return;
    const headers = msgHeaders();
    headers.set('bg-error', reason.slice(0, 200));
    msg.respond(new Uint8Array(), { headers });
  }

  private attach(registration: Registration): void {
    if (!this.nc || registration.closed || registration.subscription) return;
    registration.subscription = this.nc.subscribe(registration.subject, {
      callback: registration.callback,
      ...(registration.queue ? { queue: registration.queue } : {}),
    });
  }

  private async firstConnect(): Promise<void> {
    try {
      await this.open(this.options.connectTimeoutMs ?? 2000);
    } catch (error) {
      this.options.logger.warn({ err: error, url: this.shownUrl }, 'NATS not reachable at start; retrying in the background');
      void this.retryForever();
    }
  }

  private async retryForever(): Promise<void> {
    for (let delay = 250; !this.stopped && !this.nc; delay = Math.min(delay * 2, 2000)) {
      await new Promise((resolve) => setTimeout(resolve, delay));
      if (this.stopped) return;
      await this.open(1000).catch(() => undefined);
    }
  }

  private async open(timeoutMs: number): Promise<void> {
    const nc = await connect({
      // A comma-separated NATS_URL is a server list (as one string nats.js would
      // dial only its last entry); nats.js ignores userinfo in server URLs, so
      // the credentials come out of them as user/pass or token.
      ...this.server,
      name: this.options.name,
      ...(this.options.inboxPrefix ? { inboxPrefix: this.options.inboxPrefix } : {}),
      timeout: timeoutMs,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      pingInterval: 5000,
      // nats.js otherwise builds an Error (with a stack) per request just in
      // case it fails: measured at ~7 % of the coordinator's CPU under load.
      noAsyncTraces: true,
    });
    if (this.stopped) {
      await nc.close();
      return;
    }
    this.nc = nc;
    this.setOnline(true);
    for (const registration of this.registrations) this.attach(registration);
    void this.watch(nc);
  }

  private async watch(nc: NatsConnection): Promise<void> {
    for await (const status of nc.status()) {
      if (status.type === 'disconnect' || status.type === 'reconnecting') this.setOnline(false);
      else if (status.type === 'reconnect') this.setOnline(true);
    }
    // The iterator ends when the connection closes for good.
    if (this.nc === nc) {
      this.nc = undefined;
      this.requests.reset();
      this.setOnline(false);
      for (const registration of this.registrations) registration.subscription = undefined;
      if (!this.stopped) void this.retryForever();
    }
  }

  private setOnline(online: boolean): void {
    if (this.online === online) return;
    this.online = online;
    if (!online) this.requests.failAll(new BusUnavailableError('NATS disconnected'));
    this.options.logger.info({ url: this.shownUrl }, online ? 'NATS connected' : 'NATS disconnected');
    for (const listener of this.listeners) listener(online);
  }
}
