import { describe, expect, it } from 'vitest';
import { laterDeadline } from './slot-table.js';

describe('laterDeadline', () => {
  it('keeps the later of two known deadlines', () => {
    expect(laterDeadline(1000, 2000)).toBe(2000);
    expect(laterDeadline(2000, 1000)).toBe(2000);
  });

  it('an unknown deadline (0, from an older ingress) makes the slot unknown for good', () => {
    expect(laterDeadline(0, 2000)).toBe(0);
    expect(laterDeadline(2000, 0)).toBe(0);
  });
});
