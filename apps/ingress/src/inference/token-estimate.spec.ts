import { Tiktoken } from 'js-tiktoken/lite';
import cl100k from 'js-tiktoken/ranks/cl100k_base';
import { describe, expect, it } from 'vitest';
import { estimateInputTokens, estimateTokens } from './token-estimate.js';

const reference = new Tiktoken(cl100k);
/** js-tiktoken's own count of the whole text, special tokens read as plain text. */
const whole = (text: string) => reference.encode(text, [], []).length;

const TEXTS = [
  'hello world',
  'The quick brown fox jumps over the lazy dog. The quick brown fox!',
  "I'm sure they'll say it's fine; we've DONE it, haven't we?",
  'numbers 1 12 123 1234 12345 3.14159 -42 1e10',
  '  leading spaces, trailing spaces   ',
  'line one\nline two\n\n\tindented\r\nwindows\n   \n',
  'unicode: naïve café, Straße, 東京タワー, 한국어, emoji 🙂👍🏽 and ∑∫√',
  'code: function f(x) { return x?.y ?? [1, 2, 3].map((v) => v * 2); }',
  '<|endoftext|> is only text here, as is <|fim_prefix|>',
  'lorem ipsum dolor sit amet consectetur adipiscing elit '.repeat(20),
  '',
];

describe('estimateTokens (cl100k by pieces, with counted pieces remembered)', () => {
  it.each(TEXTS.map((text) => [text.slice(0, 40), text]))('counts %j exactly as js-tiktoken encodes the whole text', (_, text) => {
    expect(estimateTokens(text)).toBe(whole(text));
    // Again, now from remembered pieces: the same count.
    expect(estimateTokens(text)).toBe(whole(text));
  });

  it("counts a client's special-token text as plain text instead of throwing", () => {
    expect(() => reference.encode('<|endoftext|>')).toThrow();
    expect(estimateTokens('<|endoftext|>')).toBe(whole('<|endoftext|>'));
    expect(estimateInputTokens({ messages: [{ role: 'user', content: 'stop <|endoftext|>' }] })).toBe(3 + 4 + whole('stop <|endoftext|>'));
  });

  it('falls back to len/4 above 32 KB', () => {
    expect(estimateTokens('a'.repeat(40_000))).toBe(10_000);
  });
});
