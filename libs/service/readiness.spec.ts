import { describe, expect, it } from 'vitest';
import { coordinatorReadiness, ingressReadiness, recorderReadiness } from './readiness.js';

describe('readiness', () => {
  it('an ingress is ready while its gateway listens, and says when it runs without the fleet', () => {
    expect(ingressReadiness({ nats: true, gatewayListening: true })).toEqual({
      ready: true,
      checks: { nats: true, gateway: 'listening', mode: 'fleet' },
    });
    const local = ingressReadiness({ nats: false, gatewayListening: true });
    expect(local.ready).toBe(true);
    expect(local.checks).toMatchObject({ mode: 'local', degraded: expect.stringContaining('NATS unreachable') });
    expect(ingressReadiness({ nats: true, gatewayListening: false }).ready).toBe(false);
  });

  it('a coordinator needs NATS and partitions; without Redis it is ready in a stated degraded mode', () => {
    expect(coordinatorReadiness({ nats: true, redis: true, partitions: 64 }).ready).toBe(true);
    expect(coordinatorReadiness({ nats: true, redis: true, partitions: 0 }).ready).toBe(false);
    expect(coordinatorReadiness({ nats: false, redis: true, partitions: 64 }).ready).toBe(false);
    const memory = coordinatorReadiness({ nats: true, redis: false, partitions: 64 });
    expect(memory.ready).toBe(true);
    expect(memory.checks).toMatchObject({ mode: 'memory', degraded: expect.stringContaining('Redis unreachable') });
  });

  it('the recorder needs NATS and its consumer on the event stream', () => {
    expect(recorderReadiness({ nats: true, following: true }).ready).toBe(true);
    expect(recorderReadiness({ nats: true, following: false }).ready).toBe(false);
    expect(recorderReadiness({ nats: false, following: true }).ready).toBe(false);
  });
});
