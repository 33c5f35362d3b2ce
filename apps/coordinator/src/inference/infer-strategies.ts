import type { RouteTable, StrategySpec } from '#libs/config';
import { formatStrategySpec, matchRoute } from '#libs/config';
import { InferKind } from '#libs/contracts';
import { kindName } from '#libs/inference';
import type { FlushStrategy, ModelBasedStrategy, SlotFeatures } from '#libs/policy';
import { createStrategy, DecayingRate, isLearnedStrategy, planDue, plansOf, SlidingQuantile } from '#libs/policy';
import type { BatchLimits, InferFlushReason, InferQueue } from './infer-queue.js';
import { dispatchOrder, flushReasonOf } from './infer-queue.js';
import type { StrategySwitches } from './strategy-switches.js';
import { resolveSpec } from './strategy-switches.js';

interface LaneState {
  model: string;
  kind: InferKind;
  spec: StrategySpec;
  strategy: FlushStrategy;
  arrivals: DecayingRate;
  backend: SlidingQuantile;
}

/** The path of a kind's endpoint, which a route of the policy document may match. */
const KIND_PATHS: Partial<Record<InferKind, string>> = {
  [InferKind.EMBEDDING]: '/v1/embeddings',
  [InferKind.COMPLETION]: '/v1/completions',
  [InferKind.CHAT]: '/v1/chat/completions',
};

/** A lane is one model's one kind of request: it has its own strategy instance (some keep state) and signals. */
export const laneOf = (model: string, kind: InferKind): string => `${model}/${kindName(kind)}`;

/**
 * The flush strategy of each lane (from the shared policy lib) and the live
 * signals they read: the lane's arrival rate and backend batch time, and the
 * items' latency. Which spec a lane runs, first that applies: the model's
 * (POST /admin/strategy/{name}?model=), the policy document's route matching
 * the kind's path (PUT /admin/policy/routes on the ingress), the switched
 * default (POST /admin/strategy/{name}), the configured one. Switches and
 * routes come from the config bucket, so every coordinator runs the same.
 */
export class InferStrategies {
  private readonly lanes = new Map<string, LaneState>();
  private perModel: ReadonlyMap<string, StrategySpec> = new Map();
  private defaultSpec: StrategySpec;
  private perKind = new Map<InferKind, StrategySpec>();
  private readonly itemLatency = new SlidingQuantile(1000);
  private readonly completions = new DecayingRate(1000);
  readonly randomSource = Math.random;

  constructor(private readonly configuredSpec: StrategySpec) {
    this.defaultSpec = configuredSpec;
  }

  /** Switches one model (or, without one, the default, and every lane without a model or route spec); throws StrategyConfigError. */
  set(spec: StrategySpec, model?: string): StrategySpec {
    const resolved = resolveSpec(spec);
    if (model === undefined) this.defaultSpec = resolved;
    else this.perModel = new Map([...this.perModel, [model, resolved]]);
    this.refresh();
    return resolved;
  }

  /** The stored switches, as they change (each revision is the whole set: a model no longer named falls back). */
  applySwitches(switches: StrategySwitches): void {
    this.defaultSpec = switches.default ?? this.configuredSpec;
    this.perModel = switches.models;
    this.refresh();
  }

  /** The policy document's routes, as they change: a route matching /v1/embeddings with a policy sets embeddings' strategy. */
  applyRoutes(table: RouteTable): void {
    const perKind = new Map<InferKind, StrategySpec>();
    for (const [kind, path] of Object.entries(KIND_PATHS)) {
      const policy = matchRoute(table, path).policy;
      if (policy && !isLearnedStrategy(policy.name)) perKind.set(Number(kind), policy);
    }
    this.perKind = perKind;
    this.refresh();
  }

  nameFor(lane: string): string {
    return this.lanes.get(lane)?.spec.name ?? this.defaultSpec.name;
  }

  specs(): Record<string, StrategySpec> {
    return Object.fromEntries([['*', this.defaultSpec], ...[...this.lanes].map(([lane, s]) => [lane, s.spec] as const)]);
  }

  arrived(queue: InferQueue, nowMs: number): void {
    this.state(queue).arrivals.add(nowMs);
  }

  observeBatch(queue: Pick<InferQueue, 'shape'>, size: number, backendMs: number): void {
    const state = this.state(queue);
    state.backend.add(backendMs);
    (state.strategy as Partial<ModelBasedStrategy>).model?.observe(size, backendMs);
  }

  /** model_based predicts a batch's time, and an item that cannot make its deadline is dropped early; 0 for the others. */
  predictedBatchMs(queue: InferQueue, size: number): number {
    const fitted = (this.state(queue).strategy as Partial<ModelBasedStrategy>).model;
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
    const state = this.state(queue);
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

  strategyOf(queue: InferQueue): FlushStrategy {
    return this.state(queue).strategy;
  }

  private specFor(model: string, kind: InferKind): StrategySpec {
    return this.perModel.get(model) ?? this.perKind.get(kind) ?? this.defaultSpec;
  }

  /** Lanes whose spec changed get a fresh strategy instance; the others keep theirs (and its state). */
  private refresh(): void {
    for (const state of this.lanes.values()) {
      const spec = this.specFor(state.model, state.kind);
      // By value: a new revision of the switches repeats the unchanged specs, whose strategies keep their state.
      if (formatStrategySpec(spec) === formatStrategySpec(state.spec)) continue;
      state.spec = spec;
      state.strategy = createStrategy(spec);
    }
  }

  private state({ shape }: Pick<InferQueue, 'shape'>): LaneState {
    const lane = laneOf(shape.model, shape.kind);
    let state = this.lanes.get(lane);
    if (!state) {
      const spec = this.specFor(shape.model, shape.kind);
      state = {
        model: shape.model,
        kind: shape.kind,
        spec,
        strategy: createStrategy(spec),
        arrivals: new DecayingRate(500),
        backend: new SlidingQuantile(256),
      };
      this.lanes.set(lane, state);
    }
    return state;
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
  const byLane = new Map<string, InferQueue[]>();
  for (const queue of queues) {
    if (queue.items.length === 0) continue;
    const lane = laneOf(queue.shape.model, queue.shape.kind);
    const list = byLane.get(lane);
    if (list) list.push(queue);
    else byLane.set(lane, [queue]);
  }
  const due = new Map<InferQueue, InferFlushReason>();
  for (const list of byLane.values()) {
    const slots = list.map((q) => strategies.features(q, nowMs, queueDepth, limits));
    const plans = plansOf(strategies.strategyOf(list[0]!), slots, { random: strategies.randomSource, nowMs });
    list.forEach((queue, i) => {
      const reason = flushReasonOf(queue, nowMs, limits, planDue(plans[i]!, slots[i]!.size, slots[i]!.ageMs));
      if (reason) due.set(queue, reason);
    });
  }
  return dispatchOrder([...due.keys()], nowMs, agingMs).map((queue) => ({ queue, reason: due.get(queue)! }));
}
