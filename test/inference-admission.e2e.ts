import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { embeddingOf } from '../tools/inference-backend/answers.js';
import { TestFleet } from './support/fleet.js';
import { SimBackend } from './support/inference-backend.js';
import { metricsOf, total } from './support/metrics.js';

const DIMENSIONS = 4;

interface Answer {
  status: number;
  retryAfter: string | null;
  body: {
    data?: Array<{ embedding: number[] }>;
    choices?: Array<{ message: { content: string } }>;
    error?: { code: string; message: string };
  };
}

async function post(url: string, path: string, body: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const response = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: response.status, retryAfter: response.headers.get('retry-after'), body: (await response.json()) as Answer['body'] };
}

// The coordinator holds at most 8 items (BATCHGATE_INFERENCE_MAX_QUEUED) while one
// batch of 4 runs at a time on a 60 ms backend; every client is its own tenant, so
// the ingress's per-tenant bound never refuses and only the coordinator's can.
describe('the coordinator-wide queue bound (real NATS, Redis, backend process)', () => {
  let backend: SimBackend;
  let fleet: TestFleet;

  beforeAll(async () => {
    backend = await SimBackend.start({
      BATCHGATE_BACKEND_DIMENSIONS: String(DIMENSIONS),
      BATCHGATE_BACKEND_BASE_MS: '60',
      BATCHGATE_BACKEND_VARIANCE: '0',
    });
    fleet = await TestFleet.start({
      env: {
        BATCHGATE_INFERENCE_UPSTREAM: backend.url,
        BATCHGATE_PARTITIONS: '8',
        BATCHGATE_INFERENCE_MAX_QUEUED: '8',
        BATCHGATE_INFERENCE_MAX_INFLIGHT: '1',
        BATCHGATE_INFERENCE_MAX_BATCH_SIZE: '4',
      },
    });
  });

  afterAll(async () => {
    await fleet?.stop();
    await backend?.stop();
  });

  it('a full coordinator queue answers 429 with Retry-After; every accepted request gets its own answer and reached the backend once', async () => {
    const url = fleet.ingressUrl();
    const before = await backend.stats();
    const answers = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        post(url, '/v1/embeddings', { model: 'sim-embedding', input: `bounded ${i}`, user: `tenant-${i}` }),
      ),
    );
    const after = await backend.stats();
    const refused = answers.flatMap((a, i) => (a.status === 429 ? [{ ...a, i }] : []));
    const served = answers.flatMap((a, i) => (a.status === 200 ? [{ ...a, i }] : []));
    expect(refused.length).toBeGreaterThan(0);
    expect(served.length + refused.length).toBe(answers.length);
    for (const a of refused) {
      expect(Number(a.retryAfter)).toBeGreaterThanOrEqual(1);
      expect(a.body.error).toMatchObject({ code: 'queue_full', message: expect.stringContaining('coordinator') });
    }
    for (const a of served) expect(a.body.data![0]!.embedding).toEqual(embeddingOf(`bounded ${a.i}`, DIMENSIONS));
    // Every accepted input reached the backend exactly once; no refused one did.
    expect(after.items - before.items).toBe(served.length);
    const shed = total(await metricsOf(fleet.coordinatorUrl()), 'batchgate_inference_shed_total', { reason: 'queue_full' });
    expect(shed).toBe(refused.length);
  });
});

const chat = (content: string, params: Record<string, unknown>) => ({
  model: 'sim-llm',
  messages: [{ role: 'user', content }],
  max_tokens: 4,
  ...params,
});

// One chat call per model at a time (BATCHGATE_INFERENCE_MAX_INFLIGHT=1) on a 100 ms
// backend; aging is pushed out of the way so the order is priority alone.
describe('chat completions: dedup of deterministic requests and priority admission (real NATS, Redis, backend process)', () => {
  let backend: SimBackend;
  let fleet: TestFleet;

  beforeAll(async () => {
    backend = await SimBackend.start({ BATCHGATE_BACKEND_BASE_MS: '100', BATCHGATE_BACKEND_VARIANCE: '0' });
    fleet = await TestFleet.start({
      env: {
        BATCHGATE_INFERENCE_UPSTREAM: backend.url,
        BATCHGATE_PARTITIONS: '8',
        BATCHGATE_INFERENCE_MAX_INFLIGHT: '1',
        BATCHGATE_INFERENCE_AGING_MS: '60000',
      },
    });
  });

  afterAll(async () => {
    await fleet?.stop();
    await backend?.stop();
  });

  it.each([
    ['temperature 0', { temperature: 0 }],
    ['a seed', { temperature: 0.8, seed: 7 }],
  ])('identical chat bodies with %s: one backend call, its answer fanned out to every client', async (label, params) => {
    const url = fleet.ingressUrl();
    const before = await backend.stats();
    const answers = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        post(url, '/v1/chat/completions', { ...chat(`same question, ${label}`, params), user: `client-${i}` }),
      ),
    );
    const after = await backend.stats();
    for (const a of answers) expect(a.status).toBe(200);
    expect(new Set(answers.map((a) => a.body.choices![0]!.message.content)).size).toBe(1);
    expect(after.calls - before.calls).toBe(1);
  });

  it('identical chat bodies sampled without a seed are not shared: one backend call each', async () => {
    const url = fleet.ingressUrl();
    const before = await backend.stats();
    const answers = await Promise.all(
      Array.from({ length: 4 }, () => post(url, '/v1/chat/completions', chat('same sampled question', { temperature: 0.8 }))),
    );
    const after = await backend.stats();
    for (const a of answers) expect(a.status).toBe(200);
    expect(after.calls - before.calls).toBe(answers.length);
  });

  it('with the model at its in-flight bound, a critical chat is admitted at once and a high one before the queued normal ones', async () => {
    const url = fleet.ingressUrl();
    const order: string[] = [];
    const send = (label: string, priority: string) =>
      post(url, '/v1/chat/completions', chat(`question of ${label}`, { temperature: 0.5 }), { 'x-batchgate-priority': priority }).then(
        (a) => {
          order.push(label);
          return a.status;
        },
      );
    const before = await backend.stats();
    const normals = Array.from({ length: 5 }, (_, i) => send(`normal-${i}`, 'normal'));
    // Once the first normal call runs, the bound is full and the other four wait in the queue.
    let stats = await backend.stats();
    for (let i = 0; i < 200 && stats.calls + stats.in_flight === before.calls + before.in_flight; i++) {
      await new Promise((resolve) => setTimeout(resolve, 5));
      stats = await backend.stats();
    }
    expect(stats.in_flight).toBe(1);
    const urgent = [send('critical', 'critical'), send('high', 'high')];
    // The critical call is admitted past the bound: it runs beside the normal one, not after it.
    let peak = stats.in_flight;
    for (let i = 0; i < 100 && peak < 2 && order.length === 0; i++) {
      peak = Math.max(peak, (await backend.stats()).in_flight);
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    expect(peak).toBe(2);
    expect(await Promise.all([...normals, ...urgent])).toEqual(Array.from({ length: 7 }, () => 200));
    // At most the normal call already running finishes before the critical one (which ran beside it) ...
    expect(order.indexOf('critical')).toBeLessThanOrEqual(1);
    // ... and the high one takes the first free place, ahead of the four queued normals.
    expect(order.indexOf('high')).toBeLessThanOrEqual(2);
    expect(order.slice(-4).every((label) => label.startsWith('normal-'))).toBe(true);
  });
});

// One backend slot (BATCHGATE_BACKEND_CONCURRENCY=1) on a 120 ms backend and one
// input per batch: the coordinator's in-flight bound (8) lets every batch through,
// so they wait at the backend, where the worker's x-batchgate-priority orders them.
describe('a critical batch at a busy backend (real NATS, Redis, backend process)', () => {
  let backend: SimBackend;
  let fleet: TestFleet;

  beforeAll(async () => {
    backend = await SimBackend.start({
      BATCHGATE_BACKEND_BASE_MS: '120',
      BATCHGATE_BACKEND_VARIANCE: '0',
      BATCHGATE_BACKEND_CONCURRENCY: '1',
      BATCHGATE_BACKEND_PRIORITY_AGING_MS: '60000',
    });
    fleet = await TestFleet.start({
      env: { BATCHGATE_INFERENCE_UPSTREAM: backend.url, BATCHGATE_PARTITIONS: '8', BATCHGATE_INFERENCE_MAX_BATCH_SIZE: '1' },
    });
  });

  afterAll(async () => {
    await fleet?.stop();
    await backend?.stop();
  });

  it('gets the next free backend slot, ahead of the normal batches already waiting there', async () => {
    const url = fleet.ingressUrl();
    const order: string[] = [];
    const send = (label: string, priority: string) =>
      post(
        url,
        '/v1/completions',
        { model: 'sim-llm', prompt: `prompt of ${label}`, max_tokens: 4 },
        { 'x-batchgate-priority': priority },
      ).then((a) => {
        order.push(label);
        return a.status;
      });
    const normals = Array.from({ length: 4 }, (_, i) => send(`normal-${i}`, 'normal'));
    // One normal call runs, three wait for the backend's slot.
    let stats = await backend.stats();
    for (let i = 0; i < 400 && !(stats.in_flight === 1 && stats.queued === 3); i++) {
      await new Promise((resolve) => setTimeout(resolve, 5));
      stats = await backend.stats();
    }
    expect(stats).toMatchObject({ in_flight: 1, queued: 3 });
    const critical = send('critical', 'critical');
    expect(await Promise.all([...normals, critical])).toEqual(Array.from({ length: 5 }, () => 200));
    // At most the normal call already running finishes before the critical one.
    expect(order.indexOf('critical')).toBeLessThanOrEqual(1);
  });
});
