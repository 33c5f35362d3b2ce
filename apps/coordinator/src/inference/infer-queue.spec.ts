import { describe, expect, it } from 'vitest';
import { InferKind, Priority } from '#libs/contracts';
import type { QueuedItem, QueueShape } from './infer-queue.js';
import { dispatchOrder, flushReasonOf, InferQueue, queueKeyOf, takeBatch, takeExpired } from './infer-queue.js';

const enc = new TextEncoder();
const shape = (over: Partial<QueueShape> = {}): QueueShape => ({
  kind: InferKind.EMBEDDING,
  model: 'sim-embedding',
  priority: Priority.NORMAL,
  bucket: 128,
  paramsJson: enc.encode('{}'),
  maxTokens: 0,
  stream: false,
  ...over,
});
let n = 0;
const item = (over: Partial<QueuedItem> = {}): QueuedItem => ({
  itemId: `r.${n++}`,
  ingressId: 'i1',
  requestId: 'r',
  inputJson: enc.encode('"x"'),
  promptTokens: 10,
  dedupKey: '',
  deadlineAtMs: 0,
  arrivedAtMs: 1000,
  ...over,
});
const limits = { maxBatchSize: 4, maxBatchTokens: 100 };

describe('inference queues', () => {
  it('key separates priority, bucket, params and stream', () => {
    const base = queueKeyOf(shape());
    expect(queueKeyOf(shape())).toBe(base);
    for (const over of [{ priority: Priority.LOW }, { bucket: 512 }, { paramsJson: enc.encode('{"dimensions":8}') }, { stream: true }]) {
      expect(queueKeyOf(shape(over))).not.toBe(base);
    }
  });

  it('batch takes at most max batch size distinct inputs; identical inputs share one input and do not count', () => {
    const q = new InferQueue('k', shape());
    q.add(item({ dedupKey: 'a' }));
    q.add(item({ dedupKey: 'a' }));
    for (const key of ['b', 'c', 'd', 'e']) q.add(item({ dedupKey: key }));
    const batch = takeBatch(q, limits);
    expect(batch.map((input) => input.dedupKey)).toEqual(['a', 'b', 'c', 'd']);
    expect(batch[0]!.waiters).toHaveLength(2);
    expect(q.items.map((i) => i.dedupKey)).toEqual(['e']);
  });

  it('batch stops before the token budget, but a single oversized input still goes alone', () => {
    const q = new InferQueue('k', shape({ maxTokens: 20 }));
    q.add(item({ promptTokens: 30 }));
    q.add(item({ promptTokens: 30 }));
    q.add(item({ promptTokens: 30 }));
    expect(takeBatch(q, limits)).toHaveLength(2);
    const big = new InferQueue('k2', shape());
    big.add(item({ promptTokens: 500 }));
    expect(takeBatch(big, limits)).toHaveLength(1);
  });

  it('chat and streamed items go one input per batch, identical chat requests still share it', () => {
    const q = new InferQueue('k', shape({ kind: InferKind.CHAT }));
    q.add(item({ dedupKey: 'same' }));
    q.add(item({ dedupKey: 'same' }));
    q.add(item({ dedupKey: '' }));
    const batch = takeBatch(q, limits);
    expect(batch).toHaveLength(1);
    expect(batch[0]!.waiters).toHaveLength(2);
    expect(q.items).toHaveLength(1);
  });

  it('flush reasons: critical at once, size cap, token budget, timeout at the priority max wait, else the strategy', () => {
    const critical = new InferQueue('c', shape({ priority: Priority.CRITICAL }));
    critical.add(item());
    expect(flushReasonOf(critical, 1000, limits, false)).toBe('critical');
    const normal = new InferQueue('n', shape());
    normal.add(item());
    expect(flushReasonOf(normal, 1049, limits, false)).toBeUndefined();
    expect(flushReasonOf(normal, 1049, limits, true)).toBe('policy');
    expect(flushReasonOf(normal, 1050, limits, false)).toBe('timeout');
    const low = new InferQueue('l', shape({ priority: Priority.LOW }));
    low.add(item());
    expect(flushReasonOf(low, 1099, limits, false)).toBeUndefined();
    expect(flushReasonOf(low, 1100, limits, false)).toBe('timeout');
    for (let i = 0; i < 4; i++) normal.add(item());
    expect(flushReasonOf(normal, 1000, limits, false)).toBe('size_cap');
    const tokens = new InferQueue('t', shape({ maxTokens: 90 }));
    tokens.add(item());
    expect(flushReasonOf(tokens, 1000, limits, false)).toBe('token_budget');
  });

  it('dispatch order: higher priority first, an overdue low queue overtakes a fresh normal one (aging)', () => {
    const low = new InferQueue('l', shape({ priority: Priority.LOW }));
    low.add(item({ arrivedAtMs: 0 }));
    const normal = new InferQueue('n', shape());
    normal.add(item({ arrivedAtMs: 990 }));
    const high = new InferQueue('h', shape({ priority: Priority.HIGH }));
    high.add(item({ arrivedAtMs: 995 }));
    // low is 100 ms past its 100 ms max wait: 2 levels at 50 ms per level, so it ranks with high.
    expect(dispatchOrder([normal, low, high], 200, 50).map((q) => q.key)).toEqual(['l', 'h', 'n']);
    expect(dispatchOrder([normal, low, high], 100, 50).map((q) => q.key)).toEqual(['h', 'n', 'l']);
  });

  it('expired items (deadline passed, or passed by the predicted batch time) leave the queue', () => {
    const q = new InferQueue('k', shape());
    q.add(item({ itemId: 'gone', deadlineAtMs: 1005 }));
    q.add(item({ itemId: 'soon', deadlineAtMs: 1020 }));
    q.add(item({ itemId: 'none' }));
    expect(takeExpired(q, 1006).map((i) => i.itemId)).toEqual(['gone']);
    expect(takeExpired(q, 1006, 20).map((i) => i.itemId)).toEqual(['soon']);
    expect(q.items.map((i) => i.itemId)).toEqual(['none']);
  });
});

describe('near-duplicate dedup (embeddings only, off unless a threshold is set)', () => {
  const text = (t: string) => enc.encode(JSON.stringify(t));
  it('joins a near-identical embedding text to the first input, never for completions, and not when off', () => {
    const fill = (q: InferQueue) => {
      q.add(item({ inputJson: text('Hello world, how are you today?'), dedupKey: 'a' }));
      q.add(item({ inputJson: text('hello world,  how are you today?'), dedupKey: 'b' }));
      q.add(item({ inputJson: text('An unrelated sentence'), dedupKey: 'c' }));
      return q;
    };
    const batch = takeBatch(fill(new InferQueue('e', shape())), { ...limits, nearDuplicate: 0.98 });
    expect(batch.map((i) => i.waiters.length)).toEqual([2, 1]);
    expect(batch[0]!.near).toBe(1);
    expect(takeBatch(fill(new InferQueue('off', shape())), limits)).toHaveLength(3);
    expect(takeBatch(fill(new InferQueue('c', shape({ kind: InferKind.COMPLETION }))), { ...limits, nearDuplicate: 0.98 })).toHaveLength(3);
  });
});
