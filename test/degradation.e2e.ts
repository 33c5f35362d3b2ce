import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { coalescingKey } from '../apps/ingress/src/coalescing-key.js';
import { get, warm } from './support/client.js';
import { FlushWatch } from './support/events.js';
import { TestFleet } from './support/fleet.js';
import { closedLoop } from './support/load.js';

const REQUEST_TIMEOUT_MS = 5000;

/** Closed-loop load on both ingresses, cycling over a few keys. */
const load = (fleet: TestFleet, clients: number) => closedLoop(clients, (c, i) => `${fleet.ingressUrl(c % 2)}/load/${i % 4}`);

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('degradation and recovery', () => {
  let fleet: TestFleet;

  beforeAll(async () => {
    fleet = await TestFleet.start({
      ingresses: 2,
      env: {
        // Patient policy: every slot lives its full 200 ms, so the recovery burst lands in one slot.
        BATCHGATE_POLICY_STRATEGY: 'size_cap:size=100000',
        BATCHGATE_FALLBACK_STRATEGY: 'size_cap:size=100000',
        BATCHGATE_BATCH_TIMEOUT_MS: '200',
        BATCHGATE_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
        BATCHGATE_UPSTREAM_TIMEOUT_MS: '1000',
      },
      originDelayMs: 5,
    });
    await Promise.all([warm(fleet.ingressUrl(0), 20), warm(fleet.ingressUrl(1), 20)]);
  });

  afterAll(() => fleet.stop());

  it('Redis then NATS stopped mid-load: every request is answered, none hangs; both back -> fleet coalescing resumes', async () => {
    const traffic = load(fleet, 16);
    // Replies and origin calls so far: within each outage, fewer calls than replies means
    // requests were still coalesced (per process), not just answered.
    const mark = () => ({ replies: traffic.replies.length, calls: fleet.origin.callsTo('/load/').length });
    await pause(500);
    await fleet.redis.stop();
    const redisDown = mark();
    await pause(700);
    const duringRedisOutage = traffic.replies.length;
    const redisOutage = { replies: duringRedisOutage - redisDown.replies, calls: fleet.origin.callsTo('/load/').length - redisDown.calls };
    await fleet.nats.stop();
    const natsDown = mark();
    await pause(700);
    const duringNatsOutage = traffic.replies.length;
    const natsOutage = { replies: duringNatsOutage - natsDown.replies, calls: fleet.origin.callsTo('/load/').length - natsDown.calls };
    await fleet.redis.start();
    await fleet.nats.start();
    await pause(1500);
    await traffic.stop();

    expect(traffic.failures).toEqual([]);
    expect(traffic.replies.length).toBeGreaterThan(duringNatsOutage);
    expect(duringNatsOutage).toBeGreaterThan(duringRedisOutage);
    expect(traffic.replies.every((r) => r.status === 200)).toBe(true);
    expect(Math.max(...traffic.replies.map((r) => r.ms))).toBeLessThan(REQUEST_TIMEOUT_MS);
    const paths = new Set(traffic.replies.map((r) => r.headers['x-batchgate']));
    expect(paths.has('coalesced')).toBe(true);
    expect(paths.has('fallback')).toBe(true);
    expect(redisOutage.replies).toBeGreaterThan(0);
    expect(redisOutage.calls).toBeLessThan(redisOutage.replies);
    expect(natsOutage.replies).toBeGreaterThan(0);
    expect(natsOutage.calls).toBeLessThan(natsOutage.replies);

    // Recovered: 50 + 50 identical requests on two ingresses share one upstream call again.
    const replies = await Promise.all(Array.from({ length: 100 }, (_, i) => get(`${fleet.ingressUrl(i % 2)}/recovered`)));
    expect(replies.every((r) => r.status === 200 && r.headers['x-batchgate'] === 'coalesced')).toBe(true);
    expect(fleet.origin.callsTo('/recovered')).toHaveLength(1);
  });
});

describe('coordinator takeover', () => {
  let fleet: TestFleet;
  let watch: FlushWatch;

  beforeAll(async () => {
    fleet = await TestFleet.start({
      coordinators: 2,
      // The default lease TTL (1 s): a dead owner's partitions must move before the ingress
      // gives up on its slots (timeout 300 ms + 2 s grace) and calls the origin itself.
      env: { BATCHGATE_POLICY_STRATEGY: 'size_cap:size=100000', BATCHGATE_BATCH_TIMEOUT_MS: '300' },
    });
    watch = await FlushWatch.start(fleet.nats.url);
    await warm(fleet.ingressUrl(), 10);
  });

  afterAll(async () => {
    await watch.close();
    await fleet.stop();
  });

  it('a killed coordinator owning open slots: they are taken over and flushed, no waiter hangs', async () => {
    const path = '/takeover/item';
    const { partition } = coalescingKey({ method: 'GET', url: path, headers: [], vary: [], isPublic: false, partitions: 64 });
    const pending = Promise.all(Array.from({ length: 10 }, () => get(`${fleet.ingressUrl()}${path}`)));
    // The owner is whichever coordinator holds the slot; wait until it has counted every
    // waiter (reports are batched every 2 ms) and persisted that.
    const slotSize = (i: number) => [...fleet.coordinator(i).table.values()][0]?.size ?? 0;
    const until = Date.now() + 2000;
    while (Math.max(slotSize(0), slotSize(1)) < 10 && Date.now() < until) await pause(5);
    const owner = slotSize(0) >= 10 ? 0 : 1;
    const survivor = 1 - owner;
    expect(slotSize(owner)).toBe(10);
    await pause(20);

    await fleet.coordinator(owner).crash();
    // Every reply coalesced from one origin call: the survivor flushed the slot before the
    // ingress gave up on it (2.3 s after it opened), which with a 3 x TTL liveness window it did not.
    const replies = await pending;

    expect(replies.every((r) => r.status === 200 && r.headers['x-batchgate'] === 'coalesced')).toBe(true);
    expect(fleet.origin.callsTo(path)).toHaveLength(1);
    expect(fleet.coordinator(survivor).leases.owns(partition)).toBe(true);
    const [flushed] = await watch.waitFor(1);
    expect(flushed!.meta?.source).toBe(`coordinator/coordinator-${survivor}`);
    expect(flushed!.size).toBe(10);
  });
});

describe('upstream failures', () => {
  let fleet: TestFleet;

  beforeAll(async () => {
    fleet = await TestFleet.start({
      env: { BATCHGATE_POLICY_STRATEGY: 'size_cap:size=100000', BATCHGATE_BATCH_TIMEOUT_MS: '100', BATCHGATE_UPSTREAM_TIMEOUT_MS: '300' },
    });
    await warm(fleet.ingressUrl(), 20);
  });

  afterAll(() => fleet.stop());

  it('an origin that drops the connection: every waiter gets the same 502 with a clear body; the next request opens a new slot', async () => {
    fleet.origin.handle((req) => {
      req.socket.destroy();
    });
    const replies = await Promise.all(Array.from({ length: 10 }, () => get(`${fleet.ingressUrl()}/broken`)));
    expect(new Set(replies.map((r) => `${r.status} ${r.body}`)).size).toBe(1);
    expect(replies[0]!.status).toBe(502);
    expect(JSON.parse(replies[0]!.body)).toEqual({ error: 'upstream_unreachable', message: expect.stringContaining('origin unreachable') });
    expect(fleet.origin.callsTo('/broken')).toHaveLength(1);

    fleet.origin.handle(undefined);
    const next = await get(`${fleet.ingressUrl()}/broken`);
    expect(next.status).toBe(200);
    expect(fleet.origin.callsTo('/broken')).toHaveLength(2);
  });

  it('an origin that trickles its body past the upstream timeout: every waiter gets the same 504', async () => {
    // A byte every 50 ms: never idle for the 300 ms timeout, but far past it in total.
    let stop = false;
    fleet.origin.handle(async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      for (let i = 0; i < 60 && !stop; i++) {
        res.write('x');
        await pause(50);
      }
      res.end();
    });
    try {
      const replies = await Promise.all(Array.from({ length: 5 }, () => get(`${fleet.ingressUrl()}/trickle`)));
      expect(replies.every((r) => r.status === 504)).toBe(true);
      expect(JSON.parse(replies[0]!.body)).toEqual({ error: 'upstream_timeout', message: 'origin did not answer within 300 ms' });
      expect(fleet.origin.callsTo('/trickle')).toHaveLength(1);
    } finally {
      stop = true;
      fleet.origin.handle(undefined);
    }
  });

  it('an origin slower than the upstream timeout: every waiter gets the same 504', async () => {
    fleet.origin.handle(async (_req, res) => {
      await pause(800);
      res.end('late');
    });
    try {
      const replies = await Promise.all(Array.from({ length: 10 }, () => get(`${fleet.ingressUrl()}/slow`)));
      expect(replies.every((r) => r.status === 504)).toBe(true);
      expect(JSON.parse(replies[0]!.body)).toEqual({ error: 'upstream_timeout', message: 'origin did not answer within 300 ms' });
      expect(fleet.origin.callsTo('/slow')).toHaveLength(1);
    } finally {
      fleet.origin.handle(undefined);
    }
    const next = await get(`${fleet.ingressUrl()}/slow`);
    expect(next.status).toBe(200);
    expect(fleet.origin.callsTo('/slow')).toHaveLength(2);
  });
});
