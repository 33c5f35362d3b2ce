import { describe, expect, it } from 'vitest';
import { LiveView, WINDOW_S } from './live-view.js';

const T0 = 1_700_000_000_000;

describe('LiveView', () => {
  it('counts requests per second by path and reads them as a one-minute series ending now', () => {
    const view = new LiveView();
    for (let i = 0; i < 10; i++) view.request('coalesced', T0 + i * 100, 20);
    view.request('passthrough', T0 + 1500, 5);
    const snapshot = view.snapshot(T0 + 1999, 0);
    expect(snapshot.seconds).toHaveLength(WINDOW_S);
    expect(snapshot.requests.coalesced.at(-2)).toBe(10);
    expect(snapshot.requests.passthrough.at(-1)).toBe(1);
    expect(snapshot.latency.coalesced).toEqual({ p50: 20, p99: 20, count: 10 });
  });

  it('forgets seconds older than the window, also when their ring slot is reused', () => {
    const view = new LiveView();
    view.request('coalesced', T0, 1);
    view.request('coalesced', T0 + WINDOW_S * 1000, 1);
    const snapshot = view.snapshot(T0 + WINDOW_S * 1000, 0);
    expect(snapshot.requests.coalesced.reduce((a, b) => a + b, 0)).toBe(1);
  });

  it('reduction is one minus upstream calls over the requests that could share one', () => {
    const view = new LiveView();
    for (let i = 0; i < 100; i++) view.request('coalesced', T0 + i, 30);
    for (let i = 0; i < 50; i++) view.request('passthrough', T0 + i, 30);
    for (let i = 0; i < 4; i++) view.upstreamCall(T0 + i);
    expect(view.snapshot(T0 + 2000, 3).reduction).toBeCloseTo(0.96);
    expect(new LiveView().snapshot(T0, 0).reduction).toBeUndefined();
  });

  it('pairs each flushed slot with its last decision and keeps the newest first', () => {
    const view = new LiveView();
    const decision = { action: 'flush', strategy: 'ppo', modelVersion: 'v3', size: 4, ageMs: 3, requestRate: 120 };
    view.decided('s1', 'api', decision);
    view.flushed({ slotId: 's1', route: 'api', reason: 'policy', size: 4, ageMs: 3.2, atMs: T0 });
    view.flushed({ slotId: 's2', route: 'api', reason: 'fallback', size: 1, ageMs: 9, atMs: T0 + 1 });
    const snapshot = view.snapshot(T0 + 10, 0);
    expect(snapshot.recentSlots.map((slot) => slot.slotId)).toEqual(['s2', 's1']);
    expect(snapshot.recentSlots[1]!.decision).toEqual(decision);
    expect(snapshot.routes).toEqual([{ route: 'api', strategy: 'ppo', modelVersion: 'v3' }]);
    expect(snapshot.fallbacks).toEqual({ window: 1, total: 1 });
  });

  it('counts shed requests apart from the others', () => {
    const view = new LiveView();
    view.request('shed', T0, 0.2);
    view.request('coalesced', T0, 20);
    expect(view.snapshot(T0 + 10, 0).shed).toEqual({ window: 1, total: 1 });
  });

  it("Flow B: batches per model, items per batch, dedup within a batch, and each batch's backend call", () => {
    const view = new LiveView();
    const batch = { model: 'm', kind: 'embeddings', priority: 'normal', reason: 'policy', strategy: 'queue_depth', tokens: 40, ageMs: 3 };
    view.inference.flushed({ ...batch, batchId: 'b1', atMs: T0, items: 10, inputs: 8 });
    view.inference.flushed({ ...batch, batchId: 'b2', atMs: T0 + 100, items: 6, inputs: 6, reason: 'critical', priority: 'critical' });
    view.inference.completed('b1', T0 + 50, { status: 200, backendMs: 40, failed: false });
    view.inference.completed('b2', T0 + 160, { status: 503, backendMs: 12, failed: true });
    const b = view.snapshot(T0 + 1500, 0).inference;
    expect(b.batches.at(-2)).toBe(2);
    expect(b.items.at(-2)).toBe(16);
    expect(b.itemsPerBatch).toBe(8);
    expect(b.dedup).toEqual({ window: 2, total: 2 });
    expect(b.models).toEqual([{ model: 'm', kind: 'embeddings', strategy: 'queue_depth', batches: 2, items: 16, inputs: 14, tokens: 80 }]);
    expect(b.flushes).toEqual({ policy: 1, critical: 1 });
    expect(b.backend).toMatchObject({ count: 2, errors: 1, p99: 40 });
    expect(b.recentBatches.map((r) => [r.batchId, r.status, r.backendMs])).toEqual([
      ['b2', 503, 12],
      ['b1', 200, 40],
    ]);
    // A minute later the window is empty, the total is kept.
    const later = view.snapshot(T0 + (WINDOW_S + 2) * 1000, 0).inference;
    expect(later.models).toEqual([]);
    expect(later.itemsPerBatch).toBeUndefined();
    expect(later.dedup).toEqual({ window: 0, total: 2 });
  });
});
