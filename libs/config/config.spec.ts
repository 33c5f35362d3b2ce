import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, readConfig } from './env.js';
import { redactNatsUrl } from './nats-url.js';
import { loadRoutes, matchRoute, parsePolicyDocument, parseRouteTable, policyDocumentJson } from './routes.js';
import { commonSection, envelopeSection, parseStrategySpec, strategySection, upstreamSection } from './sections.js';

const defaults = { batchTimeoutMs: 50, maxBatchSize: 128 };

describe('environment settings', () => {
  it('uses the seed defaults when nothing is set', () => {
    expect(readConfig({}, envelopeSection)).toEqual({ batchTimeoutMs: 50, maxBatchSize: 128 });
  });

  it('names every bad setting in one error', () => {
    const attempt = () =>
      readConfig({ BATCHGATE_BATCH_TIMEOUT_MS: 'soon', BATCHGATE_MAX_BATCH_SIZE: '0', BATCHGATE_UPSTREAM: 'ftp://x' }, (r) => ({
        ...envelopeSection(r),
        ...upstreamSection(r),
      }));
    expect(attempt).toThrow(ConfigError);
    try {
      attempt();
    } catch (error) {
      const problems = (error as ConfigError).problems;
      expect(problems).toEqual([
        'BATCHGATE_BATCH_TIMEOUT_MS must be an integer between 1 and 60000 (got "soon")',
        'BATCHGATE_MAX_BATCH_SIZE must be an integer between 1 and 100000 (got "0")',
        'BATCHGATE_UPSTREAM must be a http or https URL (got "ftp://x")',
      ]);
    }
  });

  it('requires the upstream URL', () => {
    expect(() => readConfig({}, upstreamSection)).toThrow(/BATCHGATE_UPSTREAM is required/);
  });

  it('parses strategy specs and reports malformed ones', () => {
    expect(parseStrategySpec('fixed_timer:window_ms=20')).toEqual({ name: 'fixed_timer', params: { window_ms: 20 } });
    expect(parseStrategySpec('exponential')).toEqual({ name: 'exponential', params: {} });
    expect(() => readConfig({ X: 'fixed_timer:window_ms=soon' }, (r) => strategySection(r, 'X', 'cost_aware'))).toThrow(
      /X must be a strategy like "fixed_timer:window_ms=20" \(parameter "window_ms=soon" is not key=number\)/,
    );
  });
});

describe('NATS and trace collector settings', () => {
  const common = (env: Record<string, string>) => readConfig(env, (r) => commonSection(r, 'test'));
  const problemsOf = (env: Record<string, string>) => {
    try {
      common(env);
    } catch (error) {
      if (error instanceof ConfigError) return error.problems;
      throw error;
    }
    return [];
  };

  it('defaults to the local NATS server and no trace export', () => {
    expect(common({})).toMatchObject({ natsUrl: 'nats://127.0.0.1:4222', otlpEndpoint: undefined, otlpTracesEndpoint: undefined });
  });

  it.each([
    'nats://127.0.0.1:4222',
    'nats://nats:4222',
    'nats://nats.nats.svc:4222',
    'tls://nats.example.com:4443',
    'NATS://nats:4222',
    'nats://[::1]:4222',
    '127.0.0.1:4222',
    'nats',
    'nats://a:4222,nats://b:4222',
    'nats://a:4222, tls://b:4443 ,c:4222',
    'nats://alice:secret@nats:4222',
    'tls://s3cr3t@nats.example.com:4443',
    'nats://alice:p%40ss@a:4222,nats://alice:p%40ss@b:4222',
    'nats://alice:secret@a:4222,nats://b:4222',
  ])('accepts NATS_URL=%s as nats.js would dial it', (value) => {
    expect(common({ NATS_URL: value }).natsUrl).toBe(value);
  });

  it.each([
    ['http://nats:8222', '"http://nats:8222": http:// is not a NATS scheme'],
    ['ws://nats:8080', '"ws://nats:8080": the Node client has no WebSocket transport'],
    ['wss://nats:443', '"wss://nats:443": the Node client has no WebSocket transport'],
    ['nats:/nats:4222', '"nats:/nats:4222" is not host:port'],
    ['nats//nats:4222', '"nats//nats:4222" is not host:port'],
    ['nats://nats:99999', '"nats://nats:99999" is not a URL or host:port'],
    ['nats://:4222', '"nats://:4222" is not a URL or host:port'],
    ['nats://', '"nats://" names no host'],
    ['nats://a:4222,,nats://b:4222', 'an entry is empty'],
    ['nats://a:4222,nats://b:4222,', 'an entry is empty'],
    ['nats://a:4222;nats://b:4222', '"nats://a:4222;nats://b:4222" is not a URL or host:port'],
  ])('refuses NATS_URL=%s, naming the bad entry', (value, reason) => {
    expect(problemsOf({ NATS_URL: value })).toEqual([
      `NATS_URL must be one or more comma-separated nats:// or tls:// URLs or host:port (${reason}) (got "${value}")`,
    ]);
  });

  it.each([
    [
      'nats://alice:one@a:4222,nats://bob:two@b:4222',
      '"nats://alice:***@a:4222" and "nats://bob:***@b:4222" carry different credentials, but one connection has one identity',
    ],
    ['nats://:secret@a:4222', '"nats://:***@a:4222" has a password but no user name'],
  ])('refuses NATS_URL=%s as credentials nats.js cannot use, without showing the secrets', (value, reason) => {
    expect(problemsOf({ NATS_URL: value })).toEqual([
      `NATS_URL must be URLs with one valid user:pass@ or token@ for all servers (${reason}) (got "${redactNatsUrl(value)}")`,
    ]);
  });

  it('redacts credentials when it names a bad NATS_URL entry', () => {
    expect(problemsOf({ NATS_URL: 'nats://alice:secret@a:4222,http://tok@b:8222' })).toEqual([
      'NATS_URL must be one or more comma-separated nats:// or tls:// URLs or host:port ("http://***@b:8222": http:// is not a NATS scheme) (got "nats://alice:***@a:4222,http://***@b:8222")',
    ]);
  });

  it('accepts an http(s) OTLP endpoint and drops its trailing slash', () => {
    expect(common({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://jaeger:4318' }).otlpEndpoint).toBe('http://jaeger:4318');
    expect(common({ OTEL_EXPORTER_OTLP_ENDPOINT: 'https://otel.example.com/' }).otlpEndpoint).toBe('https://otel.example.com');
    expect(common({ OTEL_EXPORTER_OTLP_ENDPOINT: '  ' }).otlpEndpoint).toBeUndefined();
  });

  it.each(['jaeger:4318', 'grpc://jaeger:4317', 'http//jaeger:4318', 'jaeger'])('refuses OTEL_EXPORTER_OTLP_ENDPOINT=%s', (value) => {
    expect(problemsOf({ OTEL_EXPORTER_OTLP_ENDPOINT: value })).toEqual([
      `OTEL_EXPORTER_OTLP_ENDPOINT must be a http or https URL (got "${value}")`,
    ]);
  });

  it('keeps an http(s) OTEL_EXPORTER_OTLP_TRACES_ENDPOINT exactly as written and checks it like the base endpoint', () => {
    expect(common({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://jaeger:4318/v1/traces/' }).otlpTracesEndpoint).toBe(
      'http://jaeger:4318/v1/traces/',
    );
    expect(problemsOf({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'jaeger:4318' })).toEqual([
      'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT must be a http or https URL (got "jaeger:4318")',
    ]);
  });

  it('reports a bad NATS_URL and a bad OTLP endpoint together', () => {
    expect(problemsOf({ NATS_URL: 'ws://nats:8080', OTEL_EXPORTER_OTLP_ENDPOINT: 'jaeger:4318' })).toHaveLength(2);
  });
});

describe('routes', () => {
  it('matches prefixes and patterns in file order, with "/" as the default', () => {
    const table = parseRouteTable(
      {
        routes: [
          { name: 'items', match: '^/items/[0-9]+$', vary: ['Accept-Language'] },
          { name: 'api', match: '/api/', public: true, envelope: { batchTimeoutMs: 20 } },
        ],
      },
      defaults,
    );
    expect(matchRoute(table, '/items/42').name).toBe('items');
    expect(matchRoute(table, '/items/x').name).toBe('default');
    expect(matchRoute(table, '/api/v1').envelope).toEqual({ batchTimeoutMs: 20, maxBatchSize: 128 });
    expect(matchRoute(table, '/items/42').vary).toEqual(['accept-language']);
  });

  it.each([
    [{ routes: [{ name: 'x', match: 'api' }] }, /routes\[0\] "x": match must be a path prefix/],
    [{ routes: [{ name: 'x', match: '/', colesce: true }] }, /routes\[0\] "x": unknown field\(s\) colesce/],
    [{ routes: [{ name: 'x', match: '/', envelope: { maxBatchSize: -1 } }] }, /maxBatchSize must be an integer/],
    [{ routes: [{ name: 'x', match: '^(' }] }, /not a valid regular expression/],
    [
      {
        routes: [
          { name: 'x', match: '/a' },
          { name: 'x', match: '/b' },
        ],
      },
      /duplicate route name "x"/,
    ],
    [{ routes: [{ name: 'x', match: '/', policy: 'fixed_timer:window_ms' }] }, /policy parameter "window_ms" is not key=number/],
    [{ rutes: [] }, /"routes" must be a list/],
    [{ routes: [{ name: 'x', match: '/', setCookie: 'shared' }] }, /routes\[0\] "x": setCookie must be one of own-call, strip, share/],
    [{ routes: [{ name: 'x', match: '/', inflight: 'share' }] }, /routes\[0\] "x": inflight must be one of new-slot, join/],
  ])('rejects %j with a reason', (document, reason) => {
    expect(() => parseRouteTable(document, defaults)).toThrow(reason);
  });

  it('setCookie defaults to own-call and survives the policy document round trip', () => {
    const table = parseRouteTable(
      {
        routes: [
          { name: 'home', match: '/home', setCookie: 'strip' },
          { name: 'other', match: '/o' },
        ],
      },
      defaults,
    );
    expect(table.routes.map((route) => route.setCookie)).toEqual(['strip', 'own-call', 'own-call']);
    const again = parsePolicyDocument(policyDocumentJson(table, undefined), defaults);
    expect(again.routes.routes.map((route) => route.setCookie)).toEqual(['strip', 'own-call', 'own-call']);
  });

  it('inflight defaults to new-slot and survives the policy document round trip', () => {
    const table = parseRouteTable(
      {
        routes: [
          { name: 'hot', match: '/hot', inflight: 'join' },
          { name: 'other', match: '/o' },
        ],
      },
      defaults,
    );
    expect(table.routes.map((route) => route.inflight)).toEqual(['join', 'new-slot', 'new-slot']);
    const again = parsePolicyDocument(policyDocumentJson(table, undefined), defaults);
    expect(again.routes.routes.map((route) => route.inflight)).toEqual(['join', 'new-slot', 'new-slot']);
  });

  it('loads YAML from BATCHGATE_ROUTES_FILE and names the file in errors', () => {
    const dir = mkdtempSync(join(tmpdir(), 'routes-'));
    const good = join(dir, 'good.yaml');
    writeFileSync(good, 'routes:\n  - name: api\n    match: /api/\n    policy: "fixed_timer:window_ms=20"\n');
    expect(loadRoutes(good, defaults).routes.map((r) => r.name)).toEqual(['api', 'default']);
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'routes:\n  - name: api\n');
    expect(() => loadRoutes(bad, defaults)).toThrow(`BATCHGATE_ROUTES_FILE ${bad}: routes[0] "api": match must be`);
    expect(() => loadRoutes(join(dir, 'missing.yaml'), defaults)).toThrow(/cannot read/);
  });

  it.each([
    ['^/(a+)+$', /routes\[0\] "evil": match is a regular expression that can backtrack catastrophically/],
    ['^/((ab)*)*x$', /routes\[0\] "evil": match is a regular expression that can backtrack catastrophically/],
    [`^/${'a'.repeat(300)}$`, /routes\[0\] "evil": match is longer than 256 characters/],
  ])('refuses the route pattern %s by name', (match, reason) => {
    expect(() => parseRouteTable({ routes: [{ name: 'evil', match }] }, defaults)).toThrow(reason);
  });

  it('keeps linear route patterns', () => {
    const table = parseRouteTable({ routes: [{ name: 'items', match: '^/api/v[0-9]+/items/[^/]+$' }] }, defaults);
    expect(matchRoute(table, '/api/v2/items/abc').name).toBe('items');
  });

  it('bounds the number of routes', () => {
    const routes = Array.from({ length: 257 }, (_, i) => ({ name: `r${i}`, match: `/r${i}/` }));
    expect(() => parseRouteTable({ routes }, defaults)).toThrow(/at most 256 routes are allowed \(got 257\)/);
    expect(parseRouteTable({ routes: routes.slice(0, 256) }, defaults).routes).toHaveLength(257);
  });

  it('names a catastrophic pattern in BATCHGATE_ROUTES_FILE errors', () => {
    const dir = mkdtempSync(join(tmpdir(), 'routes-'));
    const file = join(dir, 'evil.yaml');
    writeFileSync(file, 'routes:\n  - name: evil\n    match: "^/(a+)+$"\n');
    expect(() => loadRoutes(file, defaults)).toThrow(`BATCHGATE_ROUTES_FILE ${file}: routes[0] "evil": match is a regular expression`);
  });
});
