import { partitionOfModel } from '#libs/inference';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestFleet } from './support/fleet.js';
import { SimBackend } from './support/inference-backend.js';

const PARTITIONS = 8;
const ADMIN = { authorization: 'Bearer test-admin-token', 'content-type': 'application/json' };

type Strategies = Record<string, { name: string; params: Record<string, number> }>;

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function strategiesAt(ops: string): Promise<Strategies> {
  return ((await (await fetch(`${ops}/metrics/json`)).json()) as { strategies: Strategies }).strategies;
}

/** Polls a coordinator's /metrics/json until `lane` runs `name` (or 3 s pass); returns what it last saw. */
async function waitForStrategy(ops: string, lane: string, name: string): Promise<string | undefined> {
  let seen = (await strategiesAt(ops))[lane]?.name;
  for (let i = 0; i < 150 && seen !== name; i++) {
    await pause(20);
    seen = (await strategiesAt(ops))[lane]?.name;
  }
  return seen;
}

async function embed(url: string, input: string): Promise<number> {
  const response = await fetch(`${url}/v1/embeddings`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'sim-embedding', input }),
  });
  await response.arrayBuffer();
  return response.status;
}

// Two coordinators share the partitions; the one owning sim-embedding's partition
// is switched, then crashes. Its partitions' next owner must run the switch.
describe('Flow B strategy switches survive a partition takeover and a restart (real NATS, Redis, backend process)', () => {
  let backend: SimBackend;
  let fleet: TestFleet;

  beforeAll(async () => {
    backend = await SimBackend.start({ BATCHGATE_BACKEND_DIMENSIONS: '4', BATCHGATE_BACKEND_VARIANCE: '0' });
    fleet = await TestFleet.start({
      coordinators: 2,
      env: {
        BATCHGATE_INFERENCE_UPSTREAM: backend.url,
        BATCHGATE_PARTITIONS: String(PARTITIONS),
        BATCHGATE_LEASE_TTL_MS: '300',
        BATCHGATE_ADMIN_TOKEN: 'test-admin-token',
      },
    });
  });

  afterAll(async () => {
    await fleet?.stop();
    await backend?.stop();
  });

  it('a model switched on its partition owner keeps model_based after the owner crashes; a new coordinator starts with the switched default', async () => {
    const partition = partitionOfModel('sim-embedding', PARTITIONS);
    const owner = fleet.coordinator(0).leases.owns(partition) ? 0 : 1;
    const survivor = 1 - owner;
    expect(fleet.coordinator(owner).leases.owns(partition)).toBe(true);

    const switched = await fetch(`${fleet.coordinatorUrl(owner)}/admin/strategy/model_based?model=sim-embedding`, {
      method: 'POST',
      headers: ADMIN,
      body: JSON.stringify({ params: { window: 16 } }),
    });
    expect(switched.status).toBe(200);
    const defaulted = await fetch(`${fleet.coordinatorUrl(owner)}/admin/strategy/fixed`, { method: 'POST', headers: ADMIN, body: '{}' });
    expect(defaulted.status).toBe(200);
    expect(await embed(fleet.ingressUrl(), 'before the crash')).toBe(200);
    expect((await strategiesAt(fleet.coordinatorUrl(owner)))['sim-embedding/embeddings']).toEqual({
      name: 'model_based',
      params: { window: 16 },
    });

    await fleet.coordinator(owner).crash();
    const until = Date.now() + 5000;
    while (!fleet.coordinator(survivor).leases.owns(partition) && Date.now() < until) await pause(20);
    expect(fleet.coordinator(survivor).leases.owns(partition)).toBe(true);
    expect(await embed(fleet.ingressUrl(), 'after the takeover')).toBe(200);
    const afterTakeover = await strategiesAt(fleet.coordinatorUrl(survivor));
    expect(afterTakeover['sim-embedding/embeddings']).toEqual({ name: 'model_based', params: { window: 16 } });
    expect(afterTakeover['*']?.name).toBe('fixed_timer');

    // A coordinator started now (a restart) reads the stored switches before it serves a lane.
    await fleet.addCoordinator({ BATCHGATE_INSTANCE_ID: 'coordinator-restarted' });
    const restarted = fleet.coordinators.length - 1;
    expect(await waitForStrategy(fleet.coordinatorUrl(restarted), '*', 'fixed_timer')).toBe('fixed_timer');
  });
});
