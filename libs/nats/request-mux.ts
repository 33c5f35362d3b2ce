import type { Msg, MsgHdrs, NatsConnection } from '@nats-io/transport-node';
import { createInbox } from '@nats-io/transport-node';

/** No reply within the request's timeout. */
export class RequestTimeoutError extends Error {
  constructor(subject: string, timeoutMs: number) {
    super(`no reply on ${subject} within ${timeoutMs} ms`);
    this.name = 'RequestTimeoutError';
  }
}

/** Nobody subscribes to the subject (the server said 503). */
export class NoRespondersError extends Error {
  constructor(subject: string) {
    super(`no responders on ${subject}`);
    this.name = 'NoRespondersError';
  }
}

interface PendingRequest {
  resolve: (msg: Msg) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * Request/reply over one inbox subscription of our own. nats.js v3's
 * request() builds an Error (with a stack) on every successful reply when it
 * cancels the settled request; on the join/decide/fetch hot paths that showed
 * up in profiles, so requests are multiplexed here instead.
 */
export class RequestMux {
  private inbox: string | undefined;
  private readonly pending = new Map<string, PendingRequest>();
  private nextToken = 0;

  /** The connection's inbox prefix (BusOptions.inboxPrefix); undefined is nats.js's "_INBOX". */
  constructor(private readonly inboxPrefix?: string) {}

  send(nc: NatsConnection, subject: string, data: Uint8Array, timeoutMs: number, headers: MsgHdrs | undefined): Promise<Msg> {
    if (!this.inbox) {
      const inbox = createInbox(this.inboxPrefix);
      nc.subscribe(`${inbox}.*`, { callback: (_error, msg) => this.settle(msg) });
      this.inbox = inbox;
    }
    const token = (this.nextToken++).toString(36);
    const deadline = performance.now() + timeoutMs;
    return new Promise<Msg>((resolve, reject) => {
      const expire = () => {
        const request = this.pending.get(token);
        if (!request) return;
        // Node starts a timer from the event loop's cached clock, which lags the
        // real send time by whatever the loop did since it last woke, so a
        // 5 ms timer fired 4.5 ms after the send (seen under load): re-arm
        // for the rest rather than give up early.
        const left = deadline - performance.now();
        if (left > 0) {
          request.timer = setTimeout(expire, left);
          return;
        }
        // Timers run before the I/O poll phase: on a busy loop a reply that arrived
        // in time may still be unread when the timer fires. setImmediate runs after
        // the next poll, so such a reply settles the request first.
        setImmediate(() => {
          if (!this.pending.delete(token)) return;
          reject(new RequestTimeoutError(subject, timeoutMs));
        });
      };
      this.pending.set(token, { resolve, reject, timer: setTimeout(expire, timeoutMs) });
      nc.publish(subject, data, headers ? { reply: `${this.inbox}.${token}`, headers } : { reply: `${this.inbox}.${token}` });
    });
  }

  /** Fails every request in flight (the connection went away). */
  failAll(error: Error): void {
    for (const request of this.pending.values()) {
      clearTimeout(request.timer);
      request.reject(error);
    }
    this.pending.clear();
  }

  /** Forgets the inbox of a connection that closed for good (a new one subscribes its own). */
  reset(): void {
    this.inbox = undefined;
  }

  private settle(msg: Msg): void {
    const token = msg.subject.slice((this.inbox?.length ?? 0) + 1);
    const request = this.pending.get(token);
    if (!request) return;
    this.pending.delete(token);
    clearTimeout(request.timer);
    // The server answers a request nobody subscribes to with an empty 503 status message.
    if (msg.data.length === 0 && msg.headers?.code === 503) request.reject(new NoRespondersError(msg.subject));
    else request.resolve(msg);
  }
}
