import { randomBytes } from 'node:crypto';
import type { EnvReader } from './env.js';
import { parseNatsUrl, redactNatsUrl } from './nats-url.js';

/** Settings every service reads: who it is and where NATS, Redis and the trace collector are. */
export interface CommonConfig {
  instanceId: string;
  /** As written, credentials included; parse it with natsConnectOptions and log it with redactNatsUrl. */
  natsUrl: string;
  logLevel: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'silent';
  /** OTEL_EXPORTER_OTLP_ENDPOINT: the OTLP/HTTP base URL ("/v1/traces" is appended unless already there). */
  otlpEndpoint: string | undefined;
  /** OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: the full traces URL, used as-is; wins over otlpEndpoint. */
  otlpTracesEndpoint: string | undefined;
  /** Retention of the events stream, which every service provisions (so they should agree), and whether to publish. */
  events: EventsRetention;
}

/** How long and how much of the event log JetStream keeps: how far back a projection can be rebuilt. */
export interface EventsRetention {
  maxAgeMs: number;
  maxBytes: number;
  /** BATCHGATE_EVENTS=off publishes none (a benchmark's baseline; the recorder and the live latency features then see nothing). */
  publish: boolean;
}

function eventsRetentionSection(r: EnvReader): EventsRetention {
  return {
    // A day and 1 GiB: the seed's defaults for the recorder's replay window.
    maxAgeMs: r.int('BATCHGATE_EVENTS_MAX_AGE_MS', 24 * 3600 * 1000, { min: 60_000, max: 365 * 24 * 3600 * 1000 }),
    maxBytes: r.int('BATCHGATE_EVENTS_MAX_BYTES', 1024 ** 3, { min: 1024 ** 2, max: 1024 ** 4 }),
    publish: r.oneOf('BATCHGATE_EVENTS', 'on', ['on', 'off']) === 'on',
  };
}

export function commonSection(r: EnvReader, service: string): CommonConfig {
  return {
    instanceId: r.string('BATCHGATE_INSTANCE_ID', `${service}-${randomBytes(3).toString('hex')}`),
    natsUrl: natsUrlSetting(r),
    logLevel: r.oneOf('BATCHGATE_LOG_LEVEL', 'info', ['trace', 'debug', 'info', 'warn', 'error', 'silent']),
    otlpEndpoint: otlpEndpointSetting(r),
    otlpTracesEndpoint: otlpTracesEndpointSetting(r),
    events: eventsRetentionSection(r),
  };
}

/**
 * Why one NATS_URL entry would not connect, or undefined when it would. The
 * bus retries an unreachable server forever, so a typo has to stop start-up.
 * Accepted is what @nats-io/transport-node's connect() dials: nats:// and
 * tls:// URLs or a bare host[:port]. connect() rejects ws:// and wss://
 * (WebSockets need wsconnect()), and strips any other scheme and dials the
 * host anyway, so "http://nats:8222" (the monitoring port) would hang.
 * A nats:// or tls:// URL may carry "user:pass@" or "token@"; messages show it redacted.
 */
function natsServerProblem(entry: string): string | undefined {
  if (entry === '') return 'an entry is empty';
  const shown = redactNatsUrl(entry);
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(entry)?.[1]?.toLowerCase();
  if (scheme === 'ws' || scheme === 'wss') return `"${shown}": the Node client has no WebSocket transport`;
  if (scheme !== undefined && scheme !== 'nats' && scheme !== 'tls') return `"${shown}": ${scheme}:// is not a NATS scheme`;
  let url: URL;
  try {
    url = new URL(scheme === undefined ? `nats://${entry}` : entry);
  } catch {
    return `"${shown}" is not a URL or host:port`;
  }
  if (url.hostname === '') return `"${shown}" names no host`;
  // Without a scheme only host[:port] is meant; a "/" there is a mistyped scheme ("nats:/host").
  if (scheme === undefined && /[/?#@]/.test(entry)) return `"${shown}" is not host:port`;
  return undefined;
}

/**
 * NATS_URL: one server or a comma-separated list of them, each checked by
 * natsServerProblem, and all with the same credentials (parseNatsUrl).
 */
function natsUrlSetting(r: EnvReader): string {
  const fallback = 'nats://127.0.0.1:4222';
  const text = r.string('NATS_URL', fallback);
  const problem = text
    .split(',')
    .map((entry) => natsServerProblem(entry.trim()))
    .find((found) => found !== undefined);
  if (problem !== undefined) {
    r.problem('NATS_URL', `one or more comma-separated nats:// or tls:// URLs or host:port (${problem})`, redactNatsUrl(text));
    return fallback;
  }
  const options = parseNatsUrl(text);
  if (typeof options === 'string') {
    r.problem('NATS_URL', `URLs with one valid user:pass@ or token@ for all servers (${options})`, redactNatsUrl(text));
    return fallback;
  }
  return text;
}

/** OTEL_EXPORTER_OTLP_ENDPOINT: unset means no export; set, it must be an OTLP/HTTP base URL. */
function otlpEndpointSetting(r: EnvReader): string | undefined {
  const name = 'OTEL_EXPORTER_OTLP_ENDPOINT';
  return r.raw(name) === undefined ? undefined : r.url(name, undefined, ['http', 'https']);
}

/**
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: the full OTLP/HTTP traces URL. Checked
 * like the base endpoint, but kept exactly as written: the OTel spec uses it as-is.
 */
function otlpTracesEndpointSetting(r: EnvReader): string | undefined {
  const name = 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT';
  const text = r.raw(name);
  if (text !== undefined) r.url(name, undefined, ['http', 'https']);
  return text;
}

export interface RedisConfig {
  redisUrl: string;
}

export function redisSection(r: EnvReader): RedisConfig {
  return { redisUrl: r.url('REDIS_URL', 'redis://127.0.0.1:6379', ['redis', 'rediss']) };
}

/** The hard limits that always win over the policy (seed: 50 ms, 128). */
export interface EnvelopeConfig {
  batchTimeoutMs: number;
  maxBatchSize: number;
}

export function envelopeSection(r: EnvReader): EnvelopeConfig {
  return {
    batchTimeoutMs: r.int('BATCHGATE_BATCH_TIMEOUT_MS', 50, { min: 1, max: 60_000 }),
    maxBatchSize: r.int('BATCHGATE_MAX_BATCH_SIZE', 128, { min: 1, max: 100_000 }),
  };
}

/** How upstream calls are made (worker, and the ingress for pass-through and fallback). */
export interface UpstreamConfig {
  upstream: string;
  upstreamTimeoutMs: number;
  upstreamConnections: number;
  maxBodyBytes: number;
}

export function upstreamSection(r: EnvReader): UpstreamConfig {
  return {
    upstream: r.url('BATCHGATE_UPSTREAM', undefined, ['http', 'https']),
    upstreamTimeoutMs: r.int('BATCHGATE_UPSTREAM_TIMEOUT_MS', 10_000, { min: 1, max: 600_000 }),
    // 512, not 64: every socket in use holds one 20 ms origin call, so 64 capped a process at
    // 64 / 20 ms = 3,200 calls/s; bench:coalesce pass-through at 200 connections went from
    // 2,584 to 5,107 req/s (NGINX 8,996) with 512 (2026-12-03). Still a bound per origin.
    upstreamConnections: r.int('BATCHGATE_UPSTREAM_CONNECTIONS', 512, { min: 1, max: 10_000 }),
    maxBodyBytes: r.int('BATCHGATE_MAX_BODY_BYTES', 16 * 1024 * 1024, { min: 1024, max: 1024 ** 3 }),
  };
}

/** Port of a service's own /healthz, /readyz and /metrics (0 = pick a free one). */
export function httpPortSection(r: EnvReader, fallback: number): { httpHost: string; httpPort: number } {
  return {
    httpHost: r.string('BATCHGATE_HTTP_HOST', '127.0.0.1'),
    httpPort: r.int('BATCHGATE_HTTP_PORT', fallback, { max: 65_535 }),
  };
}

/**
 * A flush strategy named by "name" or "name:key=value,key=value" (numbers only),
 * e.g. "fixed_timer:window_ms=20". Parsed here; validated against the strategy
 * registry by the policy lib.
 */
export interface StrategySpec {
  name: string;
  params: Record<string, number>;
}

export function parseStrategySpec(text: string): StrategySpec | string {
  const [name = '', rest] = text.split(':', 2);
  if (!/^[a-z_]+$/.test(name)) return `strategy name "${name}" is not a lowercase identifier`;
  const params: Record<string, number> = {};
  for (const pair of rest ? rest.split(',') : []) {
    const [key, value] = pair.split('=', 2);
    const number = Number(value);
    if (!key || value === undefined || !Number.isFinite(number)) return `parameter "${pair}" is not key=number`;
    params[key.trim()] = number;
  }
  return { name, params };
}

export function strategySection(r: EnvReader, name: string, fallback: string): StrategySpec {
  const text = r.string(name, fallback);
  const spec = parseStrategySpec(text);
  if (typeof spec === 'string') {
    r.problem(name, `a strategy like "fixed_timer:window_ms=20" (${spec})`, text);
    return parseStrategySpec(fallback) as StrategySpec;
  }
  return spec;
}
