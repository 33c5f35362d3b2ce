import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { get, warm } from './support/client.js';
import { PATIENT_POLICY, TestFleet } from './support/fleet.js';

describe('coalescing across replicas', () => {
  let fleet: TestFleet;

  beforeAll(async () => {
    fleet = await TestFleet.start({
      ingresses: 2,
      coordinators: 2,
      workers: 2,
      env: {
        // Every service shares this one test process: joins get room (PATIENT_POLICY).
        ...PATIENT_POLICY,
        BATCHGATE_BATCH_TIMEOUT_MS: '300',
      },
      originDelayMs: 20,
    });
    await Promise.all([warm(fleet.ingressUrl(0), 50), warm(fleet.ingressUrl(1), 50)]);
  });

  afterAll(() => fleet.stop());

  it('shares partitions fairly between two coordinators', () => {
    expect(fleet.coordinator(0).leases.owned.size).toBe(32);
    expect(fleet.coordinator(1).leases.owned.size).toBe(32);
  });

  it('50 + 50 identical GETs on two ingresses make exactly one origin call', async () => {
    const url = (i: number) => `${fleet.ingressUrl(i % 2)}/fleet/shared?x=1`;
    const replies = await Promise.all(Array.from({ length: 100 }, (_, i) => get(url(i))));
    expect(fleet.origin.callsTo('/fleet/shared')).toHaveLength(1);
    const bodies = new Set(replies.map((r) => r.body));
    expect(bodies.size).toBe(1);
    expect(replies.every((r) => r.status === 200 && r.headers['x-batchgate'] === 'coalesced')).toBe(true);
  });

  it('many keys spread over both coordinators still make one call per key', async () => {
    const keys = Array.from({ length: 20 }, (_, k) => `/fleet/many/${k}`);
    const owners = new Set<number>();
    const replies = await Promise.all(
      keys.flatMap((path, k) => Array.from({ length: 10 }, (_, i) => get(`${fleet.ingressUrl((i + k) % 2)}${path}`))),
    );
    expect(replies.every((r) => r.status === 200)).toBe(true);
    for (const path of keys) expect(fleet.origin.calls.filter((call) => call.url === path)).toHaveLength(1);
    for (let c = 0; c < 2; c++) {
      const joins = await get(`http://127.0.0.1:${(fleet.coordinators[c]!.getHttpServer().address() as { port: number }).port}/metrics`);
      if (/batchgate_coordinator_joins_total\{status="opened"\} [1-9]/.test(joins.body)) owners.add(c);
    }
    expect(owners.size).toBe(2);
  });
});
