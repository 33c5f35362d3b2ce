import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
