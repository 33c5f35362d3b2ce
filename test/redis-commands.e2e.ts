import type { InfraProcess } from '#infra';
import { startRedis } from '#infra';
import { create, JoinRequestSchema } from '#libs/contracts';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PartitionLeases } from '../apps/coordinator/src/partitions.js';
import { redisKeys, SLOT_TTL_MS } from '../apps/coordinator/src/redis-keys.js';
import { SlotStore } from '../apps/coordinator/src/slot-store.js';
import { get, warm } from './support/client.js';
import { PATIENT_POLICY, TestFleet } from './support/fleet.js';

// What a slot's life costs in Redis, read from the server itself (INFO
// commandstats counts the commands a Lua script calls as well as the script
// call). A long lease TTL keeps the partition heartbeats (every TTL / 3) out
// of the window; every bound below is per slot, so it holds for any N.
const SLOTS = 20;
const LEASE_TTL = { BATCHGATE_LEASE_TTL_MS: '60000', BATCHGATE_PARTITIONS: '8' };

interface Counts {
  /** Every command Redis ran, script calls and the commands inside them. */
  total: number;
  /** Round trips the coordinator paid for: commands it sent itself (EVALSHA, EVAL, SMEMBERS ...). */
  sent: number;
}

const INSIDE_SCRIPTS = new Set(['get', 'set', 'del', 'exists', 'hset', 'hget', 'hdel', 'hincrby', 'hmget', 'pexpire', 'sadd', 'srem']);

async function commandCounts(redis: Redis): Promise<Counts> {
  const info = await redis.info('commandstats');
  let total = 0;
  let sent = 0;
  for (const [, name, calls] of info.matchAll(/^cmdstat_([a-z|]+):calls=(\d+)/gm)) {
    // INFO itself and CONFIG are this test's, not the coordinator's.
    if (name === 'info' || name!.startsWith('config')) continue;
    total += Number(calls);
    if (!INSIDE_SCRIPTS.has(name!)) sent += Number(calls);
  }
  return { total, sent };
}

async function perSlot(redis: Redis, run: () => Promise<void>): Promise<Counts> {
  // Let the join and close calls of earlier requests land first.
  await new Promise((resolve) => setTimeout(resolve, 100));
  const before = await commandCounts(redis);
  await run();
  await new Promise((resolve) => setTimeout(resolve, 100));
  const after = await commandCounts(redis);
  return { total: (after.total - before.total) / SLOTS, sent: (after.sent - before.sent) / SLOTS };
}

async function lone(fleet: TestFleet, prefix: string): Promise<void> {
  const path = (i: number) => `/${prefix}/${String(i).padStart(3, '0')}`;
  for (let i = 0; i < SLOTS; i++) {
    const reply = await get(`${fleet.ingressUrl()}${path(i)}`);
    expect(reply.status).toBe(200);
    expect(reply.headers['x-batchgate']).toBe('coalesced');
  }
  for (let i = 0; i < SLOTS; i++) expect(fleet.origin.callsTo(path(i))).toHaveLength(1);
}

describe('Redis commands per slot: a lone slot flushed at its opening by the policy plan', () => {
  let fleet: TestFleet;
  let redis: Redis;

  beforeAll(async () => {
    fleet = await TestFleet.start({
      env: {
        ...LEASE_TTL,
        BATCHGATE_POLICY_STRATEGY: 'size_cap:size=1',
        BATCHGATE_SOLE_CALL_MAX_BUSY: '1',
        BATCHGATE_OPENING_PLAN_TTL_MS: '600000',
      },
    });
    redis = new Redis(fleet.redis.url);
    await warm(fleet.ingressUrl(), 2);
    // The route's first slot is asked about; its answer carries the opening plan ("flush now").
    expect((await get(`${fleet.ingressUrl()}/opening/first`)).status).toBe(200);
  });

  afterAll(async () => {
    redis?.disconnect();
    await fleet?.stop();
  });

  it('needs no Redis command at all: the slot never outlives its join, so there is nothing to recover', async () => {
    const counts = await perSlot(redis, () => lone(fleet, 'opening'));
    expect(counts.total).toBe(0);
  });
});

describe('Redis commands per slot: a lone slot that waits for company and is flushed by the envelope', () => {
  let fleet: TestFleet;
  let redis: Redis;

  beforeAll(async () => {
    fleet = await TestFleet.start({ env: { ...PATIENT_POLICY, ...LEASE_TTL, BATCHGATE_BATCH_TIMEOUT_MS: '20' } });
    redis = new Redis(fleet.redis.url);
    await warm(fleet.ingressUrl(), 2);
  });

  afterAll(async () => {
    redis?.disconnect();
    await fleet?.stop();
  });

  it('is one script call to open it and one to close it, ten commands in all (was 13)', async () => {
    const counts = await perSlot(redis, () => lone(fleet, 'waits'));
    expect(counts.sent).toBeLessThanOrEqual(2);
    expect(counts.total).toBeLessThanOrEqual(10);
  });
});

describe("Redis commands per phase of a slot's life (SlotStore against redis-server)", () => {
  let server: InfraProcess;
  let redis: Redis;
  let probe: Redis;

  beforeAll(async () => {
    server = await startRedis();
    redis = new Redis(server.url);
    probe = new Redis(server.url);
  });

  afterAll(async () => {
    redis?.disconnect();
    probe?.disconnect();
    await server?.dispose();
  });

  const phase = async (run: () => Promise<unknown>): Promise<Counts> => {
    const before = await commandCounts(probe);
    await run();
    const after = await commandCounts(probe);
    return { total: after.total - before.total, sent: after.sent - before.sent };
  };

  it('open, a second ingress joining, a count report and the close are one script call each, and the slot survives for a new owner', async () => {
    const store = new SlotStore(redis);
    const p = 3;
    await redis.set(redisKeys.lease(p), 'c1');
    const join = (ingressId: string, count: number) =>
      create(JoinRequestSchema, { key: 'GET /k', route: 'r', partition: p, ingressId, count, request: { path: '/k' } });
    // Load the scripts first (ioredis sends EVAL once, then EVALSHA), as a running coordinator has.
    await store.join('c1', 'warm', join('x', 1), 1);
    await store.report(p, 'x', [{ slotId: 'warm', delta: 1 }], 1);
    await store.close(p, 'warm', 'GET /k');

    const counts: Record<string, Counts> = {};
    counts.open = await phase(() => store.join('c1', 's1', join('a', 1), 10));
    counts.join = await phase(() => store.join('c1', 's2', join('b', 2), 11, true));
    counts.report = await phase(() => store.report(p, 'a', [{ slotId: 's1', delta: 3 }], 12));
    const newOwner = new Redis(server.url);
    const [taken] = await new SlotStore(newOwner).load(p).finally(() => newOwner.disconnect());
    expect(taken).toMatchObject({ id: 's1', openedAtMs: 10, lastArrivalMs: 12, size: 6 });
    expect(Object.fromEntries(taken!.members)).toEqual({ a: 4, b: 2 });
    expect(taken!.opening.request?.path).toBe('/k');
    counts.close = await phase(() => store.close(p, 's1', 'GET /k'));
    expect(await new SlotStore(redis).load(p)).toEqual([]);

    for (const c of Object.values(counts)) expect(c.sent).toBe(1);
    expect(counts.open.total).toBeLessThanOrEqual(6);
    expect(counts.join.total).toBeLessThanOrEqual(6);
    expect(counts.report.total).toBeLessThanOrEqual(4);
    // Reports of many slots in one message are one script call: 3 commands per slot inside it.
    await store.join('c1', 's3', create(JoinRequestSchema, { ...join('a', 1), key: 'GET /k3' }), 13);
    await store.join('c1', 's4', create(JoinRequestSchema, { ...join('a', 1), key: 'GET /k4' }), 13);
    const batch = await phase(() =>
      store.report(
        p,
        'b',
        [
          { slotId: 's3', delta: 1 },
          { slotId: 's4', delta: 2 },
        ],
        14,
      ),
    );
    expect(batch).toEqual({ total: 1 + 2 * 3, sent: 1 });
    expect(counts.close.total).toBeLessThanOrEqual(4);
  });

  it("the partition's slot index expires on its own: the lease round that follows an opening sets its expiry, a quiet round does not touch it", async () => {
    const store = new SlotStore(redis);
    const quiet = { acquired: () => Promise.resolve(), lost: () => undefined };
    const logger = { warn: () => undefined, info: () => undefined } as unknown as ConstructorParameters<typeof PartitionLeases>[3];
    const leases = new PartitionLeases(
      redis,
      { owner: 'c2', partitions: 1, ttlMs: 300, written: () => store.takeWritten() },
      quiet,
      logger,
    );
    await leases.start();
    try {
      expect(leases.holdsSurely(0)).toBe(true);
      const opening = create(JoinRequestSchema, {
        key: 'GET /i',
        route: 'r',
        partition: 0,
        ingressId: 'a',
        count: 1,
        request: { path: '/i' },
      });
      expect(await store.join('c2', 'i1', opening, 1)).toEqual({ status: 'opened', slotId: 'i1' });
      expect(await redis.pttl(redisKeys.index(0))).toBe(-1);
      await expect.poll(() => redis.pttl(redisKeys.index(0)), { timeout: 2000, interval: 20 }).toBeGreaterThan(SLOT_TTL_MS - 2000);
      await redis.persist(redisKeys.index(0));
      await new Promise((resolve) => setTimeout(resolve, 250));
      expect(await redis.pttl(redisKeys.index(0))).toBe(-1);
    } finally {
      await leases.stop(true);
    }
  });
});
