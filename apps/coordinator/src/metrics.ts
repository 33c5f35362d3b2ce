import type { Registry } from '#libs/metrics';
import { Counter, Gauge, Histogram } from '#libs/metrics';

/** The coordinator replica's own metrics (the fleet-wide seed metrics live in telemetry). */
export class CoordinatorMetrics {
  readonly flushes: Counter<'reason'>;
  readonly joins: Counter<'status'>;
  readonly decideLatency: Histogram;
  readonly fallbacks: Counter<'reason'>;
  readonly orphaned: Counter;
  readonly dispatchTimeouts: Counter;
  readonly lostSlots: Counter<'outcome'>;
  readonly workerSilence: Histogram;
  readonly openSlots: Gauge;
  readonly partitions: Gauge;
  readonly redisUp: Gauge;
  readonly duplicateEvents: Counter;

  constructor(registry: Registry, state: { openSlots: () => number; partitions: () => number; redisUp: () => boolean }) {
    const registers = [registry];
    this.flushes = new Counter({
      name: 'batchgate_coordinator_flush_total',
      help: 'Flushes by this replica',
      labelNames: ['reason'],
      registers,
    });
    this.joins = new Counter({
      name: 'batchgate_coordinator_joins_total',
      help: 'Join requests by outcome',
      labelNames: ['status'],
      registers,
    });
    this.decideLatency = new Histogram({
      name: 'batchgate_coordinator_decide_latency_seconds',
      help: 'Round trip of one batched policy.decide request',
      buckets: [0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01],
      registers,
    });
    this.fallbacks = new Counter({
      name: 'batchgate_coordinator_policy_fallback_total',
      help: 'Slots planned by the embedded strategy (no valid policy plan while a round was late or the policy absent), by cause',
      labelNames: ['reason'],
      registers,
    });
    this.orphaned = new Counter({
      name: 'batchgate_coordinator_orphaned_total',
      help: 'Flushed slots with no worker listening',
      registers,
    });
    this.dispatchTimeouts = new Counter({
      name: 'batchgate_coordinator_dispatch_slow_total',
      help: 'Flushes a worker took longer than the dispatch timeout to accept',
      registers,
    });
    this.lostSlots = new Counter({
      name: 'batchgate_coordinator_lost_worker_slots_total',
      help: 'Slots in flight on a worker whose heartbeats stopped: redispatched once, then released to the ingresses',
      labelNames: ['outcome'],
      registers,
    });
    this.workerSilence = new Histogram({
      name: 'batchgate_coordinator_lost_worker_silence_seconds',
      help: 'Heartbeat silence of a worker when its slot was declared lost (the detection time)',
      buckets: [0.05, 0.1, 0.2, 0.3, 0.5, 1, 2, 5],
      registers,
    });
    this.duplicateEvents = new Counter({
      name: 'batchgate_coordinator_duplicate_events_total',
      help: 'Latency events seen again (a retried at-least-once publish) and not counted twice in the features',
      registers,
    });
    this.openSlots = new Gauge({
      name: 'batchgate_coordinator_open_slots',
      help: 'Open slots owned by this replica',
      registers,
      collect() {
        this.set(state.openSlots());
      },
    });
    this.partitions = new Gauge({
      name: 'batchgate_coordinator_partitions_owned',
      help: 'Partitions this replica holds',
      registers,
      collect() {
        this.set(state.partitions());
      },
    });
    this.redisUp = new Gauge({
      name: 'batchgate_coordinator_redis_up',
      help: '1 while Redis answers',
      registers,
      collect() {
        this.set(state.redisUp() ? 1 : 0);
      },
    });
  }
}
