import { spawn } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InfraProcess } from '#infra';
import { freePort, startNats } from '#infra';
import type { WorkerHeartbeat } from '#libs/contracts';
import { WorkerHeartbeatSchema } from '#libs/contracts';
import { SUBJECTS } from '#libs/nats';
import { loadWorkerConfig } from '../apps/worker/src/config.js';
import { createWorkerApp } from '../apps/worker/src/worker.module.js';
import { InferDispatcher } from './support/infer-dispatcher.js';
import { SimBackend } from './support/inference-backend.js';

type Env = Record<string, string>;

/** NATS, simulated backend processes and one in-process worker over them; a test client plays the coordinator. */
async function setUp(backendEnvs: Env[], workerEnv: Env) {
  const nats = await startNats();
  const backends = await Promise.all(backendEnvs.map((env) => SimBackend.start(env)));
  const worker = await createWorkerApp(
    loadWorkerConfig({
      NATS_URL: nats.url,
      BATCHGATE_UPSTREAM: 'http://127.0.0.1:9',
      BATCHGATE_INFERENCE_UPSTREAM: backends.map((b) => b.url).join(','),
      BATCHGATE_INSTANCE_ID: 'worker-faults',
      BATCHGATE_LOG_LEVEL: 'silent',
      ...workerEnv,
    }),
  );
  const coordinator = await InferDispatcher.connect(nats.url);
  const metrics = async () => (await fetch(`http://127.0.0.1:${(worker.getHttpServer().address() as AddressInfo).port}/metrics`)).text();
  const tearDown = async () => {
    await coordinator.close();
    await worker.close();
    await Promise.all(backends.map((b) => b.stop()));
    await nats.dispose();
  };
  return { nats, backends, worker, coordinator, metrics, tearDown };
}

const circuitOf = (metrics: string, backend: SimBackend) =>
  Number(new RegExp(`batchgate_inference_circuit_state\\{backend="${backend.url}/v1"\\} (\\d)`).exec(metrics)?.[1]);

describe('a failing backend opens its circuit, traffic moves to the healthy one, and the circuit recovers through half-open', () => {
  let env: Awaited<ReturnType<typeof setUp>>;
  const RECOVERY_MS = 1500;

  beforeAll(async () => {
    env = await setUp([{}, {}], {
      BATCHGATE_INFERENCE_BALANCER: 'round_robin',
      BATCHGATE_INFERENCE_BREAKER_FAILURES: '5',
      BATCHGATE_INFERENCE_BREAKER_RECOVERY_MS: String(RECOVERY_MS),
      BATCHGATE_INFERENCE_RETRIES: '1',
    });
  });
  afterAll(() => env?.tearDown());

  it('retries each embedding batch that failed on the broken backend on the other one, until the circuit opens', async () => {
    const [broken, healthy] = env.backends as [SimBackend, SimBackend];
    await broken.fail(600_000);
    const results = [];
    for (let i = 0; i < 14; i++) results.push(await env.coordinator.run(env.coordinator.embeddings([`text ${i}`])));
    // Nothing reached a client as an error: every failure was retried on the healthy backend.
    expect(results.map((r) => r.status)).toEqual(results.map(() => 200));
    expect(results.every((r) => r.backend === `${healthy.url}/v1`)).toBe(true);
    // Exactly the threshold of calls reached the broken backend; after that it was skipped.
    expect((await broken.stats()).calls).toBe(5);
    expect(results.filter((r) => r.calls === 2)).toHaveLength(5);
    const metrics = await env.metrics();
    expect(circuitOf(metrics, broken)).toBe(1);
    expect(circuitOf(metrics, healthy)).toBe(0);
    expect(metrics).toMatch(/batchgate_inference_batch_retries_total\{kind="embedding"\} 5/);
  });

  it('after the recovery time one probe reaches the broken backend; a failed probe opens the circuit again', async () => {
    const [broken] = env.backends as [SimBackend, SimBackend];
    await new Promise((resolve) => setTimeout(resolve, RECOVERY_MS + 100));
    const before = (await broken.stats()).calls;
    for (let i = 0; i < 6; i++) expect((await env.coordinator.run(env.coordinator.embeddings([`probe ${i}`]))).status).toBe(200);
    expect((await broken.stats()).calls - before).toBe(1);
    expect(circuitOf(await env.metrics(), broken)).toBe(1);
  });

  it('once the backend is healthy again, the next probe closes the circuit and it takes its share again', async () => {
    const [broken] = env.backends as [SimBackend, SimBackend];
    await broken.fail(0);
    await new Promise((resolve) => setTimeout(resolve, RECOVERY_MS + 100));
    const before = (await broken.stats()).calls;
    for (let i = 0; i < 6; i++) expect((await env.coordinator.run(env.coordinator.embeddings([`back ${i}`]))).status).toBe(200);
    expect(circuitOf(await env.metrics(), broken)).toBe(0);
    // Round robin again: the recovered backend took about half of the 6 batches.
    expect((await broken.stats()).calls - before).toBeGreaterThanOrEqual(2);
  });
});

describe('only idempotent batches are retried on another backend', () => {
  let env: Awaited<ReturnType<typeof setUp>>;

  beforeAll(async () => {
    // A high threshold keeps both circuits closed: this is about retries alone.
    env = await setUp([{}, {}], { BATCHGATE_INFERENCE_BALANCER: 'round_robin', BATCHGATE_INFERENCE_BREAKER_FAILURES: '1000' });
    await env.backends[0]!.fail(600_000);
  });
  afterAll(() => env?.tearDown());

  it('a completion with temperature > 0 and no seed that failed is not sent again: its waiters get the error', async () => {
    const results = [];
    for (let i = 0; i < 4; i++)
      results.push(await env.coordinator.run(env.coordinator.completions([`sample ${i}`], { temperature: 0.8, max_tokens: 2 })));
    const failed = results.filter((r) => r.status !== 200);
    expect(failed).toHaveLength(2);
    expect(failed.every((r) => r.status === 503 && r.calls === 1 && r.outputs.every((o) => o.status === 503))).toBe(true);
    expect((await env.backends[1]!.stats()).calls).toBe(2);
  });

  it('a completion with temperature 0, or with a seed, is retried on the other backend', async () => {
    const results = [];
    for (let i = 0; i < 2; i++)
      results.push(await env.coordinator.run(env.coordinator.completions([`greedy ${i}`], { temperature: 0, max_tokens: 2 })));
    for (let i = 0; i < 2; i++)
      results.push(await env.coordinator.run(env.coordinator.completions([`seeded ${i}`], { temperature: 1, seed: 7, max_tokens: 2 })));
    expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    expect(results.filter((r) => r.calls === 2)).toHaveLength(2);
  });
});

describe('cancellation', () => {
  let env: Awaited<ReturnType<typeof setUp>>;

  beforeAll(async () => {
    // 60 s per call: any answer before that is the cancellation's.
    env = await setUp([{ BATCHGATE_BACKEND_BASE_MS: '60000', BATCHGATE_BACKEND_VARIANCE: '0' }], {});
  });
  afterAll(() => env?.tearDown());

  it('InferBatchCancel aborts the backend call and the batch is answered 499; the heartbeats list it while it runs', async () => {
    const [backend] = env.backends as [SimBackend];
    const beats: WorkerHeartbeat[] = [];
    env.coordinator.bus.subscribe(SUBJECTS.heartbeat, WorkerHeartbeatSchema, (beat) => void beats.push(beat));
    const batch = env.coordinator.embeddings(['never mind']);
    const workerId = await env.coordinator.send(batch);
    while ((await backend.stats()).in_flight === 0) await new Promise((resolve) => setTimeout(resolve, 20));
    while (!beats.some((beat) => beat.inferBatchIds.includes(batch.batchId))) await new Promise((resolve) => setTimeout(resolve, 20));
    env.coordinator.cancel(workerId, batch.batchId);
    const result = await env.coordinator.result(batch.batchId, 20_000);
    expect(result.status).toBe(499);
    expect(result.error).toBe('cancelled');
    // The backend saw its client leave: the call is gone there too.
    const until = Date.now() + 5000;
    while ((await backend.stats()).aborted === 0 && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await backend.stats()).toMatchObject({ aborted: 1, in_flight: 0 });
    // The next beat says it ended, and no later one lists it as running.
    while (!beats.some((beat) => beat.doneInferBatchIds.includes(batch.batchId))) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(beats.at(-1)!.inferBatchIds).not.toContain(batch.batchId);
  });
});

describe('streamed batches', () => {
  let env: Awaited<ReturnType<typeof setUp>>;

  beforeAll(async () => {
    // 1.5 s per call, 4 content events 300 ms apart: the relay is visible while the call runs.
    env = await setUp([{ BATCHGATE_BACKEND_BASE_MS: '1500', BATCHGATE_BACKEND_VARIANCE: '0' }], {});
  });
  afterAll(() => env?.tearDown());

  const streamed = (itemId: string) =>
    env.coordinator.completions(
      ['tell me'],
      { max_tokens: 4 },
      { stream: true, streamTargets: [{ itemId, ingressId: env.coordinator.ingressId }] },
    );

  it("relays the backend's events as they come: the first chunk reaches the ingress while the backend call is still running", async () => {
    const [backend] = env.backends as [SimBackend];
    const batch = streamed('live.0');
    await env.coordinator.send(batch);
    while (!env.coordinator.chunks.some((c) => c.itemId === 'live.0')) await new Promise((resolve) => setTimeout(resolve, 5));
    expect((await backend.stats()).in_flight).toBe(1);
    const result = await env.coordinator.result(batch.batchId);
    expect(result.status).toBe(200);
    const chunks = env.coordinator.chunks.filter((c) => c.itemId === 'live.0');
    expect(chunks.map((c) => c.done)).toEqual([false, false, false, false, false, true]);
  });

  it('a cancelled stream stops at the backend and its clients get a last chunk with status 499', async () => {
    const [backend] = env.backends as [SimBackend];
    const abortedBefore = (await backend.stats()).aborted;
    const batch = streamed('gone.0');
    const workerId = await env.coordinator.send(batch);
    while (!env.coordinator.chunks.some((c) => c.itemId === 'gone.0')) await new Promise((resolve) => setTimeout(resolve, 5));
    env.coordinator.cancel(workerId, batch.batchId);
    expect((await env.coordinator.result(batch.batchId)).status).toBe(499);
    const last = env.coordinator.chunks.filter((c) => c.itemId === 'gone.0').at(-1)!;
    expect(last).toMatchObject({ done: true, status: 499, error: 'cancelled' });
    while ((await backend.stats()).aborted === abortedBefore) await new Promise((resolve) => setTimeout(resolve, 20));
  });
});

describe('SIGTERM drains a worker', () => {
  let nats: InfraProcess;
  let backend: SimBackend;
  let coordinator: InferDispatcher;

  beforeAll(async () => {
    nats = await startNats();
    backend = await SimBackend.start({ BATCHGATE_BACKEND_BASE_MS: '1500', BATCHGATE_BACKEND_VARIANCE: '0' });
    coordinator = await InferDispatcher.connect(nats.url);
  });
  afterAll(async () => {
    await coordinator?.close();
    await backend?.stop();
    await nats?.dispose();
  });

  it('finishes the batches in flight, delivers their results, takes no new batch and exits 0', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, ['dist/apps/worker/src/main.js'], {
      env: {
        PATH: process.env.PATH ?? '',
        NATS_URL: nats.url,
        BATCHGATE_UPSTREAM: 'http://127.0.0.1:9',
        BATCHGATE_INFERENCE_UPSTREAM: backend.url,
        BATCHGATE_INSTANCE_ID: 'worker-drain',
        BATCHGATE_HTTP_PORT: String(port),
        BATCHGATE_LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stderr.on('data', (chunk: Buffer) => void (output += chunk.toString()));
    // Nest re-raises the signal once its shutdown hooks are done: a clean exit is code 0 or that SIGTERM.
    const exited = new Promise<string>((resolve) => child.once('exit', (code, signal) => resolve(signal ?? `code ${code}`)));
    try {
      for (let until = Date.now() + 20_000; Date.now() < until;) {
        const ready = await fetch(`http://127.0.0.1:${port}/readyz`).then(
          (r) => r.status === 200,
          () => false,
        );
        if (ready) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const batches = [0, 1, 2].map((i) => coordinator.embeddings([`in flight ${i}`]));
      for (const batch of batches) expect(await coordinator.send(batch)).toBe('worker-drain');
      child.kill('SIGTERM');
      await new Promise((resolve) => setTimeout(resolve, 500));
      // Draining: the worker left the queue group, so a new batch finds no worker.
      await expect(coordinator.send(coordinator.embeddings(['too late']))).rejects.toThrow();
      const results = await Promise.all(batches.map((b) => coordinator.result(b.batchId, 15_000)));
      expect(results.map((r) => r.status)).toEqual([200, 200, 200]);
      expect(['SIGTERM', 'code 0']).toContain(await exited);
      expect((await backend.stats()).calls).toBe(3);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      if (output.includes('error')) console.log(output);
    }
  });
});
