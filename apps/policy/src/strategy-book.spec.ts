import { readFileSync } from 'node:fs';
import type { RouteTable, StrategySpec } from '#libs/config';
import { defaultRoute, parseStrategySpec } from '#libs/config';
import type { QTable, SlotFeatures } from '#libs/policy';
import { checkStrategySetting } from '#libs/policy';
import { describe, expect, it } from 'vitest';
import { slotFeatures } from '../../../libs/policy/features.spec-support.js';
import type { BookEntry } from './strategy-book.js';
import { StrategyBook } from './strategy-book.js';

const envelope = { batchTimeoutMs: 50, maxBatchSize: 128 };
const qTable = JSON.parse(readFileSync('fixtures/models/qtable-v1.json', 'utf8')) as QTable;

const spec = (text: string): StrategySpec => {
  const parsed = parseStrategySpec(text);
  if (typeof parsed === 'string') throw new Error(parsed);
  return parsed;
};

/** Routes "hot", "calm" and "default"; a route given no policy runs the book's default strategy. */
const routes = (hot?: string, calm?: string): RouteTable => ({
  routes: [
    { ...defaultRoute(envelope), name: 'hot', match: '/hot/', policy: hot ? spec(hot) : undefined },
    { ...defaultRoute(envelope), name: 'calm', match: '/calm/', policy: calm ? spec(calm) : undefined },
    defaultRoute(envelope),
  ],
});

const slot = (observedP99Ms: number, ageMs: number): SlotFeatures => slotFeatures({ observedP99Ms, ageMs });

function decide(entry: BookEntry, slots: SlotFeatures[], nowMs: number): string[] {
  if (entry.kind !== 'strategy') throw new Error(`expected a pure strategy, got ${entry.kind}`);
  return entry.strategy.decide(slots, { random: Math.random, nowMs }).map((d) => d.action);
}

const accepts = (attempt: () => unknown): boolean => {
  try {
    attempt();
    return true;
  } catch {
    return false;
  }
};

describe('strategy book', () => {
  it('two routes on the default latency_aware keep separate multipliers', () => {
    const book = new StrategyBook(spec('latency_aware:target_p99_ms=100,max_wait_ms=40,adjust_ms=0,min_mult=0.5'), routes(), undefined);
    // "hot" sees p99 far above target on every round: its window shrinks to 0.5 x 40 ms.
    for (let t = 1; t <= 10; t++) decide(book.forRoute('hot'), [slot(500, 0)], t);
    expect(decide(book.forRoute('hot'), [slot(500, 19.9), slot(500, 20)], 11)).toEqual(['wait', 'flush']);
    // "calm" sits at its target: its own multiplier is still 1, so its window is still 40 ms.
    expect(decide(book.forRoute('calm'), [slot(100, 39.9), slot(100, 40)], 12)).toEqual(['wait', 'flush']);
    expect(decide(book.forRoute('default'), [slot(100, 39.9), slot(100, 40)], 13)).toEqual(['wait', 'flush']);
  });

  it('each learned route falls back to its own instance of the default strategy', () => {
    const book = new StrategyBook(spec('latency_aware'), routes('ppo', 'qlearning'), undefined);
    const [hot, calm, standard] = [book.forRoute('hot'), book.forRoute('calm'), book.forRoute('default')];
    if (hot.kind !== 'ppo' || calm.kind !== 'missing' || standard.kind !== 'strategy') throw new Error('unexpected entry kinds');
    expect([hot.fallback.name, calm.fallback.name]).toEqual(['latency_aware', 'latency_aware']);
    expect(new Set([hot.fallback, calm.fallback, standard.strategy]).size).toBe(3);
  });

  it('a route it does not list is decided by the default strategy', () => {
    const book = new StrategyBook(spec('fixed_timer:window_ms=5'), routes(), undefined);
    expect(decide(book.forRoute('added-later'), [slot(0, 4.9), slot(0, 5)], 1)).toEqual(['wait', 'flush']);
  });

  it('accepts a spec exactly when checkStrategySetting does (the admin API and start-up check)', () => {
    const specs = [
      'ppo',
      'ppo:rate_norm=50,p99_norm_ms=250,size_norm=64,age_norm_ms=20',
      'ppo:bogus=1',
      'ppo:rate_norm=0',
      'ppo:size_norm=0.5',
      'qlearning',
      'qlearning:rate_norm=100',
      'latency_aware:target_p99_ms=80',
      'latency_aware:target_p99=80',
      'exponential:lambda=-1',
      'warp_speed',
    ];
    for (const text of specs) {
      const checked = accepts(() => checkStrategySetting('X', spec(text)));
      for (const table of [undefined, qTable]) {
        expect({ text, table: Boolean(table), built: accepts(() => new StrategyBook(spec(text), routes(), table)) }).toEqual({
          text,
          table: Boolean(table),
          built: checked,
        });
        expect(accepts(() => new StrategyBook(spec('cost_aware'), routes(text), table))).toBe(checked);
      }
    }
  });
});
