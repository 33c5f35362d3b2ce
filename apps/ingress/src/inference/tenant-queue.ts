import { createHash } from 'node:crypto';
import { DecayingRate } from '#libs/policy';

/**
 * The tenant a request is counted against: its `user` field, else a hash of
 * its API key (the key itself is never kept or logged), else "anonymous".
 */
export function tenantOf(user: string | undefined, authorization: string | undefined): string {
  if (user !== undefined && user !== '') return `user:${user}`;
  if (authorization) return `key:${createHash('sha256').update(authorization).digest('base64url').slice(0, 16)}`;
  return 'anonymous';
}

/**
 * Per-tenant bound on items waiting at this ingress. A tenant at its bound is
 * refused with a Retry-After from how fast its items drain (completions per
 * second, time-decayed over 1 s): the time for the queue to fall to where the
 * request would fit. A refused request was never accepted, so nothing
 * accepted is dropped.
 */
export class TenantQueues {
  private readonly waiting = new Map<string, number>();
  private readonly drained = new Map<string, DecayingRate>();

  constructor(private readonly bound: number) {}

  /** Takes `items` places for the tenant, or returns the seconds to wait when they do not fit. */
  admit(tenant: string, items: number, nowMs: number): { ok: true } | { ok: false; retryAfterS: number } {
    const waiting = this.waiting.get(tenant) ?? 0;
    if (waiting > 0 && waiting + items > this.bound)
      return { ok: false, retryAfterS: this.retryAfterS(tenant, waiting + items - this.bound, nowMs) };
    this.waiting.set(tenant, waiting + items);
    return { ok: true };
  }

  release(tenant: string, items: number, nowMs: number): void {
    const left = (this.waiting.get(tenant) ?? 0) - items;
    if (left <= 0) this.waiting.delete(tenant);
    else this.waiting.set(tenant, left);
    let rate = this.drained.get(tenant);
    if (!rate) this.drained.set(tenant, (rate = new DecayingRate(1000)));
    rate.add(nowMs, items);
  }

  depth(tenant: string): number {
    return this.waiting.get(tenant) ?? 0;
  }

  /** Whole seconds (HTTP's unit), at least 1; 1 item/s assumed before any has drained. */
  retryAfterS(tenant: string, excess: number, nowMs: number): number {
    const perSecond = Math.max(1, this.drained.get(tenant)?.perSecond(nowMs) ?? 0);
    return Math.min(60, Math.max(1, Math.ceil(excess / perSecond)));
  }
}
