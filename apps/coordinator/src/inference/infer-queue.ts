import type { InferItem, InferKind, InferSubmit, Priority } from '#libs/contracts';
import { agedRank, cosine, PRIORITY_MAX_WAIT_MS, textVector, tokenBucketOf } from '#libs/inference';
import { InferKind as Kind, Priority as Prio } from '#libs/contracts';

/** Why an inference queue was flushed (InferBatchFlushed.reason). */
export type InferFlushReason = 'policy' | 'timeout' | 'size_cap' | 'token_budget' | 'critical';

/** One client item waiting at the coordinator (or attached to a batch in flight). */
export interface QueuedItem {
  itemId: string;
  ingressId: string;
  requestId: string;
  inputJson: Uint8Array;
  promptTokens: number;
  dedupKey: string;
  /** Wall-clock ms; 0 = none. */
  deadlineAtMs: number;
  arrivedAtMs: number;
  /** W3C traceparent of the client request's server span (absent or "" = not traced): the backend call links to it. */
  traceparent?: string;
}

/** What items must share to travel in one backend call. */
export interface QueueShape {
  kind: InferKind;
  model: string;
  priority: Priority;
  /** Upper bound of the token bucket (0 = larger than the last). */
  bucket: number;
  paramsJson: Uint8Array;
  maxTokens: number;
  stream: boolean;
}

export interface BatchLimits {
  maxBatchSize: number;
  maxBatchTokens: number;
  /** Cosine threshold of near-duplicate embedding inputs (textVector); 0 = off. */
  nearDuplicate?: number;
}

const text = new TextDecoder();

/** A submitted item as it waits here (arrival on this coordinator's clock). */
export function queuedItemOf(submit: InferSubmit, wire: InferItem, nowMs: number): QueuedItem {
  return {
    itemId: wire.itemId,
    ingressId: wire.ingressId,
    requestId: submit.requestId,
    inputJson: wire.inputJson,
    promptTokens: wire.promptTokens,
    // A streamed item's chunks go to one client: it never shares its backend call.
    dedupKey: submit.stream ? '' : wire.dedupKey,
    deadlineAtMs: wire.deadlineAtMs,
    arrivedAtMs: nowMs,
    traceparent: submit.traceparent,
  };
}

/** The queue an item belongs in: its request's kind, model, priority, params and stream flag, and its own token bucket. */
export function shapeOf(submit: InferSubmit, wire: InferItem): QueueShape {
  return {
    kind: submit.kind,
    model: submit.model,
    priority: submit.priority,
    bucket: tokenBucketOf(wire.promptTokens + submit.maxTokens),
    paramsJson: submit.paramsJson,
    maxTokens: submit.maxTokens,
    stream: submit.stream,
  };
}

/** The queue key: every field of the shape (params by their canonical text, which the ingress produced). */
export function queueKeyOf(shape: QueueShape): string {
  return [shape.kind, shape.model, shape.priority, shape.bucket, shape.maxTokens, shape.stream ? 1 : 0, text.decode(shape.paramsJson)].join(
    '\u0000',
  );
}

/** A chat request or a streamed item is one backend call of its own (the API cannot merge them). */
export function singleInput(shape: QueueShape): boolean {
  return shape.stream || shape.kind === Kind.CHAT;
}

export class InferQueue {
  readonly items: QueuedItem[] = [];
  openedAtMs = 0;
  lastArrivalMs = 0;

  constructor(
    readonly key: string,
    readonly shape: QueueShape,
  ) {}

  get maxWaitMs(): number {
    return PRIORITY_MAX_WAIT_MS[this.shape.priority];
  }

  add(item: QueuedItem): void {
    if (this.items.length === 0) this.openedAtMs = item.arrivedAtMs;
    this.items.push(item);
    this.lastArrivalMs = item.arrivedAtMs;
  }

  /** Removes the item; true when it was here. */
  remove(itemId: string): boolean {
    const i = this.items.findIndex((item) => item.itemId === itemId);
    if (i < 0) return false;
    this.items.splice(i, 1);
    if (i === 0 && this.items.length > 0) this.openedAtMs = this.items[0]!.arrivedAtMs;
    return true;
  }

  ageMs(nowMs: number): number {
    return this.items.length === 0 ? 0 : nowMs - this.openedAtMs;
  }

  /** Tokens one distinct input costs the batch budget: its prompt plus what it may generate. */
  inputTokens(item: QueuedItem): number {
    return item.promptTokens + this.shape.maxTokens;
  }

  /** Distinct backend inputs and their tokens among the queued items. */
  load(): { inputs: number; tokens: number } {
    const seen = new Set<string>();
    let inputs = 0;
    let tokens = 0;
    for (const item of this.items) {
      if (item.dedupKey !== '') {
        if (seen.has(item.dedupKey)) continue;
        seen.add(item.dedupKey);
      }
      inputs++;
      tokens += this.inputTokens(item);
    }
    return { inputs, tokens };
  }
}

/**
 * Whether a queue must go now, and why, before any strategy is asked: a
 * critical item (it flushes its queue at once), a full batch (size or token
 * budget), or the oldest item at its priority's max wait. Otherwise
 * `strategyDue` (the per-model strategy's plan) decides.
 */
export function flushReasonOf(queue: InferQueue, nowMs: number, limits: BatchLimits, strategyDue: boolean): InferFlushReason | undefined {
  if (queue.items.length === 0) return undefined;
  if (queue.shape.priority === Prio.CRITICAL) return 'critical';
  const { inputs, tokens } = queue.load();
  if (inputs >= (singleInput(queue.shape) ? 1 : limits.maxBatchSize)) return 'size_cap';
  if (tokens >= limits.maxBatchTokens) return 'token_budget';
  if (queue.ageMs(nowMs) >= queue.maxWaitMs) return 'timeout';
  return strategyDue ? 'policy' : undefined;
}

/** Order in which due queues get the model's free in-flight places: priority with aging (agedRank). */
export function dispatchOrder(queues: readonly InferQueue[], nowMs: number, agingMs: number): InferQueue[] {
  const rank = (q: InferQueue) => agedRank(q.shape.priority, q.ageMs(nowMs) - q.maxWaitMs, agingMs);
  return [...queues].sort((a, b) => rank(a) - rank(b) || a.openedAtMs - b.openedAtMs);
}

/** One distinct backend input and every client item it answers. */
export interface BatchInput {
  inputJson: Uint8Array;
  promptTokens: number;
  dedupKey: string;
  waiters: QueuedItem[];
  /** Waiters that joined as near duplicates (reported apart from exact hits). */
  near: number;
}

/**
 * Takes the next batch off the queue, oldest first: items with an equal
 * non-empty dedup key share one input; stops at max batch size distinct
 * inputs (1 for chat and streams) or before the token budget would be passed
 * (the first input always goes, so an item larger than the budget is served
 * alone rather than never).
 */
export function takeBatch(queue: InferQueue, limits: BatchLimits): BatchInput[] {
  const maxInputs = singleInput(queue.shape) ? 1 : limits.maxBatchSize;
  const inputs: BatchInput[] = [];
  const byKey = new Map<string, BatchInput>();
  let tokens = 0;
  const left: QueuedItem[] = [];
  // Near duplicates only for embeddings of text: a sampled completion must never get another prompt's answer.
  const near = (limits.nearDuplicate ?? 0) > 0 && queue.shape.kind === Kind.EMBEDDING ? new NearInputs(limits.nearDuplicate!) : undefined;
  for (const item of queue.items) {
    const shared = (item.dedupKey === '' ? undefined : byKey.get(item.dedupKey)) ?? near?.match(item);
    if (shared) {
      shared.waiters.push(item);
      if (shared.dedupKey !== item.dedupKey) shared.near++;
      continue;
    }
    const cost = queue.inputTokens(item);
    if (inputs.length >= maxInputs || (inputs.length > 0 && tokens + cost > limits.maxBatchTokens)) {
      left.push(item);
      continue;
    }
    const input: BatchInput = {
      inputJson: item.inputJson,
      promptTokens: item.promptTokens,
      dedupKey: item.dedupKey,
      waiters: [item],
      near: 0,
    };
    inputs.push(input);
    near?.add(item, input);
    if (item.dedupKey !== '') byKey.set(item.dedupKey, input);
    tokens += cost;
  }
  queue.items.splice(0, queue.items.length, ...left);
  if (left.length > 0) queue.openedAtMs = left[0]!.arrivedAtMs;
  return inputs;
}

/** Items whose deadline has passed (removed from the queue): answered 504 without a backend call. */
export function takeExpired(queue: InferQueue, nowMs: number, predictedBatchMs = 0): QueuedItem[] {
  const expired = queue.items.filter((item) => item.deadlineAtMs > 0 && item.deadlineAtMs <= nowMs + predictedBatchMs);
  for (const item of expired) queue.remove(item.itemId);
  return expired;
}

/** The batch's text inputs as local vectors, to find an input a new text is a near duplicate of. */
class NearInputs {
  private readonly known: Array<{ vector: Float64Array; input: BatchInput }> = [];

  constructor(private readonly threshold: number) {}

  private vectorOf(item: QueuedItem): Float64Array | undefined {
    const text = JSON.parse(new TextDecoder().decode(item.inputJson)) as unknown;
    return typeof text === 'string' ? textVector(text) : undefined;
  }

  match(item: QueuedItem): BatchInput | undefined {
    const vector = this.vectorOf(item);
    if (!vector) return undefined;
    return this.known.find((k) => cosine(k.vector, vector) >= this.threshold)?.input;
  }

  add(item: QueuedItem, input: BatchInput): void {
    const vector = this.vectorOf(item);
    if (vector) this.known.push({ vector, input });
  }
}
