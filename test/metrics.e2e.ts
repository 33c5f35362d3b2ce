import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { burst, get, warm } from './support/client.js';
import { PATIENT_POLICY, TestFleet } from './support/fleet.js';
import { eventually, metricsOf, sample, total } from './support/metrics.js';

describe('fleet-wide seed metrics', () => {
  let fleet: TestFleet;

  beforeAll(async () => {
    fleet = await TestFleet.start({
      telemetry: true,
      env: {
        // A cold first burst on a busy machine must not fall back to local coalescing: joins get 250 ms.
        ...PATIENT_POLICY,
        BATCHGATE_BATCH_TIMEOUT_MS: '80',
        BATCHGATE_MAX_BATCH_SIZE: '20',
      },
    });
    await warm(fleet.ingressUrl(), 30);
  });

  afterAll(() => fleet.stop());

  it('after a scripted burst /metrics holds the four seed metrics with the right values', async () => {
    // Script: one full slot (20 waiters -> size_cap), two partial ones (7 and 3 -> timeout).
    await Promise.all([
      burst(`${fleet.ingressUrl()}/m/full`, 20),
      burst(`${fleet.ingressUrl()}/m/seven`, 7),
      burst(`${fleet.ingressUrl()}/m/three`, 3),
    ]);
    let text = '';
    for (let i = 0; i < 100; i++) {
      text = (await get(`${fleet.telemetryUrl()}/metrics`)).body;
      if (sample(text, 'batch_size_at_flush_count{reason="timeout"}') === 2 && sample(text, 'batch_flush_total{reason="size_cap"}') === 1)
        break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(sample(text, 'batch_flush_total{reason="size_cap"}')).toBe(1);
    expect(sample(text, 'batch_flush_total{reason="timeout"}')).toBe(2);
    expect(sample(text, 'batch_size_at_flush_sum{reason="size_cap"}')).toBe(20);
    expect(sample(text, 'batch_size_at_flush_sum{reason="timeout"}')).toBe(10);
    expect(sample(text, 'batch_size_at_flush_bucket{le="5",reason="timeout"}')).toBe(1);
    expect(sample(text, 'batch_size_at_flush_bucket{le="10",reason="timeout"}')).toBe(2);
    expect(sample(text, 'batch_size_at_flush_bucket{le="20",reason="size_cap"}')).toBe(1);
    // Timeout flushes happen at >= 80 ms: none in the buckets up to 60 ms.
    expect(sample(text, 'batch_age_ms_at_flush_bucket{le="60",reason="timeout"}')).toBe(0);
    expect(sample(text, 'batch_age_ms_at_flush_count{reason="timeout"}')).toBe(2);
    expect(sample(text, 'active_batch_slots')).toBe(0);
    expect(text).toMatch(/^# TYPE batch_size_at_flush histogram$/m);
    // By Prometheus conventions beside the seed's: batchgate_ prefix, seconds, _total, an _info.
    // request.completed events travel in batches: wait for all 30.
    text = await eventually(
      () => metricsOf(fleet.telemetryUrl()),
      (t) => total(t, 'batchgate_requests_total', { path: 'coalesced' }) === 30 && total(t, 'batchgate_upstream_calls_total') === 3,
    );
    expect(sample(text, 'batchgate_batch_age_at_flush_seconds_count{reason="timeout"}')).toBe(2);
    expect(sample(text, 'batchgate_batch_age_at_flush_seconds_bucket{le="0.06",reason="timeout"}')).toBe(0);
    expect(total(text, 'batchgate_requests_total', { path: 'coalesced' })).toBe(30);
    expect(sample(text, 'batchgate_request_duration_seconds_count{path="coalesced"}')).toBe(30);
    expect(total(text, 'batchgate_upstream_calls_total')).toBe(3);
    expect(sample(text, 'batchgate_upstream_duration_seconds_count')).toBe(3);
    // Process metrics are served beside them.
    expect(text).toMatch(/^process_cpu_seconds_total /m);
  });

  it('every service serves its own /metrics, /healthz and /readyz', async () => {
    const health = await get(`${fleet.ingressOpsUrl()}/healthz`);
    expect(health.status).toBe(200);
    const ready = await get(`${fleet.ingressOpsUrl()}/readyz`);
    expect(JSON.parse(ready.body)).toMatchObject({ status: 'ready', nats: true, mode: 'fleet' });
    const ingressMetrics = (await get(`${fleet.ingressOpsUrl()}/metrics`)).body;
    expect(sample(ingressMetrics, 'batchgate_ingress_requests_total{path="coalesced",status="2xx"}')).toBe(30);
  });
});

describe('active_batch_slots while slots are open', () => {
  // Slots live 4 s (the envelope, the policy never flushes): ample time to see them open.
  const BATCH_TIMEOUT_MS = 4000;
  let fleet: TestFleet;

  beforeAll(async () => {
    fleet = await TestFleet.start({
      telemetry: true,
      env: {
        ...PATIENT_POLICY,
        BATCHGATE_BATCH_TIMEOUT_MS: String(BATCH_TIMEOUT_MS),
      },
    });
    await warm(fleet.ingressUrl(), 15);
  });

  afterAll(() => fleet.stop());

  it('counts the open slots of a burst over 3 keys (3), then 0 once they flush', async () => {
    let answered = 0;
    const bursts = ['/active/a', '/active/b', '/active/c'].map((path) =>
      burst(`${fleet.ingressUrl()}${path}`, 5).then((replies) => {
        answered += replies.length;
        return replies;
      }),
    );
    const telemetry = () => metricsOf(fleet.telemetryUrl());
    const open = await eventually(telemetry, (text) => sample(text, 'active_batch_slots') === 3, BATCH_TIMEOUT_MS);
    // Seen while every waiter was still parked: the slots were open, not yet flushed.
    expect(answered).toBe(0);
    expect(sample(open, 'batch_flush_total{reason="timeout"}')).toBeUndefined();

    const replies = (await Promise.all(bursts)).flat();
    expect(replies.every((r) => r.status === 200 && r.headers['x-batchgate'] === 'coalesced')).toBe(true);
    expect(fleet.origin.callsTo('/active/')).toHaveLength(3);
    const flushed = await eventually(telemetry, (text) => sample(text, 'batch_flush_total{reason="timeout"}') === 3);
    expect(sample(flushed, 'active_batch_slots')).toBe(0);
    // The buckets reach the configured 4 s timeout (the seed's stopped at 60 ms: every flush here was +Inf).
    expect(sample(flushed, 'batchgate_batch_age_at_flush_seconds_bucket{le="2.5",reason="timeout"}')).toBe(0);
    expect(sample(flushed, 'batchgate_batch_age_at_flush_seconds_bucket{le="5",reason="timeout"}')).toBe(3);
    expect(sample(flushed, 'batch_age_ms_at_flush_bucket{le="5000",reason="timeout"}')).toBe(3);
  });
});
