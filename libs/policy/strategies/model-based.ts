import type { StrategyParams } from '../params.js';
import { FLUSH_NOW, planTo, plannedStrategy } from '../plan.js';
import type { FlushStrategy } from '../types.js';

/**
 * A least-squares fit of batch time = a * n + b (ms) over the most recent
 * batches (BentoML's adaptive batching: its CorkDispatcher fits the same
 * line over recent calls). Before two different sizes are seen it predicts
 * from `prior` alone.
 */
export class BatchTimeModel {
  private readonly sizes: number[] = [];
  private readonly times: number[] = [];

  constructor(
    private readonly window: number,
    private readonly prior: { a: number; b: number },
  ) {}

  observe(size: number, ms: number): void {
    if (!(size > 0) || !Number.isFinite(ms) || ms < 0) return;
    this.sizes.push(size);
    this.times.push(ms);
    if (this.sizes.length > this.window) {
      this.sizes.shift();
      this.times.shift();
    }
  }

  /** The fitted [a, b], both >= 0 (a noisy fit must not promise negative cost). */
  fit(): { a: number; b: number } {
    const n = this.sizes.length;
    if (n < 2) return this.prior;
    const mx = this.sizes.reduce((s, x) => s + x, 0) / n;
    const my = this.times.reduce((s, y) => s + y, 0) / n;
    let sxx = 0;
    let sxy = 0;
    for (let i = 0; i < n; i++) {
      sxx += (this.sizes[i]! - mx) ** 2;
      sxy += (this.sizes[i]! - mx) * (this.times[i]! - my);
    }
    if (sxx === 0) return { a: this.prior.a, b: Math.max(0, my - this.prior.a * mx) };
    const a = Math.max(0, sxy / sxx);
    return { a, b: Math.max(0, my - a * mx) };
  }

  predictMs(size: number): number {
    const { a, b } = this.fit();
    return a * size + b;
  }
}

export interface ModelBasedStrategy extends FlushStrategy {
  readonly model: BatchTimeModel;
}

/**
 * BentoML's model-based rule as a named baseline. Waiting dt for company
 * costs the n parked items n*dt; each arrival in that time (rate x dt) that
 * joins this batch instead of paying a call of its own saves the fixed part
 * b of a call. So: keep waiting while rate * b > n (the expected saving
 * holds) and the oldest item's wait plus the predicted batch time stays
 * within the max wait; otherwise flush now. The caller feeds `model` each
 * batch's size and time, and uses predictMs() to drop an item whose wait +
 * predicted batch time already passes its deadline.
 */
export function modelBased(p: StrategyParams): ModelBasedStrategy {
  const window = p.get('window', 64, { min: 2, max: 10_000 });
  const model = new BatchTimeModel(window, { a: p.get('prior_a_ms', 0.8, { min: 0 }), b: p.get('prior_b_ms', 8, { min: 0 }) });
  const strategy = plannedStrategy('model_based', (slots) =>
    slots.map((s) => {
      const { b } = model.fit();
      const savingHolds = (s.requestRate / 1000) * b > s.size;
      const fits = s.ageMs + model.predictMs(s.size + 1) <= s.batchTimeoutMs + b;
      if (!savingHolds || !fits) return FLUSH_NOW;
      // Re-asked on every arrival; without one, the envelope's max wait ends it.
      return planTo(s.batchTimeoutMs);
    }),
  );
  return { ...strategy, model };
}
