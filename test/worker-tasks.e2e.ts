import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FetchResult, FetchTask, MessageInitShape } from '#libs/contracts';
import { FetchAcceptedSchema, FetchResultSchema, FetchTaskSchema } from '#libs/contracts';
import { Bus, SUBJECTS } from '#libs/nats';
import { get } from './support/client.js';
import { TestFleet } from './support/fleet.js';
import { CountingOrigin } from './support/origin.js';

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

// A client that can publish on NATS but is no part of the fleet: it sends
// FetchTasks straight to the worker queue group, as an attacker would, and
// listens on a made-up ingress id for the result.
describe('what a worker does with the FetchTask it receives', () => {
  let fleet: TestFleet;
  let elsewhere: CountingOrigin;
  let rogue: Bus;
  const results = new Map<string, FetchResult>();

  beforeAll(async () => {
    [fleet, elsewhere] = await Promise.all([
      TestFleet.start({ ingresses: 1, workers: 1, env: { BATCHGATE_SOLE_MEMBER_CALLS: 'worker' } }),
      CountingOrigin.start(),
    ]);
    rogue = await Bus.connect({ url: fleet.nats.url, name: 'rogue', logger: quiet });
    rogue.subscribe(SUBJECTS.result('rogue'), FetchResultSchema, (result) => void results.set(result.slotId, result));
    await new Promise((resolve) => setTimeout(resolve, 50));
  });

  afterAll(async () => {
    await rogue.close();
    await Promise.all([fleet.stop(), elsewhere.close()]);
  });

  async function send(task: MessageInitShape<typeof FetchTaskSchema>): Promise<FetchResult> {
    await rogue.request(SUBJECTS.fetch, FetchTaskSchema, { members: ['rogue'], size: 1, ...task }, FetchAcceptedSchema, 2000);
    const until = Date.now() + 5000;
    while (Date.now() < until) {
      const result = results.get(task.slotId ?? '');
      if (result) return result;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    throw new Error(`no result for ${task.slotId}`);
  }

  it('never calls a URL named in the task: the legacy origin field is ignored', async () => {
    const result = await send({ slotId: 'ssrf-url', request: { method: 'GET', path: '/steal', origin: elsewhere.url } });
    expect(elsewhere.calls).toHaveLength(0);
    // The worker's own configured origin is the only one it calls.
    expect(result.status).toBe(200);
    expect(fleet.origin.callsTo('/steal')).toHaveLength(1);
  });

  it('refuses an origin id it has not configured: an error result, no call anywhere, counted', async () => {
    const result = await send({ slotId: 'ssrf-id', request: { method: 'GET', path: '/unknown-id', originId: 'elsewhere' } });
    expect(result.status).toBe(502);
    expect(result.error).toBe('unknown_origin');
    expect(elsewhere.calls).toHaveLength(0);
    expect(fleet.origin.callsTo('/unknown-id')).toHaveLength(0);
    const metrics = await get(`http://127.0.0.1:${(fleet.workers[0]!.getHttpServer().address() as { port: number }).port}/metrics`);
    expect(metrics.body).toMatch(/batchgate_worker_tasks_refused_total\{reason="unknown_origin"\} 1/);
  });

  it('the default origin id is BATCHGATE_UPSTREAM', async () => {
    const result = await send({ slotId: 'named-default', request: { method: 'GET', path: '/named-default', originId: 'default' } });
    expect(result.status).toBe(200);
    expect(fleet.origin.callsTo('/named-default')).toHaveLength(1);
  });

  it('a task whose deadline has passed does not reach the origin; the members get a 504', async () => {
    const result = await send({
      slotId: 'expired',
      request: { method: 'GET', path: '/expired' },
      deadlineAtMs: Date.now() - 1000,
    });
    expect(result.status).toBe(504);
    expect(result.error).toBe('expired');
    expect(fleet.origin.callsTo('/expired')).toHaveLength(0);
  });

  it("a task the fleet dispatches names the origin by id, no URL, and carries its waiters' deadline", async () => {
    const seen: FetchTask[] = [];
    // A plain (non-queue) subscriber sees every task the coordinator sends.
    const stop = rogue.subscribe(SUBJECTS.fetch, FetchTaskSchema, (task) => void seen.push(task));
    await new Promise((resolve) => setTimeout(resolve, 50));
    const sentAt = Date.now();
    const reply = await get(`${fleet.ingressUrl()}/carried`);
    stop();
    expect(reply.status).toBe(200);
    const task = seen.find((t) => t.request?.path === '/carried');
    expect(task?.request?.originId).toBe('default');
    expect(task?.request?.origin).toBe('');
    // BATCHGATE_REQUEST_TIMEOUT_MS defaults to 30 s: the waiter's deadline, on the wall clock.
    expect(task?.deadlineAtMs).toBeGreaterThanOrEqual(sentAt + 30_000 - 5);
    expect(task?.deadlineAtMs).toBeLessThanOrEqual(Date.now() + 30_000);
  });

  it('bounds the upstream call by the time left before the deadline, not the 10 s upstream timeout', async () => {
    fleet.origin.handle(async (req, res) => {
      if (req.url === '/slow') await new Promise((resolve) => setTimeout(resolve, 5000));
      res.end('late');
    });
    try {
      const result = await send({ slotId: 'bounded', request: { method: 'GET', path: '/slow' }, deadlineAtMs: Date.now() + 300 });
      expect(result.status).toBe(504);
      expect(result.error).toBe('timeout');
      expect(fleet.origin.callsTo('/slow')).toHaveLength(1);
    } finally {
      fleet.origin.handle(undefined);
    }
  });
});
