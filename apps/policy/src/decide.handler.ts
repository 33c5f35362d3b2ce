import type { OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { Inject, Injectable } from '@nestjs/common';
import { DecideReplySchema, SlotsDecidedSchema } from '#libs/contracts';
import type { Incoming } from '#libs/nats';
import { Bus, EventPublisher, eventMeta, QUEUES, SUBJECTS } from '#libs/nats';
import type { DecideRequestView, DecisionContext, FlushPlan, FlushStrategy, OpeningPlan, SlotFeatures } from '#libs/policy';
import {
  DecisionColumns,
  openingRows,
  openingsFrom,
  plansFromLogits,
  plansWithOpenings,
  planDue,
  PROJECTED_AGES,
  projectAhead,
  readDecideRequest,
} from '#libs/policy';
import { tracerFor } from '#libs/tracing';
import type { PolicyConfig } from './config.js';
import { POLICY_CONFIG } from './config.js';
import type { DecidedGroup, InferenceGroup } from './models.js';
import { ModelUnavailableError } from './models.js';
import { PolicyRuntime } from './policy-runtime.js';
import type { BookEntry } from './strategy-book.js';

const tracer = tracerFor('policy');

interface Decided {
  plans: FlushPlan[];
  /** Plans for new slots on the route, per rate band of the slots asked about (opening.ts). */
  openings: OpeningPlan[];
  strategy: string;
  modelVersion: string;
}

/**
 * Answers policy.decide: the features of many open slots in one request, one
 * plan each (flush at age t or at size n; `actions` carries what each plan
 * says now, for readers older than plans), and per route the opening plans new slots start with
 * (computed in the same strategy call as the slots' plans). Slots are grouped by route so each route's strategy sees its
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
    const record = (indexes: readonly number[], decided: Decided) => {
      let flushes = 0;
      for (let k = 0; k < indexes.length; k++) {
        const plan = decided.plans[k]!;
        const slot = features[indexes[k]!]!;
        columns.setPlan(indexes[k]!, plan, slot, decided.strategy, decided.modelVersion);
        if (planDue(plan, slot.size, slot.ageMs)) flushes++;
      }
      columns.addOpenings(decided.openings);
      // Counted per route group, not per decision: a labelled inc() per slot cost more than deciding it.
      const { decisions } = this.runtime.metrics;
      if (flushes > 0) decisions.inc({ strategy: decided.strategy, action: 'flush' }, flushes);
      if (flushes < indexes.length) decisions.inc({ strategy: decided.strategy, action: 'wait' }, indexes.length - flushes);
    };
    const context = { random: Math.random, nowMs: Date.now() };
    const learned: LearnedGroup[] = [];
    const shadowed: DecidedGroup[] = [];
    for (const [route, indexes] of byRoute) {
      const entry = book.forRoute(route);
      const slots = indexes.map((i) => features[i]!);
      if (entry.kind === 'ppo') learned.push({ route, indexes, slots, scale: entry.scale, fallback: entry.fallback });
      else {
        const decided = this.decideStandard(entry, route, slots, context);
        record(indexes, decided);
        if (this.runtime.models.shadowVersion !== undefined) shadowed.push({ slots, plans: decided.plans, strategy: decided.strategy });
      }
    }
    if (learned.length > 0) (await this.decideLearned(learned, context)).forEach((decided, g) => record(learned[g]!.indexes, decided));
    const decisionUs = (performance.now() - started) * 1000;
    this.runtime.metrics.latency.observe(decisionUs / 1e6);
    const reply = incoming.respond(DecideReplySchema, { ...columns, decisionUs });
    span.end();
    // A model in shadow is also judged on routes a pure strategy decides (after the reply: off its path).
    if (shadowed.length > 0) void this.runtime.models.shadowBeside(shadowed);
    if (this.eventSample < 1 && Math.random() >= this.eventSample) return;
    this.events.publish('slot.decided', SlotsDecidedSchema, {
      meta: eventMeta(this.source),
      coordinatorId: request.coordinatorId,
      request: incoming.data,
      reply,
    });
  }

  /** Strategies that need no model answer synchronously. */
  private decideStandard(
    entry: Exclude<BookEntry, { kind: 'ppo' }>,
    route: string,
    slots: SlotFeatures[],
    context: DecisionContext,
  ): Decided {
    if (entry.kind === 'strategy')
      return { ...plansWithOpenings(entry.strategy, route, slots, context), strategy: entry.strategy.name, modelVersion: '' };
    this.runtime.metrics.fallbacks.inc({ reason: 'no_model' }, slots.length);
    return { ...plansWithOpenings(entry.fallback, route, slots, context), strategy: entry.fallback.name, modelVersion: '' };
  }

  /**
   * Every PPO route group of the request in ONE session.run; each group's own fallback when the model cannot
   * answer. Each slot's plan is the first of its projected ages (projectAhead) the model flushes at, so the run
   * has PROJECTED_AGES rows per slot; a group's opening rows (a fresh slot per rate band) ride in the same run
   * and get their plans the same way.
   */
  private async decideLearned(groups: readonly LearnedGroup[], context: DecisionContext): Promise<Decided[]> {
    try {
      // Every group's slot rows first, then every group's opening rows: the shadow is compared on the former only.
      const opening = groups.map((g) => openingRows(g.slots));
      const projected = [
        ...groups.map((g) => ({ slots: projectAhead(g.slots), scale: g.scale })),
        ...groups.map((g, i) => ({ slots: projectAhead(opening[i]!), scale: g.scale })),
      ];
      const slotRows = groups.reduce((n, g) => n + g.slots.length, 0) * PROJECTED_AGES;
      const { logits, version } = await this.runtime.models.inferGroups(projected, PROJECTED_AGES, slotRows);
      let offset = 0;
      const planned = (slots: readonly SlotFeatures[], rows: readonly SlotFeatures[]) => {
        const plans = plansFromLogits(slots, rows, logits.subarray(offset * 2, (offset + rows.length) * 2));
        offset += rows.length;
        return plans;
      };
      const plans = groups.map((g, i) => planned(g.slots, projected[i]!.slots));
      return groups.map(({ route }, i) => ({
        plans: plans[i]!,
        openings: openingsFrom(route, opening[i]!, planned(opening[i]!, projected[groups.length + i]!.slots)),
        strategy: 'ppo',
        modelVersion: version,
      }));
    } catch (error) {
      const reason = error instanceof ModelUnavailableError ? error.reason : 'inference_error';
      return groups.map(({ route, slots, fallback }) => {
        this.runtime.metrics.fallbacks.inc({ reason }, slots.length);
        return { ...plansWithOpenings(fallback, route, slots, context), strategy: fallback.name, modelVersion: '' };
      });
    }
  }
}

/** The slots of one PPO route in a decide request. */
interface LearnedGroup extends InferenceGroup {
  route: string;
  indexes: readonly number[];
  fallback: FlushStrategy;
}
