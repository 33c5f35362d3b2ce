/**
 * The coordinator decides on a fixed tick grid (0, tick, 2*tick, ...). An
 * arrival at t is seen by the first tick at or after t; the simulator and the
 * oracle both use these functions so their schedules line up exactly.
 */
export function tickIndexAtOrAfter(tMs: number, tickMs: number): number {
  const index = Math.ceil(tMs / tickMs);
  return index * tickMs < tMs ? index + 1 : index;
}

export function tickAtOrAfter(tMs: number, tickMs: number): number {
  return tickIndexAtOrAfter(tMs, tickMs) * tickMs;
}
