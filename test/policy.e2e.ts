import { publishPolicyModel, encodePolicyModel } from '#libs/onnx';
import { Mlp, OBSERVATION_SIZE } from '#libs/policy';
import { JetStreamProvider } from '#libs/service';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { burstAgent, get, warm } from './support/client.js';
import { TestFleet } from './support/fleet.js';
import { closedLoop } from './support/load.js';
import { eventually, metricsOf, sample, total } from './support/metrics.js';

/** A one-layer actor: FLUSH logit = slope * age_ratio - offset, WAIT logit 0. */
function ageActor(slope: number, offset: number): Uint8Array {
  const weights = new Float32Array(2 * OBSERVATION_SIZE);
  weights[OBSERVATION_SIZE + 1] = slope;
  return encodePolicyModel(
    new Mlp([{ inputs: OBSERVATION_SIZE, outputs: 2, activation: 'linear', weights, bias: new Float32Array([0, -offset]) }]),
  );
}

/** Closed-loop load over a few keys. */
const load = (fleet: TestFleet, clients: number) => closedLoop(clients, (c, i) => `${fleet.ingressUrl()}/policy-load/${(c + i) % 5}`);

const stores = (fleet: TestFleet) => fleet.policies[0]!.get(JetStreamProvider).whenReady();

describe('policy service: learned models, hot reload, fallback', () => {
  let fleet: TestFleet;

  beforeAll(async () => {
    fleet = await TestFleet.start({
      env: {
        BATCHGATE_POLICY_STRATEGY: 'ppo',
        BATCHGATE_POLICY_MODEL: 'none', // start without the bundled model: v1 is published below
        BATCHGATE_SHADOW_DECISIONS: '50',
        BATCHGATE_BATCH_TIMEOUT_MS: '50',
      },
      originDelayMs: 5,
    });
    await warm(fleet.ingressUrl(), 20);
    // v1 flushes once a slot is 30 ms old (FLUSH logit > 0 when age/50 > 0.6).
    await publishPolicyModel(await stores(fleet), ageActor(10, 6), 'v1');
    await eventually(
      () => metricsOf(fleet.policyUrl()),
      (m) => sample(m, 'policy_model_version{version="v1"}') === 1,
    );
  });

  afterAll(() => fleet.stop());

  it('publishing v2 under load switches decisions to v2 with no failed request; a corrupt v3 leaves v2 live', async () => {
    const traffic = load(fleet, 12);
    try {
      await new Promise((resolve) => setTimeout(resolve, 300));
      // v2 flushes at once (FLUSH logit always 1).
      await publishPolicyModel(await stores(fleet), ageActor(0, -1), 'v2');
      const switched = await eventually(
        () => metricsOf(fleet.policyUrl()),
        (m) => sample(m, 'policy_model_version{version="v2"}') === 1,
      );
      expect(sample(switched, 'policy_model_version{version="v1"}')).toBeUndefined();
      expect(sample(switched, 'policy_model_shadow_agreement')).toBeGreaterThanOrEqual(0);

      await publishPolicyModel(await stores(fleet), new Uint8Array([1, 2, 3, 4, 5]), 'v3', false);
      const after = await eventually(
        () => metricsOf(fleet.policyUrl()),
        (m) => total(m, 'policy_model_failures_total') >= 1,
      );
      expect(sample(after, 'policy_model_version{version="v2"}')).toBe(1);
      await new Promise((resolve) => setTimeout(resolve, 300));
    } finally {
      await traffic.stop();
    }

    expect(traffic.failures).toEqual([]);
    expect(traffic.replies.length).toBeGreaterThan(50);
    expect(traffic.replies.every((r) => r.status === 200)).toBe(true);
    const metrics = await metricsOf(fleet.policyUrl());
    expect(total(metrics, 'policy_decisions_total', { strategy: 'ppo', action: 'flush' })).toBeGreaterThan(0);
    expect(total(await metricsOf(fleet.coordinatorUrl()), 'coordinator_flush_total', { reason: 'policy' })).toBeGreaterThan(0);
  });

  it('policy service killed under load: the coordinator falls back, no request fails; restarted, decisions resume', async () => {
    const traffic = load(fleet, 12);
    let before: number;
    let during: number;
    try {
      await new Promise((resolve) => setTimeout(resolve, 200));
      before = total(await metricsOf(fleet.coordinatorUrl()), 'coordinator_flush_total', { reason: 'fallback' });
      await fleet.stopPolicy();
      await new Promise((resolve) => setTimeout(resolve, 500));
      during = total(await metricsOf(fleet.coordinatorUrl()), 'coordinator_flush_total', { reason: 'fallback' });
      await fleet.startPolicy();
      // The restarted replica loads the published pointer (v2) from KV.
      await eventually(
        () => metricsOf(fleet.policyUrl()),
        (m) => sample(m, 'policy_model_version{version="v2"}') === 1,
      );
      await eventually(
        () => metricsOf(fleet.policyUrl()),
        (m) => total(m, 'policy_decisions_total') > 0,
      );
    } finally {
      await traffic.stop();
    }

    expect(traffic.failures).toEqual([]);
    expect(traffic.replies.every((r) => r.status === 200)).toBe(true);
    expect(during).toBeGreaterThan(before);
  });
});

describe('policy admin API', () => {
  let fleet: TestFleet;
  const token = 'test-admin-token';
  const admin = async (method: 'GET' | 'PUT' | 'POST', path: string, body?: unknown, auth: string | null = `Bearer ${token}`) => {
    const response = await request(`${fleet.ingressUrl()}${path}`, {
      method,
      headers: { ...(auth ? { authorization: auth } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body !== undefined ? JSON.stringify(body) : undefined,
      dispatcher: burstAgent,
    });
    return { status: response.statusCode, body: (await response.body.json()) as Record<string, unknown> };
  };

  beforeAll(async () => {
    fleet = await TestFleet.start({ policies: 2, env: { BATCHGATE_ADMIN_TOKEN: token, BATCHGATE_POLICY_MODEL: 'none' } });
  });

  afterAll(() => fleet.stop());

  it('refuses requests without the bearer token', async () => {
    expect((await admin('GET', '/admin/policy/routes', undefined, null)).status).toBe(401);
    expect((await admin('PUT', '/admin/policy/routes', { routes: [] }, 'Bearer wrong')).status).toBe(401);
  });

  it('rejects a bad body with a 400 and the reason, changing nothing', async () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ routes: [{ name: 'x', match: 'nope' }] }, /routes\[0\]: match must be a path prefix/],
      [{ routes: [{ name: 'x', match: '/', policy: 'warp_speed' }] }, /route "x" policy: unknown strategy "warp_speed"/],
      [{ routes: [{ name: 'x', match: '/', policy: 'fixed_timer:window=3' }] }, /fixed_timer has no parameter\(s\) window/],
      [{ routes: [], defaultPolicy: 'exponential:lambda=-1' }, /lambda must be between/],
    ];
    for (const [body, reason] of cases) {
      const reply = await admin('PUT', '/admin/policy/routes', body);
      expect(reply.status).toBe(400);
      expect(reply.body.error).toBe('invalid_config');
      expect(String(reply.body.reason)).toMatch(reason);
    }
    const strategy = await admin('POST', '/admin/strategy/nope', {});
    expect(strategy.status).toBe(400);
    expect((await admin('GET', '/admin/policy/routes')).body.revision).toBe(0);
  });

  it('a good document is applied by every policy replica and every ingress', async () => {
    const put = await admin('PUT', '/admin/policy/routes', {
      routes: [
        { name: 'direct', match: '/direct/', coalesce: false },
        { name: 'quick', match: '/quick/', policy: 'fixed_timer:window_ms=5' },
      ],
    });
    expect(put.status).toBe(200);
    const revision = put.body.revision as number;
    expect(revision).toBeGreaterThan(0);
    for (const i of [0, 1])
      await eventually(
        () => metricsOf(fleet.policyUrl(i)),
        (m) => sample(m, 'policy_config_revision') === revision,
      );
    // The ingress applies the same document: /direct/ is no longer coalesced.
    await eventually(
      () => get(`${fleet.ingressUrl()}/direct/x`),
      (r) => r.headers['x-batchgate'] === 'passthrough',
    );

    const strategy = await admin('POST', '/admin/strategy/exponential', { params: { lambda: 3 } });
    expect(strategy.status).toBe(200);
    expect((strategy.body.document as { defaultPolicy: string }).defaultPolicy).toBe('exponential:lambda=3');
    for (const i of [0, 1])
      await eventually(
        () => metricsOf(fleet.policyUrl(i)),
        (m) => sample(m, 'policy_config_revision') === strategy.body.revision,
      );
    const current = await admin('GET', '/admin/policy/routes');
    expect(current.body.revision).toBe(strategy.body.revision);
  });

  it('refuses learned-strategy parameters the policy replicas would refuse: 400 naming the parameter, nothing stored', async () => {
    const good = await admin('PUT', '/admin/policy/routes', {
      routes: [{ name: 'learned', match: '/learned/', policy: 'ppo:rate_norm=50' }],
    });
    expect(good.status).toBe(200);
    for (const i of [0, 1])
      await eventually(
        () => metricsOf(fleet.policyUrl(i)),
        (m) => sample(m, 'policy_config_revision') === good.body.revision,
      );
    const before = await admin('GET', '/admin/policy/routes');

    const cases: Array<['PUT' | 'POST', string, unknown, RegExp]> = [
      [
        'PUT',
        '/admin/policy/routes',
        { routes: [{ name: 'x', match: '/', policy: 'ppo:bogus=1' }] },
        /route "x" policy: ppo has no parameter\(s\) bogus/,
      ],
      ['PUT', '/admin/policy/routes', { routes: [], defaultPolicy: 'ppo:rate_norm=0' }, /defaultPolicy: ppo\.rate_norm must be between/],
      [
        'PUT',
        '/admin/policy/routes',
        { routes: [{ name: 'x', match: '/', policy: 'qlearning:edges=3' }] },
        /qlearning has no parameter\(s\) edges/,
      ],
      ['POST', '/admin/strategy/ppo', { params: { bogus: 1 } }, /defaultPolicy: ppo has no parameter\(s\) bogus/],
    ];
    for (const [method, path, body, reason] of cases) {
      const reply = await admin(method, path, body);
      expect({ path, body, status: reply.status, error: reply.body.error }).toEqual({ path, body, status: 400, error: 'invalid_config' });
      expect(String(reply.body.reason)).toMatch(reason);
    }

    expect((await admin('GET', '/admin/policy/routes')).body).toEqual(before.body);
    // Later writes still go through, and no replica has had a revision to refuse.
    const next = await admin('POST', '/admin/strategy/ppo', { params: { p99_norm_ms: 250 } });
    expect(next.status).toBe(200);
    for (const i of [0, 1]) {
      const metrics = await eventually(
        () => metricsOf(fleet.policyUrl(i)),
        (m) => sample(m, 'policy_config_revision') === next.body.revision,
      );
      expect(total(metrics, 'policy_config_rejected_total')).toBe(0);
    }
  });
});
