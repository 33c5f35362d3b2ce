import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InfraProcess } from '#infra';
import { startNats } from '#infra';
import { loadWorkerConfig } from '../apps/worker/src/config.js';
import { createWorkerApp } from '../apps/worker/src/worker.module.js';
import { completionOf, embeddingOf } from '../tools/inference-backend/answers.js';
import { InferDispatcher, outputOf } from './support/infer-dispatcher.js';
import { SimBackend } from './support/inference-backend.js';

// One worker (in this process) with one simulated backend process; a test
// client plays the coordinator over real NATS.
describe('a worker runs inference batches against an OpenAI-compatible backend', () => {
  let nats: InfraProcess;
  let backend: SimBackend;
  let worker: NestFastifyApplication;
  let coordinator: InferDispatcher;

  beforeAll(async () => {
    nats = await startNats();
    backend = await SimBackend.start({ BATCHGATE_BACKEND_DIMENSIONS: '8' });
    worker = await createWorkerApp(
      loadWorkerConfig({
        NATS_URL: nats.url,
        BATCHGATE_UPSTREAM: 'http://127.0.0.1:9',
        BATCHGATE_INFERENCE_UPSTREAM: backend.url,
        BATCHGATE_INSTANCE_ID: 'worker-infer-0',
        BATCHGATE_LOG_LEVEL: 'silent',
      }),
    );
    coordinator = await InferDispatcher.connect(nats.url);
  });

  afterAll(async () => {
    await coordinator?.close();
    await worker?.close();
    await backend?.stop();
    await nats?.dispose();
  });

  it('sends an embedding batch as ONE backend call and answers each input with its own vector, in order', async () => {
    const before = await backend.stats();
    const texts = ['alpha', 'beta', 'gamma'];
    const result = await coordinator.run(coordinator.embeddings(texts));
    expect(result.status).toBe(200);
    expect(result.calls).toBe(1);
    expect(result.backend).toBe(`${backend.url}/v1`);
    expect(result.outputs.map((o) => o.status)).toEqual([200, 200, 200]);
    texts.forEach((text, i) => expect((outputOf(result, i) as { embedding: number[] }).embedding).toEqual(embeddingOf(text, 8)));
    const after = await backend.stats();
    expect(after.calls - before.calls).toBe(1);
    expect(after.items - before.items).toBe(3);
  });

  it('splits a completion answer per prompt: n choices each, indexed from 0 within the prompt', async () => {
    const result = await coordinator.run(coordinator.completions(['one', 'two'], { max_tokens: 3, n: 2 }));
    expect(result.status).toBe(200);
    for (const [i, prompt] of ['one', 'two'].entries()) {
      const choices = outputOf(result, i) as Array<{ index: number; text: string }>;
      expect(choices.map((c) => c.index)).toEqual([0, 1]);
      expect(choices.map((c) => c.text)).toEqual([completionOf(prompt, 0, 3), completionOf(prompt, 1, 3)]);
      expect(result.outputs[i]!.completionTokens).toBe(6);
    }
    expect(result.responseId).toMatch(/^cmpl-/);
  });

  it('relays a streamed batch as chunks to the ingress before the backend finishes, then a done chunk', async () => {
    const batch = coordinator.completions(
      ['stream me'],
      { max_tokens: 8 },
      { stream: true, streamTargets: [{ itemId: 'item-s.0', ingressId: coordinator.ingressId }] },
    );
    const result = await coordinator.run(batch);
    expect(result.status).toBe(200);
    const chunks = coordinator.chunks.filter((c) => c.itemId === 'item-s.0');
    expect(chunks.map((c) => c.seq)).toEqual(chunks.map((_, i) => i));
    expect(chunks.at(-1)!.done).toBe(true);
    expect(chunks.slice(0, -1).every((c) => !c.done && c.data.length > 0)).toBe(true);
    // Chunks were spread over the service time: the first came well before the last.
    expect(chunks.length).toBeGreaterThan(3);
  });

  it('answers a batch past its deadline with 504 and never calls the backend', async () => {
    const before = await backend.stats();
    const result = await coordinator.run(coordinator.embeddings(['late'], { deadlineAtMs: Date.now() - 10 }));
    expect(result.status).toBe(504);
    expect(result.calls).toBe(0);
    expect((await backend.stats()).calls).toBe(before.calls);
  });

  it('publishes its circuit state and backend latency as metrics', async () => {
    const port = (worker.getHttpServer().address() as AddressInfo).port;
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(text).toContain(`batchgate_inference_circuit_state{backend="${backend.url}/v1"} 0`);
    expect(text).toMatch(/batchgate_inference_backend_latency_seconds_count\{backend="[^"]+",kind="embedding"\} [1-9]/);
  });
});
