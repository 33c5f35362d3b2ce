import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestFleet } from './support/fleet.js';
import { SimBackend } from './support/inference-backend.js';

// A slow backend (150 ms a call) and one batch in flight per model, so most
// items are still queued at the coordinator when it is stopped.
describe('a coordinator stopped under inference load (real NATS, Redis, backend process)', () => {
  let backend: SimBackend;
  let fleet: TestFleet;

  beforeAll(async () => {
    backend = await SimBackend.start({
      BATCHGATE_BACKEND_DIMENSIONS: '4',
      BATCHGATE_BACKEND_BASE_MS: '150',
      BATCHGATE_BACKEND_VARIANCE: '0',
    });
    fleet = await TestFleet.start({
      env: {
        BATCHGATE_INFERENCE_UPSTREAM: backend.url,
        BATCHGATE_PARTITIONS: '8',
        BATCHGATE_INFERENCE_MAX_INFLIGHT: '1',
        BATCHGATE_INFERENCE_MAX_BATCH_SIZE: '4',
      },
    });
    await fleet.waitForPartitions();
  });

  afterAll(async () => {
    await fleet?.stop();
    await backend?.stop();
  });

  it('answers the batch in flight 200 and every queued item 503 at once, none left to its deadline (504)', async () => {
    const url = fleet.ingressUrl();
    const started = Array.from({ length: 16 }, (_, i) =>
      fetch(`${url}/v1/embeddings`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-batchgate-deadline-ms': '8000' },
        body: JSON.stringify({ model: 'sim-embedding', input: `queued ${i}`, user: `u${i}` }),
      }).then((r) => r.status),
    );
    // Wait until the first batch is at the backend (the rest are queued behind the in-flight bound).
    for (let i = 0; i < 200 && (await backend.stats()).in_flight === 0; i++) await new Promise((resolve) => setTimeout(resolve, 5));
    const coordinator = fleet.coordinators.pop()!;
    const stoppedAt = Date.now();
    await coordinator.close();
    const statuses = await Promise.all(started);
    const answeredWithinMs = Date.now() - stoppedAt;
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(1);
    expect(statuses.filter((s) => s === 503).length).toBeGreaterThanOrEqual(1);
    expect(statuses.every((s) => s === 200 || s === 503)).toBe(true);
    // Far inside the 8 s deadline: nobody waited it out.
    expect(answeredWithinMs).toBeLessThan(6000);
  });
});
