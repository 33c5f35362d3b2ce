// The Go repo's workload scenarios (briankim06 simulation/scenarios.go, FACTS.md
// section 4), as seeded arrival lists: each arrival's send time, kind, priority
// and token count. Constant rates are a ticker (1 s / rps apart) as there;
// `scale` shortens every duration and period alike (1 = the repo's 60 s).
import type { Random } from '#libs/sim';
import { normal, stream } from '#libs/sim';

export type Priority = 'critical' | 'high' | 'normal' | 'low';
export type Kind = 'completion' | 'embedding';

export interface Arrival {
  /** Send time from the start of the run (ms). */
  atMs: number;
  kind: Kind;
  priority: Priority;
  /** Estimated tokens as the repo counts them: len(prompt)/4 + max_tokens. */
  tokens: number;
}

export interface ScenarioSpec {
  name: string;
  durationMs: number;
  /** Offered rate at time t (req/s). */
  rate: (tMs: number) => number;
  /** The client's deadline (the repo's 400 ms where it set one, else its 5 s upstream timeout). */
  deadlineMs: number;
  tokens: (random: Random) => number;
}

const SECOND = 1000;
/** The repo's defaults: completion fraction 0.9; priorities 80/15/5 normal/high/critical (rest low, i.e. none). */
const COMPLETION_FRACTION = 0.9;
const PRIORITY_SHARES: Array<[Priority, number]> = [
  ['normal', 0.8],
  ['high', 0.15],
  ['critical', 0.05],
];

const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));
/** Default tokens N(256, 64) clamped to [1, 8192]. */
const defaultTokens = (random: Random) => Math.round(clamp(256 + 64 * normal(random), 1, 8192));
/** long_tail: 70 % N(100, 20), 30 % N(3000, 300). */
const bimodalTokens = (random: Random) =>
  Math.round(clamp(random() < 0.7 ? 100 + 20 * normal(random) : 3000 + 300 * normal(random), 1, 8192));

/** Every scenario of the repo, `scale` x its durations; `rateScale` x its rates (1 = the repo's). */
export function scenarios(scale = 1, rateScale = 1): ScenarioSpec[] {
  const d = 60 * SECOND * scale;
  const burstStart = 30 * SECOND * scale;
  const burstLength = 5 * SECOND * scale;
  const burstPeriod = 35 * SECOND * scale;
  const r = (rps: number) => rps * rateScale;
  return [
    { name: 'steady_state', durationMs: d, rate: () => r(1200), deadlineMs: 400, tokens: defaultTokens },
    { name: 'ramp_up', durationMs: d, rate: (t) => r(10 + (490 * t) / d), deadlineMs: 5000, tokens: defaultTokens },
    {
      name: 'spike_test',
      durationMs: d,
      rate: (t) => r(t >= burstStart && (t - burstStart) % burstPeriod < burstLength ? 12_000 : 1200),
      deadlineMs: 400,
      tokens: defaultTokens,
    },
    { name: 'mixed_priority', durationMs: d, rate: () => r(100), deadlineMs: 5000, tokens: defaultTokens },
    { name: 'long_tail', durationMs: d, rate: () => r(100), deadlineMs: 5000, tokens: bimodalTokens },
  ];
}

function pickPriority(random: Random): Priority {
  let u = random();
  for (const [priority, share] of PRIORITY_SHARES) {
    if ((u -= share) < 0) return priority;
  }
  return 'low';
}

/** The arrivals of `spec`, seeded: a ticker over the rate (one arrival per unit of integrated rate). */
export function arrivalsOf(spec: ScenarioSpec, seed: number): Arrival[] {
  const random = stream(seed, 21);
  const out: Arrival[] = [];
  let owed = 0;
  for (let t = 0; t < spec.durationMs; t += 0.1) {
    owed += spec.rate(t) / 10_000;
    while (owed >= 1) {
      owed -= 1;
      const kind: Kind = random() < COMPLETION_FRACTION ? 'completion' : 'embedding';
      out.push({ atMs: t, kind, priority: pickPriority(random), tokens: spec.tokens(random) });
    }
  }
  return out;
}

const TENANTS = 64;
const FILLER = 'lorem ipsum dolor sit amet consectetur adipiscing elit '.repeat(800);

/**
 * The OpenAI request body of arrival `i`: a prompt of 4 characters per token
 * (so the len/4 estimate gives its tokens back), unique per request so no
 * dedup flatters the numbers; completions ask 16 tokens (OpenAI's default) at
 * temperature 0.
 */
export function bodyOf(arrival: Arrival, i: number, seed: number): { path: string; body: Record<string, unknown> } {
  // 64 tenants (the `user` field): the gateway bounds each tenant's queue, and one tenant sending
  // a whole scenario would measure that bound instead of batching. Not a batching parameter.
  const user = `tenant-${i % TENANTS}`;
  const maxTokens = arrival.kind === 'completion' ? (arrival.tokens > 32 ? 16 : Math.max(1, Math.floor(arrival.tokens / 2))) : 0;
  const tag = `r${seed}-${i} `;
  const text = tag + FILLER.slice(0, Math.max(0, 4 * (arrival.tokens - maxTokens) - tag.length));
  return arrival.kind === 'completion'
    ? {
        path: '/v1/completions',
        body: { model: 'sim-llm', prompt: text, max_tokens: maxTokens, temperature: 0, priority: arrival.priority },
      }
    : { path: '/v1/embeddings', body: { model: 'sim-embedding', input: text, priority: arrival.priority, user } };
}
