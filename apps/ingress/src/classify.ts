import type { HeaderList } from '#libs/upstream';

export type PassthroughReason = 'method' | 'body' | 'range' | 'upgrade' | 'no-cache' | 'route';

export type Classification = { kind: 'coalesce' } | { kind: 'passthrough'; reason: PassthroughReason };

function header(headers: HeaderList, name: string): string | undefined {
  return headers.find(([n]) => n === name)?.[1];
}

/**
 * Whether a request may share an upstream call. Only idempotent, body-less
 * GET/HEAD requests without Range or Upgrade, whose client did not ask for a
 * fresh answer (Cache-Control no-cache/no-store, Pragma no-cache), on a route
 * that coalesces. Everything else is passed through untouched.
 */
export function classify(method: string, headers: HeaderList, routeCoalesces: boolean): Classification {
  if (method !== 'GET' && method !== 'HEAD') return { kind: 'passthrough', reason: 'method' };
  if (header(headers, 'upgrade') !== undefined) return { kind: 'passthrough', reason: 'upgrade' };
  const length = header(headers, 'content-length');
  if (header(headers, 'transfer-encoding') !== undefined || (length !== undefined && length !== '0')) {
    return { kind: 'passthrough', reason: 'body' };
  }
  if (header(headers, 'range') !== undefined) return { kind: 'passthrough', reason: 'range' };
  const cacheControl = header(headers, 'cache-control') ?? '';
  if (/(^|[\s,])(no-cache|no-store)([\s,=]|$)/i.test(cacheControl) || /no-cache/i.test(header(headers, 'pragma') ?? '')) {
    return { kind: 'passthrough', reason: 'no-cache' };
  }
  if (!routeCoalesces) return { kind: 'passthrough', reason: 'route' };
  return { kind: 'coalesce' };
}
