import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Reply } from './support/client.js';
import { burstAgent, get, warm } from './support/client.js';
import { PATIENT_POLICY, TestFleet } from './support/fleet.js';

/**
 * GET with the request target sent byte for byte: undici's `request(url)` runs
 * the URL through WHATWG parsing, which would resolve "%2e%2e" before it left.
 */
async function getRaw(origin: string, path: string, headers: Record<string, string>): Promise<Reply> {
  const response = await burstAgent.request({ origin, path, method: 'GET', headers });
  return { status: response.statusCode, headers: response.headers, body: await response.body.text() };
}

describe('auth scopes and private answers', () => {
  let fleet: TestFleet;

  beforeAll(async () => {
    const routes = await import('node:fs').then(async (fs) => {
      const dir = await fs.promises.mkdtemp('/tmp/batchgate-routes-');
      const file = `${dir}/routes.yaml`;
      await fs.promises.writeFile(
        file,
        [
          'routes:',
          '  - name: public',
          '    match: /public/',
          '    public: true',
          // Shareable cookies, so the test below proves they still never cross scopes.
          '    setCookie: share',
          '  - name: private',
          '    match: /',
        ].join('\n'),
      );
      return file;
    });
    fleet = await TestFleet.start({
      env: {
        ...PATIENT_POLICY,
        BATCHGATE_BATCH_TIMEOUT_MS: '200',
        BATCHGATE_ROUTES_FILE: routes,
      },
      originDelayMs: 10,
    });
    await warm(fleet.ingressUrl(), 40);
  });

  afterAll(() => fleet.stop());

  it('different Authorization headers get separate upstream calls and their own answers', async () => {
    const users = ['alice', 'bob'];
    const replies = await Promise.all(
      Array.from({ length: 20 }, (_, i) => get(`${fleet.ingressUrl()}/me`, { authorization: `Bearer ${users[i % 2]}` })),
    );
    const calls = fleet.origin.callsTo('/me');
    expect(calls).toHaveLength(2);
    expect(calls.map((c) => c.headers.authorization).sort()).toEqual(['Bearer alice', 'Bearer bob']);
    replies.forEach((reply, i) => expect(JSON.parse(reply.body).authorization).toBe(`Bearer ${users[i % 2]}`));
  });

  it('a dot-segment path that leaves a public route is keyed by the private route it fetches', async () => {
    // "/public/%2e%2e/private-thing" starts with the public prefix but is fetched as
    // "/private-thing": keyed as public it would serve one user's answer to another.
    const users = ['alice', 'bob'];
    const replies = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        getRaw(fleet.ingressUrl(), '/public/%2e%2e/private-thing', { authorization: `Bearer ${users[i % 2]}` }),
      ),
    );
    const calls = fleet.origin.callsTo('/private-thing');
    expect(calls.map((c) => c.url)).toEqual(['/private-thing', '/private-thing']);
    expect(calls.map((c) => c.headers.authorization).sort()).toEqual(['Bearer alice', 'Bearer bob']);
    replies.forEach((reply, i) => {
      expect(reply.status).toBe(200);
      expect(JSON.parse(reply.body).authorization).toBe(`Bearer ${users[i % 2]}`);
    });
  });

  it('a Set-Cookie answer on a public route with setCookie: share never reaches another scope', async () => {
    fleet.origin.handle((req, res) => {
      res.writeHead(200, { 'set-cookie': `session=for-${req.headers.authorization}`, 'content-type': 'text/plain' });
      res.end(`hello ${req.headers.authorization}`);
    });
    try {
      const users = ['alice', 'bob', 'carol'];
      const replies = await Promise.all(
        Array.from({ length: 30 }, (_, i) => get(`${fleet.ingressUrl()}/public/profile`, { authorization: `Bearer ${users[i % 3]}` })),
      );
      // One shared call for the public route, then each other scope gets a call of its own.
      expect(fleet.origin.callsTo('/public/profile').length).toBe(3);
      replies.forEach((reply, i) => {
        expect(reply.status).toBe(200);
        expect(reply.headers['set-cookie']).toBe(`session=for-Bearer ${users[i % 3]}`);
        expect(reply.body).toBe(`hello Bearer ${users[i % 3]}`);
      });
    } finally {
      fleet.origin.handle(undefined);
    }
  });

  it('a shareable answer on a public route is shared across scopes', async () => {
    const replies = await Promise.all(
      Array.from({ length: 20 }, (_, i) => get(`${fleet.ingressUrl()}/public/catalog`, { authorization: `Bearer user-${i}` })),
    );
    expect(fleet.origin.callsTo('/public/catalog')).toHaveLength(1);
    expect(new Set(replies.map((r) => r.body)).size).toBe(1);
  });

  it('an answer that varies by a header is only shared with waiters that match it', async () => {
    fleet.origin.handle((req, res) => {
      res.writeHead(200, { vary: 'Accept-Language', 'content-type': 'text/plain' });
      res.end(`lang=${req.headers['accept-language']}`);
    });
    try {
      const langs = ['en', 'fr'];
      const replies = await Promise.all(
        Array.from({ length: 10 }, (_, i) => get(`${fleet.ingressUrl()}/greeting`, { 'accept-language': langs[i % 2]! })),
      );
      replies.forEach((reply, i) => expect(reply.body).toBe(`lang=${langs[i % 2]}`));
      expect(fleet.origin.callsTo('/greeting').length).toBeLessThanOrEqual(6);
    } finally {
      fleet.origin.handle(undefined);
    }
  });
});
