import { describe, expect, it } from 'vitest';
import { RecentIds } from './recent-ids.js';

describe('recent event ids', () => {
  it('remembers the last `capacity` ids', () => {
    const ids = new RecentIds(2);
    expect([ids.firstTime('a'), ids.firstTime('b'), ids.firstTime('a')]).toEqual([true, true, false]);
    ids.firstTime('c');
    expect(ids.firstTime('a')).toBe(true);
  });
});
