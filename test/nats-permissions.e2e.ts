import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NatsConnection } from '@nats-io/transport-node';
import { connect } from '@nats-io/transport-node';
import { Kvm } from '@nats-io/kv';
import { CONFIG_KEYS, inboxPrefixOf, JETSTREAM, SUBJECTS } from '#libs/nats';
import { burst, get, warm } from './support/client.js';
import type { ServiceName } from './support/fleet.js';
import { PATIENT_POLICY, TestFleet } from './support/fleet.js';
import { SimBackend } from './support/inference-backend.js';
import { eventually } from './support/metrics.js';

const USERS = ['ingress', 'coordinator', 'policy', 'worker', 'telemetry', 'admin'] as const;
type User = (typeof USERS)[number];

// The shipped deploy/nats/nats.conf on Debian's nats-server: its passwords come
// from the server's environment, here random ones for this test only.
describe('the shipped NATS config: a user per service, each limited to its own subjects', () => {
  // nats-server parses a variable's value as config: a password that starts with a digit reads as a number.
  const passwords = Object.fromEntries(USERS.map((user) => [user, `p${randomBytes(12).toString('hex')}`])) as Record<User, string>;
  let fleet: TestFleet;
  let backend: SimBackend;
  const open: NatsConnection[] = [];

  const violations = () => fleet.nats.log.split('\n').filter((line) => /Violation/.test(line));
  const login = async (user: User) => {
    const nc = await connect({ servers: `127.0.0.1:${fleet.nats.port}`, user, pass: passwords[user], timeout: 2000 });
    open.push(nc);
    return nc;
  };

  beforeAll(async () => {
    for (const user of USERS) process.env[`NATS_${user.toUpperCase()}_PASSWORD`] = passwords[user];
    // 4,096 dimensions (the backend's most) when asked for: a batch answer of a few dozen vectors passes max_payload.
    backend = await SimBackend.start({ BATCHGATE_BACKEND_DIMENSIONS: '4096' });
    fleet = await TestFleet.start({
      ingresses: 1,
      workers: 1,
      telemetry: true,
      env: {
        ...PATIENT_POLICY,
        BATCHGATE_BATCH_TIMEOUT_MS: '200',
        // Flow A's calls through the worker, so its result and body subjects are exercised with the worker's user.
        BATCHGATE_SOLE_MEMBER_CALLS: 'worker',
        BATCHGATE_INFERENCE_UPSTREAM: backend.url,
        BATCHGATE_ADMIN_TOKEN: 'permissions-admin-token',
        // One client's long inputs in one batch, so the batch to the worker passes max_payload too.
        BATCHGATE_INFERENCE_MAX_BATCH_SIZE: '256',
        BATCHGATE_INFERENCE_MAX_BATCH_TOKENS: '1000000',
      },
      originDelayMs: 20,
      natsArgs: ['-c', 'deploy/nats/nats.conf'],
      serviceEnv: (service: ServiceName, nats) => ({ NATS_URL: nats.url.replace('nats://', `nats://${service}:${passwords[service]}@`) }),
    });
    await warm(fleet.ingressUrl(), 50);
  }, 60_000);

  afterAll(async () => {
    await Promise.all(open.map((nc) => nc.close()));
    await fleet.stop();
    await backend?.stop();
    for (const user of USERS) delete process.env[`NATS_${user.toUpperCase()}_PASSWORD`];
  });

  it('a whole fleet logged in with its own users coalesces a burst into one origin call, with no permission violation', async () => {
    const replies = await burst(`${fleet.ingressUrl()}/perm/shared`, 50);
    expect(replies.every((reply) => reply.status === 200 && reply.headers['x-batchgate'] === 'coalesced')).toBe(true);
    expect(fleet.origin.callsTo('/perm/shared')).toHaveLength(1);
    // A body above the NATS payload limit is streamed worker -> ingress in pieces (ingress.<id>.body).
    fleet.origin.handle((_req, res) => {
      res.end(Buffer.alloc(2 * 1024 * 1024, 'b'));
    });
    try {
      const big = await get(`${fleet.ingressUrl()}/perm/big`);
      expect(big.status).toBe(200);
      expect(big.body).toHaveLength(2 * 1024 * 1024);
      expect(big.headers['x-batchgate']).toBe('coalesced');
    } finally {
      fleet.origin.handle(undefined);
    }
    expect(violations()).toEqual([]);
  });

  it('Flow B (submit, batch, result, chunks) works with the service users and no permission violation', async () => {
    const post = (path: string, body: unknown) =>
      fetch(`${fleet.ingressUrl()}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const embeddings = await post('/v1/embeddings', { model: 'sim-embedding', input: ['a', 'b'] });
    expect(embeddings.status).toBe(200);
    const stream = await post('/v1/completions', { model: 'sim-llm', prompt: 'hi', max_tokens: 4, stream: true });
    expect(stream.status).toBe(200);
    expect(await stream.text()).toContain('data: [DONE]');
    // The coordinator's user stores a strategy switch in the config bucket.
    const switched = await fetch(`${fleet.coordinatorUrl()}/admin/strategy/fixed?model=sim-embedding`, {
      method: 'POST',
      headers: { authorization: 'Bearer permissions-admin-token', 'content-type': 'application/json' },
      body: '{}',
    });
    expect(switched.status).toBe(200);
    expect(violations()).toEqual([]);
  });

  it('Flow B messages above max_payload (submit, batch, result on both hops) go through the Object Store with the service users, no violation', async () => {
    const maxPayload = 1024 * 1024;
    const post = (body: unknown) =>
      fetch(`${fleet.ingressUrl()}/v1/embeddings`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    // ~1.5 MB of input: the submit (ingress -> coordinator) and its one batch (coordinator -> worker) travel by reference.
    const input = Array.from({ length: 192 }, (_, i) => `perm ${i} `.padEnd(8000, `${i % 10}x `));
    const large = await post({ model: 'sim-embedding', input, dimensions: 8 });
    expect(large.status, (await large.clone().text()).slice(0, 300)).toBe(200);
    expect(((await large.json()) as { data: unknown[] }).data).toHaveLength(192);
    // 48 vectors of 4,096 floats (~4 MB): the result (worker -> coordinator -> ingress) travels by reference.
    const wide = await post({ model: 'sim-embedding', input: Array.from({ length: 48 }, (_, i) => `wide ${i}`), dimensions: 4096 });
    const text = await wide.text();
    expect(wide.status, text.slice(0, 300)).toBe(200);
    expect(text.length).toBeGreaterThan(maxPayload);
    expect(violations()).toEqual([]);
  });

  it(`refuses a publish on ${SUBJECTS.fetch} from the ingress's user; the coordinator's user may`, async () => {
    const [worker, ingress, coordinator] = await Promise.all([login('worker'), login('ingress'), login('coordinator')]);
    const received: string[] = [];
    worker.subscribe(SUBJECTS.fetch, { callback: (_error, msg) => void received.push(msg.string()) });
    await worker.flush();
    ingress.publish(SUBJECTS.fetch, 'from ingress');
    coordinator.publish(SUBJECTS.fetch, 'from coordinator');
    await Promise.all([ingress.flush(), coordinator.flush()]);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(received).toEqual(['from coordinator']);
    expect(violations().some((line) => line.includes('Publish Violation') && line.includes(`"${SUBJECTS.fetch}"`))).toBe(true);
  });

  it('the policy user may record a model refusal (KV policy.verdict.<sha256>), stored in the config bucket; it may not move the model pointer', async () => {
    const policy = await login('policy');
    const sha256 = randomBytes(32).toString('hex');
    const record = JSON.stringify({
      version: 'perm',
      sha256,
      outcome: 'refused',
      reason: 'test',
      compared: 0,
      replica: 'policy-x',
      atMs: 0,
    });
    policy.publish(`$KV.${JETSTREAM.configBucket}.${CONFIG_KEYS.verdict(sha256)}`, record);
    policy.publish(`$KV.${JETSTREAM.configBucket}.${CONFIG_KEYS.model}`, '{}');
    await policy.flush().catch(() => undefined);
    const admin = await login('admin');
    const config = await new Kvm(admin).open(JETSTREAM.configBucket);
    const stored = await eventually(
      () => config.get(CONFIG_KEYS.verdict(sha256)),
      (entry) => entry !== null,
    );
    expect(stored!.string()).toBe(record);
    const lines = violations().filter((line) => line.includes('Publish Violation'));
    expect(lines.some((line) => line.includes(CONFIG_KEYS.verdict(sha256)))).toBe(false);
    expect(lines.some((line) => line.includes(`$KV.${JETSTREAM.configBucket}.${CONFIG_KEYS.model}`))).toBe(true);
  });

  it('refuses an anonymous client and a wrong password', async () => {
    await expect(connect({ servers: `127.0.0.1:${fleet.nats.port}`, timeout: 2000 })).rejects.toThrow(/Authorization/i);
    await expect(connect({ servers: `127.0.0.1:${fleet.nats.port}`, user: 'worker', pass: 'guess', timeout: 2000 })).rejects.toThrow(
      /Authorization/i,
    );
  });

  it('the worker may not subscribe to the join subjects nor pose as a coordinator', async () => {
    const worker = await login('worker');
    worker.subscribe(SUBJECTS.join(0));
    worker.publish(SUBJECTS.closed('ingress-0'), 'fake');
    await worker.flush().catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const lines = violations();
    expect(lines.some((line) => line.includes('Subscription Violation') && line.includes(SUBJECTS.join(0)))).toBe(true);
    expect(lines.some((line) => line.includes('Publish Violation') && line.includes(SUBJECTS.closed('ingress-0')))).toBe(true);
  });

  it("no service user may read another's replies: each subscribes to its own inbox prefix only", async () => {
    const worker = await login('worker');
    // The ingress's joins are answered on _INBOX_ingress.*; the client default _INBOX.> is the admin's only.
    const stolen: string[] = [];
    for (const subject of [`${inboxPrefixOf('ingress')}.>`, '_INBOX.>']) {
      worker.subscribe(subject, { callback: (error, msg) => void (error ? undefined : stolen.push(msg.subject)) });
    }
    await worker.flush().catch(() => undefined);
    // Traffic that makes the ingress send requests (joins) and get their replies.
    const replies = await burst(`${fleet.ingressUrl()}/perm/inbox`, 10);
    expect(replies.every((reply) => reply.status === 200)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const lines = violations().filter((line) => line.includes('Subscription Violation'));
    expect(lines.some((line) => line.includes(`"${inboxPrefixOf('ingress')}.>"`))).toBe(true);
    expect(lines.some((line) => line.includes('"_INBOX.>"'))).toBe(true);
    expect(stolen).toEqual([]);
  });
});
