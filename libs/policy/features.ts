import { DecayingRate, SlidingQuantile } from './estimators.js';
import type { SlotFeatures } from './types.js';

/** What a decider knows about one open slot, independent of where it runs. */
export interface OpenSlotView {
  key: string;
  route: string;
  openedAtMs: number;
  lastArrivalMs: number;
  size: number;
  batchTimeoutMs: number;
  maxBatchSize: number;
  /** Origin the slot's call goes to; its upstream p99 is the slot's feature (default origin if absent). */
  origin?: string;
}

/** Key of the fleet's configured upstream (BATCHGATE_UPSTREAM) in per-origin windows. */
export const DEFAULT_ORIGIN = '';

/** Time constant of the per-key arrival-rate estimate (ms). */
export const RATE_TAU_MS = 500;
/** Upstream and client latency windows hold the last N samples (seed: 1000). */
export const LATENCY_WINDOW = 1000;

/**
 * The live signals behind SlotFeatures: per-key arrival rates, the upstream
 * p99 per origin and the per-route client-latency p99. The coordinator feeds it from
 * joins, reports and events; the simulator feeds it from its event queue. Both
 * then read features through `features()`, so a policy sees the same numbers
 * offline and live.
 */
export class FeatureBook {
  private readonly rates = new Map<string, DecayingRate>();
  private readonly upstream = new Map<string, SlidingQuantile>();
  private readonly clientLatency = new Map<string, SlidingQuantile>();

  constructor(private readonly rateTauMs = RATE_TAU_MS) {}

  recordArrivals(key: string, nowMs: number, count = 1): void {
    let rate = this.rates.get(key);
    if (!rate) this.rates.set(key, (rate = new DecayingRate(this.rateTauMs)));
    rate.add(nowMs, count);
  }

  /** One upstream call's latency, per origin (DESIGN: p99 over a sliding window per origin). */
  recordUpstreamLatency(ms: number, origin = DEFAULT_ORIGIN): void {
    let window = this.upstream.get(origin);
    if (!window) this.upstream.set(origin, (window = new SlidingQuantile(LATENCY_WINDOW)));
    window.add(ms);
  }

  recordClientLatency(route: string, ms: number): void {
    let window = this.clientLatency.get(route);
    if (!window) this.clientLatency.set(route, (window = new SlidingQuantile(LATENCY_WINDOW)));
    window.add(ms);
  }

  /** Drops rate state of keys idle for `idleMs` so memory follows the live key set. */
  forgetIdleKeys(nowMs: number, keep: (key: string) => boolean): void {
    for (const [key, rate] of this.rates) {
      if (!keep(key) && rate.read(nowMs) * this.rateTauMs < 1e-3) this.rates.delete(key);
    }
  }

  upstreamP99Ms(origin = DEFAULT_ORIGIN): number {
    return this.upstream.get(origin)?.quantile(0.99) ?? 0;
  }

  features(slot: OpenSlotView, nowMs: number, queueDepth: number): SlotFeatures {
    return {
      size: slot.size,
      ageMs: Math.max(0, nowMs - slot.openedAtMs),
      upstreamP99Ms: this.upstreamP99Ms(slot.origin),
      requestRate: this.rates.get(slot.key)?.perSecond(nowMs) ?? 0,
      queueDepth,
      observedP99Ms: this.clientLatency.get(slot.route)?.quantile(0.99) ?? 0,
      idleMs: Math.max(0, nowMs - slot.lastArrivalMs),
      batchTimeoutMs: slot.batchTimeoutMs,
      maxBatchSize: slot.maxBatchSize,
    };
  }
}
