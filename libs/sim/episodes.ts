/**
 * Decision episodes: what the live fleet decided for each slot and what came
 * of it, as the telemetry service exports them (GET /export/episodes.jsonl on
 * its operator port) and `policy:learn` / `sim replay --episodes` read them.
 *
 * Format: JSON Lines, one episode per flushed slot, oldest flush first:
 * ```
 * {"slot_id": "...", "route": "api", "key": "GET /api/x",
 *  "decisions": [{"at_ms": 1733.2, "size": 3, "age_ms": 4.1, "request_rate": 812.5, "idle_ms": 0.9,
 *                 "upstream_p99_ms": 21.3, "action": "wait", "flush_at_age_ms": 18, "flush_at_size": 0,
 *                 "strategy": "cost_aware", "model_version": ""}, ...],
 *  "flush": {"at_ms": 1750.0, "reason": "policy", "size": 9, "age_ms": 20.8},
 *  "upstream": {"latency_ms": 22.4, "status": 200}}
 * ```
 * `decisions` are the slot's policy.decide answers in order (features sent,
 * the plan's action now, the plan: flush at age `flush_at_age_ms` (null = no
 * time rule) or size `flush_at_size` (0 = no size rule), and who decided);
 * `flush.reason` is policy | timeout | size_cap | fallback; `upstream` is
 * absent when the call's completion was not recorded. Times are epoch ms.
 * Unknown fields are ignored, blank lines and lines starting with `#` skipped.
 */
export interface EpisodeDecision {
  at_ms: number;
  size: number;
  age_ms: number;
  request_rate: number;
  idle_ms: number;
  upstream_p99_ms: number;
  action: string;
  flush_at_age_ms: number | null;
  flush_at_size: number;
  strategy: string;
  model_version: string;
}

export interface LiveEpisode {
  slot_id: string;
  route: string;
  key: string;
  decisions: EpisodeDecision[];
  flush: { at_ms: number; reason: string; size: number; age_ms: number };
  upstream?: { latency_ms: number; status: number };
}

export function parseEpisodesJsonl(text: string): LiveEpisode[] {
  const episodes: LiveEpisode[] = [];
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    let record: Partial<LiveEpisode>;
    try {
      record = JSON.parse(line) as Partial<LiveEpisode>;
    } catch {
      throw new Error(`episodes line ${index + 1}: not JSON`);
    }
    if (typeof record.route !== 'string' || typeof record.flush?.reason !== 'string' || !Array.isArray(record.decisions))
      throw new Error(`episodes line ${index + 1}: needs route, decisions[] and flush.reason`);
    episodes.push(record as LiveEpisode);
  });
  return episodes;
}

/** What a route's live episodes say: its flush reasons, batch sizes, who decided, and the origin's latency. */
export interface LiveSummary {
  route: string;
  flushes: number;
  byReason: Record<string, number>;
  meanBatch: number;
  /** Share of flushes the envelope made (timeout, size_cap). */
  forcedShare: number;
  /** Strategies (and model versions) that answered its slots. */
  deciders: string[];
  /** Median recorded upstream call latency (ms); NaN when none was recorded. */
  upstreamMedianMs: number;
}

export function summarizeEpisodes(route: string, episodes: readonly LiveEpisode[]): LiveSummary {
  const mine = episodes.filter((e) => e.route === route);
  const byReason: Record<string, number> = {};
  let members = 0;
  const deciders = new Set<string>();
  const latencies: number[] = [];
  for (const e of mine) {
    byReason[e.flush.reason] = (byReason[e.flush.reason] ?? 0) + 1;
    members += e.flush.size;
    for (const d of e.decisions) deciders.add(d.model_version ? `${d.strategy}@${d.model_version}` : d.strategy);
    if (e.upstream && e.upstream.latency_ms > 0) latencies.push(e.upstream.latency_ms);
  }
  latencies.sort((a, b) => a - b);
  const forced = (byReason.timeout ?? 0) + (byReason.size_cap ?? 0);
  return {
    route,
    flushes: mine.length,
    byReason,
    meanBatch: mine.length === 0 ? 0 : members / mine.length,
    forcedShare: mine.length === 0 ? 0 : forced / mine.length,
    deciders: [...deciders].sort(),
    upstreamMedianMs: latencies.length === 0 ? NaN : latencies[Math.floor(latencies.length / 2)]!,
  };
}
