import { describe, expect, it } from 'vitest';
import { StreamMerge } from './stream-merge.js';

const event = (id: string, choices: unknown[], usage?: unknown) =>
  JSON.stringify({ id, object: 'text_completion', created: 7, choices, ...(usage ? { usage } : {}) });

describe('StreamMerge', () => {
  it('a single item passes through untouched, bytes and all', () => {
    const merge = new StreamMerge(1, 2);
    const data = event('a', [{ index: 1, text: 'x' }], { prompt_tokens: 1 });
    expect(merge.event(0, data)).toBe(data);
    expect(merge.done(0)).toBe(true);
    expect(merge.tail()).toEqual([]);
  });

  it('shifts each item’s choice indices to prompt * n + choice and keeps the first id', () => {
    const merge = new StreamMerge(2, 2);
    const first = JSON.parse(
      merge.event(
        1,
        event('b', [
          { index: 0, text: 'p' },
          { index: 1, text: 'q' },
        ]),
      )!,
    ) as {
      id: string;
      choices: Array<{ index: number; text: string }>;
    };
    expect(first.id).toBe('b');
    expect(first.choices).toEqual([
      { index: 2, text: 'p' },
      { index: 3, text: 'q' },
    ]);
    const second = JSON.parse(merge.event(0, event('a', [{ index: 1, text: 'r' }]))!) as { id: string; choices: unknown[] };
    expect(second).toMatchObject({ id: 'b', choices: [{ index: 1, text: 'r' }] });
  });

  it('holds each item’s usage event and sends one summed usage event once every item is done', () => {
    const merge = new StreamMerge(2, 1);
    expect(merge.event(0, event('a', [], { prompt_tokens: 2, completion_tokens: 3, total_tokens: 5 }))).toBeUndefined();
    expect(merge.done(0)).toBe(false);
    expect(merge.event(1, event('b', [], { prompt_tokens: 1, completion_tokens: 4, total_tokens: 5 }))).toBeUndefined();
    expect(merge.done(1)).toBe(true);
    expect(merge.tail().map((d) => JSON.parse(d) as unknown)).toEqual([
      { id: 'a', object: 'text_completion', created: 7, choices: [], usage: { prompt_tokens: 3, completion_tokens: 7, total_tokens: 10 } },
    ]);
  });
});
