import type { RequestsCompleted, UpstreamCompleted } from '#libs/contracts';
import { create, RequestPath, RequestsCompletedSchema, UpstreamCompletedSchema } from '#libs/contracts';
import type { OpenSlotView } from '#libs/policy';
import { FeatureBook } from '#libs/policy';
import { describe, expect, it } from 'vitest';
import { LiveSignals } from './live-signals.js';

const upstream = (id: string, latencyMs: number) => create(UpstreamCompletedSchema, { meta: { id }, latencyMs, status: 200 });
const requests = (id: string, latencyMs: number) =>
  create(RequestsCompletedSchema, { meta: { id }, requests: [{ route: 'api', path: RequestPath.COALESCED, latencyMs }] });
const slot: OpenSlotView = {
  key: 'GET /api/x',
  route: 'api',
  openedAtMs: 0,
  lastArrivalMs: 0,
  size: 1,
  batchTimeoutMs: 50,
  maxBatchSize: 8,
};
const routeP99 = (book: FeatureBook) => book.features(slot, 0, 0).observedP99Ms;

/** Many fast events and one slow one, the slow one delivered twice (its publish retried after a lost ack). */
function burstWithRetry<E>(make: (id: string, latencyMs: number) => E): { once: E[]; delivered: E[] } {
  const once = Array.from({ length: 99 }, (_, i) => make(`e${i}`, 1));
  const slow = make('slow', 1000);
  once.push(slow);
  return { once, delivered: [...once, slow] };
}

describe('live signals from at-least-once events', () => {
  it('count a retried upstream.completed once in the upstream p99', () => {
    const { once, delivered } = burstWithRetry(upstream);
    const counted = new FeatureBook();
    const duplicates = { n: 0, inc: () => duplicates.n++ };
    const signals = new LiveSignals(counted, 1000, duplicates);
    delivered.forEach((event) => signals.upstreamCompleted(event));
    const reference = new FeatureBook();
    once.forEach((event: UpstreamCompleted) => reference.recordUpstreamLatency(event.latencyMs, event.origin));
    const naive = new FeatureBook();
    delivered.forEach((event: UpstreamCompleted) => naive.recordUpstreamLatency(event.latencyMs, event.origin));

    expect(counted.upstreamP99Ms()).toBe(reference.upstreamP99Ms());
    // The retry would have moved the p99 had it been counted.
    expect(naive.upstreamP99Ms()).not.toBe(reference.upstreamP99Ms());
    expect(duplicates.n).toBe(1);
  });

  it("count a retried request.completed batch once in the route's client p99", () => {
    const { once, delivered } = burstWithRetry(requests);
    const counted = new FeatureBook();
    const signals = new LiveSignals(counted, 1000, { inc: () => undefined });
    delivered.forEach((batch) => signals.requestsCompleted(batch));
    const feed = (book: FeatureBook, batches: RequestsCompleted[]) =>
      batches.forEach((b) => b.requests.forEach((r) => book.recordClientLatency(r.route, r.latencyMs)));
    const reference = new FeatureBook();
    feed(reference, once);
    const naive = new FeatureBook();
    feed(naive, delivered);

    expect(routeP99(counted)).toBe(routeP99(reference));
    expect(routeP99(naive)).not.toBe(routeP99(reference));
  });

  it('forget ids beyond the window, and count events without an id every time', () => {
    const duplicates = { n: 0, inc: () => duplicates.n++ };
    const signals = new LiveSignals(new FeatureBook(), 2, duplicates);
    for (const id of ['a', 'b', 'a', 'c', 'a']) signals.upstreamCompleted(upstream(id, 5));
    // 'a' again while remembered: a duplicate; after 'b' and 'c' pushed it out: counted anew.
    expect(duplicates.n).toBe(1);
    signals.upstreamCompleted(upstream('', 5));
    signals.upstreamCompleted(upstream('', 5));
    expect(duplicates.n).toBe(1);
  });
});
