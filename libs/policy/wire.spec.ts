import { create, DecideReplySchema, DecideRequestSchema, FlushAction, fromBinary, toBinary } from '#libs/contracts';
import { describe, expect, it } from 'vitest';
import type { SlotFeatures } from './types.js';
import { readDecideRequest } from './decide-reader.js';
import { planTo } from './plan.js';
import { DecisionColumns, deciderOf, encodeSlotBatch, openingsOfReply, plansOfReply } from './wire.js';
import { FLUSH_NOW } from './plan.js';

const features = (size: number): SlotFeatures => ({
  size,
  ageMs: size / 2,
  upstreamP99Ms: 20.5,
  requestRate: 300,
  queueDepth: 40,
  observedP99Ms: 31,
  idleMs: 1.5,
  batchTimeoutMs: 50,
  maxBatchSize: 128,
});

describe('columnar decide wire', () => {
  it('round-trips features through protobuf and groups slots by route', () => {
    const slots = [
      { slotId: 'a', route: 'api', features: features(1) },
      { slotId: 'b', route: 'img', features: features(2) },
      { slotId: 'c', route: 'api', features: features(3) },
    ];
    const bytes = toBinary(DecideRequestSchema, create(DecideRequestSchema, { coordinatorId: 'c', slots: encodeSlotBatch(slots) }));
    expect(fromBinary(DecideRequestSchema, bytes).slots?.routes).toEqual(['api', 'img']);
    const { features: decoded, byRoute } = readDecideRequest(bytes);
    expect(decoded).toEqual(slots.map((s) => s.features));
    expect([...byRoute]).toEqual([
      ['api', [0, 2]],
      ['img', [1]],
    ]);
  });

  it('tags each decision with its strategy and model version', () => {
    const columns = new DecisionColumns(3);
    columns.set(2, { action: 'flush', probability: 0.9 }, 'ppo', 'v2');
    columns.set(0, { action: 'wait', probability: 0 }, 'cost_aware', '');
    columns.set(1, { action: 'flush', probability: 1 }, 'ppo', 'v2');
    const reply = fromBinary(DecideReplySchema, toBinary(DecideReplySchema, create(DecideReplySchema, columns)));
    expect(reply.actions).toEqual([FlushAction.WAIT, FlushAction.FLUSH, FlushAction.FLUSH]);
    expect(deciderOf(reply, 1)).toEqual({ strategy: 'ppo', modelVersion: 'v2' });
    expect(deciderOf(reply, 0)).toEqual({ strategy: 'cost_aware', modelVersion: '' });
    expect(reply.probabilities[2]).toBeCloseTo(0.9, 6);
  });

  it('carries plans; an old reader still reads the verdict each plan gives now in actions', () => {
    const columns = new DecisionColumns(3);
    columns.setPlan(0, planTo(20), features(1), 'fixed_timer', '');
    columns.setPlan(1, planTo(Infinity, 4), features(4), 'size_cap', '');
    columns.setPlan(2, { flushAtAgeMs: 30, flushAtSize: Infinity, validUntilAgeMs: 12 }, features(2), 'ppo', 'v1');
    const reply = fromBinary(DecideReplySchema, toBinary(DecideReplySchema, create(DecideReplySchema, columns)));
    expect(reply.actions).toEqual([FlushAction.WAIT, FlushAction.FLUSH, FlushAction.WAIT]);
    expect(plansOfReply(reply, [features(1), features(4), features(2)])).toEqual([
      planTo(20),
      planTo(Infinity, 4),
      { flushAtAgeMs: 30, flushAtSize: Infinity, validUntilAgeMs: 12 },
    ]);
  });

  it('reads a reply from a replica older than plans as per-round verdicts: FLUSH now, WAIT until the next round', () => {
    const old = create(DecideReplySchema, { actions: [FlushAction.FLUSH, FlushAction.WAIT] });
    const [flush, wait] = plansOfReply(fromBinary(DecideReplySchema, toBinary(DecideReplySchema, old)), [features(1), features(6)]);
    expect(flush!.flushAtAgeMs).toBe(0);
    expect(wait).toEqual({ flushAtAgeMs: Infinity, flushAtSize: Infinity, validUntilAgeMs: 3 });
  });

  it('carries opening plans per route and rate; a reply without them (an older replica) has none', () => {
    const columns = new DecisionColumns(0);
    const openings = [
      { route: 'api', requestRate: 2, plan: FLUSH_NOW },
      { route: 'api', requestRate: 900, plan: planTo(12, 6) },
      { route: 'img', requestRate: 40, plan: { flushAtAgeMs: 8, flushAtSize: Infinity, validUntilAgeMs: 20 } },
    ];
    columns.addOpenings(openings);
    const reply = fromBinary(DecideReplySchema, toBinary(DecideReplySchema, create(DecideReplySchema, columns)));
    expect(openingsOfReply(reply)).toEqual(openings);
    const old = create(DecideReplySchema, { actions: [FlushAction.FLUSH] });
    expect(openingsOfReply(fromBinary(DecideReplySchema, toBinary(DecideReplySchema, old)))).toEqual([]);
  });
});
