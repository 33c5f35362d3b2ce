import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadCoordinatorConfig } from '../apps/coordinator/src/config.js';
import { loadIngressConfig } from '../apps/ingress/src/config.js';
import { loadPolicyConfig } from '../apps/policy/src/config.js';
import { loadTelemetryConfig } from '../apps/telemetry/src/config.js';
import { loadWorkerConfig } from '../apps/worker/src/config.js';

// The Docker engine is not available here, so the deployment files are checked
// against the code instead: targets, paths, settings and metric names must exist.
const root = new URL('..', import.meta.url).pathname;
const read = (path: string) => readFileSync(join(root, path), 'utf8');
const images = (JSON.parse(read('deploy/docker/images.json')) as { images: Record<string, { env: Record<string, string> }> }).images;
const targets = Object.keys(images);
const loaders: Record<string, (env: NodeJS.ProcessEnv) => unknown> = {
  ingress: loadIngressConfig,
  coordinator: loadCoordinatorConfig,
  policy: loadPolicyConfig,
  worker: loadWorkerConfig,
  telemetry: loadTelemetryConfig,
};

function sourceFiles(dir: string): string[] {
  return readdirSync(join(root, dir), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.spec.ts'))
    .map((e) => join(e.parentPath, e.name));
}

const code = [...sourceFiles('apps'), ...sourceFiles('libs')].map((file) => readFileSync(file, 'utf8')).join('\n');
const knownSettings = new Set(
  [...code.matchAll(/'(BATCHGATE_[A-Z_]+|NATS_URL|REDIS_URL|OTEL_EXPORTER_OTLP_ENDPOINT)'/g)].map((m) => m[1]!),
);
const knownMetrics = new Set([...code.matchAll(/name: '([a-z_]+)'/g)].map((m) => m[1]!));

/** Compose's ${VAR:-default} resolved to its default, ${VAR} and ${VAR:?message} (secrets) to a sample value. */
const interpolate = (value: string) => value.replace(/\$\{[A-Z_]+:-([^}]*)\}/g, '$1').replace(/\$\{[A-Z_]+(?::\?[^}]*)?\}/g, 'psample');

describe('deployment files', () => {
  const compose = parse(read('docker-compose.yml'), { merge: true }) as {
    services: Record<string, { build?: { dockerfile?: string }; environment?: Record<string, string> }>;
  };

  it('every compose build names an image Dockerfile in deploy/docker', () => {
    for (const [name, service] of Object.entries(compose.services)) {
      if (service.build) expect(existsSync(join(root, service.build.dockerfile!)), `compose service ${name}`).toBe(true);
      if (service.build) expect(targets).toContain(service.build.dockerfile!.replace(/^deploy\/docker\/(.+)\.Dockerfile$/, '$1'));
    }
    for (const service of Object.keys(loaders)) expect(targets).toContain(service);
  });

  it('each service starts cleanly with the compose environment, which names only real settings', () => {
    for (const [service, load] of Object.entries(loaders)) {
      const env = Object.fromEntries(
        Object.entries(compose.services[service]!.environment ?? {}).map(([k, v]) => [k, interpolate(String(v))]),
      );
      for (const name of Object.keys(env)) expect(knownSettings, `${service}: ${name}`).toContain(name);
      expect(() => load(env)).not.toThrow();
    }
  });

  it('the ingress healthcheck and scrape use the operator port, never the gateway port (Kubernetes: test/kubernetes.e2e.ts)', () => {
    const image = loadIngressConfig({ ...images['ingress']!.env, BATCHGATE_UPSTREAM: 'http://origin' });
    expect(image.httpPort).not.toBe(image.port);
    expect(read('deploy/docker/ingress.Dockerfile')).toContain(`"/app/healthcheck.sh", "${image.httpPort}"`);

    const prometheus = parse(read('deploy/prometheus/prometheus.yml')) as {
      scrape_configs: Array<{ job_name: string; dns_sd_configs?: Array<{ names: string[]; port: number }> }>;
    };
    const ingressScrape = prometheus.scrape_configs.flatMap((c) => c.dns_sd_configs ?? []).find((c) => c.names.includes('ingress'))!;
    expect(ingressScrape.port).toBe(image.httpPort);
  });

  it('the Grafana dashboard reads its Prometheus from a datasource variable', () => {
    const dashboard = JSON.parse(read('deploy/grafana/dashboards/batchgate.json')) as {
      panels: Array<{ datasource: { uid: string } }>;
      templating?: { list: Array<{ name: string; type: string; query: string }> };
    };
    expect(dashboard.templating?.list).toContainEqual(
      expect.objectContaining({ name: 'datasource', type: 'datasource', query: 'prometheus' }),
    );
    for (const panel of dashboard.panels) expect(panel.datasource.uid).toBe('${datasource}');
  });

  it('the Grafana dashboard only queries metrics the services define', () => {
    const dashboard = JSON.parse(read('deploy/grafana/dashboards/batchgate.json')) as {
      panels: Array<{ targets: Array<{ expr: string }> }>;
    };
    const used = dashboard.panels.flatMap((p) =>
      p.targets.flatMap((t) => [...t.expr.matchAll(/([a-z_]+)(?:_bucket|_sum|_count)?[{[]/g)].map((m) => m[1]!)),
    );
    for (const metric of new Set(used)) {
      const base = metric.replace(/_(bucket|sum|count)$/, '');
      if (['rate', 'sum', 'histogram_quantile', 'by'].includes(base)) continue;
      expect(knownMetrics, metric).toContain(base);
    }
  });
});
