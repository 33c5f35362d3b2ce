import { describe, expect, it } from 'vitest';
import { InferKind, Priority } from '#libs/contracts';
import { agedRank, canonicalJson, dedupKeyOf, parsePriority, PRIORITY_MAX_WAIT_MS, tokenBucketOf } from './index.js';

describe('token buckets', () => {
  it('puts tokens in seed 004 buckets <=128, <=512, <=1024, <=2048, <=4096, larger', () => {
    expect([1, 128, 129, 512, 513, 1024, 2048, 4096, 4097].map(tokenBucketOf)).toEqual([128, 128, 512, 512, 1024, 1024, 2048, 4096, 0]);
  });
});

describe('priorities', () => {
  it('parses the four names case-insensitively and refuses anything else', () => {
    expect(parsePriority('critical')).toBe(Priority.CRITICAL);
    expect(parsePriority(' HIGH ')).toBe(Priority.HIGH);
    expect(parsePriority('low')).toBe(Priority.LOW);
    expect(parsePriority('urgent')).toBeUndefined();
    expect(parsePriority(3)).toBeUndefined();
  });

  it('has max waits 5/20/50/100 ms', () => {
    expect([Priority.CRITICAL, Priority.HIGH, Priority.NORMAL, Priority.LOW].map((p) => PRIORITY_MAX_WAIT_MS[p])).toEqual([5, 20, 50, 100]);
  });

  it('ranks higher priorities first, and an overdue low queue climbs above fresh normal and critical ones (aging)', () => {
    expect(agedRank(Priority.CRITICAL, 0, 50)).toBeLessThan(agedRank(Priority.NORMAL, 0, 50));
    expect(agedRank(Priority.LOW, 0, 50)).toBeGreaterThan(agedRank(Priority.NORMAL, 0, 50));
    expect(agedRank(Priority.LOW, 60, 50)).toBeLessThan(agedRank(Priority.NORMAL, 0, 50));
    expect(agedRank(Priority.LOW, 160, 50)).toBeLessThan(agedRank(Priority.CRITICAL, 0, 50));
  });
});

describe('dedup keys', () => {
  it('are equal for equal params in any key order and equal inputs', () => {
    const a = dedupKeyOf(InferKind.EMBEDDING, 'm', { dimensions: 8, encoding_format: 'float' }, 'hello');
    const b = dedupKeyOf(InferKind.EMBEDDING, 'm', { encoding_format: 'float', dimensions: 8 }, 'hello');
    expect(a).not.toBe('');
    expect(a).toBe(b);
    expect(dedupKeyOf(InferKind.EMBEDDING, 'm', {}, 'hello!')).not.toBe(dedupKeyOf(InferKind.EMBEDDING, 'm', {}, 'hello'));
    expect(dedupKeyOf(InferKind.EMBEDDING, 'other', {}, 'hello')).not.toBe(dedupKeyOf(InferKind.EMBEDDING, 'm', {}, 'hello'));
  });

  it('are empty for sampled completions and chat (temperature > 0 without a seed)', () => {
    expect(dedupKeyOf(InferKind.COMPLETION, 'm', { temperature: 0.7 }, 'hi')).toBe('');
    expect(dedupKeyOf(InferKind.CHAT, 'm', {}, { messages: [] })).toBe('');
    expect(dedupKeyOf(InferKind.COMPLETION, 'm', { temperature: 0 }, 'hi')).not.toBe('');
    expect(dedupKeyOf(InferKind.CHAT, 'm', { temperature: 1, seed: 7 }, { messages: [] })).not.toBe('');
  });

  it('canonical JSON sorts keys at every level', () => {
    expect(canonicalJson({ b: 1, a: { d: [{ z: 1, y: 2 }], c: 0 } })).toBe('{"a":{"c":0,"d":[{"y":2,"z":1}]},"b":1}');
  });
});

describe('near-duplicate text vectors', () => {
  it('score near-identical texts above 0.98 and different texts far below', async () => {
    const { cosine, textVector } = await import('./index.js');
    const a = textVector('The quick brown fox jumps over the lazy dog');
    expect(cosine(a, textVector('the quick  brown fox jumps over the lazy dog'))).toBeGreaterThan(0.999);
    expect(cosine(a, textVector('The quick brown fox jumps over the lazy dog.'))).toBeGreaterThan(0.95);
    expect(cosine(a, textVector('Completely unrelated words about invoices'))).toBeLessThan(0.5);
  });
});
