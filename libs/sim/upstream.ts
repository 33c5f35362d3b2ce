import type { Random } from './distributions.js';
import { meanOneLognormal } from './distributions.js';

/**
 * Service time of one upstream call: base x mean-one lognormal jitter, plus a
 * term per call already in flight (the origin slows down under concurrency, so
 * the upstream p99 feature moves with load) and an optional term per coalesced
 * request (inference-style backends whose work grows with the batch).
 */
export interface UpstreamSpec {
  baseMs: number;
  jitterSigma: number;
  perInFlightMs: number;
  perItemMs: number;
}

export const DEFAULT_UPSTREAM: UpstreamSpec = { baseMs: 5, jitterSigma: 0.25, perInFlightMs: 0.5, perItemMs: 0 };

export class UpstreamModel {
  /** Completion times of calls in flight, as a binary min-heap. */
  private readonly inFlight: number[] = [];

  constructor(
    private readonly spec: UpstreamSpec,
    private readonly random: Random,
  ) {}

  /** Starts a call at `nowMs` for `batchSize` waiters; returns its service time (ms). */
  dispatch(nowMs: number, batchSize: number): number {
    while (this.inFlight.length > 0 && this.inFlight[0]! <= nowMs) popMin(this.inFlight);
    const { baseMs, jitterSigma, perInFlightMs, perItemMs } = this.spec;
    const serviceMs = baseMs * meanOneLognormal(this.random, jitterSigma) + perInFlightMs * this.inFlight.length + perItemMs * batchSize;
    pushMin(this.inFlight, nowMs + serviceMs);
    return serviceMs;
  }
}

export function pushMin(heap: number[], value: number): void {
  heap.push(value);
  let i = heap.length - 1;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (heap[parent]! <= heap[i]!) break;
    [heap[parent], heap[i]] = [heap[i]!, heap[parent]!];
    i = parent;
  }
}

export function popMin(heap: number[]): number | undefined {
  const top = heap[0];
  const last = heap.pop();
  if (heap.length > 0 && last !== undefined) {
    heap[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && heap[l]! < heap[m]!) m = l;
      if (r < heap.length && heap[r]! < heap[m]!) m = r;
      if (m === i) break;
      [heap[m], heap[i]] = [heap[i]!, heap[m]!];
      i = m;
    }
  }
  return top;
}
