import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { embeddingOf } from '../tools/inference-backend/answers.js';
import { TestFleet } from './support/fleet.js';
import { SimBackend } from './support/inference-backend.js';

const DIMENSIONS = 8;

interface EmbeddingAnswer {
  data: Array<{ index: number; embedding: number[] }>;
  usage: { prompt_tokens: number };
}

async function post(url: string, path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
}

// Flow B end to end: ingress, coordinator and worker in this process over real
// NATS and Redis; the simulated backend is its own process and counts what reaches it.
describe('inference batching through the gateway (real NATS, Redis, backend process)', () => {
  let backend: SimBackend;
  let fleet: TestFleet;
  let url: string;

  beforeAll(async () => {
    backend = await SimBackend.start({ BATCHGATE_BACKEND_DIMENSIONS: String(DIMENSIONS), BATCHGATE_BACKEND_VARIANCE: '0' });
    fleet = await TestFleet.start({
      env: {
        BATCHGATE_INFERENCE_UPSTREAM: backend.url,
        BATCHGATE_PARTITIONS: '8',
        BATCHGATE_INFERENCE_TENANT_QUEUE: '64',
        BATCHGATE_ADMIN_TOKEN: 'test-admin-token',
      },
    });
    await fleet.waitForPartitions();
    url = fleet.ingressUrl();
  });

  afterAll(async () => {
    await fleet?.stop();
    await backend?.stop();
  });

  it('64 concurrent embedding requests: fewer backend calls than requests, each client its own vectors in order, identical inputs sent once', async () => {
    const before = await backend.stats();
    const answers = await Promise.all(
      Array.from({ length: 64 }, async (_, i) => {
        const response = await post(url, '/v1/embeddings', {
          model: 'sim-embedding',
          input: [`own text ${i}`, 'shared text'],
          user: `client-${i}`,
        });
        return { status: response.status, body: (await response.json()) as EmbeddingAnswer };
      }),
    );
    const after = await backend.stats();
    answers.forEach(({ status, body }, i) => {
      expect(status).toBe(200);
      expect(body.data.map((d) => d.index)).toEqual([0, 1]);
      expect(body.data[0]!.embedding).toEqual(embeddingOf(`own text ${i}`, DIMENSIONS));
      expect(body.data[1]!.embedding).toEqual(embeddingOf('shared text', DIMENSIONS));
      expect(body.usage.prompt_tokens).toBeGreaterThan(0);
    });
    expect(after.calls - before.calls).toBeLessThan(64);
    // 64 distinct own inputs + 'shared text' at most once per backend call that carried it.
    expect(after.items - before.items).toBeLessThan(64 * 2);
    expect(after.items - before.items).toBeLessThanOrEqual(64 + (after.calls - before.calls));
  });

  it('identical embedding inputs from concurrent clients reach the backend once', async () => {
    const before = await backend.stats();
    const answers = await Promise.all(
      Array.from({ length: 16 }, () => post(url, '/v1/embeddings', { model: 'sim-embedding', input: 'the very same sentence' })),
    );
    const after = await backend.stats();
    for (const answer of answers) expect(answer.status).toBe(200);
    expect(after.items - before.items).toBe(1);
  });

  it('the official openai client gets typed answers for embeddings, completions and chat', async () => {
    const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'sk-test-not-a-real-key', maxRetries: 0 });
    const embeddings = await client.embeddings.create({ model: 'sim-embedding', input: ['alpha', 'beta'] });
    expect(embeddings.data.map((d) => d.index)).toEqual([0, 1]);
    expect(embeddings.data[1]!.embedding).toEqual(embeddingOf('beta', DIMENSIONS));
    const completion = await client.completions.create({ model: 'sim-llm', prompt: ['one', 'two'], max_tokens: 4, temperature: 0 });
    expect(completion.object).toBe('text_completion');
    expect(completion.choices.map((c) => c.index)).toEqual([0, 1]);
    expect(typeof completion.choices[0]!.text).toBe('string');
    expect(completion.usage!.total_tokens).toBe(completion.usage!.prompt_tokens + completion.usage!.completion_tokens);
    const chat = await client.chat.completions.create({ model: 'sim-llm', messages: [{ role: 'user', content: 'hello' }], max_tokens: 4 });
    expect(chat.choices[0]!.message.role).toBe('assistant');
    expect(typeof chat.choices[0]!.message.content).toBe('string');
  });

  it('bad requests get 400 and unknown models 404 in the OpenAI error shape', async () => {
    const missing = await post(url, '/v1/embeddings', { model: 'sim-embedding' });
    expect(missing.status).toBe(400);
    expect(await missing.json()).toMatchObject({ error: { type: 'invalid_request_error', param: 'input' } });
    const priority = await post(url, '/v1/embeddings', { model: 'sim-embedding', input: 'x' }, { 'x-batchgate-priority': 'urgent' });
    expect(priority.status).toBe(400);
    const unknown = await post(url, '/v1/embeddings', { model: 'gpt-nope', input: 'x' });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ error: { type: 'invalid_request_error', param: 'model', code: 'model_not_found' } });
  });

  it('a prompt holding a tokenizer special token (<|endoftext|>) is plain text: answered, counted, and the ingress keeps serving', async () => {
    const text = 'before <|endoftext|> after';
    const special = await post(url, '/v1/embeddings', { model: 'sim-embedding', input: text });
    expect(special.status).toBe(200);
    const body = (await special.json()) as EmbeddingAnswer;
    expect(body.data[0]!.embedding).toEqual(embeddingOf(text, DIMENSIONS));
    expect(body.usage.prompt_tokens).toBeGreaterThan(0);
    const next = await post(url, '/v1/embeddings', { model: 'sim-embedding', input: 'the next request' });
    expect(next.status).toBe(200);
  });

  it('a request past its deadline before dispatch gets 504 and never reaches the backend', async () => {
    const before = await backend.stats();
    // low priority waits up to 100 ms for company; its 1 ms deadline passes first.
    const response = await post(
      url,
      '/v1/embeddings',
      { model: 'sim-embedding', input: 'too late for this' },
      {
        'x-batchgate-priority': 'low',
        'x-batchgate-deadline-ms': '1',
      },
    );
    expect(response.status).toBe(504);
    expect(await response.json()).toMatchObject({ error: { message: expect.stringContaining('deadline') } });
    await new Promise((resolve) => setTimeout(resolve, 150));
    const after = await backend.stats();
    expect(after.calls - before.calls).toBe(0);
  });

  it('streaming: SSE chunks arrive while the backend call is still running, then data: [DONE]', async () => {
    // max_tokens 32000 (the backend's limit is 32768): the Go mock's 0.015 ms per max token makes the call last ~0.5 s, spread over the chunks.
    const response = await post(url, '/v1/completions', { model: 'sim-llm', prompt: 'stream me', max_tokens: 32_000, stream: true });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    let inFlightAtFirstChunk = -1;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value as Uint8Array);
      if (inFlightAtFirstChunk < 0 && text.includes('data: {')) inFlightAtFirstChunk = (await backend.stats()).in_flight;
    }
    expect(inFlightAtFirstChunk).toBeGreaterThanOrEqual(1);
    const events = text.split('\n\n').filter((e) => e.startsWith('data: '));
    expect(events.length).toBeGreaterThan(2);
    expect(events.at(-1)).toBe('data: [DONE]');
    expect(JSON.parse(events[0]!.slice(6))).toMatchObject({ object: 'text_completion' });
  });

  it('a streaming client that disconnects cancels its item: the backend call is aborted', async () => {
    const before = await backend.stats();
    const abort = new AbortController();
    const response = await fetch(`${url}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'sim-llm', prompt: 'leave early', max_tokens: 32_000, stream: true }),
      signal: abort.signal,
    });
    const reader = response.body!.getReader();
    await reader.read();
    abort.abort();
    let after = await backend.stats();
    for (let i = 0; i < 60 && after.aborted === before.aborted; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      after = await backend.stats();
    }
    expect(after.aborted - before.aborted).toBe(1);
  });

  it('POST /admin/strategy/{name} switches one model’s strategy at run time; /metrics/json and /metrics show it and the dedup savings', async () => {
    const ops = fleet.coordinatorUrl();
    const auth = { authorization: 'Bearer test-admin-token', 'content-type': 'application/json' };
    const refused = await fetch(`${ops}/admin/strategy/model_based`, {
      method: 'POST',
      body: '{}',
      headers: { 'content-type': 'application/json' },
    });
    expect(refused.status).toBe(401);
    const unknown = await fetch(`${ops}/admin/strategy/warp_speed`, { method: 'POST', body: '{}', headers: auth });
    expect(unknown.status).toBe(400);
    const switched = await fetch(`${ops}/admin/strategy/model_based?model=sim-embedding`, {
      method: 'POST',
      body: JSON.stringify({ params: { window: 32 } }),
      headers: auth,
    });
    expect(switched.status).toBe(200);
    expect(await switched.json()).toEqual({ model: 'sim-embedding', strategy: 'model_based', params: { window: 32 } });
    const answers = await Promise.all(
      Array.from({ length: 8 }, (_, i) => post(url, '/v1/embeddings', { model: 'sim-embedding', input: `after switch ${i}` })),
    );
    for (const answer of answers) expect(answer.status).toBe(200);
    const json = (await (await fetch(`${ops}/metrics/json`)).json()) as Record<string, unknown>;
    expect(json).toMatchObject({ queue_depth: 0, strategies: { 'sim-embedding/embeddings': { name: 'model_based' } } });
    expect(typeof json.latency_p99_ms).toBe('number');
    const metrics = await (await fetch(`${ops}/metrics`)).text();
    const saved = /^batchgate_inference_tokens_saved_total (\S+)$/m.exec(metrics);
    expect(Number(saved?.[1])).toBeGreaterThan(0);
    expect(metrics).toMatch(/^batchgate_inference_cost_saved_usd_total \S+$/m);
  });

  it('a route of the existing admin API (PUT /admin/policy/routes) matching /v1/completions sets the completions strategy', async () => {
    const put = await fetch(`${fleet.ingressOpsUrl()}/admin/policy/routes`, {
      method: 'PUT',
      headers: { authorization: 'Bearer test-admin-token', 'content-type': 'application/json' },
      body: JSON.stringify({ routes: [{ name: 'completions', match: '/v1/completions', policy: 'cost_aware:call_cost_ms=20' }] }),
    });
    expect(put.status).toBe(200);
    const lanes = async () =>
      ((await (await fetch(`${fleet.coordinatorUrl()}/metrics/json`)).json()) as { strategies: Record<string, { name: string }> })
        .strategies;
    const completion = await post(url, '/v1/completions', { model: 'sim-llm', prompt: 'route me', max_tokens: 2 });
    expect(completion.status).toBe(200);
    let seen = await lanes();
    for (let i = 0; i < 100 && seen['sim-llm/completions']?.name !== 'cost_aware'; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      seen = await lanes();
    }
    expect(seen['sim-llm/completions']?.name).toBe('cost_aware');
    // Embeddings keep the model's own switch (the admin's per-model choice wins over routes).
    expect(seen['sim-embedding/embeddings']?.name).toBe('model_based');
  });
});
