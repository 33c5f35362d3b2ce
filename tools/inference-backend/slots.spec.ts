import { describe, expect, it } from 'vitest';
import { Priority } from '#libs/contracts';
import { Slots } from './slots.js';

/** A clock the test moves by hand: no test here waits on real time. */
function clock(): { now: () => number; advance: (ms: number) => void } {
  let t = 0;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

/** Queues one call per priority (labelled) behind a held slot and records the order they are granted in. */
function queueUp(slots: Slots, labels: Array<[string, Priority]>, order: string[], held: Array<() => void>): void {
  for (const [label, priority] of labels)
    void slots.acquire(new AbortController().signal, priority).then((release) => {
      order.push(label);
      held.push(release);
    });
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('Slots (the simulated backend’s parallelism, by priority with aging)', () => {
  it('gives a freed slot to the best priority waiting, arrival order among equals', async () => {
    const slots = new Slots(1, 250, clock().now);
    const held = [await slots.acquire(new AbortController().signal)];
    const order: string[] = [];
    queueUp(
      slots,
      [
        ['normal-1', Priority.NORMAL],
        ['low', Priority.LOW],
        ['normal-2', Priority.NORMAL],
        ['critical', Priority.CRITICAL],
        ['high', Priority.HIGH],
      ],
      order,
      held,
    );
    expect(slots.queued).toBe(5);
    for (let i = 0; i < 5; i++) {
      held.shift()!();
      await settle();
    }
    expect(order).toEqual(['critical', 'high', 'normal-1', 'normal-2', 'low']);
    expect(slots.inUse).toBe(1);
  });

  it('ages waiters: a low call that waited 3 aging periods goes before a critical one that just came', async () => {
    const time = clock();
    const slots = new Slots(1, 250, time.now);
    const held = [await slots.acquire(new AbortController().signal)];
    const order: string[] = [];
    queueUp(slots, [['low', Priority.LOW]], order, held);
    time.advance(3 * 250 + 1);
    queueUp(slots, [['critical', Priority.CRITICAL]], order, held);
    held.shift()!();
    await settle();
    expect(order).toEqual(['low']);
  });

  it('a waiter whose client left gives its place up', async () => {
    const slots = new Slots(1, 250, clock().now);
    const release = await slots.acquire(new AbortController().signal);
    const gone = new AbortController();
    const left = slots.acquire(gone.signal, Priority.CRITICAL);
    const order: string[] = [];
    queueUp(slots, [['normal', Priority.NORMAL]], order, []);
    gone.abort();
    await expect(left).rejects.toThrow('client left');
    release();
    await settle();
    expect(order).toEqual(['normal']);
    expect(slots.queued).toBe(0);
  });
});
