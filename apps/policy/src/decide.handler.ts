import type { OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { Inject, Injectable } from '@nestjs/common';
import type { DecideRequest, MessageInitShape, SlotFeatures as WireFeatures } from '#libs/contracts';
import { DecideReplySchema, DecideRequestSchema, FlushAction, PolicyDecisionSchema } from '#libs/contracts';
import { Counter, Histogram, Registry } from '#libs/metrics';
import type { Incoming } from '#libs/nats';
import { Bus, QUEUES, SUBJECTS } from '#libs/nats';
import type { SlotFeatures } from '#libs/policy';
import { tracerFor } from '#libs/tracing';
import type { PolicyConfig } from './config.js';
import { POLICY_CONFIG } from './config.js';
import { StrategyBook } from './strategy-book.js';

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

/**
 * Answers policy.decide: features of many open slots in one request, one
 * decision each, grouped by route so every route's strategy sees its slots
 * as one batch. The raw bus (not the Nest transport) serves this hot path; see
 * bench/transport.ts for the measured difference.
 */
@Injectable()
export class DecideHandler implements OnModuleInit, OnModuleDestroy {
  private readonly book: StrategyBook;
  private readonly decisions: Counter<'strategy' | 'action'>;
  private readonly latency: Histogram;
  private unsubscribe: (() => void) | undefined;

  constructor(
    @Inject(POLICY_CONFIG) config: PolicyConfig,
    private readonly bus: Bus,
    registry: Registry,
  ) {
    this.book = new StrategyBook(config.defaultStrategy, config.routes);
    this.decisions = new Counter({
      name: 'policy_decisions_total',
      help: 'Decisions by strategy and action',
      labelNames: ['strategy', 'action'],
      registers: [registry],
    });
    this.latency = new Histogram({
      name: 'policy_decision_latency_seconds',
      help: 'Time to decide one batched request (all its slots)',
      buckets: [0.00001, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025],
      registers: [registry],
    });
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

  decide(request: DecideRequest, incoming: Incoming): void {
    const span = tracer.startSpan('policy.decide', { attributes: { 'batchgate.slots': request.slots.length } }, incoming.context);
    const started = performance.now();
    const byRoute = new Map<string, number[]>();
    request.slots.forEach((slot, i) => {
      const list = byRoute.get(slot.route);
      if (list) list.push(i);
      else byRoute.set(slot.route, [i]);
    });
    const decisions: Array<MessageInitShape<typeof PolicyDecisionSchema>> = [];
    const now = Date.now();
    for (const [route, indexes] of byRoute) {
      const strategy = this.book.forRoute(route);
      const made = strategy.decide(
        indexes.map((i) => toFeatures(request.slots[i]!)),
        { random: Math.random, nowMs: now },
      );
      made.forEach((decision, k) => {
        const i = indexes[k]!;
        decisions[i] = {
          slotId: request.slots[i]!.slotId,
          action: decision.action === 'flush' ? FlushAction.FLUSH : FlushAction.WAIT,
          probability: decision.probability,
          strategy: strategy.name,
        };
        this.decisions.inc({ strategy: strategy.name, action: decision.action });
      });
    }
    const elapsed = performance.now() - started;
    this.latency.observe(elapsed / 1000);
    incoming.respond(DecideReplySchema, { decisions, decisionUs: elapsed * 1000 });
    span.end();
  }
}
