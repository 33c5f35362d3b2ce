import { randomUUID } from 'node:crypto';
import type { InferBatchResult, InferCancel, InferSubmit, Priority } from '#libs/contracts';
import {
  InferAcceptedSchema,
  InferBatchAcceptedSchema,
  InferBatchCancelSchema,
  InferBatchFlushedSchema,
  InferBatchResultSchema,
  InferBatchSchema,
  InferCancelSchema,
  InferOwnerSchema,
  InferResultsSchema,
  InferSubmitSchema,
} from '#libs/contracts';
import { priorityName } from '#libs/inference';
import type { Bus, EventPublisher, Incoming, LargeMessages } from '#libs/nats';
import { eventMeta, SUBJECTS } from '#libs/nats';
import type { Logger } from '#libs/tracing';
import { contextOf } from '#libs/tracing';
import { wallNow } from '../clock.js';
import type { InferenceConfig } from './config.js';
import type { ItemResult } from './fan-out.js';
import { batchOf, byIngress, flushedEventOf, packed, refusalOf, resultsOf, savingsOf } from './fan-out.js';
import type { InferMetrics } from './infer-metrics.js';
import type { BatchInput, InferFlushReason, QueuedItem, QueueShape } from './infer-queue.js';
import { InferQueue, queuedItemOf, queueKeyOf, shapeOf, takeBatch, takeExpired } from './infer-queue.js';
import { duePlans, InferStrategies, laneOf } from './infer-strategies.js';

/** A worker must accept a batch (before its backend call) within this; it answers at once unless NATS or it is stuck. */
const ACCEPT_TIMEOUT_MS = 2000;

interface InflightBatch {
  batchId: string;
  model: string;
  shape: QueueShape;
  inputs: BatchInput[];
  workerId: string;
  timer: NodeJS.Timeout | undefined;
}

type Place = { queue: InferQueue } | { batch: InflightBatch; input: BatchInput };

export interface InferCoordinatorOptions {
  bus: Bus;
  /** Results above the server's max_payload travel through the Object Store, both from workers and to ingresses. */
  large: LargeMessages;
  events: EventPublisher;
  metrics: InferMetrics;
  logger: Logger;
  config: InferenceConfig;
  coordinatorId: string;
  tickMs: number;
}

/**
 * Flow B at the coordinator: queues submitted items per shape, asks the
 * model's strategy when to flush, dispatches batches to the worker queue
 * group within the model's in-flight bound (priority with aging first), and
 * fans each batch result out to the ingresses of its waiters. Identical items
 * share one backend input in a queue and across batches in flight.
 */
export class InferCoordinator {
  readonly strategies: InferStrategies;
  private readonly queues = new Map<string, InferQueue>();
  private readonly inflight = new Map<string, InflightBatch>();
  private readonly byDedup = new Map<string, { batch: InflightBatch; input: BatchInput }>();
  private readonly places = new Map<string, Place>();
  private readonly inflightPerModel = new Map<string, number>();
  private readonly partitionStops = new Map<number, Array<() => void>>();
  private readonly stops: Array<() => void> = [];
  private timer: NodeJS.Timeout | undefined;
  private stopping = false;
  queued = 0;

  constructor(private readonly o: InferCoordinatorOptions) {
    this.strategies = new InferStrategies(o.config.strategy);
  }

  get inflightBatches(): number {
    return this.inflight.size;
  }

  start(): void {
    const { bus, coordinatorId, tickMs } = this.o;
    this.stops.push(bus.subscribe(SUBJECTS.inferDone(coordinatorId), InferBatchResultSchema, (result) => this.received(result)));
    this.timer = setInterval(() => this.tick(), tickMs);
  }

  /**
   * Graceful stop: no new submits; items still queued are answered 503 at
   * once (the client may retry on the partition's next owner) instead of
   * waiting out their deadline; batches in flight get up to `drainMs` to
   * bring their results, which are fanned out as usual.
   */
  async stop(drainMs: number): Promise<void> {
    this.stopping = true;
    clearInterval(this.timer);
    for (const partition of [...this.partitionStops.keys()]) this.lost(partition);
    for (const queue of this.queues.values()) {
      const refused = queue.items.splice(0).map((item) => {
        this.places.delete(item.itemId);
        return refusalOf(item, 503, 'the batching coordinator is shutting down; retry');
      });
      this.queued -= refused.length;
      if (refused.length === 0) continue;
      this.o.metrics.shed.inc({ reason: 'shutting_down' }, refused.length);
      this.publish(refused, queue.shape.priority);
    }
    this.queues.clear();
    const until = Date.now() + drainMs;
    while (this.inflight.size > 0 && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 10));
    for (const batch of [...this.inflight.values()]) this.fail(batch, 503, 'the batching coordinator stopped before the batch finished');
    for (const stop of this.stops.splice(0)) stop();
  }

  /** `live`: the coordinators heartbeating now; the ingresses fail at once the items of this partition any other one held. */
  acquired(partition: number, live: readonly string[]): void {
    const { bus, coordinatorId } = this.o;
    this.partitionStops.set(partition, [
      bus.subscribe(SUBJECTS.inferSubmit(partition), InferSubmitSchema, (submit, incoming) => this.submitted(submit, incoming)),
      bus.subscribe(SUBJECTS.inferCancel(partition), InferCancelSchema, (cancel) => this.cancel(cancel)),
    ]);
    bus.publish(SUBJECTS.inferOwner, InferOwnerSchema, { partition, coordinatorId, liveCoordinatorIds: [...live] });
  }

  /** As a crash, for tests of takeover: stops serving and answers nothing (a real crash answers nobody either). */
  abandon(): void {
    this.stopping = true;
    clearInterval(this.timer);
    for (const partition of [...this.partitionStops.keys()]) this.lost(partition);
    for (const batch of this.inflight.values()) clearTimeout(batch.timer);
    for (const stop of this.stops.splice(0)) stop();
  }

  lost(partition: number): void {
    for (const stop of this.partitionStops.get(partition) ?? []) stop();
    this.partitionStops.delete(partition);
  }

  /** A submit above max_payload came by reference: it is read (and deleted) first; unreadable, it is refused (503 at the ingress). */
  private submitted(submit: InferSubmit, incoming: Incoming): void {
    if (submit.storedRef === '') return this.submit(submit, incoming);
    this.o.large.receive(InferSubmitSchema, submit).then(
      (whole) => this.submit(whole, incoming),
      (error: unknown) => {
        this.o.logger.error({ err: error, requestId: submit.requestId }, 'could not read a stored inference submit');
        incoming.respond(InferAcceptedSchema, { accepted: false, reason: 'submit_unreadable', retryAfterS: 1 });
      },
    );
  }

  private submit(submit: InferSubmit, incoming: Incoming): void {
    const { metrics, config } = this.o;
    if (this.stopping) {
      metrics.shed.inc({ reason: 'shutting_down' }, submit.items.length);
      incoming.respond(InferAcceptedSchema, { accepted: false, reason: 'shutting_down', retryAfterS: 1 });
      return;
    }
    if (this.queued + submit.items.length > config.maxQueued) {
      metrics.shed.inc({ reason: 'queue_full' }, submit.items.length);
      // The time this coordinator needs to drain its queue at the rate items complete (at least 1 s, at most 60).
      const rps = Math.max(1, this.strategies.summary(wallNow()).rps);
      const retryAfterS = Math.min(60, Math.max(1, Math.ceil(this.queued / rps)));
      incoming.respond(InferAcceptedSchema, { accepted: false, reason: 'queue_full', retryAfterS });
      return;
    }
    incoming.respond(InferAcceptedSchema, { accepted: true, coordinatorId: this.o.coordinatorId });
    const now = wallNow();
    const touched = new Set<InferQueue>();
    for (const wire of submit.items) {
      const item = queuedItemOf(submit, wire, now);
      const running = item.dedupKey === '' ? undefined : this.byDedup.get(item.dedupKey);
      if (running) {
        running.input.waiters.push(item);
        this.places.set(item.itemId, running);
        metrics.dedupHits.inc({ match: 'in_flight' });
        continue;
      }
      const shape = shapeOf(submit, wire);
      const key = queueKeyOf(shape);
      let queue = this.queues.get(key);
      if (!queue) this.queues.set(key, (queue = new InferQueue(key, shape)));
      queue.add(item);
      this.places.set(item.itemId, { queue });
      this.queued++;
      this.strategies.arrived(queue, now);
      touched.add(queue);
    }
    // A critical arrival (or a batch now full) is flushed here, not a tick later.
    if (touched.size > 0) this.pump(now, [...touched]);
  }

  private cancel(cancel: InferCancel): void {
    for (const itemId of cancel.itemIds) {
      const place = this.places.get(itemId);
      if (!place) continue;
      this.places.delete(itemId);
      if ('queue' in place) {
        if (place.queue.remove(itemId)) this.queued--;
        continue;
      }
      const waiters = place.input.waiters;
      const i = waiters.findIndex((w) => w.itemId === itemId);
      if (i >= 0) waiters.splice(i, 1);
      const batch = place.batch;
      if (batch.inputs.every((input) => input.waiters.length === 0)) {
        // Every waiter left: the backend call is worth nothing to anyone.
        if (batch.workerId !== '')
          this.o.bus.publish(SUBJECTS.inferBatchCancel(batch.workerId), InferBatchCancelSchema, { batchId: batch.batchId });
        this.finish(batch);
      }
    }
  }

  private tick(): void {
    const now = wallNow();
    for (const [key, queue] of this.queues) {
      const predicted = this.strategies.predictedBatchMs(queue, queue.load().inputs);
      const expired = takeExpired(queue, now, predicted).map((item) => {
        this.places.delete(item.itemId);
        this.queued--;
        return refusalOf(item, 504, 'the request deadline passed before its batch was sent to the backend');
      });
      if (queue.items.length === 0) this.queues.delete(key);
      if (expired.length === 0) continue;
      this.o.metrics.shed.inc({ reason: 'deadline' }, expired.length);
      this.publish(expired, queue.shape.priority);
    }
    this.pump(now, [...this.queues.values()]);
  }

  /** Dispatches every due queue among `queues` the models' in-flight bounds allow, best rank first. */
  private pump(now: number, queues: InferQueue[]): void {
    const { config } = this.o;
    const limits = { maxBatchSize: config.maxBatchSize, maxBatchTokens: config.maxBatchTokens, nearDuplicate: config.nearDuplicate };
    const due = duePlans(this.strategies, queues, now, limits, this.queued, config.agingMs);
    for (const { queue, reason } of due) {
      const model = queue.shape.model;
      // Critical batches are admitted past the bound: their 5 ms budget cannot wait for a batch to finish.
      if (reason !== 'critical' && (this.inflightPerModel.get(model) ?? 0) >= config.maxInflightPerModel) continue;
      if (queue.items.length === 0) continue;
      this.dispatch(queue, reason, now);
      if (queue.items.length === 0) this.queues.delete(queue.key);
    }
  }

  private dispatch(queue: InferQueue, reason: InferFlushReason, now: number): void {
    const { large, events, metrics, config, coordinatorId } = this.o;
    const ageMs = queue.ageMs(now);
    const inputs = takeBatch(queue, {
      maxBatchSize: config.maxBatchSize,
      maxBatchTokens: config.maxBatchTokens,
      nearDuplicate: config.nearDuplicate,
    });
    const shape = queue.shape;
    const batch: InflightBatch = { batchId: randomUUID(), model: shape.model, shape, inputs, workerId: '', timer: undefined };
    let items = 0;
    let latest = 0;
    let tokens = 0;
    for (const input of inputs) {
      tokens += input.promptTokens + shape.maxTokens;
      if (input.dedupKey !== '') this.byDedup.set(input.dedupKey, { batch, input });
      for (const waiter of input.waiters) {
        items++;
        this.places.set(waiter.itemId, { batch, input });
        latest = waiter.deadlineAtMs === 0 || latest === -1 ? -1 : Math.max(latest, waiter.deadlineAtMs);
      }
    }
    this.queued -= items;
    const near = inputs.reduce((sum, input) => sum + input.near, 0);
    if (items - inputs.length - near > 0) metrics.dedupHits.inc({ match: 'exact' }, items - inputs.length - near);
    if (near > 0) metrics.dedupHits.inc({ match: 'near' }, near);
    this.inflight.set(batch.batchId, batch);
    this.inflightPerModel.set(shape.model, (this.inflightPerModel.get(shape.model) ?? 0) + 1);
    const kind = String(shape.kind);
    metrics.flushes.inc({ reason });
    metrics.batchSize.observe({ kind }, inputs.length);
    metrics.batchTokens.observe({ kind }, tokens);
    const deadlineAtMs = latest > 0 ? latest : 0;
    const limitMs = deadlineAtMs > 0 ? Math.min(config.resultTimeoutMs, deadlineAtMs - now + 50) : config.resultTimeoutMs;
    batch.timer = setTimeout(() => this.fail(batch, 504, 'no inference result before the deadline'), Math.max(1, limitMs));
    const strategy = this.strategies.nameFor(laneOf(shape.model, shape.kind));
    const meta = eventMeta(`coordinator/${coordinatorId}`);
    events.publish(
      'batch.flushed',
      InferBatchFlushedSchema,
      flushedEventOf(batch.batchId, shape, inputs, { meta, reason, strategy, ageMs, tokens }),
    );
    const wire = batchOf(batch.batchId, shape, inputs, { reason, deadlineAtMs, coordinatorId });
    // In its first client's trace, as a Flow A flush travels in its first member's; the backend call links to every client.
    const traced = contextOf(wire.requestTraceparents?.[0] ?? '');
    // A batch above max_payload (many long inputs) goes to its worker through the Object Store.
    const stub = { batchId: batch.batchId, coordinatorId };
    large.request(SUBJECTS.infer, InferBatchSchema, wire, InferBatchAcceptedSchema, ACCEPT_TIMEOUT_MS, { stub, ctx: traced }).then(
      (accepted) => {
        batch.workerId = accepted.workerId;
      },
      (error: unknown) => {
        this.o.logger.warn({ err: error, batchId: batch.batchId }, 'no inference worker accepted the batch');
        metrics.shed.inc({ reason: 'no_worker' }, items);
        this.fail(batch, 503, 'no inference worker is available');
      },
    );
  }

  /** A result above max_payload is read from the Object Store first; one for a batch no longer in flight is only deleted. */
  private async received(result: InferBatchResult): Promise<void> {
    if (result.storedRef === '') return this.done(result);
    const batch = this.inflight.get(result.batchId);
    if (!batch) return this.o.large.discard(result.storedRef);
    try {
      this.done(await this.o.large.receive(InferBatchResultSchema, result));
    } catch (error) {
      this.o.logger.error({ err: error, batchId: result.batchId }, 'could not read a stored inference result');
      this.fail(batch, 502, 'the batch answer could not be read from the object store');
    }
  }

  private done(result: InferBatchResult): void {
    const batch = this.inflight.get(result.batchId);
    if (!batch) return;
    this.finish(batch);
    this.strategies.observeBatch(batch, batch.inputs.length, result.backendMs);
    const entries = resultsOf(batch.batchId, batch.inputs, result);
    this.account(batch);
    this.publish(entries, batch.shape.priority);
  }

  private account(batch: InflightBatch): void {
    const { items, tokens } = savingsOf(batch.inputs, batch.shape.maxTokens);
    if (items === 0) return;
    this.o.metrics.itemsSaved.inc(items);
    this.o.metrics.tokensSaved.inc(tokens);
    this.o.metrics.costSaved.inc((tokens / 1000) * this.o.config.pricePer1kTokens);
  }

  private fail(batch: InflightBatch, status: number, error: string): void {
    if (!this.inflight.has(batch.batchId)) return;
    this.finish(batch);
    this.publish(
      batch.inputs.flatMap((input) => input.waiters.map((item) => refusalOf(item, status, error))),
      batch.shape.priority,
    );
  }

  private finish(batch: InflightBatch): void {
    clearTimeout(batch.timer);
    this.inflight.delete(batch.batchId);
    this.inflightPerModel.set(batch.model, Math.max(0, (this.inflightPerModel.get(batch.model) ?? 1) - 1));
    for (const input of batch.inputs) {
      if (input.dedupKey !== '' && this.byDedup.get(input.dedupKey)?.batch === batch) this.byDedup.delete(input.dedupKey);
      for (const waiter of input.waiters) this.places.delete(waiter.itemId);
    }
  }

  private publish(entries: Array<{ item: QueuedItem; result: ItemResult }>, priority: Priority): void {
    const now = wallNow();
    const label = priorityName(priority);
    for (const { item } of entries) {
      this.o.metrics.latency.observe({ priority: label }, (now - item.arrivedAtMs) / 1000);
      this.strategies.completed(now, now - item.arrivedAtMs);
    }
    for (const [ingressId, items] of byIngress(entries))
      for (const pack of packed(items, this.o.large.limit)) this.deliver(ingressId, pack);
  }

  /** One ingress's results; above max_payload they go through the Object Store, with the item ids on the wire. */
  private deliver(ingressId: string, items: ItemResult[]): void {
    const subject = SUBJECTS.inferResults(ingressId);
    const stub = { items: items.map(({ itemId, batchId }) => ({ itemId, batchId })) };
    this.o.large.publish(subject, InferResultsSchema, { items }, { stub }).catch((error: unknown) => {
      this.o.logger.error({ err: error, ingressId }, 'could not store large inference results');
      const refused = items.map(({ itemId, batchId }) => ({
        itemId,
        batchId,
        status: 502,
        error: 'the answer exceeds the NATS payload limit and could not be stored',
      }));
      this.o.bus.publish(subject, InferResultsSchema, { items: refused });
    });
  }
}
