import type { OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { Inject, Injectable } from '@nestjs/common';
import { DecideReplySchema, SlotsDecidedSchema } from '#libs/contracts';
import type { Incoming } from '#libs/nats';
import { Bus, EventPublisher, eventMeta, QUEUES, SUBJECTS } from '#libs/nats';
import type { DecideRequestView, DecisionContext, FlushStrategy, ObservationScale, PolicyDecision, SlotFeatures } from '#libs/policy';
import { DecisionColumns, decisionsFromLogits, readDecideRequest } from '#libs/policy';
import { tracerFor } from '#libs/tracing';
import type { PolicyConfig } from './config.js';
import { POLICY_CONFIG } from './config.js';
import { ModelUnavailableError } from './models.js';
import { PolicyRuntime } from './policy-runtime.js';
import type { BookEntry } from './strategy-book.js';

const tracer = tracerFor('policy');

interface Decided {
  decisions: PolicyDecision[];
  strategy: string;
  modelVersion: string;
}

/**
 * Answers policy.decide: the features of many open slots in one request, one
 * decision each. Slots are grouped by route so each route's strategy sees its
 * slots as one batch; PPO routes are one onnxruntime session.run per request.
 * Every decision is recorded in one slot.decided event per request. Served on
 * the raw bus: bench/transport.ts measured Nest's NATS transport adding
 * ~85-100 µs per round trip, over DESIGN's 50 µs budget for hot paths.
 */
@Injectable()
export class DecideHandler implements OnModuleInit, OnModuleDestroy {
  private unsubscribe: (() => void) | undefined;
  private readonly source: string;
  private readonly eventSample: number;

  constructor(
    @Inject(POLICY_CONFIG) config: PolicyConfig,
    private readonly runtime: PolicyRuntime,
    private readonly bus: Bus,
    private readonly events: EventPublisher,
  ) {
    this.source = `policy/${config.instanceId}`;
    this.eventSample = config.decisionEventSample;
  }

  onModuleInit(): void {
    this.unsubscribe = this.bus.subscribeDecoded(
      SUBJECTS.decide,
      readDecideRequest,
      (request, incoming) => this.decide(request, incoming),
      QUEUES.policy,
    );
  }

  onModuleDestroy(): void {
    this.unsubscribe?.();
  }

  async decide(request: DecideRequestView, incoming: Incoming): Promise<void> {
    const { features, byRoute } = request;
    const span = tracer.startSpan('policy.decide', { attributes: { 'batchgate.slots': features.length } }, incoming.context);
    const started = performance.now();
    const book = this.runtime.book;
    const columns = new DecisionColumns(features.length);
    for (const [route, indexes] of byRoute) {
      const routeFeatures = indexes.map((i) => features[i]!);
      const pending = this.decideRoute(book.forRoute(route), routeFeatures);
      const decided = pending instanceof Promise ? await pending : pending;
      let flushes = 0;
      for (let k = 0; k < indexes.length; k++) {
        const decision = decided.decisions[k]!;
        columns.set(indexes[k]!, decision, decided.strategy, decided.modelVersion);
        if (decision.action === 'flush') flushes++;
      }
      // Counted per route group, not per decision: a labelled inc() per slot cost more than deciding it.
      const { decisions } = this.runtime.metrics;
      if (flushes > 0) decisions.inc({ strategy: decided.strategy, action: 'flush' }, flushes);
      if (flushes < indexes.length) decisions.inc({ strategy: decided.strategy, action: 'wait' }, indexes.length - flushes);
    }
    const decisionUs = (performance.now() - started) * 1000;
    this.runtime.metrics.latency.observe(decisionUs / 1e6);
    const reply = incoming.respond(DecideReplySchema, { ...columns, decisionUs });
    span.end();
    if (this.eventSample < 1 && Math.random() >= this.eventSample) return;
    this.events.publish('slot.decided', SlotsDecidedSchema, {
      meta: eventMeta(this.source),
      coordinatorId: request.coordinatorId,
      request: incoming.data,
      reply,
    });
  }

  /** Pure strategies answer synchronously; only the onnxruntime path is awaited. */
  private decideRoute(entry: BookEntry, features: SlotFeatures[]): Decided | Promise<Decided> {
    const context = { random: Math.random, nowMs: Date.now() };
    if (entry.kind === 'strategy')
      return { decisions: entry.strategy.decide(features, context), strategy: entry.strategy.name, modelVersion: '' };
    if (entry.kind === 'missing') {
      this.runtime.metrics.fallbacks.inc({ reason: 'no_model' }, features.length);
      return { decisions: entry.fallback.decide(features, context), strategy: entry.fallback.name, modelVersion: '' };
    }
    return this.decideLearned(entry.scale, features, entry.fallback, context);
  }

  private async decideLearned(
    scale: ObservationScale,
    features: SlotFeatures[],
    fallback: FlushStrategy,
    context: DecisionContext,
  ): Promise<Decided> {
    try {
      const { logits, version } = await this.runtime.models.infer(features, scale);
      return { decisions: decisionsFromLogits(logits, features.length), strategy: 'ppo', modelVersion: version };
    } catch (error) {
      const reason = error instanceof ModelUnavailableError ? error.reason : 'inference_error';
      this.runtime.metrics.fallbacks.inc({ reason }, features.length);
      return { decisions: fallback.decide(features, context), strategy: fallback.name, modelVersion: '' };
    }
  }
}
