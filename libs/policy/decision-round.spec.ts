import { describe, expect, it } from 'vitest';
import { DecisionRound } from './decision-round.js';
import { FeatureBook } from './features.js';
import type { OpenSlotView } from './features.js';
import { FLUSH_NOW, planTo } from './plan.js';
import { createStrategy } from './registry.js';
import type { FlushPlan } from './types.js';
import type { OpeningPlan } from './opening.js';
import { OPENING_PLAN_TTL_MS } from './opening.js';

/** A slot as the tests hold it: the round reads it through `view` every tick. */
type TestSlot = OpenSlotView & { open: boolean };

const DECISION_TIMEOUT_MS = 5;

function setup(fallback = 'fixed_timer:window_ms=20') {
  const book = new FeatureBook();
  const [name = '', params] = fallback.split(':');
  const spec = {
    name,
    params: Object.fromEntries(
      (params ?? '')
        .split(',')
        .filter(Boolean)
        .map((kv) => [kv.split('=')[0]!, Number(kv.split('=')[1])]),
    ),
  };
  const round = new DecisionRound<TestSlot>({
    features: book,
    view: (slot) => slot,
    isOpen: (slot) => slot.open,
    fallback: createStrategy(spec),
    random: () => 0.5,
    decisionTimeoutMs: DECISION_TIMEOUT_MS,
  });
  const slots: TestSlot[] = [];
  const open = (key: string, atMs: number, size = 1): TestSlot => {
    const slot = { key, route: 'r', openedAtMs: atMs, lastArrivalMs: atMs, size, batchTimeoutMs: 50, maxBatchSize: 8, open: true };
    slots.push(slot);
    return slot;
  };
  /** One tick at `nowMs` over the open slots; flushed slots leave, as a caller would remove them. */
  const tick = (nowMs: number) => {
    const result = round.tick(
      nowMs,
      slots.filter((s) => s.open),
    );
    for (const f of result.flushes) f.slot.open = false;
    return result;
  };
  const answer = (id: number, plans: FlushPlan[], nowMs: number, openings: OpeningPlan[] = []) => {
    const flushes = round.answer(id, plans, nowMs, openings);
    for (const f of flushes) f.slot.open = false;
    return flushes;
  };
  return { round, book, open, tick, answer };
}

const keysOf = (flushes: ReadonlyArray<{ slot: TestSlot; reason: string }>) => flushes.map((f) => `${f.slot.key}:${f.reason}`);

describe('DecisionRound', () => {
  it('asks about a newly opened slot once, then applies its plan locally on every tick without asking again', () => {
    const t = setup();
    t.open('a', 0);
    const first = t.tick(0);
    expect(first.question?.slots.map((s) => s.key)).toEqual(['a']);
    expect(t.answer(first.question!.round, [planTo(10)], 0.5)).toEqual([]);
    for (let now = 1; now < 10; now++) expect(t.tick(now)).toMatchObject({ flushes: [], question: undefined });
    expect(keysOf(t.tick(10).flushes)).toEqual(['a:policy']);
  });

  it('the envelope wins over any plan: size_cap at max_batch_size, timeout at batch_timeout_ms', () => {
    const t = setup();
    const full = t.open('full', 0);
    t.open('old', 0);
    const q = t.tick(0).question!;
    t.answer(q.round, [planTo(40), planTo(Infinity)], 0.1);
    full.size = 8;
    expect(keysOf(t.tick(1).flushes)).toEqual(['full:size_cap']);
    expect(keysOf(t.tick(49).flushes)).toEqual([]);
    expect(keysOf(t.tick(50).flushes)).toEqual(['old:timeout']);
  });

  it('a size rule in a plan flushes as soon as the slot reaches it', () => {
    const t = setup();
    const slot = t.open('a', 0);
    t.answer(t.tick(0).question!.round, [planTo(Infinity, 3)], 0.2);
    slot.size = 2;
    const asked = t.tick(1);
    expect(asked.flushes).toEqual([]);
    t.answer(asked.question!.round, [planTo(Infinity, 3)], 1.2);
    slot.size = 3;
    expect(keysOf(t.tick(2).flushes)).toEqual(['a:policy']);
  });

  it('one round in flight: slots that open meanwhile wait for the next round', () => {
    const t = setup();
    t.open('a', 0);
    const first = t.tick(0).question!;
    t.open('b', 1);
    expect(t.tick(1).question).toBeUndefined();
    expect(t.round.inFlight).toBe(true);
    t.answer(first.round, [planTo(30)], 1.5);
    expect(t.tick(2).question?.slots.map((s) => s.key)).toEqual(['b']);
  });

  it('a late round keeps previous plans in force (reason policy); only slots with no plan fall back; the late answer is then the newest plan', () => {
    const t = setup('fixed_timer:window_ms=20');
    const a = t.open('a', 0);
    t.answer(t.tick(0).question!.round, [planTo(12)], 0.3);
    a.size = 2; // inputs changed: asked again, and this round is never answered in time
    const late = t.tick(1).question!;
    expect(late.slots.map((s) => s.key)).toEqual(['a']);
    const b = t.open('b', 3);
    const c = t.open('c', 3);
    expect(t.tick(5).late).toBe(false);
    const atTimeout = t.tick(6);
    expect(atTimeout.late).toBe(true);
    // b and c had no plan: the embedded fixed_timer (20 ms) plans them; a keeps its own.
    expect(atTimeout.fallbacks).toBe(2);
    expect(keysOf(t.tick(12).flushes)).toEqual(['a:policy']);
    // The late answer arrives: for b it is not an answer (b was not asked), a is gone; nothing else changes.
    expect(t.answer(late.round, [FLUSH_NOW], 14)).toEqual([]);
    const next = t.tick(15).question!;
    expect(next.slots.map((s) => s.key)).toEqual(['b', 'c']);
    expect(keysOf(t.answer(next.round, [FLUSH_NOW, planTo(40)], 15.5))).toEqual(['b:policy']);
    expect(keysOf(t.tick(23).flushes)).toEqual([]); // c follows the policy's plan now, not the fallback's 20 ms
    expect(c.open).toBe(true);
    expect(b.open).toBe(false);
  });

  it('an answer that arrives after the decision timeout is applied to the slots still open', () => {
    const t = setup('fixed_timer:window_ms=45');
    t.open('a', 0);
    const q = t.tick(0).question!;
    expect(t.tick(6).fallbacks).toBe(1);
    expect(keysOf(t.answer(q.round, [planTo(8)], 9))).toEqual(['a:policy']);
  });

  it('applies answers only to slots still open', () => {
    const t = setup();
    const a = t.open('a', 0);
    t.open('b', 0);
    const q = t.tick(0).question!;
    a.size = 8;
    expect(keysOf(t.tick(1).flushes)).toEqual(['a:size_cap']);
    expect(keysOf(t.answer(q.round, [FLUSH_NOW, FLUSH_NOW], 1.5))).toEqual(['b:policy']);
  });

  it('a plan expires at its valid_until age: the slot is asked again, and falls back if that round is late', () => {
    const t = setup('fixed_timer:window_ms=20');
    t.open('a', 0);
    t.answer(t.tick(0).question!.round, [{ flushAtAgeMs: 30, flushAtSize: Infinity, validUntilAgeMs: 10 }], 0.2);
    expect(t.tick(9).question).toBeUndefined();
    const again = t.tick(10);
    expect(again.question?.slots.map((s) => s.key)).toEqual(['a']);
    expect(t.tick(15).fallbacks).toBe(1);
    expect(keysOf(t.tick(20).flushes)).toEqual(['a:fallback']);
  });

  it('gives a round up after 10 decision timeouts: a new round may go, and the old answer is ignored', () => {
    const t = setup('fixed_timer:window_ms=100');
    t.open('a', 0);
    const stale = t.tick(0).question!;
    t.open('b', 1);
    expect(t.tick(49).question).toBeUndefined();
    const fresh = t.tick(50).question!;
    expect(fresh.slots.map((s) => s.key)).toEqual(['b']);
    expect(t.answer(stale.round, [FLUSH_NOW], 50.5)).toEqual([]);
    expect(t.round.inFlight).toBe(true);
  });

  it('while the policy is absent (no responders) planless slots fall back at once, and it is asked again after the backoff', () => {
    const t = setup('fixed_timer:window_ms=2');
    t.open('a', 0);
    t.round.fail(t.tick(0).question!.round, 'unavailable', 0.5);
    expect(t.tick(1)).toMatchObject({ fallbacks: 1, flushes: [], question: undefined });
    expect(keysOf(t.tick(2).flushes)).toEqual(['a:fallback']);
    t.open('b', 100);
    expect(t.tick(100)).toMatchObject({ fallbacks: 1, question: undefined });
    expect(t.tick(101).question?.slots.map((s) => s.key)).toEqual(['b']);
  });

  it('queue depth is the waiters of the slots still open after the envelope and plans, one number for every asked slot', () => {
    const t = setup();
    const due = t.open('due', 0, 3);
    t.answer(t.tick(0).question!.round, [planTo(5)], 0.1);
    t.open('full', 4, 8);
    t.open('x', 4, 2);
    t.open('y', 4, 4);
    const result = t.tick(5);
    expect(keysOf(result.flushes)).toEqual(['due:policy', 'full:size_cap']);
    expect(due.open).toBe(false);
    expect(result.question?.features.map((f) => f.queueDepth)).toEqual([6, 6]);
  });

  it('asks again when a waiter joined, not while nobody joins and the rate holds within x1.25', () => {
    const t = setup();
    const slot = t.open('k', 0, 4);
    t.book.recordArrivals('k', 0, 4);
    t.answer(t.tick(0).question!.round, [planTo(40)], 0.1);
    slot.size = 4;
    expect(t.tick(1).question).toBeUndefined();
    slot.size = 5;
    t.book.recordArrivals('k', 1.5);
    const grown = t.tick(2).question;
    expect(grown?.slots).toEqual([slot]);
    t.answer(grown!.round, [planTo(40)], 2.1);
    // No arrivals: the rate decays (tau 500 ms); below 1/1.25 of the asked rate after ~112 ms, but the envelope
    // flushes the slot at 50 ms first, so nothing is asked in between.
    for (let now = 3; now < 40; now++) expect(t.tick(now).question).toBeUndefined();
  });

  describe('opening plans', () => {
    /** Opens `key` at `atMs` as a join would: its arrival counted first, then the round told. */
    const openOn = (t: ReturnType<typeof setup>, key: string, atMs: number) => {
      t.book.recordArrivals(key, atMs);
      const slot = t.open(key, atMs);
      const flush = t.round.open(slot, atMs);
      if (flush) slot.open = false;
      return { slot, flush };
    };
    /** The first slot of a quiet route is asked; its answer brings the route's opening plan for a fresh key's rate (2 req/s). */
    const learnt = (plan: FlushPlan) => {
      const t = setup();
      const { slot, flush } = openOn(t, 'first', 0);
      expect(flush).toBeUndefined();
      const q = t.tick(0).question!;
      expect(q.slots).toEqual([slot]);
      t.answer(q.round, [FLUSH_NOW], 1, [{ route: 'r', requestRate: q.features[0]!.requestRate, plan }]);
      return t;
    };

    it('a new slot on a route with an opening plan "flush now" is flushed at its opening (reason policy), with no question', () => {
      const t = learnt(FLUSH_NOW);
      const { flush } = openOn(t, 'lone', 100);
      expect(flush?.reason).toBe('policy');
      expect(t.tick(100)).toMatchObject({ flushes: [], question: undefined, fallbacks: 0 });
    });

    it('opensDue tells, without changing anything, whether open() would flush the slot at once', () => {
      const now = learnt(FLUSH_NOW);
      now.book.recordArrivals('lone', 100);
      expect(now.round.opensDue('lone', 'r', 1, 100)).toBe(true);
      expect(now.round.opensDue('lone', 'other-route', 1, 100)).toBe(false);
      expect(now.round.open(now.open('lone', 100), 100)?.reason).toBe('policy');
      const waits = learnt(planTo(20));
      waits.book.recordArrivals('k', 100);
      expect(waits.round.opensDue('k', 'r', 1, 100)).toBe(false);
      expect(waits.round.open(waits.open('k', 100), 100)).toBeUndefined();
      expect(setup().round.opensDue('k', 'r', 1, 0)).toBe(false);
    });

    it("a waiting opening plan is the slot's plan from its first tick: applied locally, not asked, never the fallback", () => {
      const t = learnt(planTo(20));
      const { slot, flush } = openOn(t, 'k', 100);
      expect(flush).toBeUndefined();
      for (let now = 100; now < 120; now++) expect(t.tick(now)).toMatchObject({ flushes: [], question: undefined, fallbacks: 0 });
      expect(keysOf(t.tick(120).flushes)).toEqual(['k:policy']);
      expect(slot.open).toBe(false);
    });

    it('the slot is asked again once a waiter joins (the opening plan was made for a slot of one)', () => {
      const t = learnt(planTo(20));
      const { slot } = openOn(t, 'k', 100);
      slot.size = 2;
      expect(t.tick(101).question?.slots).toEqual([slot]);
    });

    it('stands only for keys whose rate is within x1.25 of the rate it was made at', () => {
      const t = learnt(FLUSH_NOW);
      // A key with many arrivals (its rate ~8x a fresh key's) opens without it and is asked.
      t.book.recordArrivals('hot', 99, 7);
      const { flush } = openOn(t, 'hot', 100);
      expect(flush).toBeUndefined();
      expect(t.tick(100).question?.slots.map((s) => s.key)).toEqual(['hot']);
    });

    it('expires: a slot opened after OPENING_PLAN_TTL_MS is asked again; past half its life the plan is still used and renewed by one question', () => {
      const t = learnt(FLUSH_NOW);
      const half = 1 + OPENING_PLAN_TTL_MS / 2;
      const renewing = openOn(t, 'a', half);
      expect(renewing.flush?.reason).toBe('policy');
      expect(openOn(t, 'b', half).flush?.reason).toBe('policy');
      // One renewal question for the route and band, though two slots opened on the aging plan.
      const renewal = t.tick(half).question;
      expect(renewal?.slots).toEqual([renewing.slot]);
      t.answer(renewal!.round, [FLUSH_NOW], half + 1, [{ route: 'r', requestRate: renewal!.features[0]!.requestRate, plan: FLUSH_NOW }]);
      // Renewed: still standing past the first plan's expiry.
      expect(openOn(t, 'c', 1 + OPENING_PLAN_TTL_MS).flush?.reason).toBe('policy');
      // Not renewed since: expired.
      const late = openOn(t, 'd', half + 1 + OPENING_PLAN_TTL_MS);
      expect(late.flush).toBeUndefined();
      expect(t.tick(half + 1 + OPENING_PLAN_TTL_MS).question?.slots).toEqual([late.slot]);
    });

    it('a round failing for a late answer keeps opening plans; a policy found absent (no responders) drops them', () => {
      const t = learnt(FLUSH_NOW);
      openOn(t, 'a', 10);
      t.book.recordArrivals('a', 11);
      const slot = t.open('a', 11, 2);
      t.round.open(slot, 11);
      const late = t.tick(11).question!;
      t.round.fail(late.round, 'timeout', 30);
      expect(openOn(t, 'b', 30).flush?.reason).toBe('policy');
      slot.size = 3;
      const gone = t.tick(31).question!;
      t.round.fail(gone.round, 'unavailable', 32);
      expect(openOn(t, 'c', 33).flush).toBeUndefined();
      expect(t.tick(33).fallbacks).toBeGreaterThan(0);
    });

    it('a slot opening before any answer has no opening plan: asked, and falls back if the round is late', () => {
      const t = setup();
      openOn(t, 'a', 0);
      t.tick(0);
      const { flush } = openOn(t, 'b', 1);
      expect(flush).toBeUndefined();
      expect(t.tick(1 + DECISION_TIMEOUT_MS).fallbacks).toBe(2);
    });
  });
});
