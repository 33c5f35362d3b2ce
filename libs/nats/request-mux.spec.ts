import type { Msg, NatsConnection } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import { RequestMux, RequestTimeoutError } from './request-mux.js';

/** The two calls RequestMux makes on a connection; nothing is sent anywhere. */
function silentConnection(published: string[]): NatsConnection {
  return {
    subscribe: () => ({}),
    publish: (subject: string) => void published.push(subject),
  } as unknown as NatsConnection;
}

const busyFor = (ms: number) => {
  const until = performance.now() + ms;
  while (performance.now() < until);
};

describe('RequestMux deadline', () => {
  it('does not give up before the timeout has passed since the send', async () => {
    const published: string[] = [];
    const mux = new RequestMux();
    // libuv keeps time in whole milliseconds, so a bare 5 ms timer fires 4-5 ms
    // after a send made part-way through a millisecond; 20 sends cover the fractions.
    const elapsed: number[] = [];
    for (let i = 0; i < 20; i++) {
      busyFor(0.37);
      const sentAt = performance.now();
      const error = await mux.send(silentConnection(published), 'bg.test.decide', new Uint8Array(1), 5, undefined).then(
        () => undefined,
        (failure: unknown) => failure,
      );
      elapsed.push(performance.now() - sentAt);
      expect(error).toBeInstanceOf(RequestTimeoutError);
    }
    expect(published).toHaveLength(20);
    expect(Math.min(...elapsed)).toBeGreaterThanOrEqual(5);
  });

  it('settles with the reply that arrives in time', async () => {
    let deliver: ((error: Error | null, msg: Msg) => void) | undefined;
    let replyTo = '';
    const nc = {
      subscribe: (_subject: string, options: { callback: (error: Error | null, msg: Msg) => void }) => {
        deliver = options.callback;
        return {};
      },
      publish: (_subject: string, _data: Uint8Array, options: { reply: string }) => void (replyTo = options.reply),
    } as unknown as NatsConnection;
    const mux = new RequestMux();
    const pending = mux.send(nc, 'bg.test.decide', new Uint8Array(1), 50, undefined);
    const reply = { subject: replyTo, data: new Uint8Array([7]), headers: undefined } as unknown as Msg;
    deliver!(null, reply);
    await expect(pending).resolves.toBe(reply);
  });
});
