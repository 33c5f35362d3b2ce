import { describe, expect, it } from 'vitest';
import { OriginDirectory } from './origins.js';
import { callBudgetMs } from './task-budget.js';

describe('callBudgetMs', () => {
  it('a task past its deadline is expired', () => {
    expect(callBudgetMs(1000, 1000, 10_000)).toBe('expired');
    expect(callBudgetMs(1000, 1500, 10_000)).toBe('expired');
  });

  it('the call is bounded by the time left, or the upstream timeout when that is shorter', () => {
    expect(callBudgetMs(1300, 1000, 10_000)).toBe(300);
    expect(callBudgetMs(100_000, 1000, 10_000)).toBe(10_000);
  });

  it('an unknown deadline (0, an older sender) leaves the upstream timeout', () => {
    expect(callBudgetMs(0, 1000, 10_000)).toBe(10_000);
  });
});

describe('OriginDirectory', () => {
  const origins = new OriginDirectory('http://origin.internal:8080');

  it('maps the default id and the empty id of older senders to BATCHGATE_UPSTREAM', () => {
    expect(origins.resolve('default')).toBe('http://origin.internal:8080');
    expect(origins.resolve('')).toBe('http://origin.internal:8080');
  });

  it('knows no other id, and never treats a URL as an id', () => {
    expect(origins.resolve('elsewhere')).toBeUndefined();
    expect(origins.resolve('http://evil.example')).toBeUndefined();
  });
});
