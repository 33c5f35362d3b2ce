import { describe, expect, it } from 'vitest';
import { bodyTooSlow } from './body-guard.js';

const limit = { windowMs: 10_000, minBytesPerSecond: 1024 };

describe('bodyTooSlow', () => {
  it('judges a body only after a full window', () => {
    expect(bodyTooSlow(limit, 0, 9_999)).toBe(false);
    expect(bodyTooSlow(limit, 0, 10_000)).toBe(true);
  });

  it('refuses a body below the minimum rate over the window and keeps one at or above it', () => {
    expect(bodyTooSlow(limit, 10, 10_000)).toBe(true);
    expect(bodyTooSlow(limit, 10_240, 10_000)).toBe(false);
    expect(bodyTooSlow(limit, 12_000, 11_000)).toBe(false);
  });
});
