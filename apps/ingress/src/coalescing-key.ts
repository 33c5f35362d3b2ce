import { createHash } from 'node:crypto';
import type { HeaderList } from '#libs/upstream';

const UNRESERVED = /[A-Za-z0-9\-._~]/;

/** RFC 3986 §6.2.2: decode percent-encoded unreserved characters, upper-case the rest. */
function normalizePercentEncoding(text: string): string {
  return text.replace(/%([0-9a-fA-F]{2})/g, (_, hex: string) => {
    const char = String.fromCharCode(parseInt(hex, 16));
    return UNRESERVED.test(char) ? char : `%${hex.toUpperCase()}`;
  });
}

/** RFC 3986 §5.2.4 remove_dot_segments. */
function removeDotSegments(path: string): string {
  const output: string[] = [];
  for (const segment of path.split('/')) {
    if (segment === '..') {
      if (output.length > 1) output.pop();
    } else if (segment !== '.') {
      output.push(segment);
    }
  }
  const joined = output.join('/');
  const trailing = path.endsWith('/.') || path.endsWith('/..') ? '/' : '';
  return (joined.startsWith('/') ? joined : `/${joined}`) + trailing;
}

/**
 * The request target as sent upstream and keyed: normalized path plus the
 * query parameters sorted by name (stable, so repeated names keep their
 * order, which origins may rely on).
 */
export function normalizeTarget(rawUrl: string): { path: string; target: string } {
  const hashless = rawUrl.split('#', 1)[0]!;
  const q = hashless.indexOf('?');
  const rawPath = q === -1 ? hashless : hashless.slice(0, q);
  const path = removeDotSegments(normalizePercentEncoding(rawPath || '/'));
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

export interface KeyInput {
  method: string;
  url: string;
  headers: HeaderList;
  /** Route's vary list (lower-case, sorted). */
  vary: readonly string[];
  /** Public routes leave the auth scope out of the key. */
  isPublic: boolean;
  partitions: number;
}

/**
 * DESIGN Flow A step 1: method, normalized path + sorted query, the values
 * of the route's vary headers and, unless the route is public, the auth scope.
 * Equal keys are interchangeable requests; the partition spreads keys over coordinators.
 */
export function coalescingKey(input: KeyInput): CoalescingKey {
  const { path, target } = normalizeTarget(input.url);
  const scope = authScope(input.headers);
  const varied = input.vary.map(
    (name) =>
      `${name}:${input.headers
        .filter(([n]) => n === name)
        .map(([, v]) => v)
        .join(', ')}`,
  );
  const hash = digest([input.method, target, ...varied, input.isPublic ? '' : scope].join('\n'));
  return { key: hash.toString('base64url'), partition: hash.readUInt32BE(0) % input.partitions, target, path, scope };
}
