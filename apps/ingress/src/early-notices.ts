import type { FetchResult } from '#libs/contracts';
import type { SpanContext } from '@opentelemetry/api';

/** What arrived for a slot id before this ingress knew the id. */
export interface EarlyNotice {
  closed: boolean;
  orphaned: boolean;
  soleCall: boolean;
  result: FetchResult | undefined;
  /** The trace context the result travelled in (the worker's upstream call): its waiters' spans link to it. */
  sent: SpanContext | undefined;
}

interface Entry extends EarlyNotice {
  atMs: number;
}

/**
 * Notices (closed, orphaned) and results for slot ids this ingress does not
 * know yet. A join reply, the slot's "closed" notice and the worker's result
 * travel on three subjects; when the ingress's event loop was busy they can
 * be read in one go, and the join's continuation (which learns the slot id)
 * runs after the other two were handled. Dropping them left the slot open
 * until the flush deadline: the 2 s p99.9 of bench:live at 2,000-3,000 req/s
 * (2026-12-03). Kept briefly and few (a result holds its body): the race is
 * one busy event-loop turn long, not seconds.
 */
export class EarlyNotices {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly ttlMs = 1000,
    private readonly capacity = 256,
  ) {}

  closed(slotId: string, nowMs: number): void {
    this.entry(slotId, nowMs).closed = true;
  }

  orphaned(slotId: string, nowMs: number): void {
    this.entry(slotId, nowMs).orphaned = true;
  }

  soleCall(slotId: string, nowMs: number): void {
    this.entry(slotId, nowMs).soleCall = true;
  }

  result(result: FetchResult, sent: SpanContext | undefined, nowMs: number): void {
    const entry = this.entry(result.slotId, nowMs);
    entry.result = result;
    entry.sent = sent;
  }

  /** What came early for `slotId` (removed), if it is still fresh. */
  take(slotId: string, nowMs: number): EarlyNotice | undefined {
    const entry = this.entries.get(slotId);
    if (!entry) return undefined;
    this.entries.delete(slotId);
    return nowMs - entry.atMs <= this.ttlMs ? entry : undefined;
  }

  get size(): number {
    return this.entries.size;
  }

  private entry(slotId: string, nowMs: number): Entry {
    let entry = this.entries.get(slotId);
    if (entry) return entry;
    // Oldest first out: Map iteration is insertion order.
    for (const [id, old] of this.entries) {
      if (this.entries.size < this.capacity && nowMs - old.atMs <= this.ttlMs) break;
      this.entries.delete(id);
    }
    entry = { closed: false, orphaned: false, soleCall: false, result: undefined, sent: undefined, atMs: nowMs };
    this.entries.set(slotId, entry);
    return entry;
  }
}
