import { RequestPath, RequestsCompletedSchema, UpstreamCompletedSchema } from '#libs/contracts';
import type { Bus } from '#libs/nats';
import { SUBJECTS } from '#libs/nats';
import type { FeatureBook } from '#libs/policy';

/**
 * Feeds the feature book from the event stream as it flows by (plain NATS
 * subscriptions see JetStream publishes too): upstream latency for the
 * upstream-p99 feature and client latency for the route-p99 feature.
 */
export function followLiveSignals(bus: Bus, features: FeatureBook): Array<() => void> {
  return [
    bus.subscribe(SUBJECTS.event('upstream.completed'), UpstreamCompletedSchema, (event) => {
      features.recordUpstreamLatency(event.latencyMs, event.origin);
    }),
    bus.subscribe(SUBJECTS.event('request.completed'), RequestsCompletedSchema, (batch) => {
      for (const record of batch.requests) {
        if (record.path === RequestPath.COALESCED) features.recordClientLatency(record.route, record.latencyMs);
      }
    }),
  ];
}
