import { performance } from 'node:perf_hooks';
import type { EventLoopUtilization } from 'node:perf_hooks';

/** How often the event loop's utilisation is sampled. */
const SAMPLE_MS = 100;

/**
 * Above this share of busy time the ingress leaves its sole-member calls to
 * the workers. bench:coalesce (2026-12-03, 2 shared cores, closed loop at 200
 * connections) had a saturated ingress 15-17 % slower when it made the calls
 * itself (100 keys 2,283 -> 1,915-1,941 req/s, hot key 5,038 -> 4,184-4,358):
 * an origin answer waits behind client requests on a full loop, and every
 * waiter of the slot waits with it; at 1,500 req/s open loop, with room on the
 * loop, the same calls cut p50 31 -> 25 ms and p99 99 -> 73 ms.
 */
export const BUSY_SHARE = 0.75;

/** Whether this process's event loop is busy enough that work should go elsewhere (sampled, never per call). */
export class BusyLoop {
  private last: EventLoopUtilization = performance.eventLoopUtilization();
  private share = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly threshold = BUSY_SHARE) {
    this.timer = setInterval(() => this.sample(), SAMPLE_MS);
    this.timer.unref();
  }

  get busy(): boolean {
    return this.threshold < 1 && this.share > this.threshold;
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private sample(): void {
    const now = performance.eventLoopUtilization();
    this.share = performance.eventLoopUtilization(now, this.last).utilization;
    this.last = now;
  }
}
