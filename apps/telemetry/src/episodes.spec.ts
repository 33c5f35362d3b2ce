import {
  create,
  DecideReplySchema,
  DecideRequestSchema,
  FlushAction,
  SlotFlushedSchema,
  SlotsDecidedSchema,
  toBinary,
  UpstreamCompletedSchema,
} from '#libs/contracts';
import { parseEpisodesJsonl } from '#libs/sim';
import { describe, expect, it } from 'vitest';
import { EpisodeBook } from './episodes.js';

const decided = (slotId: string, ageMs: number, atMs: number, flushAtAgeMs: number) =>
  create(SlotsDecidedSchema, {
    meta: { atMs },
    request: toBinary(
      DecideRequestSchema,
      create(DecideRequestSchema, {
        slots: {
          slotIds: [slotId],
          routes: ['api'],
          routeIndex: [0],
          size: [3],
          ageMs: [ageMs],
          requestRate: [800],
          idleMs: [1],
          upstreamP99Ms: [20],
        },
      }),
    ),
    reply: toBinary(
      DecideReplySchema,
      create(DecideReplySchema, {
        actions: [FlushAction.WAIT],
        decider: [0],
        strategies: ['cost_aware'],
        modelVersions: [''],
        flushAtAgeMs: [flushAtAgeMs],
        flushAtSize: [0],
      }),
    ),
  });

describe('decision episodes', () => {
  it("joins a slot's decisions, its flush and its upstream call into one episode the simulator's reader parses back", () => {
    const book = new EpisodeBook(10);
    book.decided(decided('s1', 0, 1000, 18));
    book.decided(decided('s1', 5, 1005, Infinity));
    book.flushed(
      create(SlotFlushedSchema, {
        meta: { atMs: 1020 },
        slotId: 's1',
        key: 'GET /api/x',
        route: 'api',
        reason: 'timeout',
        size: 9,
        ageMs: 50,
      }),
    );
    book.upstreamCompleted(create(UpstreamCompletedSchema, { slotId: 's1', status: 200, latencyMs: 22.5 }));
    const text = book
      .episodes()
      .map((e) => JSON.stringify(e))
      .join('\n');
    const [episode] = parseEpisodesJsonl(text);
    expect(episode).toMatchObject({
      slot_id: 's1',
      route: 'api',
      key: 'GET /api/x',
      flush: { at_ms: 1020, reason: 'timeout', size: 9, age_ms: 50 },
      upstream: { latency_ms: 22.5, status: 200 },
    });
    expect(episode!.decisions.map((d) => [d.age_ms, d.action, d.flush_at_age_ms, d.strategy])).toEqual([
      [0, 'wait', 18, 'cost_aware'],
      [5, 'wait', null, 'cost_aware'],
    ]);
  });

  it('keeps the newest episodes only, oldest flush first', () => {
    const book = new EpisodeBook(2);
    for (const id of ['a', 'b', 'c']) book.flushed(create(SlotFlushedSchema, { slotId: id, route: 'api', reason: 'policy', size: 1 }));
    expect(book.episodes().map((e) => e.slot_id)).toEqual(['b', 'c']);
  });
});
