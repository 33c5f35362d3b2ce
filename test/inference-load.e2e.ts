import type { InferBatchFlushed } from '#libs/contracts';
import { InferBatchFlushedSchema, Priority } from '#libs/contracts';
import { Registry } from '#libs/metrics';
import { Bus, SUBJECTS } from '#libs/nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { embeddingOf } from '../tools/inference-backend/answers.js';
import { TestFleet } from './support/fleet.js';
import { SimBackend } from './support/inference-backend.js';

const DIMENSIONS = 4;
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

async function embed(url: string, input: string, headers: Record<string, string> = {}, user?: string): Promise<Response> {
  return fetch(`${url}/v1/embeddings`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ model: 'sim-embedding', input, ...(user ? { user } : {}) }),
  });
}

// A slow backend (40 ms a call, 2 at a time) and 2 batches in flight per model
// at most, so normal traffic saturates the queues.
describe('inference under load: priorities, tenant bounds, shutdown (real NATS, Redis, backend process)', () => {
  let backend: SimBackend;
  let fleet: TestFleet;
  let events: Bus;
  const flushed: InferBatchFlushed[] = [];

  beforeAll(async () => {
    backend = await SimBackend.start({
      BATCHGATE_BACKEND_DIMENSIONS: String(DIMENSIONS),
      BATCHGATE_BACKEND_BASE_MS: '40',
      BATCHGATE_BACKEND_VARIANCE: '0',
      BATCHGATE_BACKEND_CONCURRENCY: '4',
    });
    fleet = await TestFleet.start({
      env: {
        BATCHGATE_INFERENCE_UPSTREAM: backend.url,
        BATCHGATE_PARTITIONS: '8',
        BATCHGATE_INFERENCE_MAX_INFLIGHT: '2',
        BATCHGATE_INFERENCE_MAX_BATCH_SIZE: '8',
        BATCHGATE_INFERENCE_TENANT_QUEUE: '8',
      },
    });
    await fleet.waitForPartitions();
    events = await Bus.connect({ url: fleet.nats.url, name: 'test-batches', logger: quiet });
    events.subscribe(SUBJECTS.event('batch.flushed'), InferBatchFlushedSchema, (event) => void flushed.push(event));
    await events.connection?.flush();
  });

  afterAll(async () => {
    await events?.close();
    await fleet?.stop();
    await backend?.stop();
  });

  it('a critical request is flushed within its 5 ms max wait while normal traffic saturates the queue; low still completes (bound: 100 ms max wait + 3 aging levels x 50 ms, plus the in-flight places freeing up; asserted < 1 s for a noisy machine)', async () => {
    const url = fleet.ingressUrl();
    const low = embed(url, 'low priority text', { 'x-batchgate-priority': 'low' }, 'tenant-low');
    const normal = Array.from({ length: 120 }, (_, i) => embed(url, `normal ${i}`, {}, `tenant-${i % 30}`));
    await new Promise((resolve) => setTimeout(resolve, 30));
    const critical = await embed(url, 'critical text', { 'x-batchgate-priority': 'critical' }, 'tenant-critical');
    expect(critical.status).toBe(200);
    const statuses = await Promise.all(normal.map(async (r) => (await r).status));
    expect(statuses.every((s) => s === 200)).toBe(true);
    const lowAnswer = await low;
    expect(lowAnswer.status).toBe(200);
    expect(((await lowAnswer.json()) as { data: Array<{ embedding: number[] }> }).data[0]!.embedding).toEqual(
      embeddingOf('low priority text', DIMENSIONS),
    );
    await new Promise((resolve) => setTimeout(resolve, 50));
    const criticalBatches = flushed.filter((e) => e.priority === Priority.CRITICAL);
    expect(criticalBatches).toHaveLength(1);
    expect(criticalBatches[0]!.reason).toBe('critical');
    expect(criticalBatches[0]!.ageMs).toBeLessThanOrEqual(5);
    const lowBatches = flushed.filter((e) => e.priority === Priority.LOW);
    expect(lowBatches).toHaveLength(1);
    expect(lowBatches[0]!.ageMs).toBeLessThan(1000);
    // Normal traffic really queued: batches formed while the in-flight bound was full.
    expect(flushed.filter((e) => e.priority === Priority.NORMAL).some((e) => e.inputs > 1)).toBe(true);
  });

  it('a tenant over its queue bound gets 429 with Retry-After, and every accepted request is answered', async () => {
    const url = fleet.ingressUrl();
    const answers = await Promise.all(
      Array.from({ length: 40 }, async (_, i) => {
        const response = await embed(url, `greedy ${i}`, { 'x-batchgate-priority': 'low' }, 'greedy');
        const body = (await response.json()) as { data?: Array<{ embedding: number[] }>; error?: { code: string } };
        return { i, status: response.status, retryAfter: response.headers.get('retry-after'), body };
      }),
    );
    const refused = answers.filter((a) => a.status === 429);
    const served = answers.filter((a) => a.status === 200);
    expect(refused.length).toBeGreaterThan(0);
    expect(served.length + refused.length).toBe(40);
    for (const a of refused) {
      expect(Number(a.retryAfter)).toBeGreaterThanOrEqual(1);
      expect(a.body.error?.code).toBe('queue_full');
    }
    for (const a of served) expect(a.body.data![0]!.embedding).toEqual(embeddingOf(`greedy ${a.i}`, DIMENSIONS));
  });

  it('shutdown under load: requests in flight complete, later ones are refused (503 or connection refused), none hangs', async () => {
    const app = await fleet.addIngress();
    const url = fleet.ingressUrl(fleet.ingresses.length - 1);
    const inflight = Array.from({ length: 24 }, (_, i) => embed(url, `draining ${i}`, {}, `drain-${i % 3}`).then((r) => r.status));
    // Shut down once the gateway has admitted all of them (connections still opening are not accepted requests).
    const registry = app.get(Registry);
    const admitted = async () => (await registry.getSingleMetric('batchgate_ingress_requests_in_flight')!.get()).values[0]?.value ?? 0;
    for (let i = 0; i < 200 && (await admitted()) < 24; i++) await new Promise((resolve) => setTimeout(resolve, 2));
    expect(await admitted()).toBe(24);
    const closing = app.close();
    await new Promise((resolve) => setTimeout(resolve, 5));
    const late = await embed(url, 'after shutdown began').then(
      (r) => r.status,
      () => 'refused',
    );
    expect([503, 'refused']).toContain(late);
    expect(await Promise.all(inflight)).toEqual(Array.from({ length: 24 }, () => 200));
    await closing;
    fleet.ingresses.pop();
  });
});
