import type { MessageInitShape, RequestRecordSchema } from '#libs/contracts';
import { RequestPath, RequestsCompletedSchema } from '#libs/contracts';
import type { Registry } from '#libs/metrics';
import { Counter, Histogram } from '#libs/metrics';
import type { EventPublisher } from '#libs/nats';
import { eventMeta } from '#libs/nats';
import type { AnswerPath } from './waiter.js';

const PATHS: Record<AnswerPath, RequestPath> = {
  coalesced: RequestPath.COALESCED,
  passthrough: RequestPath.PASSTHROUGH,
  fallback: RequestPath.FALLBACK,
  shed: RequestPath.SHED,
};

/** Records per batch flush; a batch also leaves every FLUSH_MS. */
const BATCH = 500;
const FLUSH_MS = 50;

export interface CompletedRequest {
  key: string;
  route: string;
  path: AnswerPath;
  status: number;
  arrivedAtWallMs: number;
  latencyMs: number;
  slotId: string;
}

/**
 * Client-side outcome of every request: Prometheus counters at once, and
 * request.completed events batched (one JetStream message per BATCH records
 * or FLUSH_MS) so the hot path never publishes per request.
 */
export class RequestLog {
  private readonly total: Counter<'path' | 'status'>;
  private readonly latency: Histogram<'path'>;
  private pending: Array<MessageInitShape<typeof RequestRecordSchema>> = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    registry: Registry,
    private readonly events: EventPublisher,
    private readonly source: string,
  ) {
    this.total = new Counter({
      name: 'batchgate_ingress_requests_total',
      help: 'Client requests by path taken and status class',
      labelNames: ['path', 'status'],
      registers: [registry],
    });
    this.latency = new Histogram({
      name: 'batchgate_ingress_request_duration_seconds',
      help: 'Client latency by path taken',
      labelNames: ['path'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.08, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    });
  }

  record(done: CompletedRequest): void {
    this.total.inc({ path: done.path, status: `${Math.floor(done.status / 100)}xx` });
    this.latency.observe({ path: done.path }, done.latencyMs / 1000);
    this.pending.push({
      key: done.key,
      route: done.route,
      path: PATHS[done.path],
      status: done.status,
      arrivedAtMs: done.arrivedAtWallMs,
      latencyMs: done.latencyMs,
      slotId: done.slotId,
    });
    if (this.pending.length >= BATCH) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), FLUSH_MS);
  }

  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.length === 0) return;
    this.events.publish('request.completed', RequestsCompletedSchema, { meta: eventMeta(this.source), requests: this.pending });
    this.pending = [];
  }
}
