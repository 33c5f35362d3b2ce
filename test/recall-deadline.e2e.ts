import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { get, warm } from './support/client.js';
import { PATIENT_POLICY, TestFleet } from './support/fleet.js';

const REQUEST_TIMEOUT_MS = 600;

describe('a waiter answered by a call of its own keeps its deadline', () => {
  let fleet: TestFleet;

  beforeAll(async () => {
    fleet = await TestFleet.start({
      env: {
        ...PATIENT_POLICY,
        BATCHGATE_BATCH_TIMEOUT_MS: '100',
        BATCHGATE_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
        BATCHGATE_UPSTREAM_TIMEOUT_MS: '10000',
      },
    });
    await warm(fleet.ingressUrl(), 10);
  });

  afterAll(() => fleet.stop());

  it('the shared call answers Vary: * fast, the own call of the other waiter is slow: that waiter gets 504 at its deadline', async () => {
    let calls = 0;
    fleet.origin.handle((_req, res) => {
      // The slot's one call answers at once; every re-call takes 3 s, far past the request deadline.
      const delay = calls++ === 0 ? 0 : 3000;
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'text/plain', vary: '*' });
        res.end('made for one request');
      }, delay);
    });
    try {
      const started = performance.now();
      const replies = await Promise.all([get(`${fleet.ingressUrl()}/recall/x`), get(`${fleet.ingressUrl()}/recall/x`)]);
      const elapsed = performance.now() - started;
      expect(replies.map((reply) => reply.status).sort()).toEqual([200, 504]);
      // Answered by its deadline (plus the 25 ms sweep and a busy machine's slack), not after the 3 s re-call.
      expect(elapsed).toBeLessThan(REQUEST_TIMEOUT_MS + 1000);
    } finally {
      fleet.origin.handle(undefined);
    }
  });
});
