import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { loadCoordinatorConfig } from '../apps/coordinator/src/config.js';
import { loadIngressConfig } from '../apps/ingress/src/config.js';
import { loadPolicyConfig } from '../apps/policy/src/config.js';
import { loadTelemetryConfig } from '../apps/telemetry/src/config.js';
import { loadWorkerConfig } from '../apps/worker/src/config.js';
import { goTool } from '../scripts/go-tools.mjs';
import { kubernetesSchemas } from '../scripts/k8s-schemas.mjs';

// deploy/kubernetes: each overlay built with kustomize and validated by kubeconform against the
// Kubernetes JSON schemas (both tools and the schemas from the Go module proxy, cached in .tools),
// then checked for what a platform team asks of it.
const root = new URL('..', import.meta.url).pathname;
const SERVICES = ['ingress', 'coordinator', 'policy', 'worker', 'telemetry'];
const loaders: Record<string, (env: NodeJS.ProcessEnv) => { httpPort?: number; metricsPort?: number }> = {
  ingress: loadIngressConfig,
  coordinator: loadCoordinatorConfig,
  policy: loadPolicyConfig,
  worker: loadWorkerConfig,
  telemetry: loadTelemetryConfig,
};

interface Resources {
  requests?: Record<string, string | number>;
  limits?: Record<string, string | number>;
}
interface Container {
  name: string;
  ports?: Array<{ containerPort: number; name: string }>;
  env?: Array<{ name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }>;
  startupProbe?: { httpGet?: { port: string } };
  readinessProbe?: { httpGet?: { port: string } };
  livenessProbe?: { httpGet?: { port: string } };
  lifecycle?: { preStop?: { sleep?: { seconds: number } } };
  resources: Resources;
  securityContext: { allowPrivilegeEscalation: boolean; readOnlyRootFilesystem: boolean; capabilities: { drop: string[] } };
}
interface Doc {
  kind: string;
  metadata: { name: string };
  data?: Record<string, string>;
  spec?: {
    replicas?: number;
    scaleTargetRef?: { name: string };
    selector?: { matchLabels?: Record<string, string> };
    template?: {
      spec: {
        terminationGracePeriodSeconds?: number;
        securityContext: { runAsNonRoot: boolean; seccompProfile: { type: string } };
        topologySpreadConstraints?: unknown[];
        containers: Container[];
      };
    };
  };
}

function build(overlay: string): { docs: Doc[]; yaml: string } {
  const kustomize = goTool('kustomize');
  const out = spawnSync(
    kustomize,
    ['build', '--load-restrictor', 'LoadRestrictionsNone', join(root, 'deploy/kubernetes/overlays', overlay)],
    {
      encoding: 'utf8',
    },
  );
  expect(out.status, out.stderr).toBe(0);
  return { yaml: out.stdout, docs: parseAllDocuments(out.stdout).map((d) => d.toJS() as Doc) };
}

describe.each(['dev', 'prod'])('deploy/kubernetes/overlays/%s', (overlay) => {
  let docs: Doc[];
  let yaml: string;
  beforeAll(() => ({ docs, yaml } = build(overlay)), 300_000);
  const byKind = (kind: string) => docs.filter((d) => d.kind === kind);
  const workload = (name: string) => docs.find((d) => ['Deployment', 'StatefulSet'].includes(d.kind) && d.metadata.name === name)!;

  it('validates with kubeconform (strict) against the Kubernetes 1.34 schemas', () => {
    const schemas = kubernetesSchemas();
    const kubeconform = goTool('kubeconform');
    // ServiceMonitor is a CRD (Prometheus Operator): no schema in Kubernetes' own spec.
    const args = [
      '-strict',
      '-summary',
      '-skip',
      'ServiceMonitor',
      '-schema-location',
      `${schemas}/{{ .ResourceKind }}{{ .KindSuffix }}.json`,
      '-',
    ];
    const run = spawnSync(kubeconform, args, { input: yaml, encoding: 'utf8' });
    expect(run.status, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toMatch(/Invalid: 0, Errors: 0/);
  }, 300_000);

  it('every workload: non-root, read-only root, no capabilities, RuntimeDefault seccomp, limits, a PDB, probes on its operator port', () => {
    const workloads = [...byKind('Deployment'), ...byKind('StatefulSet')];
    expect(workloads.map((w) => w.metadata.name).sort()).toEqual([...SERVICES, 'nats', 'redis'].sort());
    const pdbs = byKind('PodDisruptionBudget').map((p) => p.spec!.selector!.matchLabels!['app.kubernetes.io/name']);
    const configMap = docs.find((d) => d.kind === 'ConfigMap' && d.metadata.name === 'batchgate')!.data!;
    for (const w of workloads) {
      const pod = w.spec!.template!.spec;
      expect(pod.securityContext.runAsNonRoot, w.metadata.name).toBe(true);
      expect(pod.securityContext.seccompProfile.type).toBe('RuntimeDefault');
      expect(pdbs, w.metadata.name).toContain(w.metadata.name);
      for (const c of pod.containers) {
        expect(c.securityContext, w.metadata.name).toMatchObject({
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          capabilities: { drop: ['ALL'] },
        });
        expect(c.resources.limits?.['cpu'], w.metadata.name).toBeDefined();
        expect(c.resources.limits?.['memory'], w.metadata.name).toBeDefined();
      }
      if (!SERVICES.includes(w.metadata.name)) continue;
      const c = pod.containers[0]!;
      const config = loaders[w.metadata.name]!({ ...configMap, NATS_URL: 'nats://u:p@nats:4222', REDIS_URL: 'redis://u:p@redis:6379' });
      const ops = c.ports!.find((p) => p.name === 'ops')!.containerPort;
      expect(ops, w.metadata.name).toBe(config.metricsPort ?? config.httpPort);
      for (const probe of [c.startupProbe, c.readinessProbe, c.livenessProbe]) expect(probe?.httpGet?.port, w.metadata.name).toBe('ops');
      expect(pod.topologySpreadConstraints?.length, w.metadata.name).toBeGreaterThan(0);
      // The drain outlasts the longest request: preStop sleep + request timeout < grace period.
      const drainS = (c.lifecycle?.preStop?.sleep?.seconds ?? 0) + Number(configMap['BATCHGATE_REQUEST_TIMEOUT_MS']) / 1000;
      expect(pod.terminationGracePeriodSeconds, w.metadata.name).toBeGreaterThan(drainS);
    }
    if (overlay === 'prod') expect(byKind('Secret')).toEqual([]);
  });

  it('ingress and worker scale by HPA with no fixed replicas; credentials and the admin token come from the Secret', () => {
    expect(
      byKind('HorizontalPodAutoscaler')
        .map((h) => h.spec!.scaleTargetRef!.name)
        .sort(),
    ).toEqual(['ingress', 'worker']);
    for (const name of ['ingress', 'worker']) expect(workload(name).spec!.replicas, name).toBeUndefined();
    const ingressEnv = workload('ingress').spec!.template!.spec.containers[0]!.env!;
    expect(ingressEnv.find((e) => e.name === 'BATCHGATE_ADMIN_TOKEN')!.valueFrom!.secretKeyRef!.name).toMatch(/^batchgate-credentials/);
    for (const name of SERVICES) {
      const env = workload(name).spec!.template!.spec.containers[0]!.env!;
      expect(env.find((e) => e.name === 'NATS_URL')!.value, name).toBe(`nats://${name}:$(NATS_PASSWORD)@nats:4222`);
      expect(env.find((e) => e.name === 'NATS_PASSWORD')!.valueFrom!.secretKeyRef!.key, name).toBe(`nats-${name}-password`);
    }
    const configMaps = byKind('ConfigMap');
    expect(JSON.stringify(configMaps.find((c) => c.metadata.name === 'batchgate'))).not.toMatch(/password|token/i);
    const natsConf = configMaps.find((c) => c.metadata.name.startsWith('nats-config'))!.data!['nats.conf'];
    expect(natsConf).toBe(readFileSync(join(root, 'deploy/nats/nats.conf'), 'utf8'));
    expect(byKind('NetworkPolicy').some((p) => p.metadata.name === 'default-deny')).toBe(true);
  });

  if (overlay === 'prod')
    it('nats, policy and coordinator get Guaranteed QoS with whole CPUs', () => {
      for (const name of ['nats', 'policy', 'coordinator']) {
        const { requests, limits } = workload(name).spec!.template!.spec.containers[0]!.resources;
        expect(requests, name).toEqual(limits);
        expect(Number.isInteger(Number(limits!['cpu'])), name).toBe(true);
      }
      expect(byKind('ServiceMonitor').length).toBeGreaterThan(0);
    });
});
