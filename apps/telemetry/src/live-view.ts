/**
 * What the status page shows, built from the same events as the other
 * projections: per-second series over the last minute (requests by path,
 * upstream calls, flushes by reason), latency quantiles by path, open slots,
 * the strategy and model deciding each route, and the most recent slots with
 * the decision that flushed them. Pure: time comes from the events and the caller.
 */

export const WINDOW_S = 60;
const LATENCY_SAMPLES = 20_000;
const RECENT_SLOTS = 25;
const RECENT_DECISIONS = 5_000;

export type PathName = 'coalesced' | 'passthrough' | 'fallback' | 'shed' | 'unknown';

export interface Decision {
  action: string;
  strategy: string;
  modelVersion: string;
  size: number;
  ageMs: number;
  requestRate: number;
}

export interface RecentSlot {
  slotId: string;
  route: string;
  reason: string;
  size: number;
  ageMs: number;
  atMs: number;
  decision: Decision | undefined;
}

export interface StatusSnapshot {
  atMs: number;
  /** Per-second series, oldest first, WINDOW_S entries; `seconds` are epoch seconds. */
  seconds: number[];
  requests: Record<PathName, number[]>;
  upstreamCalls: number[];
  flushes: Record<string, number[]>;
  /** Client requests per second over the last 5 s. */
  rps: number;
  /** 1 - upstream calls / requests that could share a call, over the window. */
  reduction: number | undefined;
  latency: Record<string, { p50: number; p99: number; count: number }>;
  openSlots: number;
  routes: Array<{ route: string; strategy: string; modelVersion: string }>;
  fallbacks: { window: number; total: number };
  shed: { window: number; total: number };
  recentSlots: RecentSlot[];
}

/** A per-second counter over the last WINDOW_S seconds. */
class SecondSeries {
  private readonly counts = new Float64Array(WINDOW_S);
  private readonly stamps = new Float64Array(WINDOW_S).fill(-1);

  add(atMs: number, count = 1): void {
    const second = Math.floor(atMs / 1000);
    const slot = second % WINDOW_S;
    if (this.stamps[slot] !== second) {
      this.stamps[slot] = second;
      this.counts[slot] = 0;
    }
    this.counts[slot]! += count;
  }

  /** Counts for `seconds` (ascending epoch seconds); 0 where nothing was recorded. */
  read(seconds: readonly number[]): number[] {
    return seconds.map((second) => (this.stamps[second % WINDOW_S] === second ? this.counts[second % WINDOW_S]! : 0));
  }
}

class LatencyWindow {
  private readonly at = new Float64Array(LATENCY_SAMPLES);
  private readonly ms = new Float64Array(LATENCY_SAMPLES);
  private next = 0;
  private size = 0;

  add(atMs: number, latencyMs: number): void {
    this.at[this.next] = atMs;
    this.ms[this.next] = latencyMs;
    this.next = (this.next + 1) % LATENCY_SAMPLES;
    this.size = Math.min(LATENCY_SAMPLES, this.size + 1);
  }

  quantiles(sinceMs: number): { p50: number; p99: number; count: number } {
    const values: number[] = [];
    for (let i = 0; i < this.size; i++) if (this.at[i]! >= sinceMs) values.push(this.ms[i]!);
    values.sort((a, b) => a - b);
    const q = (p: number) => (values.length === 0 ? 0 : values[Math.min(values.length - 1, Math.ceil(p * values.length) - 1)]!);
    return { p50: q(0.5), p99: q(0.99), count: values.length };
  }
}

export class LiveView {
  private readonly requests = new Map<PathName, SecondSeries>();
  private readonly latency = new Map<PathName, LatencyWindow>();
  private readonly upstream = new SecondSeries();
  private readonly flushes = new Map<string, SecondSeries>();
  private readonly shed = new SecondSeries();
  private shedTotal = 0;
  private fallbackTotal = 0;
  private readonly routes = new Map<string, { strategy: string; modelVersion: string }>();
  private readonly decisions = new Map<string, Decision>();
  private readonly recent: RecentSlot[] = [];

  request(path: PathName, atMs: number, latencyMs: number): void {
    this.seriesOf(this.requests, path).add(atMs);
    let window = this.latency.get(path);
    if (!window) this.latency.set(path, (window = new LatencyWindow()));
    window.add(atMs, latencyMs);
    if (path === 'shed') {
      this.shed.add(atMs);
      this.shedTotal++;
    }
  }

  upstreamCall(atMs: number): void {
    this.upstream.add(atMs);
  }

  decided(slotId: string, route: string, decision: Decision): void {
    this.routes.set(route, { strategy: decision.strategy, modelVersion: decision.modelVersion });
    this.decisions.set(slotId, decision);
    if (this.decisions.size > RECENT_DECISIONS) this.decisions.delete(this.decisions.keys().next().value!);
  }

  flushed(slot: Omit<RecentSlot, 'decision'>): void {
    this.seriesOf(this.flushes, slot.reason).add(slot.atMs);
    if (slot.reason === 'fallback') this.fallbackTotal++;
    this.recent.unshift({ ...slot, decision: this.decisions.get(slot.slotId) });
    this.decisions.delete(slot.slotId);
    if (this.recent.length > RECENT_SLOTS) this.recent.pop();
  }

  snapshot(nowMs: number, openSlots: number): StatusSnapshot {
    const last = Math.floor(nowMs / 1000);
    const seconds = Array.from({ length: WINDOW_S }, (_, i) => last - WINDOW_S + 1 + i);
    const requests = Object.fromEntries(
      (['coalesced', 'passthrough', 'fallback', 'shed', 'unknown'] as const).map((path) => [
        path,
        this.seriesOf(this.requests, path).read(seconds),
      ]),
    ) as Record<PathName, number[]>;
    const flushes = Object.fromEntries([...this.flushes].map(([reason, series]) => [reason, series.read(seconds)]));
    const upstreamCalls = this.upstream.read(seconds);
    const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
    // The last second is still filling: the rate is read over the five before it.
    const recentRequests = Object.values(requests).reduce((total, series) => total + sum(series.slice(-6, -1)), 0);
    const shareable = sum(requests.coalesced) + sum(requests.fallback);
    const windowStart = (last - WINDOW_S + 1) * 1000;
    return {
      atMs: nowMs,
      seconds,
      requests,
      upstreamCalls,
      flushes,
      rps: recentRequests / 5,
      reduction: shareable > 0 ? Math.max(0, 1 - sum(upstreamCalls) / shareable) : undefined,
      latency: Object.fromEntries([...this.latency].map(([path, window]) => [path, window.quantiles(windowStart)])),
      openSlots,
      routes: [...this.routes].map(([route, r]) => ({ route, ...r })).sort((a, b) => a.route.localeCompare(b.route)),
      fallbacks: { window: sum(flushes.fallback ?? []), total: this.fallbackTotal },
      shed: { window: sum(this.shed.read(seconds)), total: this.shedTotal },
      recentSlots: [...this.recent],
    };
  }

  private seriesOf<K>(map: Map<K, SecondSeries>, key: K): SecondSeries {
    let series = map.get(key);
    if (!series) map.set(key, (series = new SecondSeries()));
    return series;
  }
}
