import { readFileSync } from 'node:fs';
import safeRegex from 'safe-regex2';
import { parse as parseYaml } from 'yaml';
import type { EnvelopeConfig, StrategySpec } from './sections.js';
import { parseStrategySpec } from './sections.js';

/**
 * Who else gets an answer that sets a cookie (it belongs to the request that
 * caused it): `own-call` each other waiter gets an origin call of its own,
 * `strip` the others get the same answer without its Set-Cookie fields,
 * `share` the others get it as is. Never across auth scopes, whichever.
 */
export type SetCookieSharing = 'own-call' | 'strip' | 'share';

const SET_COOKIE_SHARING: readonly SetCookieSharing[] = ['own-call', 'strip', 'share'];

/**
 * What an arrival does while its key's upstream call is in flight:
 * `new-slot` (default) waits for a call that starts after it arrived, so it
 * never gets an answer older than its request; `join` shares the call in
 * flight (singleflight, as NGINX's proxy_cache_lock, Varnish and Pingora do),
 * trading that freshness for fewer calls and no wait for a second call.
 * Sharing rules (scope, Vary, Set-Cookie) hold for joiners as for waiters.
 */
export type InflightMode = 'new-slot' | 'join';

const INFLIGHT_MODES: readonly InflightMode[] = ['new-slot', 'join'];

/** Per-path behaviour: whether and how requests are coalesced, and which policy flushes them. */
export interface Route {
  name: string;
  /** Path prefix ("/api/") or, when it starts with "^", a regular expression. */
  match: string;
  coalesce: boolean;
  /** Public routes leave the auth scope out of the coalescing key. */
  public: boolean;
  /** Request headers (lower-case) whose values are part of the coalescing key. */
  vary: string[];
  /** What the other waiters of an answer with Set-Cookie get (default own-call). */
  setCookie: SetCookieSharing;
  /** Arrivals during the slot's upstream call: a new slot (default) or join the call in flight. */
  inflight: InflightMode;
  envelope: EnvelopeConfig;
  /** Strategy for this route; undefined = the policy service's default. */
  policy: StrategySpec | undefined;
}

export interface RouteTable {
  routes: Route[];
}

export class RouteSchemaError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'RouteSchemaError';
  }
}

/**
 * Route patterns are matched on every request, and the admin API lets anyone
 * holding the token write them: a pattern with nested repetition ("^/(a+)+$")
 * backtracks exponentially and would stall the event loop on one crafted path.
 * safe-regex2 refuses star height > 1 and more than 25 repetitions; the length
 * and count bounds keep the per-request matching cost small and known.
 */
export const MAX_ROUTES = 256;
export const MAX_PATTERN_LENGTH = 256;

const ROUTE_KEYS = new Set(['name', 'match', 'coalesce', 'public', 'vary', 'setCookie', 'inflight', 'envelope', 'policy']);
const DOCUMENT_KEYS = new Set(['routes', 'defaultPolicy']);

function fail(where: string, reason: string): never {
  throw new RouteSchemaError(`${where}: ${reason}`);
}

function parseEnvelope(value: unknown, where: string, defaults: EnvelopeConfig): EnvelopeConfig {
  if (value === undefined) return defaults;
  if (typeof value !== 'object' || value === null) fail(where, 'envelope must be an object');
  const { batchTimeoutMs = defaults.batchTimeoutMs, maxBatchSize = defaults.maxBatchSize, ...rest } = value as Record<string, unknown>;
  if (Object.keys(rest).length > 0) fail(where, `unknown envelope field(s) ${Object.keys(rest).join(', ')}`);
  if (!Number.isInteger(batchTimeoutMs) || (batchTimeoutMs as number) < 1 || (batchTimeoutMs as number) > 60_000)
    fail(where, 'envelope.batchTimeoutMs must be an integer between 1 and 60000');
  if (!Number.isInteger(maxBatchSize) || (maxBatchSize as number) < 1 || (maxBatchSize as number) > 100_000)
    fail(where, 'envelope.maxBatchSize must be an integer between 1 and 100000');
  return { batchTimeoutMs: batchTimeoutMs as number, maxBatchSize: maxBatchSize as number };
}

function parseRoute(value: unknown, index: number, defaults: EnvelopeConfig): Route {
  let where = `routes[${index}]`;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(where, 'must be an object');
  const raw = value as Record<string, unknown>;
  if (typeof raw.name === 'string') where = `routes[${index}] "${raw.name.slice(0, 64)}"`;
  const unknown = Object.keys(raw).filter((key) => !ROUTE_KEYS.has(key));
  if (unknown.length > 0) fail(where, `unknown field(s) ${unknown.join(', ')}`);
  const { name, match, coalesce = true, public: isPublic = false, vary = [], setCookie = 'own-call', inflight = 'new-slot', policy } = raw;
  if (typeof name !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(name)) fail(where, 'name must match [A-Za-z0-9_.-]{1,64}');
  if (typeof match !== 'string' || !(match.startsWith('/') || match.startsWith('^')))
    fail(where, 'match must be a path prefix starting with "/" or a regular expression starting with "^"');
  if (match.length > MAX_PATTERN_LENGTH) fail(where, `match is longer than ${MAX_PATTERN_LENGTH} characters`);
  if (match.startsWith('^')) {
    try {
      new RegExp(match);
    } catch (error) {
      fail(where, `match is not a valid regular expression (${(error as Error).message})`);
    }
    if (!safeRegex(match))
      fail(where, 'match is a regular expression that can backtrack catastrophically (nested or more than 25 repetitions); simplify it');
  }
  if (typeof coalesce !== 'boolean') fail(where, 'coalesce must be true or false');
  if (typeof isPublic !== 'boolean') fail(where, 'public must be true or false');
  if (!Array.isArray(vary) || !vary.every((h) => typeof h === 'string' && /^[A-Za-z0-9-]+$/.test(h)))
    fail(where, 'vary must be a list of header names');
  if (!SET_COOKIE_SHARING.includes(setCookie as SetCookieSharing)) fail(where, `setCookie must be one of ${SET_COOKIE_SHARING.join(', ')}`);
  if (!INFLIGHT_MODES.includes(inflight as InflightMode)) fail(where, `inflight must be one of ${INFLIGHT_MODES.join(', ')}`);
  let strategy: StrategySpec | undefined;
  if (policy !== undefined) {
    if (typeof policy !== 'string') fail(where, 'policy must be a string like "fixed_timer:window_ms=20"');
    const parsed = parseStrategySpec(policy);
    if (typeof parsed === 'string') fail(where, `policy ${parsed}`);
    strategy = parsed;
  }
  return {
    name,
    match,
    coalesce,
    public: isPublic,
    vary: (vary as string[]).map((h) => h.toLowerCase()).sort(),
    setCookie: setCookie as SetCookieSharing,
    inflight: inflight as InflightMode,
    envelope: parseEnvelope(raw.envelope, where, defaults),
    policy: strategy,
  };
}

/** Validates a route table document (already parsed from YAML/JSON); never half-applies. */
export function parseRouteTable(document: unknown, defaults: EnvelopeConfig): RouteTable {
  if (typeof document !== 'object' || document === null) fail('routes file', 'must be an object with a "routes" list');
  const list = (document as { routes?: unknown }).routes;
  if (!Array.isArray(list)) fail('routes file', '"routes" must be a list');
  const unknownTop = Object.keys(document).filter((key) => !DOCUMENT_KEYS.has(key));
  if (unknownTop.length > 0) fail('routes file', `unknown field(s) ${unknownTop.join(', ')}`);
  if (list.length > MAX_ROUTES) fail('routes', `at most ${MAX_ROUTES} routes are allowed (got ${list.length})`);
  const routes = list.map((route, index) => parseRoute(route, index, defaults));
  const names = new Set<string>();
  for (const route of routes) {
    if (names.has(route.name)) fail('routes', `duplicate route name "${route.name}"`);
    names.add(route.name);
  }
  if (!routes.some((route) => route.match === '/')) routes.push(defaultRoute(defaults));
  return { routes };
}

/**
 * The live policy configuration kept in NATS KV (written by the admin API):
 * the route table plus an optional default strategy for routes that name none.
 */
export interface PolicyDocument {
  routes: RouteTable;
  defaultPolicy: StrategySpec | undefined;
}

export function parsePolicyDocument(document: unknown, defaults: EnvelopeConfig): PolicyDocument {
  const routes = parseRouteTable(document, defaults);
  const raw = (document as { defaultPolicy?: unknown }).defaultPolicy;
  if (raw === undefined) return { routes, defaultPolicy: undefined };
  if (typeof raw !== 'string') fail('defaultPolicy', 'must be a string like "cost_aware:call_cost_ms=250"');
  const spec = parseStrategySpec(raw);
  if (typeof spec === 'string') fail('defaultPolicy', spec);
  return { routes, defaultPolicy: spec };
}

/** The document form of a strategy spec ("name:key=value,..."). */
export function formatStrategySpec(spec: StrategySpec): string {
  const params = Object.entries(spec.params).map(([key, value]) => `${key}=${value}`);
  return params.length > 0 ? `${spec.name}:${params.join(',')}` : spec.name;
}

/** A route table (and default strategy) as the JSON document the admin API and KV hold. */
export function policyDocumentJson(routes: RouteTable, defaultPolicy: StrategySpec | undefined): Record<string, unknown> {
  return {
    routes: routes.routes.map((route) => ({
      name: route.name,
      match: route.match,
      coalesce: route.coalesce,
      public: route.public,
      vary: route.vary,
      setCookie: route.setCookie,
      inflight: route.inflight,
      envelope: route.envelope,
      ...(route.policy ? { policy: formatStrategySpec(route.policy) } : {}),
    })),
    ...(defaultPolicy ? { defaultPolicy: formatStrategySpec(defaultPolicy) } : {}),
  };
}

export function defaultRoute(envelope: EnvelopeConfig): Route {
  return {
    name: 'default',
    match: '/',
    coalesce: true,
    public: false,
    vary: [],
    setCookie: 'own-call',
    inflight: 'new-slot',
    envelope,
    policy: undefined,
  };
}

/** Loads the routes file (YAML or JSON) or, without one, the single default route. */
export function loadRoutes(file: string | undefined, defaults: EnvelopeConfig): RouteTable {
  if (!file) return { routes: [defaultRoute(defaults)] };
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new RouteSchemaError(`BATCHGATE_ROUTES_FILE: cannot read ${file} (${(error as Error).message})`);
  }
  try {
    return parseRouteTable(parseYaml(text), defaults);
  } catch (error) {
    throw new RouteSchemaError(`BATCHGATE_ROUTES_FILE ${file}: ${(error as Error).message}`);
  }
}

const compiled = new WeakMap<Route, RegExp>();

/** First route (in file order) whose prefix or pattern matches the path. */
export function matchRoute(table: RouteTable, path: string): Route {
  for (const route of table.routes) {
    if (route.match.startsWith('^')) {
      let pattern = compiled.get(route);
      if (!pattern) compiled.set(route, (pattern = new RegExp(route.match)));
      if (pattern.test(path)) return route;
    } else if (path.startsWith(route.match)) {
      return route;
    }
  }
  // parseRouteTable always appends a "/" route, so this is only reached for non-"/" paths.
  return table.routes[table.routes.length - 1]!;
}
