import { tickAtOrAfter } from './clock.js';
import { stream, STREAMS } from './distributions.js';
import type { BatchRecord, SimConfig, SimResult } from './simulator.js';
import type { Trace } from './trace.js';
import { UpstreamModel } from './upstream.js';

/** One flush of the hindsight-optimal schedule. */
export interface ScheduledBatch {
  key: number;
  flushAtMs: number;
  members: Int32Array;
}

export interface OracleConfig {
  /** Price of one upstream call in request-ms of waiting. */
  callCostMs: number;
  batchTimeoutMs: number;
  maxBatchSize: number;
  /** Decision tick; 0 = continuous time (flush exactly at the last member's arrival). */
  tickMs: number;
}

/**
 * The hindsight-optimal flush schedule: with the whole trace known, choose the
 * batches (contiguous runs of a key's arrivals, flushed when the last one has
 * arrived) minimising C * calls + total request-ms waited. Keys are
 * independent, so this is a shortest-path DP per key, O(n * window).
 *
 * On the tick grid a run [i..j] flushes at the first tick F at or after its
 * last arrival; it may only end there if the next arrival comes after F, and
 * is feasible if the envelope did not already fire at the tick before F (size
 * >= max or age >= timeout) — exactly the schedules a live coordinator can
 * produce, so no policy run on the same trace can cost less.
 */
export function oracleSchedule(trace: Trace, config: OracleConfig): ScheduledBatch[] {
  const batches: ScheduledBatch[] = [];
  for (const [key, members] of arrivalsByKey(trace)) {
    for (const [from, to, flushAtMs] of optimalRuns(
      members.map((i) => trace.t[i]!),
      config,
    )) {
      batches.push({ key, flushAtMs, members: Int32Array.from(members.slice(from, to + 1)) });
    }
  }
  return batches.sort((a, b) => a.flushAtMs - b.flushAtMs || a.key - b.key);
}

/** [first, last, flushAtMs] runs over one key's sorted arrival times. */
export function optimalRuns(times: readonly number[], config: OracleConfig): [number, number, number][] {
  const m = times.length;
  const { callCostMs: c, batchTimeoutMs: timeout, maxBatchSize: max, tickMs: tick } = config;
  const flushAt = new Float64Array(m);
  const seenBefore = new Int32Array(m); // arrivals at or before the tick preceding flushAt[j]
  const prefix = new Float64Array(m + 1);
  for (let j = 0, p = 0; j < m; j++) {
    flushAt[j] = tick > 0 ? tickAtOrAfter(times[j]!, tick) : times[j]!;
    while (p < m && tick > 0 && times[p]! <= flushAt[j]! - tick) p++;
    seenBefore[j] = p;
    prefix[j + 1] = prefix[j]! + times[j]!;
  }
  const best = new Float64Array(m + 1).fill(Infinity);
  const choice = new Int32Array(m + 1);
  best[0] = 0;
  for (let j = 0; j < m; j++) {
    if (j < m - 1 && times[j + 1]! <= flushAt[j]!) continue; // the next arrival would join: cannot end here
    const before = flushAt[j]! - tick;
    for (let i = j; i >= 0; i--) {
      if (
        tick > 0
          ? times[i]! <= before && (seenBefore[j]! - i >= max || before - times[i]! >= timeout)
          : j - i + 1 > max || times[j]! - times[i]! > timeout
      )
        break;
      if (best[i] === Infinity) continue;
      const cost = best[i]! + c + (j - i + 1) * flushAt[j]! - (prefix[j + 1]! - prefix[i]!);
      if (cost < best[j + 1]!) {
        best[j + 1] = cost;
        choice[j + 1] = i;
      }
    }
  }
  const runs: [number, number, number][] = [];
  for (let end = m; end > 0; end = choice[end]!) runs.push([choice[end]!, end - 1, flushAt[end - 1]!]);
  return runs.reverse();
}

/** Arrival indices of each key, in time order. */
export function arrivalsByKey(trace: Trace): Map<number, number[]> {
  const byKey = new Map<number, number[]>();
  for (let i = 0; i < trace.t.length; i++) {
    const k = trace.key[i]!;
    const list = byKey.get(k);
    if (list) list.push(i);
    else byKey.set(k, [i]);
  }
  return byKey;
}

/** Runs a fixed schedule through the same upstream model as the simulator (same seed, same stream). */
export function replaySchedule(trace: Trace, schedule: readonly ScheduledBatch[], config: SimConfig): SimResult {
  const n = trace.t.length;
  const upstream = new UpstreamModel(config.upstream, stream(config.seed, STREAMS.upstream));
  const result: SimResult = { batches: [], waitMs: new Float64Array(n), latencyMs: new Float64Array(n), answers: new Uint8Array(n) };
  for (const planned of schedule) {
    const serviceMs = upstream.dispatch(planned.flushAtMs, planned.members.length);
    const batch: BatchRecord = {
      key: planned.key,
      openedAtMs: trace.t[planned.members[0]!]!,
      flushedAtMs: planned.flushAtMs,
      reason: 'oracle',
      serviceMs,
      members: planned.members,
    };
    for (const m of planned.members) {
      result.waitMs[m] = planned.flushAtMs - trace.t[m]!;
      result.latencyMs[m] = result.waitMs[m] + serviceMs;
      result.answers[m]!++;
    }
    result.batches.push(batch);
  }
  return result;
}
