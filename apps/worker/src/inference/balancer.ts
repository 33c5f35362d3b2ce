import type { BalancerName } from './config.js';

/** A backend that may take the next call, with the calls it is running now. */
export interface Candidate {
  index: number;
  pending: number;
}

/**
 * Seed 004's three balancers over the backends that may be called (circuit not
 * open, not tried yet for this batch). `turn` is a counter the caller bumps per
 * pick: round robin steps through it, and least loaded breaks ties with it so
 * idle backends share the load instead of the first one taking it all.
 */
export function pickBackend(
  balancer: BalancerName,
  candidates: readonly Candidate[],
  turn: number,
  random: () => number,
): Candidate | undefined {
  if (candidates.length <= 1) return candidates[0];
  switch (balancer) {
    case 'round_robin':
      return candidates[turn % candidates.length];
    case 'least_loaded': {
      const least = Math.min(...candidates.map((c) => c.pending));
      const tied = candidates.filter((c) => c.pending === least);
      return tied[turn % tied.length];
    }
    case 'power_of_two': {
      const a = Math.floor(random() * candidates.length);
      const b = (a + 1 + Math.floor(random() * (candidates.length - 1))) % candidates.length;
      const first = candidates[a]!;
      const second = candidates[b]!;
      return second.pending < first.pending ? second : first;
    }
  }
}
