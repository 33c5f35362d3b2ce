import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IngressService } from '../apps/ingress/src/ingress.service.js';
import { get } from './support/client.js';
import { PATIENT_POLICY, TestFleet } from './support/fleet.js';
import { eventually } from './support/metrics.js';

type Ready = { status: number; body: Record<string, unknown> };

async function readyz(baseUrl: string): Promise<Ready> {
  const reply = await get(`${baseUrl}/readyz`);
  return { status: reply.status, body: JSON.parse(reply.body) as Record<string, unknown> };
}

describe('/readyz says whether each service can do its job now', () => {
  let fleet: TestFleet;

  beforeAll(async () => {
    fleet = await TestFleet.start({ telemetry: true, env: PATIENT_POLICY });
    await fleet.waitForPartitions();
  });

  afterAll(() => fleet.stop());

  it('all dependencies up: ingress in fleet mode, coordinator with Redis and its partitions, recorder following the events', async () => {
    expect(await readyz(fleet.ingressOpsUrl())).toEqual({
      status: 200,
      body: { status: 'ready', nats: true, gateway: 'listening', mode: 'fleet' },
    });
    expect(await readyz(fleet.coordinatorUrl())).toEqual({
      status: 200,
      body: { status: 'ready', nats: true, redis: true, partitions: 64, mode: 'redis' },
    });
    const recorder = await eventually(
      () => readyz(fleet.telemetryUrl()),
      (r) => r.status === 200,
    );
    expect(recorder.body).toEqual({ status: 'ready', nats: true, events: 'following' });
  });

  it('Redis down: the coordinator stays ready and says it runs from memory; NATS down: only the ingress is ready, saying it is local', async () => {
    await fleet.redis.stop();
    const memory = await eventually(
      () => readyz(fleet.coordinatorUrl()),
      (r) => r.body['redis'] === false,
    );
    expect(memory.status).toBe(200);
    expect(memory.body).toMatchObject({ status: 'ready', mode: 'memory', degraded: expect.stringContaining('Redis unreachable') });

    await fleet.nats.stop();
    const coordinator = await eventually(
      () => readyz(fleet.coordinatorUrl()),
      (r) => r.status === 503,
    );
    expect(coordinator.body).toMatchObject({ status: 'not ready', nats: false });
    expect(
      (
        await eventually(
          () => readyz(fleet.telemetryUrl()),
          (r) => r.status === 503,
        )
      ).body,
    ).toMatchObject({ nats: false });
    const ingress = await readyz(fleet.ingressOpsUrl());
    expect(ingress.status).toBe(200);
    expect(ingress.body).toMatchObject({ nats: false, mode: 'local', degraded: expect.stringContaining('NATS unreachable') });

    await Promise.all([fleet.redis.start(), fleet.nats.start()]);
    await eventually(
      () => readyz(fleet.coordinatorUrl()),
      (r) => r.status === 200 && r.body['redis'] === true,
      15_000,
    );
  });

  it('an ingress whose gateway stopped taking connections (draining) is not ready', async () => {
    fleet.ingresses[0]!.get(IngressService).beforeApplicationShutdown();
    const draining = await readyz(fleet.ingressOpsUrl());
    expect(draining.status).toBe(503);
    expect(draining.body).toMatchObject({ status: 'not ready', gateway: 'closed' });
  });
});
