import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { burstAgent, warm } from './support/client.js';
import type { Env } from './support/fleet.js';
import { PATIENT_POLICY, TestFleet } from './support/fleet.js';

const WAITERS = 8;
/** Well above the streaming threshold and the NATS payload limit (1 MiB). */
const FIRST = randomBytes(1024 * 1024);
const REST = randomBytes(3 * 1024 * 1024);
const WHOLE = Buffer.concat([FIRST, REST]);
const PAUSE_MS = 500;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** What one client saw: when its first body byte came (performance.now()), its body, or how its read failed. */
interface Received {
  status: number;
  via: string | undefined;
  firstByteAt: number;
  body: Buffer;
  error?: string;
}

async function receive(url: string, headers: Record<string, string> = {}): Promise<Received> {
  const response = await request(url, { headers, dispatcher: burstAgent });
  const pieces: Buffer[] = [];
  let firstByteAt = Infinity;
  try {
    for await (const piece of response.body) {
      if (pieces.length === 0) firstByteAt = performance.now();
      pieces.push(piece as Buffer);
    }
  } catch (error) {
    return {
      status: response.statusCode,
      via: response.headers['x-batchgate'] as string,
      firstByteAt,
      body: Buffer.concat(pieces),
      error: String(error),
    };
  }
  return { status: response.statusCode, via: response.headers['x-batchgate'] as string, firstByteAt, body: Buffer.concat(pieces) };
}

/** The first MiB, a pause, then the rest (or the connection cut instead): the time the origin resumed is returned through `resumed`. */
function pausingOrigin(res: ServerResponse, resumed: { at: number }, cut: boolean, declared: boolean): void {
  res.writeHead(200, { 'content-type': 'application/octet-stream', ...(declared ? { 'content-length': String(WHOLE.length) } : {}) });
  res.write(FIRST);
  void sleep(PAUSE_MS).then(() => {
    resumed.at = performance.now();
    if (cut) res.destroy();
    else res.end(REST);
  });
}

// Both ways a slot's one call is made: by a worker (answers over NATS), and by
// the ingress itself when it is the slot's only member.
const MODES: Array<[string, Env]> = [
  ['a worker', { BATCHGATE_SOLE_MEMBER_CALLS: 'worker' }],
  ['the ingress as the only member', { BATCHGATE_SOLE_CALL_MAX_BUSY: '1' }],
];

describe.each(MODES)('a large answer made by %s streams to its waiters', (_mode, modeEnv) => {
  let fleet: TestFleet;

  beforeAll(async () => {
    fleet = await TestFleet.start({ env: { ...PATIENT_POLICY, BATCHGATE_BATCH_TIMEOUT_MS: '300', ...modeEnv } });
    await warm(fleet.ingressUrl(), WAITERS);
  });

  afterAll(() => fleet.stop());

  it.each([
    ['a declared length', true],
    ['no length (chunked)', false],
  ])(
    'with %s: every coalesced waiter gets its first bytes before the origin sends the rest, and the exact body',
    async (_how, declared) => {
      const resumed = { at: Infinity };
      const path = `/stream/slow/${declared ? 'declared' : 'chunked'}`;
      fleet.origin.handle((_req, res) => pausingOrigin(res, resumed, false, declared));
      try {
        const replies = await Promise.all(Array.from({ length: WAITERS }, () => receive(`${fleet.ingressUrl()}${path}`)));
        expect(fleet.origin.callsTo(path)).toHaveLength(1);
        for (const reply of replies) {
          expect(reply.error).toBeUndefined();
          expect(reply.status).toBe(200);
          expect(reply.via).toBe('coalesced');
          expect(reply.firstByteAt).toBeLessThan(resumed.at);
          expect(reply.body.length).toBe(WHOLE.length);
          expect(reply.body.equals(WHOLE)).toBe(true);
        }
      } finally {
        fleet.origin.handle(undefined);
      }
    },
  );

  it('an answer that varies by a header the waiters do not share is streamed only to those with its value; the others get their own call', async () => {
    const other = randomBytes(WHOLE.length);
    fleet.origin.handle((req, res) => {
      const lang = String(req.headers['accept-language'] ?? '');
      const body = lang === 'en' ? WHOLE : other;
      res.writeHead(200, { 'content-type': 'application/octet-stream', vary: 'accept-language', 'content-length': String(body.length) });
      res.write(body.subarray(0, FIRST.length));
      void sleep(PAUSE_MS / 5).then(() => res.end(body.subarray(FIRST.length)));
    });
    try {
      const langs = ['en', 'fr'];
      const replies = await Promise.all(
        Array.from({ length: WAITERS }, (_, i) => receive(`${fleet.ingressUrl()}/stream/vary`, { 'accept-language': langs[i % 2]! })),
      );
      // One shared call, and one re-call for the group whose value the shared answer did not match.
      expect(fleet.origin.callsTo('/stream/vary')).toHaveLength(2);
      replies.forEach((reply, i) => {
        expect(reply.error).toBeUndefined();
        expect(reply.body.equals(i % 2 === 0 ? WHOLE : other)).toBe(true);
      });
    } finally {
      fleet.origin.handle(undefined);
    }
  });

  it.each([
    ['a declared length', true],
    ['no length (chunked)', false],
  ])('with %s: an origin that aborts mid-body leaves every waiter with a broken connection, never a short body', async (_how, declared) => {
    const resumed = { at: Infinity };
    const path = `/stream/cut/${declared ? 'declared' : 'chunked'}`;
    fleet.origin.handle((_req, res) => pausingOrigin(res, resumed, true, declared));
    try {
      const replies = await Promise.all(Array.from({ length: WAITERS }, () => receive(`${fleet.ingressUrl()}${path}`)));
      expect(fleet.origin.callsTo(path)).toHaveLength(1);
      for (const reply of replies) {
        expect(reply.status).toBe(200);
        expect(reply.error).toBeDefined();
        expect(reply.body.length).toBeLessThan(WHOLE.length);
      }
    } finally {
      fleet.origin.handle(undefined);
    }
  });
});
