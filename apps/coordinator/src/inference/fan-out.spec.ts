import { describe, expect, it } from 'vitest';
import { create, InferBatchResultSchema, InferResultsSchema, toBinary } from '#libs/contracts';
import type { ItemResult } from './fan-out.js';
import { byIngress, packed, requestTraceparentsOf, resultsOf, savingsOf } from './fan-out.js';
import type { BatchInput, QueuedItem } from './infer-queue.js';

const enc = new TextEncoder();
const item = (itemId: string, ingressId: string): QueuedItem => ({
  itemId,
  ingressId,
  requestId: itemId.split('.')[0]!,
  inputJson: enc.encode('"x"'),
  promptTokens: 5,
  dedupKey: '',
  deadlineAtMs: 0,
  arrivedAtMs: 0,
});
const input = (...waiters: QueuedItem[]): BatchInput => ({
  inputJson: enc.encode('"x"'),
  promptTokens: 5,
  dedupKey: 'k',
  waiters,
  near: 0,
});

describe('fan-out of a batch result', () => {
  const inputs = [input(item('a.0', 'i1'), item('b.0', 'i2')), input(item('a.1', 'i1'))];

  it('answers every waiter of input i with output i; the second waiter of an input is a dedup hit', () => {
    const result = create(InferBatchResultSchema, {
      batchId: 'B',
      outputs: [
        { status: 200, outputJson: enc.encode('{"v":0}'), promptTokens: 5 },
        { status: 200, outputJson: enc.encode('{"v":1}'), promptTokens: 5 },
      ],
    });
    const entries = resultsOf('B', inputs, result);
    expect(entries.map((e) => [e.result.itemId, new TextDecoder().decode(e.result.outputJson), e.result.deduplicated])).toEqual([
      ['a.0', '{"v":0}', false],
      ['b.0', '{"v":0}', true],
      ['a.1', '{"v":1}', false],
    ]);
    const grouped = byIngress(entries);
    expect([...grouped.keys()]).toEqual(['i1', 'i2']);
    expect(grouped.get('i1')!.map((r) => r.itemId)).toEqual(['a.0', 'a.1']);
  });

  it('a whole-batch error answers every waiter with its status', () => {
    const result = create(InferBatchResultSchema, { batchId: 'B', error: 'all backends refused', status: 503 });
    expect(resultsOf('B', inputs, result).map((e) => [e.result.status, e.result.error])).toEqual([
      [503, 'all backends refused'],
      [503, 'all backends refused'],
      [503, 'all backends refused'],
    ]);
  });

  it('savings count every waiter past the first of an input, with its prompt and max tokens', () => {
    expect(savingsOf(inputs, 10)).toEqual({ items: 1, tokens: 15 });
  });

  it('packs one ingress results into messages under the limit, in order, an oversize item alone', () => {
    const limit = 10_000;
    const sizes = [3000, 4000, 3500, 12_000, 100, 9000, 2000];
    const results: ItemResult[] = sizes.map((size, i) => ({
      itemId: `req-${i}.0`,
      batchId: 'B',
      status: 200,
      outputJson: new Uint8Array(size),
      error: i === 4 ? 'é€ multi-byte characters count as up to 3 bytes' : '',
      responseModel: 'sim-embedding',
      promptTokens: 2 ** 31,
      completionTokens: 2 ** 31,
      createdS: 1.5,
      batchSize: 32,
      deduplicated: true,
    }));
    const packs = packed(results, limit);
    expect(packs.flat().map((r) => r.itemId)).toEqual(results.map((r) => r.itemId));
    expect(packs.map((p) => p.length)).toEqual([2, 1, 1, 2, 1]);
    expect(packs[2]).toEqual([results[3]]);
    const bytesOf = (pack: ItemResult[]) => toBinary(InferResultsSchema, create(InferResultsSchema, { items: pack })).length;
    for (const pack of packs.filter((p) => p !== packs[2])) expect(bytesOf(pack)).toBeLessThanOrEqual(limit);
    expect(packed([], limit)).toEqual([]);
  });
});

describe('the client requests a batch links to', () => {
  it("each request once (its items share its traceparent), untraced ones left out, in the batch's order", () => {
    const a = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const b = '00-4bf92f3577b34da6a3ce929d0e0e4737-00f067aa0ba902b8-01';
    const traced = (itemId: string, traceparent: string): QueuedItem => ({ ...item(itemId, 'i1'), traceparent });
    const inputs = [input(traced('a.0', a), traced('b.0', b)), input(traced('a.1', a), traced('c.0', '')), input(item('d.0', 'i2'))];
    expect(requestTraceparentsOf(inputs)).toEqual([a, b]);
  });
});
