import type { StrategySpec } from '#libs/config';
import type { FlushStrategy, ModelBasedStrategy, SlotFeatures } from '#libs/policy';
import { createStrategy, DecayingRate, planDue, plansOf, SlidingQuantile } from '#libs/policy';
import type { BatchLimits, InferFlushReason, InferQueue } from './infer-queue.js';
import { dispatchOrder, flushReasonOf } from './infer-queue.js';

interface ModelState {
  spec: StrategySpec;
  strategy: FlushStrategy;
  arrivals: DecayingRate;
  backend: SlidingQuantile;
}

/** Seed 004's strategy names map to ours: `fixed` waits the full max wait of the priority (fixed_timer without a window). */
const ALIASES: Record<string, string> = { fixed: 'fixed_timer' };

/**
 * The flush strategy of each model (from the shared policy lib; one instance
 * per model since some keep state) and the live signals they read: the
 * model's arrival rate and backend batch time, and the items' latency.
 */
export class InferStrategies {
  private readonly models = new Map<string, ModelState>();
  private readonly itemLatency = new SlidingQuantile(1000);
  private readonly completions = new DecayingRate(1000);
  private readonly random = Math.random;

  constructor(private defaultSpec: StrategySpec) {}

  /** Switches one model (or, without one, every model and the default); throws StrategyConfigError on a bad spec. */
  set(spec: StrategySpec, model?: string): StrategySpec {
    const resolved = { name: ALIASES[spec.name] ?? spec.name, params: spec.params };
    createStrategy(resolved);
    if (model === undefined) {
      this.defaultSpec = resolved;
      for (const name of this.models.keys()) this.replace(name, resolved);
    } else this.replace(model, resolved);
    return resolved;
  }

  nameFor(model: string): string {
    return this.state(model).spec.name;
  }

  specs(): Record<string, StrategySpec> {
    return Object.fromEntries([['*', this.defaultSpec], ...[...this.models].map(([m, s]) => [m, s.spec] as const)]);
  }

  arrived(model: string, nowMs: number): void {
    this.state(model).arrivals.add(nowMs);
  }

  observeBatch(model: string, size: number, backendMs: number): void {
    const state = this.state(model);
    state.backend.add(backendMs);
    (state.strategy as Partial<ModelBasedStrategy>).model?.observe(size, backendMs);
  }

  /** model_based predicts a batch's time, and an item that cannot make its deadline is dropped early; 0 for the others. */
  predictedBatchMs(model: string, size: number): number {
    const fitted = (this.state(model).strategy as Partial<ModelBasedStrategy>).model;
    return fitted && size > 0 ? fitted.predictMs(size) : 0;
  }

  completed(nowMs: number, latencyMs: number): void {
    this.itemLatency.add(latencyMs);
    this.completions.add(nowMs);
  }

  /** GET /metrics/json's latency and throughput (seed 004's fields). */
  summary(nowMs: number): { p50: number; p99: number; rps: number } {
    return { p50: this.itemLatency.quantile(0.5), p99: this.itemLatency.quantile(0.99), rps: this.completions.perSecond(nowMs) };
  }

  features(queue: InferQueue, nowMs: number, queueDepth: number, limits: BatchLimits): SlotFeatures {
    const state = this.state(queue.shape.model);
    return {
      size: queue.load().inputs,
      ageMs: queue.ageMs(nowMs),
      upstreamP99Ms: state.backend.quantile(0.99),
      requestRate: state.arrivals.perSecond(nowMs),
      queueDepth,
      observedP99Ms: this.itemLatency.quantile(0.99),
      idleMs: nowMs - queue.lastArrivalMs,
      batchTimeoutMs: queue.maxWaitMs,
      maxBatchSize: limits.maxBatchSize,
    };
  }

  strategyOf(model: string): FlushStrategy {
    return this.state(model).strategy;
  }

  private replace(model: string, spec: StrategySpec): void {
    const state = this.state(model);
    state.spec = spec;
    state.strategy = createStrategy(spec);
  }

  private state(model: string): ModelState {
    let state = this.models.get(model);
    if (!state) {
      state = {
        spec: this.defaultSpec,
        strategy: createStrategy(this.defaultSpec),
        arrivals: new DecayingRate(500),
        backend: new SlidingQuantile(256),
      };
      this.models.set(model, state);
    }
    return state;
  }

  get randomSource(): () => number {
    return this.random;
  }
}

/** The queues that must go now and why, in dispatch order (priority with aging). */
export function duePlans(
  strategies: InferStrategies,
  queues: readonly InferQueue[],
  nowMs: number,
  limits: BatchLimits,
  queueDepth: number,
  agingMs: number,
): Array<{ queue: InferQueue; reason: InferFlushReason }> {
  const byModel = new Map<string, InferQueue[]>();
  for (const queue of queues) {
    if (queue.items.length === 0) continue;
    const list = byModel.get(queue.shape.model);
    if (list) list.push(queue);
    else byModel.set(queue.shape.model, [queue]);
  }
  const due = new Map<InferQueue, InferFlushReason>();
  for (const [model, list] of byModel) {
    const slots = list.map((q) => strategies.features(q, nowMs, queueDepth, limits));
    const plans = plansOf(strategies.strategyOf(model), slots, { random: strategies.randomSource, nowMs });
    list.forEach((queue, i) => {
      const reason = flushReasonOf(queue, nowMs, limits, planDue(plans[i]!, slots[i]!.size, slots[i]!.ageMs));
      if (reason) due.set(queue, reason);
    });
  }
  return dispatchOrder([...due.keys()], nowMs, agingMs).map((queue) => ({ queue, reason: due.get(queue)! }));
}
