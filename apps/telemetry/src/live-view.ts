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

/** One inference batch (Flow B) as the status page lists it. */
export interface RecentBatch {
  batchId: string;
  atMs: number;
  model: string;
  kind: string;
  priority: string;
  reason: string;
  strategy: string;
  /** Client items answered, distinct inputs sent, estimated tokens. */
  items: number;
  inputs: number;
  tokens: number;
  ageMs: number;
  /** Backend call time and status, once inference.completed arrived. */
  backendMs: number | undefined;
  status: number | undefined;
}

/** Flow B over the window: what the coordinators batched and what the backends answered. */
export interface InferenceSnapshot {
  /** Client items and batches per second, last 5 s. */
  itemsPerSecond: number;
  batchesPerSecond: number;
  /** Per-second series over the window, like the others. */
  items: number[];
  batches: number[];
  /** Client items per batch over the window. */
  itemsPerBatch: number | undefined;
  /** Items that shared another item's input in their batch (dedup), over the window and in total. */
  dedup: { window: number; total: number };
  backend: { p50: number; p99: number; count: number; errors: number };
  models: Array<{ model: string; kind: string; strategy: string; batches: number; items: number; inputs: number; tokens: number }>;
  flushes: Record<string, number>;
  recentBatches: RecentBatch[];
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
  inference: InferenceSnapshot;
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

interface BatchMark {
  atMs: number;
  model: string;
  kind: string;
  strategy: string;
  reason: string;
  items: number;
  inputs: number;
  tokens: number;
}

/** Flow B's part of the view: batches formed (batch.flushed) and backend calls (inference.completed). */
class InferenceView {
  private readonly items = new SecondSeries();
  private readonly batches = new SecondSeries();
  private readonly dedup = new SecondSeries();
  private dedupTotal = 0;
  private readonly backend = new LatencyWindow();
  private readonly errors = new SecondSeries();
  /** Batches of the window, oldest first (bounded), for the per-model table and the reasons. */
  private readonly marks: BatchMark[] = [];
  private readonly recent: RecentBatch[] = [];
  /** Recent batches by id, so a completion finds its row. */
  private readonly byId = new Map<string, RecentBatch>();

  flushed(batch: Omit<RecentBatch, 'backendMs' | 'status'>): void {
    this.items.add(batch.atMs, batch.items);
    this.batches.add(batch.atMs);
    // Items of the batch that share another item's input (exact or near-duplicate dedup) cost the backend nothing.
    const shared = Math.max(0, batch.items - batch.inputs);
    if (shared > 0) {
      this.dedup.add(batch.atMs, shared);
      this.dedupTotal += shared;
    }
    const { atMs, model, kind, strategy, reason, items, inputs, tokens } = batch;
    this.marks.push({ atMs, model, kind, strategy, reason, items, inputs, tokens });
    if (this.marks.length > LATENCY_SAMPLES) this.marks.shift();
    const row: RecentBatch = { ...batch, backendMs: undefined, status: undefined };
    this.recent.unshift(row);
    this.byId.set(batch.batchId, row);
    if (this.recent.length > RECENT_SLOTS) this.byId.delete(this.recent.pop()!.batchId);
  }

  completed(batchId: string, atMs: number, call: { status: number; backendMs: number; failed: boolean }): void {
    const { status, backendMs } = call;
    if (backendMs > 0) this.backend.add(atMs, backendMs);
    if (call.failed) this.errors.add(atMs);
    const row = this.byId.get(batchId);
    if (row) {
      row.backendMs = backendMs;
      row.status = status;
    }
  }

  snapshot(seconds: readonly number[], windowStartMs: number): InferenceSnapshot {
    const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
    const items = this.items.read(seconds);
    const batches = this.batches.read(seconds);
    const models = new Map<string, InferenceSnapshot['models'][number]>();
    const flushes: Record<string, number> = {};
    for (const mark of this.marks) {
      if (mark.atMs < windowStartMs) continue;
      const key = `${mark.model}\u0000${mark.kind}`;
      let m = models.get(key);
      if (!m)
        models.set(key, (m = { model: mark.model, kind: mark.kind, strategy: mark.strategy, batches: 0, items: 0, inputs: 0, tokens: 0 }));
      m.strategy = mark.strategy;
      m.batches++;
      m.items += mark.items;
      m.inputs += mark.inputs;
      m.tokens += mark.tokens;
      flushes[mark.reason] = (flushes[mark.reason] ?? 0) + 1;
    }
    const windowBatches = sum(batches);
    return {
      itemsPerSecond: sum(items.slice(-6, -1)) / 5,
      batchesPerSecond: sum(batches.slice(-6, -1)) / 5,
      items,
      batches,
      itemsPerBatch: windowBatches > 0 ? sum(items) / windowBatches : undefined,
      dedup: { window: sum(this.dedup.read(seconds)), total: this.dedupTotal },
      backend: { ...this.backend.quantiles(windowStartMs), errors: sum(this.errors.read(seconds)) },
      models: [...models.values()].sort((a, b) => a.model.localeCompare(b.model) || a.kind.localeCompare(b.kind)),
      flushes,
      recentBatches: this.recent.map((row) => ({ ...row })),
    };
  }
}

export class LiveView {
  /** Flow B's batches and backend calls. */
  readonly inference = new InferenceView();
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
      inference: this.inference.snapshot(seconds, windowStart),
    };
  }

  private seriesOf<K>(map: Map<K, SecondSeries>, key: K): SecondSeries {
    let series = map.get(key);
    if (!series) map.set(key, (series = new SecondSeries()));
    return series;
  }
}
