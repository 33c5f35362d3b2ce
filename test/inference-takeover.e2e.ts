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
        BATCHGATE_LEASE_TTL_MS: '1000',
        BATCHGATE_ADMIN_TOKEN: 'test-admin-token',
      },
    });
  });

  afterAll(async () => {
    await fleet?.stop();
    await backend?.stop();
  });

  it('a model switched on its partition owner keeps model_based after the owner crashes, and the completions route keeps its policy; a new coordinator starts with the switched default', async () => {
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
    // A route of the ingress's admin API was already in the config bucket; it must hold after the takeover too.
    const routed = await fetch(`${fleet.ingressOpsUrl()}/admin/policy/routes`, {
      method: 'PUT',
      headers: ADMIN,
      body: JSON.stringify({ routes: [{ name: 'completions', match: '/v1/completions', policy: 'cost_aware:call_cost_ms=20' }] }),
    });
    expect(routed.status).toBe(200);
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
    const completion = await fetch(`${fleet.ingressUrl()}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'sim-llm', prompt: 'after the takeover', max_tokens: 2 }),
    });
    expect(completion.status).toBe(200);
    expect(await waitForStrategy(fleet.coordinatorUrl(survivor), 'sim-llm/completions', 'cost_aware')).toBe('cost_aware');

    // A coordinator started now (a restart) reads the stored switches before it serves a lane.
    await fleet.addCoordinator({ BATCHGATE_INSTANCE_ID: 'coordinator-restarted' });
    const restarted = fleet.coordinators.length - 1;
    expect(await waitForStrategy(fleet.coordinatorUrl(restarted), '*', 'fixed_timer')).toBe('fixed_timer');
  });
});

// The owner of sim-embedding's partition dies with one batch at the backend and one
// item queued behind it (one batch in flight per model). Nothing will ever answer them:
// the ingress must fail them when the partition's next owner announces itself,
// well before their deadline, instead of at deadline + its 1 s grace.
describe("a crashed coordinator's Flow B items fail at the takeover, not at their deadline (real NATS, Redis, backend process)", () => {
  const DEADLINE_MS = 8000;
  let backend: SimBackend;
  let fleet: TestFleet;

  beforeAll(async () => {
    backend = await SimBackend.start({
      BATCHGATE_BACKEND_DIMENSIONS: '4',
      BATCHGATE_BACKEND_VARIANCE: '0',
      BATCHGATE_BACKEND_BASE_MS: '2000',
    });
    fleet = await TestFleet.start({
      coordinators: 2,
      env: {
        BATCHGATE_INFERENCE_UPSTREAM: backend.url,
        BATCHGATE_PARTITIONS: String(PARTITIONS),
        BATCHGATE_LEASE_TTL_MS: '300',
        BATCHGATE_INFERENCE_MAX_INFLIGHT: '1',
      },
    });
  });

  afterAll(async () => {
    await fleet?.stop();
    await backend?.stop();
  });

  it(
    'every waiting client gets 503 with Retry-After soon after the takeover; a retry is served by the new owner',
    { timeout: 30_000 },
    async () => {
      const partition = partitionOfModel('sim-embedding', PARTITIONS);
      const owner = fleet.coordinator(0).leases.owns(partition) ? 0 : 1;
      const survivor = 1 - owner;
      const send = (input: string) =>
        fetch(`${fleet.ingressUrl()}/v1/embeddings`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-batchgate-deadline-ms': String(DEADLINE_MS) },
          body: JSON.stringify({ model: 'sim-embedding', input }),
        }).then(async (r) => ({ status: r.status, retryAfter: r.headers.get('retry-after'), at: Date.now(), body: await r.text() }));
      const running = send('at the backend when its coordinator dies');
      let stats = await backend.stats();
      for (let i = 0; i < 200 && stats.in_flight === 0; i++) {
        await pause(5);
        stats = await backend.stats();
      }
      expect(stats.in_flight).toBe(1);
      const queued = send('queued when its coordinator dies');
      await pause(50);

      const crashedAt = Date.now();
      await fleet.coordinator(owner).crash();
      const answers = await Promise.all([running, queued]);
      for (const answer of answers) {
        expect(answer.status).toBe(503);
        expect(Number(answer.retryAfter)).toBeGreaterThanOrEqual(1);
        expect(answer.at - crashedAt).toBeLessThan(DEADLINE_MS);
      }
      expect(fleet.coordinator(survivor).leases.owns(partition)).toBe(true);
      const retried = await send('queued when its coordinator dies');
      expect(retried.status).toBe(200);
    },
  );
});
