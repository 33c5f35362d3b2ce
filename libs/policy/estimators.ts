/**
 * Live feature estimators shared by the coordinator and the simulator, so the
 * features a policy is trained on are computed exactly as they are live.
 */

/**
 * Arrival rate with exponential time decay: each arrival adds 1/tau, and the
 * estimate decays by exp(-dt/tau). Unlike a per-window counter it falls while a
 * key is idle, which is what lets rate-driven strategies flush a dying burst.
 */
export class DecayingRate {
  private value = 0;
  private at = 0;

  constructor(private readonly tauMs = 500) {}

  /** Records `count` arrivals at `nowMs`. */
  add(nowMs: number, count = 1): void {
    this.value = this.read(nowMs) + count / this.tauMs;
    this.at = nowMs;
  }

  /** Arrivals per millisecond at `nowMs`. */
  read(nowMs: number): number {
    if (this.value === 0) return 0;
    const dt = Math.max(0, nowMs - this.at);
    return this.value * Math.exp(-dt / this.tauMs);
  }

  perSecond(nowMs: number): number {
    return this.read(nowMs) * 1000;
  }
}

/**
 * p99 (or any quantile) over the last `capacity` samples (seed: 1000), with
 * nearest-rank percentiles; the sorted copy is cached until the next sample.
 */
export class SlidingQuantile {
  private readonly samples: Float64Array;
  private count = 0;
  private next = 0;
  private sorted: Float64Array | undefined;

  constructor(capacity = 1000) {
    this.samples = new Float64Array(capacity);
  }

  add(value: number): void {
    this.samples[this.next] = value;
    this.next = (this.next + 1) % this.samples.length;
    this.count = Math.min(this.count + 1, this.samples.length);
    this.sorted = undefined;
  }

  /** Nearest-rank quantile, q in (0,1]; 0 when empty. */
  quantile(q: number): number {
    if (this.count === 0) return 0;
    this.sorted ??= this.samples.slice(0, this.count).sort();
    const rank = Math.max(1, Math.ceil(q * this.count));
    return this.sorted[rank - 1]!;
  }

  get size(): number {
    return this.count;
  }
}
