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
