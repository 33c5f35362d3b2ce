import type {
  InferBatchFlushed,
  InferCompleted,
  RequestsCompleted,
  SlotFlushed,
  SlotOpened,
  SlotsDecided,
  UpstreamCompleted,
} from '#libs/contracts';
import { DecideReplySchema, DecideRequestSchema, FlushAction, fromBinary, RequestPath } from '#libs/contracts';
import { kindName, priorityName } from '#libs/inference';
import type { BucketEnvelope, FlushMetrics, Registry } from '#libs/metrics';
import { Counter, DURATION_BUCKETS_SECONDS, flushMetrics, Histogram } from '#libs/metrics';
import type { PathName } from './live-view.js';
import { LiveView } from './live-view.js';

/** Slots abandoned without a flush event (their coordinator died and Redis lost them) stop counting as open. */
const OPEN_SLOT_HORIZON_MS = 120_000;

const PATH_NAMES: Record<RequestPath, PathName> = {
  [RequestPath.UNSPECIFIED]: 'unknown',
  [RequestPath.COALESCED]: 'coalesced',
  [RequestPath.PASSTHROUGH]: 'passthrough',
  [RequestPath.FALLBACK]: 'fallback',
  [RequestPath.SHED]: 'shed',
};

const ACTION_NAMES: Record<FlushAction, string> = {
  [FlushAction.UNSPECIFIED]: 'unknown',
  [FlushAction.WAIT]: 'wait',
  [FlushAction.FLUSH]: 'flush',
};

/** One recorded client arrival, the simulator's replay format (JSON Lines). */
export interface Arrival {
  t_ms: number;
  key: string;
  route: string;
}

/**
 * Fleet-wide projections of the event stream: the seed's flush metrics,
 * request and upstream counters, and a bounded arrival trace per route.
 * Built only from events, so replaying the stream rebuilds them exactly.
 */
export class FleetProjection {
  readonly flush: FlushMetrics;
  private readonly requests: Counter<'path' | 'route'>;
  private readonly requestsTotal: Counter<'path' | 'route'>;
  /** Deprecated (ms): requestDuration replaces it; kept for one release. */
  private readonly clientLatency: Histogram<'path'>;
  private readonly requestDuration: Histogram<'path'>;
  private readonly upstreamCalls: Counter<'status'>;
  private readonly upstreamCallsTotal: Counter<'status'>;
  /** Deprecated (ms): upstreamDuration replaces it; kept for one release. */
  private readonly upstreamLatency: Histogram;
  private readonly upstreamDuration: Histogram;
  private readonly open = new Map<string, number>();
  readonly arrivals: Arrival[] = [];
  private arrivalsNext = 0;
  /** The status page's view (last minute, recent slots). */
  readonly live = new LiveView();

  constructor(
    registry: Registry,
    private readonly arrivalsKept: number,
    envelope?: BucketEnvelope,
  ) {
    this.flush = flushMetrics(registry, envelope);
    this.flush.activeSlots.set(0);
    this.requests = new Counter({
      name: 'gateway_requests_total',
      help: 'Client requests by path taken and route',
      labelNames: ['path', 'route'],
      registers: [registry],
    });
    this.clientLatency = new Histogram({
      name: 'gateway_request_latency_ms',
      help: 'Deprecated, use batchgate_request_duration_seconds: client latency in ms by path taken',
      labelNames: ['path'],
      buckets: [1, 2, 5, 10, 20, 30, 40, 50, 60, 80, 100, 250, 500, 1000, 5000],
      registers: [registry],
    });
    this.upstreamCalls = new Counter({
      name: 'gateway_upstream_calls_total',
      help: 'Upstream calls made by workers, by status class',
      labelNames: ['status'],
      registers: [registry],
    });
    this.upstreamLatency = new Histogram({
      name: 'gateway_upstream_latency_ms',
      help: 'Deprecated, use batchgate_upstream_duration_seconds: upstream call latency in ms seen by workers',
      buckets: [1, 2, 5, 10, 20, 50, 100, 250, 500, 1000, 5000, 10000],
      registers: [registry],
    });
    this.requestsTotal = new Counter({
      name: 'batchgate_requests_total',
      help: 'Client requests by path taken and route',
      labelNames: ['path', 'route'],
      registers: [registry],
    });
    this.requestDuration = new Histogram({
      name: 'batchgate_request_duration_seconds',
      help: 'Client latency (arrival to answer) by path taken',
      labelNames: ['path'],
      buckets: DURATION_BUCKETS_SECONDS,
      registers: [registry],
    });
    this.upstreamCallsTotal = new Counter({
      name: 'batchgate_upstream_calls_total',
      help: 'Upstream calls made by workers, by status class',
      labelNames: ['status'],
      registers: [registry],
    });
    this.upstreamDuration = new Histogram({
      name: 'batchgate_upstream_duration_seconds',
      help: 'Upstream call latency seen by workers',
      buckets: DURATION_BUCKETS_SECONDS,
      registers: [registry],
    });
  }

  slotOpened(event: SlotOpened): void {
    this.open.set(event.slotId, event.meta?.atMs ?? Date.now());
    this.refreshActive(event.meta?.atMs ?? Date.now());
  }

  slotFlushed(event: SlotFlushed): void {
    const reason = event.reason;
    this.flush.flushTotal.inc({ reason });
    this.flush.sizeAtFlush.observe({ reason }, event.size);
    this.flush.ageAtFlush.observe({ reason }, event.ageMs);
    this.flush.ageAtFlushSeconds.observe({ reason }, event.ageMs / 1000);
    this.open.delete(event.slotId);
    const atMs = event.meta?.atMs ?? Date.now();
    this.refreshActive(atMs);
    this.live.flushed({ slotId: event.slotId, route: event.route, reason, size: event.size, ageMs: event.ageMs, atMs });
  }

  /** One policy.decide round: which strategy and model decide each route, and each slot's last decision. */
  slotsDecided(event: SlotsDecided): void {
    const request = fromBinary(DecideRequestSchema, event.request);
    const reply = fromBinary(DecideReplySchema, event.reply);
    const slots = request.slots;
    if (!slots) return;
    slots.slotIds.forEach((slotId, i) => {
      const decider = reply.decider[i] ?? 0;
      this.live.decided(slotId, slots.routes[slots.routeIndex[i] ?? 0] ?? '', {
        action: ACTION_NAMES[reply.actions[i] ?? FlushAction.UNSPECIFIED],
        strategy: reply.strategies[decider] ?? '',
        modelVersion: reply.modelVersions[decider] ?? '',
        size: slots.size[i] ?? 0,
        ageMs: slots.ageMs[i] ?? 0,
        requestRate: slots.requestRate[i] ?? 0,
      });
    });
  }

  /** Open slots now (for the status page). */
  get openSlots(): number {
    return this.open.size;
  }

  upstreamCompleted(event: UpstreamCompleted): void {
    const status = `${Math.floor(event.status / 100)}xx`;
    this.upstreamCalls.inc({ status });
    this.upstreamCallsTotal.inc({ status });
    this.live.upstreamCall(event.meta?.atMs ?? Date.now());
    if (event.latencyMs > 0) {
      this.upstreamLatency.observe(event.latencyMs);
      this.upstreamDuration.observe(event.latencyMs / 1000);
    }
  }

  /** Flow B: a coordinator formed an inference batch. */
  batchFlushed(event: InferBatchFlushed): void {
    this.live.inference.flushed({
      batchId: event.batchId,
      atMs: event.meta?.atMs ?? Date.now(),
      model: event.model,
      kind: kindName(event.kind),
      priority: priorityName(event.priority),
      reason: event.reason,
      strategy: event.strategy,
      items: event.items,
      inputs: event.inputs,
      tokens: event.tokens,
      ageMs: event.ageMs,
    });
  }

  /** Flow B: a batch's backend call ended. */
  inferenceCompleted(event: InferCompleted): void {
    this.live.inference.completed(event.batchId, event.meta?.atMs ?? Date.now(), {
      status: event.status,
      backendMs: event.backendMs,
      failed: event.error !== '' || event.status >= 400 || event.status === 0,
    });
  }

  requestsCompleted(batch: RequestsCompleted): void {
    for (const record of batch.requests) {
      const path = PATH_NAMES[record.path];
      this.requests.inc({ path, route: record.route });
      this.requestsTotal.inc({ path, route: record.route });
      this.clientLatency.observe({ path }, record.latencyMs);
      this.requestDuration.observe({ path }, record.latencyMs / 1000);
      this.live.request(path, record.arrivedAtMs + record.latencyMs, record.latencyMs);
      if (record.path !== RequestPath.PASSTHROUGH && record.path !== RequestPath.SHED)
        this.keepArrival({ t_ms: record.arrivedAtMs, key: record.key, route: record.route });
    }
  }

  private keepArrival(arrival: Arrival): void {
    if (this.arrivalsKept === 0) return;
    if (this.arrivals.length < this.arrivalsKept) this.arrivals.push(arrival);
    else this.arrivals[this.arrivalsNext] = arrival;
    this.arrivalsNext = (this.arrivalsNext + 1) % this.arrivalsKept;
  }

  /** Arrivals in time order (the ring buffer unrolled). */
  orderedArrivals(): Arrival[] {
    if (this.arrivals.length < this.arrivalsKept) return [...this.arrivals].sort((a, b) => a.t_ms - b.t_ms);
    return [...this.arrivals.slice(this.arrivalsNext), ...this.arrivals.slice(0, this.arrivalsNext)].sort((a, b) => a.t_ms - b.t_ms);
  }

  private refreshActive(nowMs: number): void {
    for (const [slotId, openedAt] of this.open) {
      if (nowMs - openedAt > OPEN_SLOT_HORIZON_MS) this.open.delete(slotId);
    }
    this.flush.activeSlots.set(this.open.size);
  }
}

/** The export format (GET /export/arrivals.jsonl): one arrival per line, oldest first, optionally one route's. */
export function arrivalsJsonl(projection: FleetProjection, route?: string): string {
  return projection
    .orderedArrivals()
    .filter((arrival) => !route || arrival.route === route)
    .map((arrival) => JSON.stringify(arrival))
    .join('\n');
}
