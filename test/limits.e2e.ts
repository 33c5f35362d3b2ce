import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Reply } from './support/client.js';
import { burst, get, warm } from './support/client.js';
import { PATIENT_POLICY, TestFleet } from './support/fleet.js';

const PATIENT = { ...PATIENT_POLICY, BATCHGATE_BATCH_TIMEOUT_MS: '100' };

/** Generous: "nothing hangs" means an answer in seconds, not that a deadline is met to the millisecond. */
const NO_HANG_MS = 5000;

async function timedBurst(url: string, count: number): Promise<{ replies: Reply[]; ms: number[] }> {
  const started = performance.now();
  const ms: number[] = [];
  const replies = await Promise.all(
    Array.from({ length: count }, () =>
      get(url).then((reply) => {
        ms.push(performance.now() - started);
        return reply;
      }),
    ),
  );
  return { replies, ms };
}

/** What a client was answered, as one comparable value. */
const answerOf = (reply: Reply) => JSON.stringify([reply.status, reply.headers['x-batchgate'], reply.headers['content-type'], reply.body]);

describe('per-waiter hard deadline', () => {
  const REQUEST_TIMEOUT_MS = 300;
  let fleet: TestFleet;

  beforeAll(async () => {
    // The upstream timeout stays at its 10 s default: the request deadline is what must answer.
    fleet = await TestFleet.start({ env: { ...PATIENT, BATCHGATE_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS) } });
    await warm(fleet.ingressUrl(), 20);
  });

  afterAll(() => fleet.stop());

  it('an origin that does not answer: every waiter gets a 504 at its deadline; a later request with a fast origin succeeds', async () => {
    // The origin holds the call until the test lets it go: slower than any deadline, by construction.
    let release!: () => void;
    const stalled = new Promise<void>((resolve) => {
      release = resolve;
    });
    fleet.origin.handle(async (_req, res) => {
      await stalled;
      res.end('too late');
    });
    try {
      const { replies, ms } = await timedBurst(`${fleet.ingressUrl()}/deadline/item`, 10);
      expect(replies).toHaveLength(10);
      for (const reply of replies) {
        expect(reply.status).toBe(504);
        expect(reply.headers['content-type']).toBe('application/json');
        // The ingress's own deadline (gateway_timeout) or the worker's call, which is bounded by the same
        // deadline since FetchTask carries it (upstream_timeout): whichever lands first, a 504 at the deadline.
        expect(['gateway_timeout', 'upstream_timeout']).toContain((JSON.parse(reply.body) as { error: string }).error);
      }
      // Not before the deadline (the origin never answered), and not hanging after it.
      expect(Math.min(...ms)).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS);
      expect(Math.max(...ms)).toBeLessThan(NO_HANG_MS);
      // They were one slot: one origin call, still stalled when they were answered.
      expect(fleet.origin.callsTo('/deadline/item')).toHaveLength(1);
    } finally {
      fleet.origin.handle(undefined);
      release();
    }
    const next = await get(`${fleet.ingressUrl()}/deadline/item`);
    expect(next.status).toBe(200);
    expect(next.headers['x-batchgate']).toBe('coalesced');
    expect(fleet.origin.callsTo('/deadline/item')).toHaveLength(2);
  });
});

describe('maximum upstream body', () => {
  // The smallest BATCHGATE_MAX_BODY_BYTES the config accepts.
  const MAX_BODY_BYTES = 1024;
  let fleet: TestFleet;

  beforeAll(async () => {
    fleet = await TestFleet.start({ env: { ...PATIENT, BATCHGATE_MAX_BODY_BYTES: String(MAX_BODY_BYTES) } });
    await warm(fleet.ingressUrl(), 20);
  });

  afterAll(() => fleet.stop());

  it('a declared 5000-byte answer: every waiter of the coalesced GET gets the same 502 naming the limit', async () => {
    fleet.origin.handle((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': '5000' });
      res.end(Buffer.alloc(5000, 'x'));
    });
    try {
      const { replies, ms } = await timedBurst(`${fleet.ingressUrl()}/big/declared`, 10);
      expect(new Set(replies.map(answerOf)).size).toBe(1);
      expect(replies[0]!.status).toBe(502);
      expect(replies[0]!.headers['x-batchgate']).toBe('coalesced');
      expect(JSON.parse(replies[0]!.body)).toEqual({
        error: 'upstream_too_large',
        message: `origin body of 5000 bytes exceeds the ${MAX_BODY_BYTES} byte limit`,
      });
      expect(Math.max(...ms)).toBeLessThan(NO_HANG_MS);
      expect(fleet.origin.callsTo('/big/declared')).toHaveLength(1);
    } finally {
      fleet.origin.handle(undefined);
    }
  });

  it('a chunked 5000-byte answer (no Content-Length): the same 502 for every waiter, found while reading', async () => {
    fleet.origin.handle((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      for (let i = 0; i < 5; i++) res.write(Buffer.alloc(1000, 'y'));
      res.end();
    });
    try {
      const { replies, ms } = await timedBurst(`${fleet.ingressUrl()}/big/chunked`, 10);
      expect(new Set(replies.map(answerOf)).size).toBe(1);
      expect(replies[0]!.status).toBe(502);
      expect(replies[0]!.headers['x-batchgate']).toBe('coalesced');
      expect(JSON.parse(replies[0]!.body)).toEqual({
        error: 'upstream_too_large',
        message: `origin body exceeds the ${MAX_BODY_BYTES} byte limit`,
      });
      expect(Math.max(...ms)).toBeLessThan(NO_HANG_MS);
      expect(fleet.origin.callsTo('/big/chunked')).toHaveLength(1);
    } finally {
      fleet.origin.handle(undefined);
    }
  });

  it('an answer within the limit is still served to every waiter', async () => {
    const replies = await burst(`${fleet.ingressUrl()}/big/small`, 10);
    expect(replies.every((r) => r.status === 200 && r.headers['x-batchgate'] === 'coalesced')).toBe(true);
    expect(fleet.origin.callsTo('/big/small')).toHaveLength(1);
  });
});
