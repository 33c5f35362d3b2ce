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
 * Most keys whose rate is tracked at once. A key's rate state costs ~317 B
 * (issue 12: 500,000 keys retained 151 MB), so the cap bounds it near 16 MB;
 * past it the key that arrived least recently is forgotten (its rate restarts
 * from 0 if it comes back), which is the idlest one.
 */
export const MAX_TRACKED_KEYS = 50_000;

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

  constructor(
    private readonly rateTauMs = RATE_TAU_MS,
    private readonly maxKeys = MAX_TRACKED_KEYS,
  ) {}

  /** Keys whose rate is tracked now. */
  get trackedKeys(): number {
    return this.rates.size;
  }

  recordArrivals(key: string, nowMs: number, count = 1): void {
    let rate = this.rates.get(key);
    // Re-inserted on every arrival: the map's order is then least recently arrived first.
    if (rate) this.rates.delete(key);
    else rate = new DecayingRate(this.rateTauMs);
    this.rates.set(key, rate);
    rate.add(nowMs, count);
    if (this.rates.size > this.maxKeys) this.rates.delete(this.rates.keys().next().value!);
  }

  /** The key's arrival rate (req/s), 0 for a key not tracked. */
  requestRate(key: string, nowMs: number): number {
    return this.rates.get(key)?.perSecond(nowMs) ?? 0;
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

  /** Drops rate state of keys whose rate has decayed to nothing (< 0.001 arrivals per tau) and that `keep` does not hold. */
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
