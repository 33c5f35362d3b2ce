import type { RequestsCompleted, UpstreamCompleted } from '#libs/contracts';
import { RequestPath, RequestsCompletedSchema, UpstreamCompletedSchema } from '#libs/contracts';
import type { Bus } from '#libs/nats';
import { RecentIds, SUBJECTS } from '#libs/nats';
import type { FeatureBook } from '#libs/policy';

/**
 * The latency features' inputs, each event counted once: upstream.completed
 * and request.completed are published at-least-once (libs/nats/acked-events.ts),
 * and every retried publish reaches this subscriber again, so without the
 * event ids a lost ack would count a latency twice in the p99 windows.
 */
export class LiveSignals {
  private readonly ids: RecentIds;

  constructor(
    private readonly features: FeatureBook,
    idsKept: number,
    /** Counts the events seen before (a retried publish), not counted again. */
    private readonly duplicates: { inc(): void },
  ) {
    this.ids = new RecentIds(idsKept);
  }

  upstreamCompleted(event: UpstreamCompleted): void {
    if (this.firstTime(event.meta?.id)) this.features.recordUpstreamLatency(event.latencyMs, event.origin);
  }

  requestsCompleted(batch: RequestsCompleted): void {
    if (!this.firstTime(batch.meta?.id)) return;
    for (const record of batch.requests) {
      if (record.path === RequestPath.COALESCED) this.features.recordClientLatency(record.route, record.latencyMs);
    }
  }

  /** An event without an id (a publisher older than the ids) cannot be told apart: counted. */
  private firstTime(id: string | undefined): boolean {
    if (!id || this.ids.firstTime(id)) return true;
    this.duplicates.inc();
    return false;
  }
}

/**
 * Feeds the feature book from the event stream as it flows by (plain NATS
 * subscriptions see JetStream publishes too): upstream latency for the
 * upstream-p99 feature and client latency for the route-p99 feature.
 */
export function followLiveSignals(bus: Bus, signals: LiveSignals): Array<() => void> {
  return [
    bus.subscribe(SUBJECTS.event('upstream.completed'), UpstreamCompletedSchema, (event) => signals.upstreamCompleted(event)),
    bus.subscribe(SUBJECTS.event('request.completed'), RequestsCompletedSchema, (batch) => signals.requestsCompleted(batch)),
  ];
}
