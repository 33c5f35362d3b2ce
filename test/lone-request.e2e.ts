import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { get, warm } from './support/client.js';
import { TestFleet } from './support/fleet.js';
import { metricsOf, total } from './support/metrics.js';

// A tick interval of 1 s makes the question's timing visible: a new slot is
// asked about when its join opens it, not at the coordinator's next tick.
// (Not a speed assertion: the bound is half the interval, far from the
// milliseconds a round trip takes.)
describe('a lone request', () => {
  let fleet: TestFleet;

  beforeAll(async () => {
    fleet = await TestFleet.start({
      env: {
        BATCHGATE_TICK_MS: '1000',
        BATCHGATE_POLICY_STRATEGY: 'size_cap:size=1',
        BATCHGATE_SOLE_CALL_MAX_BUSY: '1',
        // Long enough that the opening plan learnt from the first slot stands through the whole file
        // (the default 1 s is renewed past its half-life by a question, which the count below would see).
        BATCHGATE_OPENING_PLAN_TTL_MS: '600000',
      },
    });
    await warm(fleet.ingressUrl(), 2);
  });

  afterAll(() => fleet.stop());

  it('is decided when its slot opens, not at the next tick: five in a row, each well inside one interval', async () => {
    for (let i = 0; i < 5; i++) {
      const started = performance.now();
      const reply = await get(`${fleet.ingressUrl()}/lone/${i}`);
      expect(reply.status).toBe(200);
      expect(reply.headers['x-batchgate']).toBe('coalesced');
      expect(performance.now() - started).toBeLessThan(500);
    }
    expect(fleet.origin.callsTo('/lone/')).toHaveLength(5);
  });

  it('on a quiet route with an opening plan: one origin call each, flushed by the policy plan at the join, no decide round trip', async () => {
    // The route's first slot is asked about; its answer carried the route's opening plan ("flush now" under size_cap:1).
    expect((await get(`${fleet.ingressUrl()}/quiet/first`)).status).toBe(200);
    const decideRounds = async () => {
      const coordinator = await metricsOf(fleet.coordinatorUrl());
      return {
        asked: total(coordinator, 'batchgate_coordinator_decide_latency_seconds_count'),
        decided: total(await metricsOf(fleet.policyUrl()), 'batchgate_policy_decisions_total'),
        policyFlushes: total(coordinator, 'batchgate_coordinator_flush_total', { reason: 'policy' }),
        fallbacks: total(coordinator, 'batchgate_coordinator_flush_total', { reason: 'fallback' }),
      };
    };
    const before = await decideRounds();
    for (let i = 0; i < 5; i++) {
      const reply = await get(`${fleet.ingressUrl()}/quiet/${i}`);
      expect(reply.status).toBe(200);
      expect(reply.headers['x-batchgate']).toBe('coalesced');
    }
    for (let i = 0; i < 5; i++) expect(fleet.origin.callsTo(`/quiet/${i}`)).toHaveLength(1);
    const after = await decideRounds();
    expect(after.asked).toBe(before.asked);
    expect(after.decided).toBe(before.decided);
    expect(after.policyFlushes - before.policyFlushes).toBe(5);
    expect(after.fallbacks).toBe(before.fallbacks);
  });
});
