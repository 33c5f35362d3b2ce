import type { OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { Inject, Injectable } from '@nestjs/common';
import type { DecideRequest, MessageInitShape, SlotFeatures as WireFeatures } from '#libs/contracts';
import { DecideReplySchema, DecideRequestSchema, FlushAction, PolicyDecisionSchema, SlotsDecidedSchema } from '#libs/contracts';
import type { Incoming } from '#libs/nats';
import { Bus, EventPublisher, eventMeta, QUEUES, SUBJECTS } from '#libs/nats';
import type { FlushStrategy, PolicyDecision, SlotFeatures } from '#libs/policy';
import { decisionsFromLogits, observe } from '#libs/policy';
import { tracerFor } from '#libs/tracing';
import type { PolicyConfig } from './config.js';
import { POLICY_CONFIG } from './config.js';
import { ModelUnavailableError } from './models.js';
import { PolicyRuntime } from './policy-runtime.js';
import type { BookEntry } from './strategy-book.js';

const tracer = tracerFor('policy');

function toFeatures(wire: WireFeatures): SlotFeatures {
  return {
    size: wire.size,
    ageMs: wire.ageMs,
    upstreamP99Ms: wire.upstreamP99Ms,
    requestRate: wire.requestRate,
    queueDepth: wire.queueDepth,
    observedP99Ms: wire.observedP99Ms,
    idleMs: wire.idleMs,
    batchTimeoutMs: wire.batchTimeoutMs,
    maxBatchSize: wire.maxBatchSize,
  };
}

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

  constructor(
    @Inject(POLICY_CONFIG) config: PolicyConfig,
    private readonly runtime: PolicyRuntime,
    private readonly bus: Bus,
    private readonly events: EventPublisher,
  ) {
    this.source = `policy/${config.instanceId}`;
  }

  onModuleInit(): void {
    this.unsubscribe = this.bus.subscribe(
      SUBJECTS.decide,
      DecideRequestSchema,
      (request, incoming) => this.decide(request, incoming),
      QUEUES.policy,
    );
  }

  onModuleDestroy(): void {
    this.unsubscribe?.();
  }

  async decide(request: DecideRequest, incoming: Incoming): Promise<void> {
    const span = tracer.startSpan('policy.decide', { attributes: { 'batchgate.slots': request.slots.length } }, incoming.context);
    const started = performance.now();
    const book = this.runtime.book;
    const byRoute = new Map<string, number[]>();
    request.slots.forEach((slot, i) => {
      const list = byRoute.get(slot.route);
      if (list) list.push(i);
      else byRoute.set(slot.route, [i]);
    });
    const decisions: Array<MessageInitShape<typeof PolicyDecisionSchema>> = [];
    for (const [route, indexes] of byRoute) {
      const features = indexes.map((i) => toFeatures(request.slots[i]!));
      const decided = await this.decideRoute(book.forRoute(route), features, book.fallback);
      decided.decisions.forEach((decision, k) => {
        const i = indexes[k]!;
        decisions[i] = {
          slotId: request.slots[i]!.slotId,
          action: decision.action === 'flush' ? FlushAction.FLUSH : FlushAction.WAIT,
          probability: decision.probability,
          strategy: decided.strategy,
          modelVersion: decided.modelVersion,
        };
        this.runtime.metrics.decisions.inc({ strategy: decided.strategy, action: decision.action });
      });
    }
    const decisionUs = (performance.now() - started) * 1000;
    this.runtime.metrics.latency.observe(decisionUs / 1e6);
    incoming.respond(DecideReplySchema, { decisions, decisionUs });
    span.end();
    this.events.publish('slot.decided', SlotsDecidedSchema, {
      meta: eventMeta(this.source),
      decisions: decisions.map((d, i) => ({
        features: request.slots[i],
        action: d.action,
        probability: d.probability,
        strategy: d.strategy,
        modelVersion: d.modelVersion,
        decisionUs,
      })),
      coordinatorId: request.coordinatorId,
    });
  }

  private async decideRoute(entry: BookEntry, features: SlotFeatures[], fallback: FlushStrategy): Promise<Decided> {
    const context = { random: Math.random, nowMs: Date.now() };
    if (entry.kind === 'strategy')
      return { decisions: entry.strategy.decide(features, context), strategy: entry.strategy.name, modelVersion: '' };
    try {
      const { logits, version } = await this.runtime.models.infer(observe(features, entry.scale), features.length);
      return { decisions: decisionsFromLogits(logits, features.length), strategy: 'ppo', modelVersion: version };
    } catch (error) {
      const reason = error instanceof ModelUnavailableError ? error.reason : 'inference_error';
      this.runtime.metrics.fallbacks.inc({ reason }, features.length);
      return { decisions: fallback.decide(features, context), strategy: fallback.name, modelVersion: '' };
    }
  }
}
