import { createHash } from 'node:crypto';
import type { Route, RouteTable } from '#libs/config';
import { matchRoute } from '#libs/config';
import type { HeaderList } from '#libs/upstream';

const UNRESERVED = /[A-Za-z0-9\-._~]/;

/** RFC 3986 §6.2.2: decode percent-encoded unreserved characters, upper-case the rest. */
function normalizePercentEncoding(text: string): string {
  return text.replace(/%([0-9a-fA-F]{2})/g, (_, hex: string) => {
    const char = String.fromCharCode(parseInt(hex, 16));
    return UNRESERVED.test(char) ? char : `%${hex.toUpperCase()}`;
  });
}

/**
 * Runs of "/" become one. RFC 3986 keeps "//" distinct, but origins often
 * merge them (nginx does by default): left as is, "//account/me" would miss
 * an "/account/" route and take a looser one for the same answer.
 */
function mergeSlashes(path: string): string {
  return path.replace(/\/{2,}/g, '/');
}

/** RFC 3986 §5.2.4 remove_dot_segments, for a path whose slashes are already merged; never climbs above "/". */
function removeDotSegments(path: string): string {
  const output: string[] = [];
  for (const segment of path.split('/')) {
    if (segment === '..') output.pop();
    else if (segment !== '.' && segment !== '') output.push(segment);
  }
  // A path ending in "/", "/." or "/.." names a directory: keep its trailing slash.
  const trailing = output.length > 0 && /\/(\.\.?)?$/.test(path) ? '/' : '';
  return `/${output.join('/')}${trailing}`;
}

/** A request target after the one normalization that route matching, the key and the upstream call all use. */
export interface RequestTarget {
  /** Normalized path: what the route is matched on. */
  path: string;
  /** Normalized path + sorted query: what the one upstream request asks for. */
  target: string;
}

/**
 * The request target as sent upstream and keyed: normalized path plus the
 * query parameters sorted by name (stable, so repeated names keep their
 * order, which origins may rely on).
 */
export function normalizeTarget(rawUrl: string): RequestTarget {
  const hashless = rawUrl.split('#', 1)[0]!;
  const q = hashless.indexOf('?');
  const rawPath = q === -1 ? hashless : hashless.slice(0, q);
  // Percent-decoding first, so "%2e%2e" is a dot-segment like "..".
  const path = removeDotSegments(mergeSlashes(normalizePercentEncoding(rawPath)));
  if (q === -1) return { path, target: path };
  const params = hashless
    .slice(q + 1)
    .split('&')
    .filter((part) => part.length > 0)
    .map(normalizePercentEncoding);
  const sorted = params
    .map((param, index) => ({ name: param.split('=', 1)[0]!, param, index }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.index - b.index))
    .map(({ param }) => param);
  return { path, target: sorted.length > 0 ? `${path}?${sorted.join('&')}` : path };
}

export interface RoutedRequest {
  route: Route;
  request: RequestTarget;
}

/**
 * A request's route, chosen from the same normalized path that is keyed and
 * fetched. Matching the raw path instead let "/public/%2e%2e/me" take the
 * public route's settings (no auth scope in the key) while fetching "/me".
 */
export function routeRequest(routes: RouteTable, rawUrl: string): RoutedRequest {
  const request = normalizeTarget(rawUrl);
  return { route: matchRoute(routes, request.path), request };
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/** Hash of the request's credentials (Authorization and Cookie); "anon" without any. */
export function authScope(headers: HeaderList): string {
  const authorization = headers.filter(([n]) => n === 'authorization').map(([, v]) => v);
  const cookie = headers.filter(([n]) => n === 'cookie').map(([, v]) => v);
  if (authorization.length === 0 && cookie.length === 0) return 'anon';
  return digest(`${authorization.join('\n')}\u0000${cookie.join('; ')}`)
    .subarray(0, 16)
    .toString('base64url');
}

export interface CoalescingKey {
  key: string;
  partition: number;
  /** Normalized path + sorted query: what the one upstream request asks for. */
  target: string;
  path: string;
  scope: string;
}

/** What, besides the target, goes into a key; vary and isPublic come from the route the target matched. */
export interface KeyFields {
  method: string;
  headers: HeaderList;
  /** Route's vary list (lower-case, sorted). */
  vary: readonly string[];
  /** Public routes leave the auth scope out of the key. */
  isPublic: boolean;
  partitions: number;
}

export interface KeyInput extends KeyFields {
  url: string;
}

/**
 * DESIGN Flow A step 1: method, normalized path + sorted query, the values
 * of the route's vary headers and, unless the route is public, the auth scope.
 * Equal keys are interchangeable requests; the partition spreads keys over coordinators.
 * `request` must be the target the route was matched on (routeRequest), so
 * the route's settings describe what is fetched.
 */
export function coalescingKeyFor(request: RequestTarget, fields: KeyFields): CoalescingKey {
  const { path, target } = request;
  const scope = authScope(fields.headers);
  const varied = fields.vary.map(
    (name) =>
      `${name}:${fields.headers
        .filter(([n]) => n === name)
        .map(([, v]) => v)
        .join(', ')}`,
  );
  const hash = digest([fields.method, target, ...varied, fields.isPublic ? '' : scope].join('\n'));
  return { key: hash.toString('base64url'), partition: hash.readUInt32BE(0) % fields.partitions, target, path, scope };
}

/** The key of a raw URL, for callers with no route table to match (tests); the proxy uses routeRequest + coalescingKeyFor. */
export function coalescingKey(input: KeyInput): CoalescingKey {
  return coalescingKeyFor(normalizeTarget(input.url), input);
}
