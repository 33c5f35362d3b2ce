import type { FlushStrategy, OpenSlotView } from '#libs/policy';
import { envelopeReason, FeatureBook } from '#libs/policy';
import type { LocalSlot } from './local-slot.js';

const TICK_MS = 1;

function view(slot: LocalSlot): OpenSlotView {
  return {
    key: slot.key,
    route: slot.route.name,
    openedAtMs: slot.openedAtMs,
    lastArrivalMs: slot.lastArrivalMs,
    size: slot.waiters.length,
    batchTimeoutMs: slot.route.envelope.batchTimeoutMs,
    maxBatchSize: slot.route.envelope.maxBatchSize,
  };
}

/**
 * Local-only coalescing, for when the fleet cannot be used: the slots this
 * ingress keeps to itself are flushed by the same envelope and the embedded
 * strategy the coordinator falls back to, ticking only while there are any.
 * A flushed slot is handed to `flush` (the ingress calls the origin itself).
 */
export class LocalFlusher {
  private readonly slots = new Set<LocalSlot>();
  private readonly features = new FeatureBook();
  private ticker: NodeJS.Timeout | undefined;

  constructor(
    private readonly strategy: FlushStrategy,
    private readonly flush: (slot: LocalSlot) => void,
  ) {}

  /** Every arrival, so local decisions see the same per-key rate as the fleet's would. */
  recordArrival(key: string, nowMs: number): void {
    this.features.recordArrivals(key, nowMs);
  }

  add(slot: LocalSlot): void {
    this.slots.add(slot);
    this.ticker ??= setInterval(() => this.tick(), TICK_MS);
    this.checkSize(slot);
  }

  /** A waiter attached to a local slot: a full slot goes at once. */
  checkSize(slot: LocalSlot): void {
    if (this.slots.has(slot) && slot.waiters.length >= slot.route.envelope.maxBatchSize) this.release(slot);
  }

  delete(slot: LocalSlot): void {
    this.slots.delete(slot);
  }

  stop(): void {
    clearInterval(this.ticker);
    this.ticker = undefined;
  }

  private tick(): void {
    const now = performance.now();
    const open: LocalSlot[] = [];
    for (const slot of this.slots) {
      const current = view(slot);
      if (envelopeReason({ ...current, ageMs: now - current.openedAtMs })) this.release(slot);
      else open.push(slot);
    }
    if (open.length > 0) {
      const depth = open.reduce((sum, slot) => sum + slot.waiters.length, 0);
      const decisions = this.strategy.decide(
        open.map((slot) => this.features.features(view(slot), now, depth)),
        { random: Math.random, nowMs: now },
      );
      decisions.forEach((decision, i) => decision.action === 'flush' && this.release(open[i]!));
    }
    if (this.slots.size === 0) this.stop();
  }

  private release(slot: LocalSlot): void {
    this.slots.delete(slot);
    this.flush(slot);
  }
}
