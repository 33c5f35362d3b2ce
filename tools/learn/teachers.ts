import type { DecisionContext, FlushStrategy, PolicyDecision, SlotFeatures } from '#libs/policy';
import { FLUSH, WAIT } from '#libs/policy';
import type { OracleConfig, SimObserver, Trace } from '#libs/sim';
import { oracleSchedule } from '#libs/sim';

/**
 * The hindsight oracle's schedule as a teacher for imitation, where no
 * causal optimum is known (traffic that is not one key's on-off bursts):
 * a slot is flushed once the oracle has flushed that key at or after the
 * slot opened. Under DAgger the student's slots differ from the oracle's, so
 * this is the oracle's timing carried over to the student's slots, not the
 * oracle itself: it tells the student when the recorded traffic made waiting
 * stop paying, which is what a causal policy can learn from its features.
 */
export function oracleScheduleTeacher(trace: Trace, config: OracleConfig): () => { strategy: FlushStrategy; observer: SimObserver } {
  const flushTimes = new Map<number, number[]>();
  for (const batch of oracleSchedule(trace, config)) {
    const list = flushTimes.get(batch.key);
    if (list) list.push(batch.flushAtMs);
    else flushTimes.set(batch.key, [batch.flushAtMs]);
  }
  const flushedSince = (key: number | undefined, fromMs: number, nowMs: number): boolean => {
    const times = key === undefined ? undefined : flushTimes.get(key);
    if (!times) return true;
    let lo = 0; // first oracle flush at or after fromMs (times ascending)
    let hi = times.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (times[mid]! < fromMs) lo = mid + 1;
      else hi = mid;
    }
    return lo < times.length ? times[lo]! <= nowMs : true;
  };
  return () => {
    // Features carry no key: the teacher follows the run's slots (opened by an arrival on a key with no
    // open slot, closed by a flush) and finds a slot's key by its open time. Two keys opening in the same
    // tick are told apart by nothing; the first is taken (rare at 1 ms ticks, and only mislabels a sample).
    const openKey = new Map<number, number>(); // key -> openedAtMs
    const byOpenTime = new Map<number, number[]>(); // openedAtMs in µs (age is now - opened: float noise) -> keys
    const observer: SimObserver = {
      arrival(key, tMs) {
        if (openKey.has(key)) return;
        openKey.set(key, tMs);
        const list = byOpenTime.get(us(tMs));
        if (list) list.push(key);
        else byOpenTime.set(us(tMs), [key]);
      },
      flushed(batch) {
        openKey.delete(batch.key);
        const list = byOpenTime.get(us(batch.openedAtMs))?.filter((k) => k !== batch.key);
        if (list && list.length > 0) byOpenTime.set(us(batch.openedAtMs), list);
        else byOpenTime.delete(us(batch.openedAtMs));
      },
    };
    const strategy: FlushStrategy = {
      name: 'oracle_schedule',
      decide(slots: readonly SlotFeatures[], context: DecisionContext): PolicyDecision[] {
        return slots.map((slot) => {
          const openedAtMs = context.nowMs - slot.ageMs;
          const key = byOpenTime.get(us(openedAtMs))?.[0];
          return flushedSince(key, openedAtMs, context.nowMs) ? FLUSH : WAIT;
        });
      },
    };
    return { strategy, observer };
  };
}

const us = (ms: number): number => Math.round(ms * 1000);
