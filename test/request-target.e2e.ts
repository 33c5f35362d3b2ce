import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Reply } from './support/client.js';
import { burstAgent, warm } from './support/client.js';
import { PATIENT_POLICY, TestFleet } from './support/fleet.js';
import { laxResolve } from './support/lax-path.js';
import { writeRoutes } from './support/routes.js';

/** The target byte for byte (undici's `request(url)` would normalize it first). */
async function getRaw(origin: string, path: string, headers: Record<string, string>): Promise<Reply> {
  const response = await burstAgent.request({ origin, path, method: 'GET', headers });
  return { status: response.statusCode, headers: response.headers, body: await response.body.text() };
}

describe('request targets an origin resolves differently', () => {
  let fleet: TestFleet;

  beforeAll(async () => {
    const routes = await writeRoutes([
      { name: 'public', match: '/pub/', public: true },
      { name: 'private', match: '/' },
    ]);
    fleet = await TestFleet.start({ env: { ...PATIENT_POLICY, BATCHGATE_BATCH_TIMEOUT_MS: '100', BATCHGATE_ROUTES_FILE: routes } });
    // An origin that resolves paths like nginx/Tomcat/Windows would and answers "/me" with the caller's data.
    fleet.origin.handle((req, res) => {
      const resolved = laxResolve(req.url ?? '/');
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ resolved, user: resolved === '/me' ? (req.headers.authorization ?? null) : null }));
    });
    await warm(fleet.ingressUrl(), 20);
  });

  afterAll(() => fleet.stop());

  it.each(['/pub/..\\me', '/pub/..%2Fme', '/pub/..%2fme', '/pub/..%5Cme', '/pub/..;/me', '/pub/.;x/../me', '/pub/me%00'])(
    'Alice and Bob arriving together on %s are both refused with 400 and nothing reaches the origin',
    async (target) => {
      const before = fleet.origin.calls.length;
      const users = ['Bearer alice', 'Bearer bob'];
      const replies = await Promise.all(
        Array.from({ length: 10 }, (_, i) => getRaw(fleet.ingressUrl(), target, { authorization: users[i % 2]! })),
      );
      for (const reply of replies) {
        expect(reply.status).toBe(400);
        expect(JSON.parse(reply.body)).toMatchObject({ error: 'bad_request_target' });
        expect(JSON.parse(reply.body).message).toMatch(/request path contains/);
      }
      expect(fleet.origin.calls.length).toBe(before);
    },
  );

  it('a plain dot segment is forwarded normalized, so each user gets their own /me', async () => {
    const users = ['Bearer alice', 'Bearer bob'];
    const replies = await Promise.all(
      Array.from({ length: 10 }, (_, i) => getRaw(fleet.ingressUrl(), '/pub/../me', { authorization: users[i % 2]! })),
    );
    replies.forEach((reply, i) => {
      expect(reply.status).toBe(200);
      expect(JSON.parse(reply.body)).toEqual({ resolved: '/me', user: users[i % 2] });
    });
    expect(fleet.origin.calls.filter((call) => call.url === '/me').length).toBe(2);
  });
});
