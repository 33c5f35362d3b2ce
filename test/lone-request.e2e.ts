import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { get, warm } from './support/client.js';
import { TestFleet } from './support/fleet.js';

// A tick interval of 1 s makes the question's timing visible: a new slot is
// asked about when its join opens it, not at the coordinator's next tick.
// (Not a speed assertion: the bound is half the interval, far from the
// milliseconds a round trip takes.)
describe('a lone request', () => {
  let fleet: TestFleet;

  beforeAll(async () => {
    fleet = await TestFleet.start({
      env: { BATCHGATE_TICK_MS: '1000', BATCHGATE_POLICY_STRATEGY: 'size_cap:size=1', BATCHGATE_SOLE_CALL_MAX_BUSY: '1' },
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
});
