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

  it('a worker that keeps beating with the slot listed is neither probed nor lost', () => {
    const { w, at } = watch();
    w.follow('s1', 'w1', 5n, 'job');
    for (let t = 50; t <= 1000; t += 50) {
      at(t);
      w.heartbeat(beat('w1', 5n + BigInt(t / 50), ['s1']));
      expect(w.toProbe()).toEqual([]);
    }
    expect(w.takeLost()).toEqual([]);
    expect(w.size).toBe(1);
  });

  it('a worker silent for longer than the bound is probed once; gone, its slots are lost once', () => {
    const { w, at } = watch();
    w.follow('s1', 'w1', 5n, 'job');
    at(50);
    w.heartbeat(beat('w1', 6n, ['s1']));
    at(300);
    expect(w.toProbe()).toEqual([]);
    at(301);
    expect(w.toProbe()).toEqual(['w1']);
    expect(w.toProbe()).toEqual([]);
    // Silence alone loses nothing: the probe decides.
    expect(w.takeLost()).toEqual([]);
    at(310);
    w.probed('w1', 'gone');
    expect(w.takeLost().map((l) => [l.slotId, l.job, l.silentMs])).toEqual([['s1', 'job', 260]]);
    expect(w.takeLost()).toEqual([]);
  });

  it('a silent worker that answers its probe keeps its slots', () => {
    const { w, at } = watch();
    w.follow('s1', 'w1', 5n, 'job');
    at(400);
    expect(w.toProbe()).toEqual(['w1']);
    w.heartbeat(beat('w1', 6n, ['s1']));
    w.probed('w1', 'alive');
    expect(w.takeLost()).toEqual([]);
    expect(w.size).toBe(1);
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

  it('an unconfirmed dispatch is claimed by the beat that names it; else lost once every worker beat twice without it', () => {
    const { w, at } = watch();
    w.heartbeat(beat('w1', 1n, []));
    w.heartbeat(beat('w2', 1n, []));
    w.follow('claimed', undefined, 0n, 'a');
    w.follow('nobody', undefined, 0n, 'b');
    at(100);
    w.heartbeat(beat('w2', 2n, ['claimed']));
    w.heartbeat(beat('w1', 2n, []));
    at(260);
    w.heartbeat(beat('w2', 3n, ['claimed']));
    // w1 beat only once since the dispatch: it may still have the task in its inbox.
    expect(w.takeLost()).toEqual([]);
    w.heartbeat(beat('w1', 3n, []));
    expect(w.takeLost().map((l) => l.slotId)).toEqual(['nobody']);
    w.heartbeat(beat('w2', 4n, []));
    expect(w.size).toBe(0);
  });

  it('an unconfirmed dispatch nobody claims is lost after 8 bounds even while a worker is stuck', () => {
    const { w, at } = watch();
    w.heartbeat(beat('w1', 1n, []));
    w.follow('s', undefined, 0n, 'a');
    at(2000);
    expect(w.takeLost()).toEqual([]);
    at(2001);
    expect(w.takeLost().map((l) => l.slotId)).toEqual(['s']);
  });
});
