import type { InferChunk, InferItemResult, InferOwner, InferResults, InferSubmitSchema, MessageInitShape } from '#libs/contracts';
import {
  create,
  InferAcceptedSchema,
  InferCancelSchema,
  InferChunkSchema,
  InferItemResultSchema,
  InferOwnerSchema,
  InferResultsSchema,
  InferSubmitSchema as SubmitSchema,
} from '#libs/contracts';
import type { Bus, LargeMessages } from '#libs/nats';
import { requestFailure, SUBJECTS } from '#libs/nats';
import type { SpanContext } from '@opentelemetry/api';
import { trace } from '@opentelemetry/api';
import type { Logger } from '#libs/tracing';

/** How long the coordinator has to accept a submit (it answers before batching). */
const SUBMIT_REPLY_MS = 2000;

/** `sent`: the trace context a result or chunk travelled in (the batch's backend call), for the client span's link. */
export interface ItemWaiter {
  result(result: InferItemResult, sent: SpanContext | undefined): void;
  chunk?(chunk: InferChunk, sent: SpanContext | undefined): void;
}

export type SubmitOutcome = { ok: true } | { ok: false; reason: string; retryAfterS: number };

/** This ingress's Flow B side of NATS: submits and cancels to a partition, results and stream chunks on its own subjects. */
export class InferLink {
  private readonly waiters = new Map<string, ItemWaiter>();
  /** Where each accepted item waits: its partition and the coordinator that holds it. */
  private readonly holders = new Map<string, { partition: number; coordinatorId: string }>();
  private readonly stops: Array<() => void> = [];

  constructor(
    private readonly bus: Pick<Bus, 'publish' | 'subscribe'>,
    private readonly large: Pick<LargeMessages, 'receive' | 'request'>,
    readonly ingressId: string,
    private readonly logger?: Pick<Logger, 'warn'>,
  ) {}

  start(): void {
    this.stops.push(
      this.bus.subscribe(SUBJECTS.inferResults(this.ingressId), InferResultsSchema, (results, incoming) =>
        this.received(results, trace.getSpanContext(incoming.context)),
      ),
      this.bus.subscribe(SUBJECTS.inferChunk(this.ingressId), InferChunkSchema, (chunk, incoming) =>
        this.waiters.get(chunk.itemId)?.chunk?.(chunk, trace.getSpanContext(incoming.context)),
      ),
      this.bus.subscribe(SUBJECTS.inferOwner, InferOwnerSchema, (owner) => this.ownerChanged(owner)),
    );
  }

  /** Results above max_payload are read from the Object Store first; if that fails, their clients get a 502. */
  private async received(results: InferResults, sent: SpanContext | undefined): Promise<void> {
    if (results.storedRef === '') return this.answer(results.items, sent);
    try {
      this.answer((await this.large.receive(InferResultsSchema, results)).items, sent);
    } catch (error) {
      const message = `the answer could not be read from the object store: ${(error as Error).message}`;
      this.answer(
        results.items.map((item) => ({ ...item, status: 502, error: message })),
        sent,
      );
    }
  }

  private answer(results: readonly InferItemResult[], sent: SpanContext | undefined): void {
    for (const result of results) {
      const waiter = this.waiters.get(result.itemId);
      if (!waiter) continue;
      // A streamed item's success is its chunks; it keeps waiting for them.
      if (!waiter.chunk || result.status !== 200) this.forget([result.itemId]);
      waiter.result(result, sent);
    }
  }

  /**
   * A partition has a new owner. Items of it that a coordinator no longer
   * live accepted will never be answered (its queues died with it): they fail
   * 503 now, within a lease TTL of the crash, instead of at deadline + grace.
   * Items of a live previous owner (a rebalance) are still answered by it.
   */
  private ownerChanged(owner: InferOwner): void {
    const live = new Set([owner.coordinatorId, ...owner.liveCoordinatorIds]);
    let lost = 0;
    for (const [itemId, holder] of this.holders) {
      if (holder.partition !== owner.partition || live.has(holder.coordinatorId)) continue;
      const waiter = this.waiters.get(itemId);
      this.forget([itemId]);
      if (!waiter) continue;
      lost++;
      waiter.result(
        create(InferItemResultSchema, { itemId, status: 503, error: 'the batching coordinator holding the request was lost; retry' }),
        undefined,
      );
    }
    if (lost > 0)
      this.logger?.warn(
        { partition: owner.partition, owner: owner.coordinatorId, items: lost },
        'inference items of a lost coordinator failed',
      );
  }

  stop(): void {
    for (const stop of this.stops.splice(0)) stop();
  }

  /** Registers the items' waiters, then submits (by reference above max_payload); on refusal the waiters are removed again. */
  async submit(
    partition: number,
    submit: MessageInitShape<typeof InferSubmitSchema>,
    waiters: Map<string, ItemWaiter>,
  ): Promise<SubmitOutcome> {
    for (const [itemId, waiter] of waiters) this.waiters.set(itemId, waiter);
    try {
      // A submit above max_payload (e.g. 2,048 long embedding inputs) goes through the Object Store.
      const stub = { requestId: submit.requestId, kind: submit.kind, model: submit.model };
      const reply = await this.large.request(SUBJECTS.inferSubmit(partition), SubmitSchema, submit, InferAcceptedSchema, SUBMIT_REPLY_MS, {
        stub,
      });
      if (reply.accepted) {
        // An item already answered (or left) before the reply came is not waiting any more.
        for (const itemId of waiters.keys())
          if (this.waiters.has(itemId)) this.holders.set(itemId, { partition, coordinatorId: reply.coordinatorId });
        return { ok: true };
      }
      this.forget([...waiters.keys()]);
      return { ok: false, reason: reply.reason, retryAfterS: reply.retryAfterS };
    } catch (error) {
      this.forget([...waiters.keys()]);
      return { ok: false, reason: `coordinator_${requestFailure(error)}`, retryAfterS: 1 };
    }
  }

  forget(itemIds: readonly string[]): void {
    for (const id of itemIds) {
      this.waiters.delete(id);
      this.holders.delete(id);
    }
  }

  /** The client left: its items stop waiting here and at the coordinator. */
  cancel(partition: number, itemIds: readonly string[]): void {
    this.forget(itemIds);
    this.bus.publish(SUBJECTS.inferCancel(partition), InferCancelSchema, { ingressId: this.ingressId, itemIds: [...itemIds] });
  }

  get pending(): number {
    return this.waiters.size;
  }
}
