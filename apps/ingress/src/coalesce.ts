import type { Route } from '#libs/config';
import type { FetchResult } from '#libs/contracts';
import { JoinStatus } from '#libs/contracts';
import type { Counter } from '#libs/metrics';
import type { FlushStrategy } from '#libs/policy';
import type { Logger } from '#libs/tracing';
import { endHttpSpan } from '#libs/tracing';
import type { SpanContext } from '@opentelemetry/api';
import { context, trace } from '@opentelemetry/api';
import { BodyStream } from './body-stream.js';
import type { CoalescingKey } from './coalescing-key.js';
import type { DirectCall } from './direct-call.js';
import { toAnswer } from './direct-call.js';
import { EarlyNotices } from './early-notices.js';
import { LocalFlusher } from './fallback.js';
import type { FleetEvents, FleetLink } from './fleet-link.js';
import { latestDeadline } from './fleet-link.js';
import type { LocalSlot, SlotRequest } from './local-slot.js';
import { isJoinable } from './local-slot.js';
import type { RequestLog } from './request-log.js';
import type { Answer, AnswerPath, Waiter } from './waiter.js';
import { shareVerdict, varyOf, withoutCookies, writeAnswer } from './waiter.js';

export interface CoalescerOptions {
  joinTimeoutMs: number;
  flushGraceMs: number;
  upstreamTimeoutMs: number;
  reportIntervalMs: number;
}

export interface CoalescerDeps {
  fleet: FleetLink;
  direct: DirectCall;
  log: RequestLog;
  /** The embedded strategy for local-only coalescing. */
  fallback: FlushStrategy;
  fallbacks: Counter<'reason'>;
  logger: Logger;
  options: CoalescerOptions;
}

const SWEEP_MS = 25;
const RESULT_GRACE_MS = 1000;

const GATEWAY_TIMEOUT: Answer = {
  status: 504,
  headers: [
    ['content-type', 'application/json'],
    ['cache-control', 'no-store'],
  ],
  body: Buffer.from(JSON.stringify({ error: 'gateway_timeout', message: 'no answer before the request deadline' })),
  scope: '',
  private: false,
  vary: [],
  setsCookie: false,
  producer: undefined,
};

/**
 * The waiters of this ingress, grouped by coalescing key. The first waiter of
 * a key joins the fleet slot; later ones attach here and are reported in
 * batches. Answers come from the worker; when the fleet is unreachable, or a
 * flush or answer does not come in time, this ingress coalesces and calls the
 * origin itself. Every waiter is answered exactly once, by its deadline at the latest.
 */
export class Coalescer implements FleetEvents {
  private readonly byKey = new Map<string, LocalSlot>();
  private readonly bySlotId = new Map<string, LocalSlot>();
  private readonly live = new Set<LocalSlot>();
  private readonly unreported = new Set<LocalSlot>();
  private readonly local: LocalFlusher;
  /** Waiters whose slot is settled but who wait for a call of their own (re-calls): the sweep keeps their deadlines. */
  private readonly recalls = new Map<Waiter[], LocalSlot>();
  /** Closed notices and results read before the join reply that names their slot (see EarlyNotices). */
  private readonly early = new EarlyNotices();
  private sweeper: NodeJS.Timeout | undefined;
  private reporter: NodeJS.Timeout | undefined;

  constructor(private readonly deps: CoalescerDeps) {
    this.local = new LocalFlusher(deps.fallback, (slot) => this.callDirect(slot));
  }

  start(): void {
    this.deps.fleet.listen(this);
    this.sweeper = setInterval(() => this.sweep(), SWEEP_MS);
  }

  stop(): void {
    clearInterval(this.sweeper);
    clearTimeout(this.reporter);
    this.local.stop();
    this.deps.fleet.close();
  }

  /** Slots with waiters still to answer (for graceful drain and metrics). */
  get pending(): number {
    return this.live.size + this.recalls.size;
  }

  waiters(): number {
    let total = 0;
    for (const slot of this.live) total += slot.waiters.length;
    return total;
  }

  admit(waiter: Waiter, key: CoalescingKey, route: Route, request: SlotRequest): void {
    const now = waiter.arrivedAtMs;
    this.local.recordArrival(key.key, now);
    const existing = this.byKey.get(key.key);
    if (existing && isJoinable(existing)) {
      existing.waiters.push(waiter);
      existing.lastArrivalMs = now;
      if (existing.phase === 'open') this.queueReport(existing);
      if (existing.phase === 'local') this.local.checkSize(existing);
      return;
    }
    const slot: LocalSlot = {
      key: key.key,
      partition: key.partition,
      route,
      request,
      scope: key.scope,
      waiters: [waiter],
      phase: 'joining',
      slotId: undefined,
      opened: false,
      counted: 0,
      openedAtMs: now,
      lastArrivalMs: now,
      phaseDeadlineMs: Infinity,
      context: trace.setSpan(context.active(), waiter.span),
    };
    this.byKey.set(slot.key, slot);
    this.live.add(slot);
    if (!this.deps.fleet.available) this.goLocal(slot, 'nats_down');
    else void this.join(slot, 0);
  }

  lost(): void {
    for (const slot of this.live) {
      if (slot.phase === 'open' || slot.phase === 'dispatched') {
        this.deps.fallbacks.inc({ reason: 'nats_down' });
        this.callDirect(slot);
      } else if (slot.phase === 'joining') {
        this.goLocal(slot, 'nats_down');
      }
    }
  }

  closed(slotIds: readonly string[]): void {
    const now = performance.now();
    for (const id of slotIds) {
      const slot = this.bySlotId.get(id);
      if (!slot) this.early.closed(id, now);
      if (slot?.phase !== 'open') continue;
      slot.phase = 'dispatched';
      slot.phaseDeadlineMs = now + this.deps.options.upstreamTimeoutMs + RESULT_GRACE_MS;
      this.closeToNewWaiters(slot);
      this.unreported.delete(slot);
    }
  }

  orphaned(slotIds: readonly string[]): void {
    for (const id of slotIds) {
      const slot = this.bySlotId.get(id);
      if (!slot) this.early.orphaned(id, performance.now());
      if (!slot || (slot.phase !== 'open' && slot.phase !== 'dispatched')) continue;
      this.deps.fallbacks.inc({ reason: 'orphaned' });
      this.callDirect(slot);
    }
  }

  /** Slots the coordinator flushed with this ingress as their only member: no worker has them, this ingress calls. */
  soleCall(slotIds: readonly string[]): void {
    for (const id of slotIds) {
      const slot = this.bySlotId.get(id);
      if (!slot) this.early.soleCall(id, performance.now());
      if (slot?.phase !== 'open') continue;
      this.callForFleet(slot, id);
    }
  }

  /** `sent`: the trace context the result travelled in (the worker's upstream call), linked from each waiter's span. */
  result(result: FetchResult, sent?: SpanContext): void {
    const slot = this.bySlotId.get(result.slotId);
    if (!slot) this.early.result(result, sent, performance.now());
    if (slot?.phase === 'settled' && result.streamed) this.deps.fleet.drop(result.slotId);
    if (!slot || slot.phase === 'settled') return;
    this.closeToNewWaiters(slot);
    // The worker replayed the opening join's request: our first waiter's, if that join was ours.
    const producer = slot.opened && result.producerIngressId === this.deps.fleet.ingressId ? slot.waiters[0] : undefined;
    this.deps.fleet
      .body(result)
      .then((body) => this.settle(slot, toAnswer(result, body, producer, sent), 'coalesced'))
      .catch((error: unknown) => {
        this.deps.logger.warn({ err: error, slot: result.slotId }, 'answer body unavailable; calling the origin directly');
        this.callDirect(slot);
      });
  }

  private async join(slot: LocalSlot, attempt: number): Promise<void> {
    const sent = slot.waiters.length;
    // A slow join makes the slot local provisionally; a reply that still comes
    // before the local flush brings it back into the fleet slot.
    const provisional = setTimeout(() => slot.phase === 'joining' && this.goLocal(slot, 'join_timeout'), this.deps.options.joinTimeoutMs);
    const outcome = await this.deps.fleet.join(slot, slot.context);
    clearTimeout(provisional);
    if (outcome.ok) {
      if (slot.phase !== 'joining' && slot.phase !== 'local') return;
      this.local.delete(slot);
      slot.slotId = outcome.reply.slotId;
      slot.opened = outcome.reply.status === JoinStatus.OPENED;
      slot.phase = 'open';
      slot.counted = sent;
      slot.phaseDeadlineMs = slot.openedAtMs + slot.route.envelope.batchTimeoutMs + this.deps.options.flushGraceMs;
      this.bySlotId.set(slot.slotId, slot);
      if (slot.waiters.length > sent) this.queueReport(slot);
      // Flushed at its opening by the route's opening plan, ours alone: the reply is the notice.
      if (outcome.reply.soleMemberCall) this.soleCall([slot.slotId]);
      this.replayEarly(slot.slotId);
      return;
    }
    if (slot.phase !== 'joining') return;
    // A partition changing hands answers not_owner for a moment; try again briefly.
    if (outcome.failure === 'not_owner' && attempt < 2) {
      setTimeout(() => void this.join(slot, attempt + 1), 10);
      return;
    }
    this.goLocal(slot, `join_${outcome.failure}`);
  }

  /** Applies what came for this slot before its join reply was read, in the order it happened. */
  private replayEarly(slotId: string): void {
    const early = this.early.take(slotId, performance.now());
    if (!early) return;
    if (early.closed) this.closed([slotId]);
    if (early.soleCall) this.soleCall([slotId]);
    if (early.result) this.result(early.result, early.sent);
    else if (early.orphaned) this.orphaned([slotId]);
  }

  private queueReport(slot: LocalSlot): void {
    this.unreported.add(slot);
    this.reporter ??= setTimeout(() => this.report(), this.deps.options.reportIntervalMs);
  }

  /** One count report per partition with every slot's new local waiters. */
  private report(): void {
    this.reporter = undefined;
    const byPartition = new Map<number, Array<{ slotId: string; delta: number; deadlineAtMs: number }>>();
    for (const slot of this.unreported) {
      const delta = slot.waiters.length - slot.counted;
      if (slot.phase !== 'open' || !slot.slotId || delta <= 0) continue;
      const count = { slotId: slot.slotId, delta, deadlineAtMs: latestDeadline(slot.waiters.slice(slot.counted)) };
      slot.counted = slot.waiters.length;
      const counts = byPartition.get(slot.partition);
      if (counts) counts.push(count);
      else byPartition.set(slot.partition, [count]);
    }
    this.unreported.clear();
    for (const [partition, counts] of byPartition) this.deps.fleet.report(partition, counts);
  }

  /** Local-only coalescing: the embedded envelope and strategy decide, this process calls the origin. */
  private goLocal(slot: LocalSlot, reason: string): void {
    this.deps.fallbacks.inc({ reason });
    slot.phase = 'local';
    this.local.add(slot);
  }

  /** Flushed: later arrivals open a new slot, unless the route joins calls in flight (then only once it is settled). */
  private closeToNewWaiters(slot: LocalSlot): void {
    if (slot.route.inflight === 'join' && slot.phase !== 'settled') return;
    if (this.byKey.get(slot.key) === slot) this.byKey.delete(slot.key);
  }

  private callDirect(slot: LocalSlot): void {
    if (slot.phase === 'direct' || slot.phase === 'settled') return;
    slot.phase = 'direct';
    this.closeToNewWaiters(slot);
    this.local.delete(slot);
    this.unreported.delete(slot);
    // slot.request carries the first waiter's headers.
    void this.deps.direct.answer(slot.request, slot.scope, slot.waiters[0]).then((answer) => this.settle(slot, answer, 'fallback'));
  }

  /**
   * The fleet slot's one upstream call, made here: every waiter is ours, and
   * the request replayed is our leader's (we opened the slot). Answered as
   * coalesced; the sweep's result deadline still bounds it.
   */
  private callForFleet(slot: LocalSlot, slotId: string): void {
    slot.phase = 'direct';
    slot.phaseDeadlineMs = Infinity;
    this.closeToNewWaiters(slot);
    this.unreported.delete(slot);
    const producer = slot.opened ? slot.waiters[0] : undefined;
    void this.deps.direct
      .answer(slot.request, slot.scope, producer, { slotId, context: slot.context })
      .then((answer) => this.settle(slot, answer, 'coalesced'));
  }

  private settle(slot: LocalSlot, answer: Answer, path: AnswerPath): void {
    if (slot.phase === 'settled') return;
    slot.phase = 'settled';
    this.closeToNewWaiters(slot);
    if (slot.slotId) this.bySlotId.delete(slot.slotId);
    this.live.delete(slot);
    this.unreported.delete(slot);
    this.local.delete(slot);
    this.distribute(slot.waiters, slot, answer, path);
  }

  /**
   * Serves each waiter the answer, the answer without its cookies, or a call
   * of its own or of its group, as shareVerdict says. Re-calls (one per group
   * of equal scope and vary values, made with that group's first waiter's
   * headers) are distributed by the same rules: their answer, too, may
   * belong to one request. Each round answers at least the group's first
   * waiter, so it ends.
   */
  private distribute(waiters: readonly Waiter[], slot: LocalSlot, answer: Answer, path: AnswerPath): void {
    const groups = new Map<string, Waiter[]>();
    let stripped: Answer | undefined;
    for (const waiter of waiters) {
      if (waiter.done) continue;
      const verdict = shareVerdict(answer, waiter, slot.route.setCookie);
      if (verdict === 'serve') this.answer(waiter, slot, answer, path);
      else if (verdict === 'strip') this.answer(waiter, slot, (stripped ??= withoutCookies(answer)), path);
      else if (verdict === 'own-call') void this.answerGroup([waiter], slot);
      else {
        const group = `${waiter.scope}\u0000${answer.vary.map(([name]) => varyOf(waiter.headers, name)).join('\u0000')}`;
        const list = groups.get(group);
        if (list) list.push(waiter);
        else groups.set(group, [waiter]);
      }
    }
    for (const group of groups.values()) void this.answerGroup(group, slot);
    // Every waiter this answer is for has it now: a streamed body need not be kept for anyone else.
    if (answer.body instanceof BodyStream) answer.body.seal();
  }

  private async answerGroup(group: Waiter[], slot: LocalSlot): Promise<void> {
    const first = group[0]!;
    this.recalls.set(group, slot);
    const answer = await this.deps.direct.answer({ ...slot.request, headers: first.forwardHeaders }, first.scope, first);
    this.recalls.delete(group);
    this.distribute(group, slot, answer, 'passthrough');
  }

  private answer(waiter: Waiter, slot: LocalSlot, answer: Answer, path: AnswerPath): void {
    if (waiter.done) return;
    writeAnswer(waiter, answer.status, answer.headers, answer.body, path);
    const latencyMs = performance.now() - waiter.arrivedAtMs;
    if (waiter.span.isRecording()) {
      // Every waiter's trace shows the call that answered it, local followers included (only the leader's join travelled).
      if (answer.origin) waiter.span.addLink({ context: answer.origin });
      waiter.span.setAttribute('batchgate.path', path);
    }
    endHttpSpan(waiter.span, answer.status, 'server');
    this.deps.log.record({
      key: slot.key,
      route: slot.route.name,
      path,
      status: answer.status,
      arrivedAtWallMs: waiter.arrivedAtWallMs,
      latencyMs,
      slotId: slot.slotId ?? '',
    });
  }

  /** Deadlines: slots whose flush or answer is overdue are served directly; waiters past theirs get a 504. */
  private sweep(): void {
    const now = performance.now();
    for (const slot of this.live) {
      if ((slot.phase === 'open' || slot.phase === 'dispatched') && now > slot.phaseDeadlineMs) {
        this.deps.fallbacks.inc({ reason: slot.phase === 'open' ? 'flush_deadline' : 'result_deadline' });
        this.callDirect(slot);
      }
      this.expire(slot.waiters, slot, now);
    }
    for (const [group, slot] of this.recalls) this.expire(group, slot, now);
  }

  private expire(waiters: readonly Waiter[], slot: LocalSlot, now: number): void {
    for (const waiter of waiters) {
      if (!waiter.done && now > waiter.deadlineMs) this.answer(waiter, slot, GATEWAY_TIMEOUT, 'fallback');
    }
  }
}
