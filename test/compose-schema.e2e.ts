import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { goModuleDir, PINS } from '../scripts/go-tools.mjs';

// docker-compose.yml against the Compose Specification's JSON schema, as compose-go (the library
// `docker compose` parses files with) embeds it, fetched from the Go module proxy at a pinned version.
const root = new URL('..', import.meta.url).pathname;

describe('docker-compose.yml', () => {
  const compose = parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
    services: Record<string, Record<string, unknown>>;
  };

  it('validates against the compose-spec JSON schema', () => {
    const [module, version] = PINS.composeGo;
    const schema = JSON.parse(readFileSync(join(goModuleDir(module, version), 'schema/compose-spec.json'), 'utf8')) as object;
    const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
    const validate = ajv.compile(schema);
    const valid = validate(compose);
    expect(validate.errors ?? [], JSON.stringify(validate.errors, null, 2)).toEqual([]);
    expect(valid).toBe(true);
  }, 120_000);

  it('has a healthcheck for every service, waits on healthy dependencies, and publishes only on 127.0.0.1 (never NATS or Redis)', () => {
    for (const [name, service] of Object.entries(compose.services)) {
      const healthcheck = service['healthcheck'] ?? (service['build'] ? 'image HEALTHCHECK' : undefined);
      expect(healthcheck, name).toBeDefined();
      for (const [dep, condition] of Object.entries((service['depends_on'] ?? {}) as Record<string, { condition: string }>))
        expect(condition.condition, `${name} -> ${dep}`).toBe('service_healthy');
      for (const port of (service['ports'] ?? []) as string[]) expect(port, name).toMatch(/^127\.0\.0\.1:/);
    }
    expect(compose.services['nats']!['ports']).toBeUndefined();
    expect(compose.services['redis']!['ports']).toBeUndefined();
    expect(String(compose.services['nats']!['command'])).toContain('/etc/nats/nats.conf');
    expect(compose.services['jaeger']!['image']).toMatch(/^jaegertracing\/jaeger:2\./);
  });
});
