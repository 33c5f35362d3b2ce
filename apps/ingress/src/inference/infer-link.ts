import type { InferChunk, InferItemResult, InferResults, InferSubmitSchema, MessageInitShape } from '#libs/contracts';
import {
  InferAcceptedSchema,
  InferCancelSchema,
  InferChunkSchema,
  InferResultsSchema,
  InferSubmitSchema as SubmitSchema,
} from '#libs/contracts';
import type { Bus, LargeMessages } from '#libs/nats';
import { requestFailure, SUBJECTS } from '#libs/nats';
import type { SpanContext } from '@opentelemetry/api';
import { trace } from '@opentelemetry/api';

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
  private readonly stops: Array<() => void> = [];

  constructor(
    private readonly bus: Bus,
    private readonly large: LargeMessages,
    readonly ingressId: string,
  ) {}

  start(): void {
    this.stops.push(
      this.bus.subscribe(SUBJECTS.inferResults(this.ingressId), InferResultsSchema, (results, incoming) =>
        this.received(results, trace.getSpanContext(incoming.context)),
      ),
      this.bus.subscribe(SUBJECTS.inferChunk(this.ingressId), InferChunkSchema, (chunk, incoming) =>
        this.waiters.get(chunk.itemId)?.chunk?.(chunk, trace.getSpanContext(incoming.context)),
      ),
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
      if (!waiter.chunk || result.status !== 200) this.waiters.delete(result.itemId);
      waiter.result(result, sent);
    }
  }

  stop(): void {
    for (const stop of this.stops.splice(0)) stop();
  }

  /** Registers the items' waiters, then submits; on refusal the waiters are removed again. */
  async submit(
    partition: number,
    submit: MessageInitShape<typeof InferSubmitSchema>,
    waiters: Map<string, ItemWaiter>,
  ): Promise<SubmitOutcome> {
    for (const [itemId, waiter] of waiters) this.waiters.set(itemId, waiter);
    try {
      const reply = await this.bus.request(SUBJECTS.inferSubmit(partition), SubmitSchema, submit, InferAcceptedSchema, SUBMIT_REPLY_MS);
      if (reply.accepted) return { ok: true };
      this.forget([...waiters.keys()]);
      return { ok: false, reason: reply.reason, retryAfterS: reply.retryAfterS };
    } catch (error) {
      this.forget([...waiters.keys()]);
      return { ok: false, reason: `coordinator_${requestFailure(error)}`, retryAfterS: 1 };
    }
  }

  forget(itemIds: readonly string[]): void {
    for (const id of itemIds) this.waiters.delete(id);
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
