import { DecideReplySchema, DecideRequestSchema, FlushAction } from '#libs/contracts';
import { Bus, QUEUES, SUBJECTS } from '#libs/nats';
import { OPENING_PLAN_TTL_MS } from '#libs/policy';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { burst, get, warm } from './support/client.js';
import { FlushWatch } from './support/events.js';
import { TestFleet } from './support/fleet.js';
import { metricsOf, sample, total } from './support/metrics.js';

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

const coordinatorMetrics = (fleet: TestFleet) => metricsOf(fleet.coordinatorUrl());
const counter = (metrics: string, series: string) => sample(metrics, series) ?? 0;

function fleetWithWatch(fallback: string) {
  const state = {} as { fleet: TestFleet; watch: FlushWatch };
  beforeAll(async () => {
    state.fleet = await TestFleet.start({
      env: {
        BATCHGATE_POLICY_STRATEGY: 'size_cap:size=100000',
        BATCHGATE_FALLBACK_STRATEGY: fallback,
        BATCHGATE_BATCH_TIMEOUT_MS: '50',
        BATCHGATE_MAX_BATCH_SIZE: '16',
      },
    });
    state.watch = await FlushWatch.start(state.fleet.nats.url);
    await warm(state.fleet.ingressUrl(), 20);
    // Warm the decision path (JIT, Redis scripts) so the first measured slot is not a cold start.
    await Promise.all(Array.from({ length: 10 }, (_, k) => get(`${state.fleet.ingressUrl()}/envelope/warm/${k}`)));
    await state.watch.waitFor(10);
    state.watch.clear();
  });
  afterEach(() => state.watch.clear());
  afterAll(async () => {
    await state.watch.close();
    await state.fleet.stop();
  });
  return state;
}

describe('safety envelope', () => {
  // The embedded strategy never flushes either, so only the envelope can: a decision that
  // times out on a busy test machine cannot flush the slot early.
  const state = fleetWithWatch('size_cap:size=100000');
  let fleet: TestFleet;
  let watch: FlushWatch;
  beforeAll(() => {
    ({ fleet, watch } = state);
  });

  it('a slot the policy never flushes is flushed at batch_timeout_ms with reason timeout', async () => {
    const reply = await get(`${fleet.ingressUrl()}/envelope/lonely`);
    expect(reply.status).toBe(200);
    const [flushed] = await watch.waitFor(1);
    expect(flushed!.reason).toBe('timeout');
    expect(flushed!.size).toBe(1);
    // Ticks are 1 ms apart; the bound leaves room for a busy test machine.
    expect(flushed!.ageMs).toBeGreaterThanOrEqual(50);
    expect(flushed!.ageMs).toBeLessThan(65);
  });

  it('max_batch_size waiters flush at once with reason size_cap', async () => {
    const replies = await burst(`${fleet.ingressUrl()}/envelope/full`, 16);
    expect(replies.every((r) => r.status === 200)).toBe(true);
    const flushed = await watch.waitFor(1);
    expect(flushed[0]!.reason).toBe('size_cap');
    expect(flushed[0]!.size).toBe(16);
    expect(flushed[0]!.ageMs).toBeLessThan(50);
    expect(fleet.origin.callsTo('/envelope/full')).toHaveLength(1);
  });
});

describe('policy fallback', () => {
  // The embedded strategy is the default fixed_timer of 20 ms.
  const state = fleetWithWatch('fixed_timer:window_ms=20');
  let fleet: TestFleet;
  let watch: FlushWatch;
  beforeAll(() => {
    ({ fleet, watch } = state);
  });

  describe('with the policy service stopped', () => {
    // New slots stand on the route's opening plan (the stopped policy's last answer) for its lifetime; the
    // coordinator learns the policy is gone only when it next asks. Past that lifetime every new slot is asked.
    beforeAll(async () => {
      await fleet.stopPolicy();
      await new Promise((resolve) => setTimeout(resolve, OPENING_PLAN_TTL_MS));
    });
    afterAll(() => fleet.startPolicy());

    it('the embedded strategy decides (reason fallback) and requests are still served', async () => {
      const before = counter(await coordinatorMetrics(fleet), 'batchgate_coordinator_policy_fallback_total{reason="unavailable"}');
      const replies = await Promise.all(Array.from({ length: 5 }, (_, k) => get(`${fleet.ingressUrl()}/envelope/fallback/${k}`)));
      expect(replies.every((r) => r.status === 200 && r.headers['x-batchgate'] === 'coalesced')).toBe(true);
      const flushed = await watch.waitFor(5);
      expect(flushed.map((f) => f.reason)).toEqual(Array(5).fill('fallback'));
      // The embedded fixed_timer (20 ms) acted, well before the 50 ms envelope would have.
      for (const f of flushed) expect(f.ageMs).toBeGreaterThanOrEqual(20);
      for (const f of flushed) expect(f.ageMs).toBeLessThan(40);
      const after = counter(await coordinatorMetrics(fleet), 'batchgate_coordinator_policy_fallback_total{reason="unavailable"}');
      expect(after).toBeGreaterThan(before);
    });

    it('a policy answer later than the 5 ms decision timeout is replaced by the embedded strategy', async () => {
      // A responder that always says FLUSH, but only after 30 ms: if it were waited for, slots would
      // flush as `policy` at ~30 ms; the coordinator must give up at 5 ms and let fixed_timer (20 ms) act.
      const slowPolicy = await Bus.connect({ url: fleet.nats.url, name: 'slow-policy', logger: quiet });
      slowPolicy.subscribe(
        SUBJECTS.decide,
        DecideRequestSchema,
        (request, incoming) =>
          void new Promise((resolve) => setTimeout(resolve, 30)).then(() =>
            incoming.respond(DecideReplySchema, { actions: (request.slots?.size ?? []).map(() => FlushAction.FLUSH) }),
          ),
        QUEUES.policy,
      );
      await slowPolicy.connection?.flush();
      await new Promise((resolve) => setTimeout(resolve, 150)); // outlive the coordinator's back-off
      try {
        const before = counter(await coordinatorMetrics(fleet), 'batchgate_coordinator_policy_fallback_total{reason="timeout"}');
        await Promise.all(Array.from({ length: 3 }, (_, k) => get(`${fleet.ingressUrl()}/envelope/slow/${k}`)));
        const flushed = await watch.waitFor(3);
        expect(flushed.map((f) => f.reason)).toEqual(Array(3).fill('fallback'));
        for (const f of flushed) expect(f.ageMs).toBeLessThan(30);
        const after = counter(await coordinatorMetrics(fleet), 'batchgate_coordinator_policy_fallback_total{reason="timeout"}');
        expect(after).toBeGreaterThan(before);
      } finally {
        await slowPolicy.close();
      }
    });
  });

  it('once the policy service is back, decisions come from it again', async () => {
    await new Promise((resolve) => setTimeout(resolve, 150));
    const decided = () => metricsOf(fleet.policyUrl()).then((m) => total(m, 'batchgate_policy_decisions_total'));
    const before = await decided();
    await Promise.all(Array.from({ length: 5 }, (_, k) => get(`${fleet.ingressUrl()}/envelope/after-policy/${k}`)));
    expect(await decided()).toBeGreaterThan(before);
  });
});
