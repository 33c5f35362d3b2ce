import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromBinary } from '@bufbuild/protobuf';
import { connect } from '@nats-io/transport-node';
import { InferResultsSchema } from '#libs/contracts';
import { Bus, SUBJECTS } from '#libs/nats';
import { JetStreamProvider } from '#libs/service';
import { completionOf, embeddingOf } from '../tools/inference-backend/answers.js';
import { TestFleet } from './support/fleet.js';
import { SimBackend } from './support/inference-backend.js';

/** The backend's largest embedding: 4,096 floats are ~85 KB of JSON per input, so a dozen inputs pass 1 MB. */
const DIMENSIONS = 4096;

async function post(url: string, path: string, body: unknown): Promise<Response> {
  return fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

interface EmbeddingAnswer {
  data: Array<{ index: number; embedding: number[] }>;
}

interface CompletionAnswer {
  choices: Array<{ index: number; text: string }>;
}

// Batch answers larger than one NATS message (the server's max_payload, 1 MB by
// default) travel through the Object Store on both hops (worker -> coordinator,
// coordinator -> ingress) instead of failing, and so do requests: a client's
// submit (ingress -> coordinator) and a batch of long inputs (coordinator -> worker). Real NATS and Redis, the simulated
// backend as its own process, two ingresses so results fan out to both.
describe('inference answers above the NATS payload limit (real NATS, Redis, backend process)', () => {
  let backend: SimBackend;
  let fleet: TestFleet;
  let maxPayload: number;

  beforeAll(async () => {
    backend = await SimBackend.start({ BATCHGATE_BACKEND_VARIANCE: '0' });
    fleet = await TestFleet.start({
      ingresses: 2,
      env: {
        BATCHGATE_INFERENCE_UPSTREAM: backend.url,
        BATCHGATE_PARTITIONS: '8',
        BATCHGATE_INFERENCE_TENANT_QUEUE: '256',
        // Room for many long completions in one batch (the default 8,192 tokens would send them one by one).
        BATCHGATE_INFERENCE_MAX_BATCH_TOKENS: '1000000',
        // Room for one client's 192 long inputs in one batch (the default 32 would split them below max_payload).
        BATCHGATE_INFERENCE_MAX_BATCH_SIZE: '256',
      },
    });
    await fleet.waitForPartitions();
    maxPayload = fleet.workers[0]!.get(Bus).connection!.info!.max_payload;
  });

  afterAll(async () => {
    await fleet?.stop();
    await backend?.stop();
  });

  /** Names left in the large-message bucket: every stored message is deleted by the one receiver that read it. */
  async function leftInStore(): Promise<string[]> {
    const { bodies } = await fleet.workers[0]!.get(JetStreamProvider).whenReady();
    return (await bodies.list()).map((info) => info.name).filter((name) => name.startsWith('msg.'));
  }

  it('a batch of embeddings above max_payload: every client on either ingress gets its own complete vectors, in order', async () => {
    const before = await backend.stats();
    const clients = 24;
    const answers = await Promise.all(
      Array.from({ length: clients }, async (_, i) => {
        const response = await post(fleet.ingressUrl(i % 2), '/v1/embeddings', {
          model: 'sim-embedding',
          input: [`large ${i} first`, `large ${i} second`],
          dimensions: DIMENSIONS,
        });
        return { status: response.status, text: await response.text() };
      }),
    );
    const after = await backend.stats();
    answers.forEach(({ status, text }, i) => {
      expect(status, text.slice(0, 300)).toBe(200);
      const body = JSON.parse(text) as EmbeddingAnswer;
      expect(body.data.map((d) => d.index)).toEqual([0, 1]);
      expect(body.data[0]!.embedding).toEqual(embeddingOf(`large ${i} first`, DIMENSIONS));
      expect(body.data[1]!.embedding).toEqual(embeddingOf(`large ${i} second`, DIMENSIONS));
    });
    // The batches really were above the limit: on average more than max_payload of vectors per backend call.
    const perInput = JSON.stringify(embeddingOf('large 0 first', DIMENSIONS)).length;
    const calls = after.calls - before.calls;
    expect(((after.items - before.items) * perInput) / calls).toBeGreaterThan(maxPayload);
    expect(await leftInStore()).toEqual([]);
  });

  it('long completions whose batch answer is above max_payload reach each client whole', async () => {
    // 12,000 tokens of 4 characters per choice: ~48 KB a prompt, so 16 clients x 2 prompts pass 1 MB in one batch.
    const maxTokens = 12_000;
    const clients = 16;
    const before = await backend.stats();
    const answers = await Promise.all(
      Array.from({ length: clients }, async (_, i) => {
        const response = await post(fleet.ingressUrl(i % 2), '/v1/completions', {
          model: 'sim-llm',
          prompt: [`long ${i} a`, `long ${i} b`],
          max_tokens: maxTokens,
          temperature: 0,
        });
        return { status: response.status, text: await response.text() };
      }),
    );
    answers.forEach(({ status, text }, i) => {
      expect(status, text.slice(0, 300)).toBe(200);
      const body = JSON.parse(text) as CompletionAnswer;
      expect(body.choices.map((c) => c.index)).toEqual([0, 1]);
      expect(body.choices[0]!.text).toBe(completionOf(`long ${i} a`, 0, maxTokens));
      expect(body.choices[1]!.text).toBe(completionOf(`long ${i} b`, 0, maxTokens));
    });
    const after = await backend.stats();
    const perInput = JSON.stringify(completionOf('long 0 a', 0, maxTokens)).length;
    expect(((after.items - before.items) * perInput) / (after.calls - before.calls)).toBeGreaterThan(maxPayload);
    expect(await leftInStore()).toEqual([]);
  });

  it('one small backend answer fanned out to many identical requests on one ingress, above max_payload in total, reaches each of them', async () => {
    const before = await backend.stats();
    const clients = 20;
    const answers = await Promise.all(
      Array.from({ length: clients }, async () => {
        const response = await post(fleet.ingressUrl(0), '/v1/embeddings', {
          model: 'sim-embedding',
          input: 'the same large sentence',
          dimensions: DIMENSIONS,
        });
        return { status: response.status, text: await response.text() };
      }),
    );
    const after = await backend.stats();
    const expected = embeddingOf('the same large sentence', DIMENSIONS);
    for (const { status, text } of answers) {
      expect(status, text.slice(0, 300)).toBe(200);
      expect((JSON.parse(text) as EmbeddingAnswer).data[0]!.embedding).toEqual(expected);
    }
    expect(after.items - before.items).toBeLessThan(clients);
    expect(await leftInStore()).toEqual([]);
  });

  /** `count` distinct inputs of `chars` characters each (distinct, so none is shared with another). */
  const longInputs = (label: string, count: number, chars: number) =>
    Array.from({ length: count }, (_, i) => `${label} ${i} `.padEnd(chars, `${i % 10}abc `));

  it('one client sends ~1.5 MB of embedding input (192 inputs of 8,000 characters): its submit and its one batch travel by reference, every vector comes back in order', async () => {
    const input = longInputs('long input', 192, 8000);
    const body = JSON.stringify({ model: 'sim-embedding', input, dimensions: 8 });
    expect(body.length).toBeGreaterThan(maxPayload);
    const before = await backend.stats();
    const response = await fetch(`${fleet.ingressUrl(0)}/v1/embeddings`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    const text = await response.text();
    expect(response.status, text.slice(0, 300)).toBe(200);
    const answer = JSON.parse(text) as EmbeddingAnswer;
    expect(answer.data.map((d) => d.index)).toEqual(input.map((_, i) => i));
    answer.data.forEach((d, i) => expect(d.embedding).toEqual(embeddingOf(input[i]!, 8)));
    const after = await backend.stats();
    // The batch the worker got was above max_payload too: more than max_payload of input per backend call.
    expect(((after.items - before.items) * 8000) / (after.calls - before.calls)).toBeGreaterThan(maxPayload);
    expect(await leftInStore()).toEqual([]);
  });

  it("2,048 inputs (OpenAI's most per request) of 700 characters, ~1.5 MB in one request: each gets its own vector", async () => {
    const input = longInputs('many inputs', 2048, 700);
    const body = JSON.stringify({ model: 'sim-embedding', input, dimensions: 8 });
    expect(body.length).toBeGreaterThan(maxPayload);
    const response = await fetch(`${fleet.ingressUrl(1)}/v1/embeddings`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    const text = await response.text();
    expect(response.status, text.slice(0, 300)).toBe(200);
    const answer = JSON.parse(text) as EmbeddingAnswer;
    expect(answer.data).toHaveLength(2048);
    answer.data.forEach((d, i) => {
      expect(d.index).toBe(i);
      expect(d.embedding).toEqual(embeddingOf(input[i]!, 8));
    });
    expect(await leftInStore()).toEqual([]);
  });

  it('one client item above max_payload on its own (a chat with n long choices) reaches its client by reference', async () => {
    // 24 choices x 12,000 tokens of 4 characters: ~1.2 MB in one item, so no packing of items can help.
    const maxTokens = 12_000;
    const n = 24;
    const watcher = await connect({ servers: fleet.nats.url });
    let storedResults = 0;
    watcher.subscribe(SUBJECTS.inferResults('ingress-1'), {
      callback: (_error, msg) => void (fromBinary(InferResultsSchema, msg.data).storedRef !== '' && storedResults++),
    });
    await watcher.flush();
    try {
      const response = await post(fleet.ingressUrl(1), '/v1/chat/completions', {
        model: 'sim-llm',
        messages: [{ role: 'user', content: 'a very long answer, many times' }],
        max_tokens: maxTokens,
        n,
      });
      const text = await response.text();
      expect(response.status, text.slice(0, 300)).toBe(200);
      const body = JSON.parse(text) as { choices: Array<{ index: number; message: { content: string } }> };
      expect(text.length).toBeGreaterThan(maxPayload);
      expect(body.choices.map((c) => c.index)).toEqual(Array.from({ length: n }, (_, i) => i));
      for (const choice of body.choices) expect(choice.message.content.length).toBe(maxTokens * 4);
      expect(storedResults).toBe(1);
      expect(await leftInStore()).toEqual([]);
    } finally {
      await watcher.close();
    }
  });
});
