import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Reply } from './support/client.js';
import { get, warm } from './support/client.js';
import { PATIENT_POLICY, TestFleet } from './support/fleet.js';
import { writeRoutes } from './support/routes.js';

/** The sid the origin issued, and for which client's request (x-client), in call order. */
const issued = new Map<string, string>();

/** Answers who asked (x-client), in which language; `extra` adds per-path headers (Vary, Set-Cookie ...). */
function answer(req: IncomingMessage, res: ServerResponse, call: number, extra: Record<string, string>): void {
  const client = String(req.headers['x-client'] ?? '');
  const headers: Record<string, string> = { 'content-type': 'application/json', ...extra };
  if (headers['set-cookie'] === 'fresh') {
    const sid = `sid-${call}`;
    issued.set(sid, client);
    headers['set-cookie'] = `sid=${sid}; Path=/`;
  }
  res.writeHead(200, headers);
  res.end(JSON.stringify({ call, for: client, lang: req.headers['accept-language'] ?? null, user: req.headers.authorization ?? null }));
}

const sidOf = (reply: Reply): string | undefined => {
  const cookie = reply.headers['set-cookie'];
  return typeof cookie === 'string' ? /sid=([^;]+)/.exec(cookie)?.[1] : undefined;
};

describe('who may share an answer (Vary: *, Set-Cookie)', () => {
  let fleet: TestFleet;

  beforeAll(async () => {
    const routes = await writeRoutes([
      { name: 'strip', match: '/strip/', setCookie: 'strip' },
      { name: 'shared', match: '/shared/', setCookie: 'share' },
      { name: 'pub', match: '/pub/', public: true },
      { name: 'private', match: '/' },
    ]);
    fleet = await TestFleet.start({
      ingresses: 2,
      coordinators: 2,
      env: { ...PATIENT_POLICY, BATCHGATE_BATCH_TIMEOUT_MS: '200', BATCHGATE_ROUTES_FILE: routes },
      originDelayMs: 10,
    });
    fleet.origin.handle((req, res, _body, call) => {
      const path = req.url ?? '';
      if (path.startsWith('/vary-star')) return answer(req, res, call, { vary: '*' });
      if (path.startsWith('/pub/recall'))
        return answer(
          req,
          res,
          call,
          req.headers.authorization === 'Bearer alice' ? { 'cache-control': 'private' } : { 'set-cookie': 'fresh' },
        );
      return answer(req, res, call, { 'set-cookie': 'fresh' });
    });
    await Promise.all([warm(fleet.ingressUrl(0), 40), warm(fleet.ingressUrl(1), 40)]);
  });

  beforeEach(() => issued.clear());
  afterAll(() => fleet.stop());

  const ask = (i: number, path: string, headers: Record<string, string> = {}) =>
    get(`${fleet.ingressUrl(i % 2)}${path}`, { 'x-client': `c${i}`, ...headers });

  it('an answer that varies by * reaches only the request it was made for', async () => {
    const langs = ['en', 'fr', 'de'];
    const replies = await Promise.all(
      Array.from({ length: 30 }, (_, i) => ask(i, '/vary-star/page', { 'accept-language': langs[i % 3]! })),
    );
    replies.forEach((reply, i) => {
      expect(reply.status).toBe(200);
      expect(JSON.parse(reply.body)).toMatchObject({ for: `c${i}`, lang: langs[i % 3] });
    });
  });

  it('a fresh session cookie reaches only the anonymous request that caused it (default own-call)', async () => {
    const replies = await Promise.all(Array.from({ length: 30 }, (_, i) => ask(i, '/session/start')));
    const sids = replies.map(sidOf);
    replies.forEach((reply, i) => {
      expect(reply.status).toBe(200);
      expect(JSON.parse(reply.body).for).toBe(`c${i}`);
      expect(issued.get(sids[i]!)).toBe(`c${i}`);
    });
    expect(new Set(sids).size).toBe(30);
  });

  it('setCookie: strip gives the other waiters the same answer without the cookie', async () => {
    const replies = await Promise.all(Array.from({ length: 30 }, (_, i) => ask(i, '/strip/home')));
    expect(fleet.origin.callsTo('/strip/home')).toHaveLength(1);
    const withCookie = replies.filter((reply) => reply.headers['set-cookie'] !== undefined);
    expect(withCookie).toHaveLength(1);
    const owner = replies.indexOf(withCookie[0]!);
    expect(issued.get(sidOf(withCookie[0]!)!)).toBe(`c${owner}`);
    expect(new Set(replies.map((reply) => reply.body)).size).toBe(1);
  });

  it('setCookie: share shares the cookie within a scope, never across scopes', async () => {
    const replies = await Promise.all(
      Array.from({ length: 20 }, (_, i) => ask(i, '/shared/home', i % 4 === 3 ? { authorization: 'Bearer bob' } : {})),
    );
    expect(fleet.origin.callsTo('/shared/home')).toHaveLength(2);
    const anon = new Set(replies.filter((_, i) => i % 4 !== 3).map(sidOf));
    const bob = new Set(replies.filter((_, i) => i % 4 === 3).map(sidOf));
    expect(anon.size).toBe(1);
    expect(bob.size).toBe(1);
    expect([...anon][0]).not.toBe([...bob][0]);
    replies.forEach((reply, i) => expect(JSON.parse(reply.body).user).toBe(i % 4 === 3 ? 'Bearer bob' : null));
  });

  it("a re-call for another scope whose answer sets a cookie is not handed to that scope's whole group", async () => {
    // Alice's answer is private (another scope may not have it); the re-call for Bob's
    // (and Carol's) waiters sets a cookie, which belongs to the one request it was made with.
    const alice = Array.from({ length: 5 }, (_, i) => ask(0, '/pub/recall', { authorization: 'Bearer alice', 'x-client': `a${i}` }));
    await new Promise((resolve) => setTimeout(resolve, 30));
    const users = ['bob', 'carol'];
    const others = Array.from({ length: 10 }, (_, i) =>
      ask(0, '/pub/recall', { authorization: `Bearer ${users[i % 2]}`, 'x-client': `o${i}` }),
    );
    const [aliceReplies, otherReplies] = await Promise.all([Promise.all(alice), Promise.all(others)]);
    aliceReplies.forEach((reply) => expect(JSON.parse(reply.body).user).toBe('Bearer alice'));
    otherReplies.forEach((reply, i) => {
      expect(JSON.parse(reply.body)).toMatchObject({ for: `o${i}`, user: `Bearer ${users[i % 2]}` });
      expect(issued.get(sidOf(reply)!)).toBe(`o${i}`);
    });
  });
});
