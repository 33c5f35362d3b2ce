import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, readConfig } from './env.js';
import { loadRoutes, matchRoute, parseRouteTable } from './routes.js';
import { envelopeSection, parseStrategySpec, strategySection, upstreamSection } from './sections.js';

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
    [{ routes: [{ name: 'x', match: 'api' }] }, /routes\[0\]: match must be a path prefix/],
    [{ routes: [{ name: 'x', match: '/', colesce: true }] }, /routes\[0\]: unknown field\(s\) colesce/],
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
  ])('rejects %j with a reason', (document, reason) => {
    expect(() => parseRouteTable(document, defaults)).toThrow(reason);
  });

  it('loads YAML from BATCHGATE_ROUTES_FILE and names the file in errors', () => {
    const dir = mkdtempSync(join(tmpdir(), 'routes-'));
    const good = join(dir, 'good.yaml');
    writeFileSync(good, 'routes:\n  - name: api\n    match: /api/\n    policy: "fixed_timer:window_ms=20"\n');
    expect(loadRoutes(good, defaults).routes.map((r) => r.name)).toEqual(['api', 'default']);
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'routes:\n  - name: api\n');
    expect(() => loadRoutes(bad, defaults)).toThrow(`BATCHGATE_ROUTES_FILE ${bad}: routes[0]: match must be`);
    expect(() => loadRoutes(join(dir, 'missing.yaml'), defaults)).toThrow(/cannot read/);
  });
});
