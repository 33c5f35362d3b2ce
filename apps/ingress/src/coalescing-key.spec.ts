import { describe, expect, it } from 'vitest';
import { parseRouteTable } from '#libs/config';
import type { HeaderList } from '#libs/upstream';
import { classify } from './classify.js';
import { authScope, coalescingKey, coalescingKeyFor, normalizeTarget, routeRequest } from './coalescing-key.js';

const keyOf = (url: string, headers: HeaderList = [], options: { vary?: string[]; isPublic?: boolean; method?: string } = {}) =>
  coalescingKey({
    method: options.method ?? 'GET',
    url,
    headers,
    vary: options.vary ?? [],
    isPublic: options.isPublic ?? false,
    partitions: 64,
  });

describe('normalizeTarget', () => {
  it('sorts query parameters by name and keeps repeated names in order', () => {
    expect(normalizeTarget('/a?b=2&a=1&b=1').target).toBe('/a?a=1&b=2&b=1');
  });

  it('normalizes percent-encoding and dot segments as RFC 3986 says', () => {
    expect(normalizeTarget('/x/%7euser/./y/../z?q=%2f').target).toBe('/x/~user/z?q=%2F');
    expect(normalizeTarget('/a/b/..').path).toBe('/a/');
  });

  it('drops fragments and empty parameters', () => {
    expect(normalizeTarget('/p?&a=1&&#frag').target).toBe('/p?a=1');
  });

  it('never climbs above the root and keeps a single leading slash', () => {
    expect(normalizeTarget('/a/..').path).toBe('/');
    expect(normalizeTarget('/..').path).toBe('/');
    expect(normalizeTarget('/.').path).toBe('/');
    expect(normalizeTarget('/../../etc/passwd').path).toBe('/etc/passwd');
    expect(normalizeTarget('').path).toBe('/');
  });

  it('merges runs of slashes in the path but not in the query', () => {
    expect(normalizeTarget('//a///b/?u=//x').target).toBe('/a/b/?u=//x');
  });
});

describe('routeRequest', () => {
  const table = parseRouteTable(
    {
      routes: [
        { name: 'public', match: '/public/', public: true },
        { name: 'live', match: '/live/', coalesce: false },
        { name: 'item', match: '^/items/[0-9]+$', vary: ['Accept-Language'] },
      ],
    },
    { batchTimeoutMs: 50, maxBatchSize: 128 },
  );
  const routed = (url: string) => {
    const { route, request } = routeRequest(table, url);
    return { route: route.name, fetched: request.target };
  };

  it.each([
    ['/public/../me', '/me'],
    ['/public/./../me', '/me'],
    ['/public/%2e%2e/me', '/me'],
    ['/public/%2E%2E/me', '/me'],
    ['/public/.%2e/me', '/me'],
    ['/public/%2E./me?b=2&a=1', '/me?a=1&b=2'],
  ])('%s leaves the public route and is routed as the %s it fetches', (url, fetched) => {
    expect(routed(url)).toEqual({ route: 'default', fetched });
  });

  it('routes a path that dot-segments or slashes lead into a route by that route', () => {
    expect(routed('/other/%2e%2e/public/catalog')).toEqual({ route: 'public', fetched: '/public/catalog' });
    expect(routed('/x/../live/feed')).toEqual({ route: 'live', fetched: '/live/feed' });
    expect(routed('//live//feed')).toEqual({ route: 'live', fetched: '/live/feed' });
    expect(routed('/items//42')).toEqual({ route: 'item', fetched: '/items/42' });
    expect(routed('/items/%2e/42')).toEqual({ route: 'item', fetched: '/items/42' });
  });

  it('matches the route on the path only, not on the query', () => {
    expect(routed('/me?next=/public/x')).toEqual({ route: 'default', fetched: '/me?next=/public/x' });
  });

  it('keys a dot-segment escape from a public route by auth scope, like the path it fetches', () => {
    const keyOfRouted = (url: string, user: string) => {
      const { route, request } = routeRequest(table, url);
      const fields = { method: 'GET', headers: [['authorization', `Bearer ${user}`]] as HeaderList, partitions: 64 };
      return coalescingKeyFor(request, { ...fields, vary: route.vary, isPublic: route.public }).key;
    };
    expect(keyOfRouted('/public/%2e%2e/me', 'alice')).not.toBe(keyOfRouted('/public/%2e%2e/me', 'bob'));
    expect(keyOfRouted('/public/%2e%2e/me', 'alice')).toBe(keyOfRouted('/me', 'alice'));
  });
});

describe('coalescingKey', () => {
  it('gives the same key to equivalent requests and a stable partition', () => {
    const a = keyOf('/items?b=1&a=2');
    const b = keyOf('/items?a=2&b=1');
    expect(a.key).toBe(b.key);
    expect(a.partition).toBe(b.partition);
    expect(a.partition).toBeGreaterThanOrEqual(0);
    expect(a.partition).toBeLessThan(64);
  });

  it('separates methods, paths and queries', () => {
    const keys = new Set([keyOf('/a').key, keyOf('/a', [], { method: 'HEAD' }).key, keyOf('/b').key, keyOf('/a?x=1').key]);
    expect(keys.size).toBe(4);
  });

  it('puts the auth scope in the key unless the route is public', () => {
    const alice: HeaderList = [['authorization', 'Bearer alice']];
    const bob: HeaderList = [['authorization', 'Bearer bob']];
    expect(keyOf('/me', alice).key).not.toBe(keyOf('/me', bob).key);
    expect(keyOf('/me', alice, { isPublic: true }).key).toBe(keyOf('/me', bob, { isPublic: true }).key);
    expect(keyOf('/me', [['cookie', 's=1']]).key).not.toBe(keyOf('/me').key);
  });

  it('includes only the vary headers the route names', () => {
    const en: HeaderList = [
      ['accept-language', 'en'],
      ['user-agent', 'x'],
    ];
    const fr: HeaderList = [
      ['accept-language', 'fr'],
      ['user-agent', 'y'],
    ];
    expect(keyOf('/p', en).key).toBe(keyOf('/p', fr).key);
    expect(keyOf('/p', en, { vary: ['accept-language'] }).key).not.toBe(keyOf('/p', fr, { vary: ['accept-language'] }).key);
  });

  it('hashes credentials instead of carrying them', () => {
    const scope = authScope([['authorization', 'Bearer secret']]);
    expect(scope).not.toContain('secret');
    expect(authScope([])).toBe('anon');
  });
});

describe('classify', () => {
  it('coalesces only body-less GET and HEAD', () => {
    expect(classify('GET', [], true)).toEqual({ kind: 'coalesce' });
    expect(classify('HEAD', [['content-length', '0']], true)).toEqual({ kind: 'coalesce' });
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
      expect(classify(method, [], true)).toEqual({ kind: 'passthrough', reason: 'method' });
    }
    expect(classify('GET', [['content-length', '5']], true)).toEqual({ kind: 'passthrough', reason: 'body' });
    expect(classify('GET', [['transfer-encoding', 'chunked']], true)).toEqual({ kind: 'passthrough', reason: 'body' });
  });

  it('passes through Range, Upgrade, no-cache/no-store and non-coalescing routes', () => {
    expect(classify('GET', [['range', 'bytes=0-1']], true).kind).toBe('passthrough');
    expect(classify('GET', [['upgrade', 'websocket']], true).kind).toBe('passthrough');
    expect(classify('GET', [['cache-control', 'no-cache']], true).kind).toBe('passthrough');
    expect(classify('GET', [['cache-control', 'max-age=0, no-store']], true).kind).toBe('passthrough');
    expect(classify('GET', [['pragma', 'no-cache']], true).kind).toBe('passthrough');
    expect(classify('GET', [['cache-control', 'max-age=60']], true).kind).toBe('coalesce');
    expect(classify('GET', [], false)).toEqual({ kind: 'passthrough', reason: 'route' });
  });
});
