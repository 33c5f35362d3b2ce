import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { JetStreamProvider } from '#libs/service';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { burst, burstAgent, get, warm } from './support/client.js';
import { TestFleet } from './support/fleet.js';

// A policy that never flushes on its own: only the envelope does, so every
// waiter of the burst is inside the slot before it goes upstream.
const PATIENT = {
  BATCHGATE_POLICY_STRATEGY: 'size_cap:size=100000',
  BATCHGATE_FALLBACK_STRATEGY: 'size_cap:size=100000',
  BATCHGATE_JOIN_TIMEOUT_MS: '250',
  BATCHGATE_BATCH_TIMEOUT_MS: '300',
  // Through the worker; test/sole-member.e2e.ts covers the ingress's own call.
  BATCHGATE_SOLE_MEMBER_CALLS: 'worker',
};

describe('coalescing through one ingress', () => {
  let fleet: TestFleet;

  beforeAll(async () => {
    fleet = await TestFleet.start({ env: PATIENT, originDelayMs: 20 });
    await warm(fleet.ingressUrl(), 100);
  });

  afterAll(() => fleet.stop());

  it('100 concurrent identical GETs make exactly one origin call and all get its answer', async () => {
    const replies = await burst(`${fleet.ingressUrl()}/items/42?b=2&a=1`, 100);
    expect(fleet.origin.callsTo('/items/42')).toHaveLength(1);
    expect(fleet.origin.callsTo('/items/42')[0]!.url).toBe('/items/42?a=1&b=2');
    for (const reply of replies) {
      expect(reply.status).toBe(200);
      expect(reply.headers['x-origin-call']).toBe(String(fleet.origin.calls.indexOf(fleet.origin.callsTo('/items/42')[0]!) + 1));
      expect(reply.headers['content-type']).toBe('application/json');
      expect(reply.headers['x-batchgate']).toBe('coalesced');
      expect(JSON.parse(reply.body)).toMatchObject({ method: 'GET', url: '/items/42?a=1&b=2' });
    }
  });

  it('an answer larger than the NATS payload limit reaches every waiter in pieces over NATS, not through the Object Store', async () => {
    const big = randomBytes(3 * 1024 * 1024); // the server's max_payload is 1 MiB
    fleet.origin.handle((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.end(big);
    });
    try {
      const replies = await Promise.all(
        Array.from({ length: 10 }, async () => {
          const response = await request(`${fleet.ingressUrl()}/big/blob`, { dispatcher: burstAgent });
          return { via: response.headers['x-batchgate'], body: Buffer.from(await response.body.arrayBuffer()) };
        }),
      );
      expect(fleet.origin.callsTo('/big/blob')).toHaveLength(1);
      for (const reply of replies) {
        expect(reply.via).toBe('coalesced');
        expect(reply.body.equals(big)).toBe(true);
      }
      const { bodies } = await fleet.workers[0]!.get(JetStreamProvider).whenReady();
      // Above the streaming threshold the body is not buffered, so nothing is stored (test/streaming.e2e.ts times it).
      const stored = (await bodies.list()).map((info) => info.size);
      expect(stored).not.toContain(big.length);
    } finally {
      fleet.origin.handle(undefined);
    }
  });

  it('HEAD is coalesced separately from GET and gets no body', async () => {
    const replies = await Promise.all([
      ...Array.from({ length: 10 }, () => get(`${fleet.ingressUrl()}/head-test`, {}, 'HEAD')),
      ...Array.from({ length: 10 }, () => get(`${fleet.ingressUrl()}/head-test`)),
    ]);
    const calls = fleet.origin.callsTo('/head-test');
    expect(calls.map((c) => c.method).sort()).toEqual(['GET', 'HEAD']);
    expect(replies.slice(0, 10).every((r) => r.status === 200 && r.body === '')).toBe(true);
    expect(replies.slice(10).every((r) => r.status === 200 && r.body.length > 0)).toBe(true);
  });

  it('forwards X-Forwarded-For/Proto and Via, and strips hop-by-hop headers', async () => {
    // node:http, because undici refuses to send hop-by-hop fields at all.
    await new Promise<void>((resolve, reject) => {
      const req = httpRequest(`${fleet.ingressUrl()}/headers-test`, {
        headers: { 'x-custom': 'kept', 'keep-alive': 'timeout=5', te: 'trailers', connection: 'keep-alive, x-secret', 'x-secret': 'hop' },
      });
      req.on('response', (res) => res.resume().on('end', resolve));
      req.on('error', reject);
      req.end();
    });
    const call = fleet.origin.callsTo('/headers-test')[0]!;
    expect(call.headers['x-secret']).toBeUndefined();
    expect(call.headers['keep-alive']).toBeUndefined();
    expect(call.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(call.headers['x-forwarded-proto']).toBe('http');
    expect(call.headers.via).toBe('1.1 batchgate');
    expect(call.headers['x-custom']).toBe('kept');
    expect(call.headers.te).toBeUndefined();
  });
});
