/** A service's own readiness: ready when it can do its job now, with a reason per dependency. */
export interface ReadinessState {
  ready: boolean;
  checks: Record<string, boolean | string | number>;
}
export type Readiness = () => ReadinessState;

/**
 * The ingress answers with or without the fleet (it degrades to coalescing
 * within itself), so it is ready while its gateway port takes connections;
 * the degraded mode is stated, not hidden behind a 200.
 */
export function ingressReadiness(state: { nats: boolean; gatewayListening: boolean }): ReadinessState {
  const checks: ReadinessState['checks'] = {
    nats: state.nats,
    gateway: state.gatewayListening ? 'listening' : 'closed',
    mode: state.nats ? 'fleet' : 'local',
  };
  if (!state.nats) checks['degraded'] = 'NATS unreachable: requests are coalesced within this ingress only';
  return { ready: state.gatewayListening, checks };
}

/**
 * A coordinator does its job when NATS carries joins to it and it owns
 * partitions to take them for. Without Redis it still does (slots kept in
 * memory, ownership frozen): ready, with that degraded mode stated.
 */
export function coordinatorReadiness(state: { nats: boolean; redis: boolean; partitions: number }): ReadinessState {
  const checks: ReadinessState['checks'] = {
    nats: state.nats,
    redis: state.redis,
    partitions: state.partitions,
    mode: state.redis ? 'redis' : 'memory',
  };
  if (!state.redis) checks['degraded'] = 'Redis unreachable: slots kept in memory, partition ownership frozen';
  return { ready: state.nats && state.partitions > 0, checks };
}

/** The recorder is ready once NATS is up and it follows the event stream. */
export function recorderReadiness(state: { nats: boolean; following: boolean }): ReadinessState {
  return { ready: state.nats && state.following, checks: { nats: state.nats, events: state.following ? 'following' : 'not following' } };
}
