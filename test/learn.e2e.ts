import { readFileSync } from 'node:fs';
import { decodePolicyModel, encodePolicyModel } from '#libs/onnx';
import { loadPolicyConfig } from '../apps/policy/src/config.js';
import { Mlp, OBSERVATION_SIZE } from '#libs/policy';
import { generateTrace, SCENARIOS } from '#libs/sim';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publishModelToFleet } from '../tools/policy/publish.js';
import type { LearnOutcome } from '../tools/learn/learn.js';
import { runLearn } from '../tools/learn/learn.js';
import type { Reply } from './support/client.js';
import { get, warm } from './support/client.js';
import { TestFleet } from './support/fleet.js';
import { eventually, metricsOf, total } from './support/metrics.js';

const TOKEN = 'learn-admin-token';
const RUNNING = { name: 'fixed_timer', params: { window_ms: 50 } };
/** Shadow decisions before the gate judges a model (the default is 500; fewer keeps the test short). */
const SHADOW = 150;
const scenario = SCENARIOS['seed-bursty']!;

/** Open loop: one request per arrival of a seeded seed-bursty trace, at its time (one key, as the seed's k6 suite). */
async function replayTrace(url: string, durationMs: number, seed: number): Promise<{ replies: Reply[]; failures: unknown[] }> {
  const trace = generateTrace({ ...scenario.traffic, durationMs }, seed);
  const replies: Reply[] = [];
  const failures: unknown[] = [];
  const started = performance.now();
  const sent: Array<Promise<void>> = [];
  for (let i = 0; i < trace.t.length; i++) {
    const wait = trace.t[i]! - (performance.now() - started);
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    sent.push(
      get(url).then(
        (reply) => void replies.push(reply),
        (error: unknown) => void failures.push(error),
      ),
    );
  }
  await Promise.all(sent);
  return { replies, failures };
}

/** The seeded bursty trace replayed over and over (new seed each time) until stopped: live traffic for a shadow to be judged on. */
function bursts(url: string) {
  const replies: Reply[] = [];
  const failures: unknown[] = [];
  let running = true;
  const done = (async () => {
    for (let seed = 10; running; seed++) {
      const run = await replayTrace(url, 2_000, seed);
      replies.push(...run.replies);
      failures.push(...run.failures);
    }
  })();
  return {
    replies,
    failures,
    stop: async () => {
      running = false;
      await done;
    },
  };
}

const models = async (fleet: TestFleet, replica = 0) =>
  JSON.parse((await get(`${fleet.policyUrl(replica)}/models`)).body) as {
    active: string | null;
    shadow: { version: string } | null;
    verdicts: Array<{ version: string; outcome: string; reason: string }>;
  };

const routes = async (fleet: TestFleet) =>
  JSON.parse((await get(`${fleet.ingressOpsUrl()}/admin/policy/routes`, { authorization: `Bearer ${TOKEN}` })).body) as {
    document: { routes: Array<{ name: string; policy?: string }> };
  };

/** A 4-input actor whose FLUSH logit is `flush` (-100) on every state: it would leave every slot to the envelope. */
const neverFlushes = (flush = -100) =>
  encodePolicyModel(
    new Mlp([
      {
        inputs: OBSERVATION_SIZE,
        outputs: 2,
        activation: 'linear',
        weights: new Float32Array(2 * OBSERVATION_SIZE),
        bias: new Float32Array([0, flush]),
      },
    ]),
  );

describe('the learn loop on traffic recorded through the real stack', () => {
  let fleet: TestFleet;
  let outcome: LearnOutcome;
  const failed: unknown[] = [];
  const statuses: number[] = [];

  beforeAll(async () => {
    fleet = await TestFleet.start({
      telemetry: true,
      originDelayMs: 5,
      env: {
        BATCHGATE_ADMIN_TOKEN: TOKEN,
        BATCHGATE_POLICY_STRATEGY: 'fixed_timer:window_ms=50',
        BATCHGATE_SHADOW_DECISIONS: String(SHADOW),
        BATCHGATE_BATCH_TIMEOUT_MS: '50',
      },
    });
    await warm(fleet.ingressUrl(), 64);
  });

  afterAll(() => fleet.stop());

  it('records seeded traffic, learns a candidate that beats the running timer in replay, publishes it, and the policy service shadows and promotes it; the route then runs it, no request fails', async () => {
    const recorded = await replayTrace(`${fleet.ingressUrl()}/learn/hot`, 6_000, 3);
    failed.push(...recorded.failures);
    statuses.push(...recorded.replies.map((r) => r.status));
    const sent = recorded.replies.length;
    await eventually(
      async () => (await get(`${fleet.telemetryUrl()}/export/arrivals.jsonl`)).body.split('\n').filter(Boolean).length,
      (n) => n >= sent,
    );
    // Traffic while the candidate is in shadow: the shadow is judged on live decisions.
    const load = bursts(`${fleet.ingressUrl()}/learn/hot`);
    try {
      outcome = await runLearn({
        endpoints: {
          telemetryUrl: fleet.telemetryUrl(),
          adminUrl: fleet.ingressOpsUrl(),
          adminToken: TOKEN,
          policyUrls: [fleet.policyUrl()],
          natsUrl: fleet.nats.url,
        },
        scenario,
        defaultStrategy: RUNNING,
        decisionPath: {
          p50Ms: 0.4,
          p99Ms: 1.2,
          lateShare: 0.005,
          timeoutMs: 5,
          fallback: { name: 'fixed_timer', params: { window_ms: 20 } },
        },
        budget: { rounds: 3, epochs: 4, episodes: 3, episodeMs: 3_000 },
        margin: 0.05,
        p99SlackMs: 1,
        minRequests: 200,
        seed: 1,
        version: 'learned-e2e',
        publish: true,
        verdictTimeoutMs: 30_000,
        outDir: '.run/learn/e2e',
      });
      // A few more requests once the route runs the learned model.
      await new Promise((resolve) => setTimeout(resolve, 500));
    } finally {
      await load.stop();
      failed.push(...load.failures);
      statuses.push(...load.replies.map((r) => r.status));
    }
    const route = outcome.routes.find((r) => r.route === 'default')!;
    expect(route.requests).toBeGreaterThanOrEqual(sent);
    expect(route.rows.find((r) => r.role === 'running')!.spec).toBe('fixed_timer:window_ms=50');
    expect(route.decision).toMatchObject({ publish: true });
    expect(route.decision.saving).toBeGreaterThan(0.05);
    expect(outcome.published?.version).toBe('learned-e2e-default');
    expect(outcome.verdicts).toEqual([expect.objectContaining({ version: 'learned-e2e-default', outcome: 'promoted' })]);
    expect((await models(fleet)).active).toBe('learned-e2e-default');
    expect((await routes(fleet)).document.routes.find((r) => r.name === 'default')?.policy).toBe('ppo');
    expect(failed).toEqual([]);
    expect(statuses.every((s) => s === 200)).toBe(true);
  });

  it('a deliberately bad candidate (never flushes) published through the same path is shadowed and refused with the reason; the learned model stays live', async () => {
    expect((await models(fleet)).active).toBe('learned-e2e-default');
    const load = bursts(`${fleet.ingressUrl()}/learn/hot`);
    let verdict: { version: string; outcome: string; reason: string } | undefined;
    try {
      await publishModelToFleet(fleet.nats.url, neverFlushes(), 'never-flushes', 'test/learn');
      const after = await eventually(
        () => models(fleet),
        (m) => m.verdicts.some((v) => v.version === 'never-flushes'),
        30_000,
      );
      verdict = after.verdicts.find((v) => v.version === 'never-flushes');
    } finally {
      await load.stop();
    }
    expect(verdict?.outcome).toBe('refused');
    expect(verdict?.reason).toMatch(
      /^refused: the candidate leaves 100\.0 % of slots to the envelope, learned-e2e-default \d+\.\d % \(more than \+5\.0 pp allowed\)/,
    );
    expect((await models(fleet)).active).toBe('learned-e2e-default');
    expect(load.failures).toEqual([]);
    expect(load.replies.every((r) => r.status === 200)).toBe(true);
  });

  it('the refused model stays refused: a restarted replica (bundled model) does not shadow it again, a new one with no model does not promote it; both serve the earlier learned model, GET /models says who refused it and why', async () => {
    // The pointer still names never-flushes. Restarted, replica 0 starts on its bundled model; replica 1
    // starts with none, so nothing to compare with: unless the refusal is on record, it would promote it at once.
    await fleet.stopPolicy();
    // A shadow run longer than the test, so what replica 0 offered instead is still in shadow at the end.
    await fleet.startPolicy({ BATCHGATE_SHADOW_DECISIONS: '1000000' });
    await fleet.startPolicy({ BATCHGATE_POLICY_MODEL: 'none' });
    const bundled = decodePolicyModel(new Uint8Array(readFileSync(loadPolicyConfig({}).modelFile))).metadata.version ?? 'bundled';
    const load = bursts(`${fleet.ingressUrl()}/learn/hot`);
    const settled = (m: Awaited<ReturnType<typeof models>>) =>
      m.verdicts.some((v) => v.version === 'never-flushes') || m.active === 'never-flushes' || m.shadow?.version === 'never-flushes';
    try {
      for (const replica of [0, 1]) await eventually(() => models(fleet, replica), settled, 30_000);
      // Live traffic a while longer: nothing brings never-flushes back.
      await eventually(
        () => models(fleet, 1),
        (m) => m.active === 'learned-e2e-default',
      );
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    } finally {
      await load.stop();
    }
    for (const replica of [0, 1]) {
      const now = await models(fleet, replica);
      const about = now.verdicts.filter((v) => v.version === 'never-flushes');
      // Offered instead: the newest earlier pointer not refused, in shadow beside the bundled model on replica 0.
      expect({ replica, active: now.active, shadow: now.shadow?.version, outcomes: about.map((v) => v.outcome) }).toEqual({
        replica,
        active: replica === 0 ? bundled : 'learned-e2e-default',
        shadow: replica === 0 ? 'learned-e2e-default' : undefined,
        outcomes: ['skipped'],
      });
      expect(about[0]!.reason).toMatch(
        /^refused by policy-0 at \d{4}-\d\d-\d\dT[\d:.]+Z: refused: the candidate leaves 100\.0 % of slots to the envelope/,
      );
      expect(total(await metricsOf(fleet.policyUrl(replica)), 'batchgate_policy_model_verdicts_total', { outcome: 'skipped' })).toBe(1);
    }
    // Replica 1 fell back to the newest earlier pointer that is not refused, and had nothing to compare it with.
    expect((await models(fleet, 1)).verdicts).toContainEqual(
      expect.objectContaining({ version: 'learned-e2e-default', outcome: 'promoted', reason: 'no live model to compare with' }),
    );
    expect(load.failures).toEqual([]);
    expect(load.replies.every((r) => r.status === 200)).toBe(true);
  });

  it("a model one replica's gate refuses ends the other replica's shadow run of it: refused anywhere, shadowed nowhere", async () => {
    // Replica 0 (restarted above) shadows for 1,000,000 decisions, replica 1 for 150: replica 1 judges first.
    const load = bursts(`${fleet.ingressUrl()}/learn/hot`);
    let ended: Awaited<ReturnType<typeof models>>;
    try {
      await publishModelToFleet(fleet.nats.url, neverFlushes(-99), 'never-flushes-2', 'test/learn');
      await eventually(
        () => models(fleet, 1),
        (m) => m.verdicts.some((v) => v.version === 'never-flushes-2'),
        30_000,
      );
      ended = await eventually(
        () => models(fleet, 0),
        (m) => m.verdicts.some((v) => v.version === 'never-flushes-2'),
      );
    } finally {
      await load.stop();
    }
    expect((await models(fleet, 1)).verdicts.filter((v) => v.version === 'never-flushes-2').map((v) => v.outcome)).toEqual(['refused']);
    const here = ended.verdicts.filter((v) => v.version === 'never-flushes-2');
    expect(here.map((v) => v.outcome)).toEqual(['skipped']);
    expect(here[0]!.reason).toMatch(/^refused by policy-1 at .*: refused: the candidate leaves 100\.0 % of slots to the envelope/);
    expect(ended.shadow).toBeNull();
    expect(load.failures).toEqual([]);
    expect(load.replies.every((r) => r.status === 200)).toBe(true);
  });
});
