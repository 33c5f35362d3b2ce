import type { FlushStrategy, OpenSlotView } from '#libs/policy';
import { DecisionRound, FeatureBook, plansOf } from '#libs/policy';
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
 * ingress keeps to itself go through the same DecisionRound as the
 * coordinator's (envelope first, then plans), with the embedded strategy as
 * the policy, answering each round's question at once; it ticks only while
 * there are local slots. A flushed slot is handed to `flush` (the ingress
 * calls the origin itself).
 */
export class LocalFlusher {
  private readonly slots = new Set<LocalSlot>();
  private readonly features = new FeatureBook();
  private readonly round: DecisionRound<LocalSlot>;
  private ticker: NodeJS.Timeout | undefined;

  constructor(
    private readonly strategy: FlushStrategy,
    private readonly flush: (slot: LocalSlot) => void,
  ) {
    this.round = new DecisionRound<LocalSlot>({
      features: this.features,
      view,
      isOpen: (slot) => this.slots.has(slot),
      fallback: strategy,
      random: Math.random,
      // Answered in the same call: never late.
      decisionTimeoutMs: Infinity,
    });
  }

  /** Keys whose rate this ingress tracks (bounded by the feature book's cap and idle expiry). */
  get trackedKeys(): number {
    return this.features.trackedKeys;
  }

  /**
   * Every arrival, so local decisions see the same per-key rate as the fleet's
   * would. While no local slot ticks, the arrival runs the round's schedule
   * (idle-key expiry) over no slots, so the rate state is forgotten here too.
   */
  recordArrival(key: string, nowMs: number): void {
    this.features.recordArrivals(key, nowMs);
    if (!this.ticker) this.round.tick(nowMs, []);
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
    const step = this.round.tick(now, this.slots);
    for (const { slot } of step.flushes) this.release(slot);
    if (step.question) {
      const plans = plansOf(this.strategy, step.question.features, { random: Math.random, nowMs: now });
      for (const { slot } of this.round.answer(step.question.round, plans, now)) this.release(slot);
    }
    if (this.slots.size === 0) this.stop();
  }

  private release(slot: LocalSlot): void {
    this.slots.delete(slot);
    this.flush(slot);
  }
}
