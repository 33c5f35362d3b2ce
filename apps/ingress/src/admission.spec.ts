import { describe, expect, it } from 'vitest';
import { Admission } from './admission.js';

describe('Admission', () => {
  it('admits requests up to the in-flight bound and sheds the next one', () => {
    const admission = new Admission({ maxConnections: 10, maxInflight: 2 }, 0);
    expect(admission.admit(0)).toBe(true);
    expect(admission.admit(0)).toBe(true);
    expect(admission.admit(0)).toBe(false);
    admission.completed(1);
    expect(admission.admit(1)).toBe(true);
    expect(admission.requestsInFlight).toBe(2);
  });

  it('marks connections over the budget and frees the budget when they close', () => {
    const admission = new Admission({ maxConnections: 1, maxInflight: 10 }, 0);
    expect(admission.connectionOpened()).toBe(true);
    expect(admission.connectionOpened()).toBe(false);
    admission.connectionClosed();
    admission.connectionClosed();
    expect(admission.connectionOpened()).toBe(true);
  });

  it('asks for the shortest retry before any completion was measured', () => {
    const admission = new Admission({ maxConnections: 10, maxInflight: 1 }, 0);
    admission.admit(0);
    expect(admission.retryAfterSeconds(100)).toBe(1);
  });

  it('derives Retry-After from the measured drain rate', () => {
    const admission = new Admission({ maxConnections: 1000, maxInflight: 100 }, 0);
    // 10 completions per 250 ms bucket = 40/s, sustained for 5 s.
    for (let t = 0; t < 5000; t += 25) {
      admission.admit(t);
      admission.completed(t);
    }
    for (let i = 0; i < 100; i++) admission.admit(5000);
    // 100 in flight at ~40/s drain: about 3 s.
    expect(admission.retryAfterSeconds(5000)).toBe(3);
  });

  it('caps Retry-After at 30 s when nothing completes any more', () => {
    const admission = new Admission({ maxConnections: 1000, maxInflight: 100 }, 0);
    for (let t = 0; t < 1000; t += 25) {
      admission.admit(t);
      admission.completed(t);
    }
    for (let i = 0; i < 100; i++) admission.admit(1000);
    expect(admission.retryAfterSeconds(60_000)).toBe(30);
  });
});
