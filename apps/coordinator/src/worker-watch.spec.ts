import { describe, expect, it } from 'vitest';
import { create, WorkerHeartbeatSchema } from '#libs/contracts';
import { WorkerWatch } from './worker-watch.js';

const beat = (workerId: string, seq: bigint, slotIds: string[], doneSlotIds: string[] = []) =>
  create(WorkerHeartbeatSchema, { workerId, seq, slotIds, doneSlotIds, intervalMs: 50 });

describe('WorkerWatch', () => {
  function watch() {
    let now = 0;
    const w = new WorkerWatch<string>(250, () => now);
    return { w, at: (ms: number) => void (now = ms) };
  }

  it('a worker that keeps beating with the slot listed is not lost', () => {
    const { w, at } = watch();
    w.follow('s1', 'w1', 5n, 'job');
    for (let t = 50; t <= 1000; t += 50) {
      at(t);
      w.heartbeat(beat('w1', 5n + BigInt(t / 50), ['s1']));
    }
    expect(w.takeLost()).toEqual([]);
    expect(w.size).toBe(1);
  });

  it('a worker silent for longer than the bound loses its slots, once', () => {
    const { w, at } = watch();
    w.follow('s1', 'w1', 5n, 'job');
    at(50);
    w.heartbeat(beat('w1', 6n, ['s1']));
    at(300);
    expect(w.takeLost()).toEqual([]);
    at(301);
    expect(w.takeLost().map((l) => [l.slotId, l.job, l.silentMs])).toEqual([['s1', 'job', 251]]);
    expect(w.takeLost()).toEqual([]);
  });

  it('a slot named done, or missing from a beat sent after its accept, is no longer watched', () => {
    const { w, at } = watch();
    w.follow('s1', 'w1', 5n, 'a');
    w.follow('s2', 'w1', 5n, 'b');
    w.heartbeat(beat('w1', 5n, [])); // sent before the accepts: says nothing about them
    expect(w.size).toBe(2);
    w.heartbeat(beat('w1', 6n, ['s2'], ['s1']));
    expect(w.size).toBe(1);
    w.heartbeat(beat('w1', 7n, []));
    expect(w.size).toBe(0);
    at(1000);
    expect(w.takeLost()).toEqual([]);
  });

  it('an unconfirmed dispatch is claimed by the heartbeat that names it, else lost after the bound', () => {
    const { w, at } = watch();
    w.follow('claimed', undefined, 0n, 'a');
    w.follow('nobody', undefined, 0n, 'b');
    at(100);
    w.heartbeat(beat('w2', 9n, ['claimed']));
    at(260);
    w.heartbeat(beat('w2', 10n, ['claimed']));
    expect(w.takeLost().map((l) => l.slotId)).toEqual(['nobody']);
    w.heartbeat(beat('w2', 11n, []));
    expect(w.size).toBe(0);
  });
});
