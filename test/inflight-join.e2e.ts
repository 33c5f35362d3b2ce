import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Reply } from './support/client.js';
import { get, warm } from './support/client.js';
import { TestFleet } from './support/fleet.js';
import { writeRoutes } from './support/routes.js';

/** Waits until the origin has received `count` calls to `path` (the first call is then in flight). */
async function callsReached(fleet: TestFleet, path: string, count: number): Promise<void> {
  const until = Date.now() + 5000;
  while (fleet.origin.callsTo(path).length < count && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 5));
}

/** One request, then `later` more sent while the first one's upstream call is in flight (the origin takes 300 ms). */
async function duringCall(fleet: TestFleet, path: string, later: Array<Record<string, string>>, first: Record<string, string> = {}) {
  const leader = get(`${fleet.ingressUrl()}${path}`, first);
  await callsReached(fleet, path, 1);
  const joiners = later.map((headers) => get(`${fleet.ingressUrl()}${path}`, headers));
  return { leader: await leader, joiners: await Promise.all(joiners) };
}

const callOf = (reply: Reply) => reply.headers['x-origin-call'];

// The origin takes 300 ms; the policy flushes every slot at once, so the
// second request always arrives while the first one's call is in flight.
describe('inflight: join (per route)', () => {
  let fleet: TestFleet;

  beforeAll(async () => {
    const routes = await writeRoutes([
      { name: 'joining', match: '/join/', inflight: 'join' },
      { name: 'fresh', match: '/fresh/' },
    ]);
    fleet = await TestFleet.start({
      env: {
        BATCHGATE_ROUTES_FILE: routes,
        BATCHGATE_POLICY_STRATEGY: 'size_cap:size=1',
        BATCHGATE_FALLBACK_STRATEGY: 'size_cap:size=1',
      },
      originDelayMs: 300,
    });
    await warm(fleet.ingressUrl(), 10);
    fleet.origin.handle((req, res, _body, call) => {
      const headers: Record<string, string> = { 'content-type': 'text/plain', 'x-origin-call': String(call) };
      if (req.url?.includes('vary')) headers.vary = 'x-flavor';
      if (req.url?.includes('cookie')) headers['set-cookie'] = `session=${call}`;
      res.writeHead(200, headers);
      res.end(`call ${call}`);
    });
  });

  afterAll(() => fleet.stop());

  it('by default, an arrival during the call opens a new slot: two origin calls', async () => {
    const { leader, joiners } = await duringCall(fleet, '/fresh/a', [{}]);
    expect(fleet.origin.callsTo('/fresh/a')).toHaveLength(2);
    expect(callOf(joiners[0]!)).not.toBe(callOf(leader));
  });

  it('with inflight: join, arrivals during the call share it: one origin call, the same answer', async () => {
    const { leader, joiners } = await duringCall(fleet, '/join/a', [{}, {}, {}]);
    expect(fleet.origin.callsTo('/join/a')).toHaveLength(1);
    for (const reply of joiners) {
      expect(reply.status).toBe(200);
      expect(callOf(reply)).toBe(callOf(leader));
      expect(reply.headers['x-batchgate']).toBe('coalesced');
    }
  });

  it('a joiner of another auth scope does not share the call', async () => {
    const { leader, joiners } = await duringCall(fleet, '/join/scoped', [{ authorization: 'Bearer b' }], { authorization: 'Bearer a' });
    expect(fleet.origin.callsTo('/join/scoped')).toHaveLength(2);
    expect(callOf(joiners[0]!)).not.toBe(callOf(leader));
  });

  it("a joiner whose header differs from the one the answer's Vary names gets a call of its own", async () => {
    const { leader, joiners } = await duringCall(fleet, '/join/vary', [{ 'x-flavor': 'b' }, { 'x-flavor': 'a' }], { 'x-flavor': 'a' });
    expect(fleet.origin.callsTo('/join/vary')).toHaveLength(2);
    expect(callOf(joiners[1]!)).toBe(callOf(leader));
    expect(callOf(joiners[0]!)).not.toBe(callOf(leader));
  });

  it('an answer with Set-Cookie goes only to the request that caused it; the joiner gets its own call', async () => {
    const { leader, joiners } = await duringCall(fleet, '/join/cookie', [{}]);
    expect(fleet.origin.callsTo('/join/cookie')).toHaveLength(2);
    expect(joiners[0]!.headers['set-cookie']).not.toBe(leader.headers['set-cookie']);
  });
});
