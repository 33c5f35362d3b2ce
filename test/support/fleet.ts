import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { AddressInfo } from 'node:net';
import type { InfraProcess } from '#infra';
import { startNats, startRedis } from '#infra';
import type { CoordinatorConfig } from '../../apps/coordinator/src/config.js';
import { loadCoordinatorConfig } from '../../apps/coordinator/src/config.js';
import { CoordinatorService } from '../../apps/coordinator/src/coordinator.service.js';
import { createCoordinatorApp } from '../../apps/coordinator/src/coordinator.module.js';
import type { IngressConfig } from '../../apps/ingress/src/config.js';
import { loadIngressConfig } from '../../apps/ingress/src/config.js';
import { createIngressApp } from '../../apps/ingress/src/ingress.module.js';
import { IngressService } from '../../apps/ingress/src/ingress.service.js';
import { loadPolicyConfig } from '../../apps/policy/src/config.js';
import { createPolicyApp } from '../../apps/policy/src/policy.module.js';
import { loadTelemetryConfig } from '../../apps/telemetry/src/config.js';
import { createTelemetryApp } from '../../apps/telemetry/src/telemetry.module.js';
import { loadWorkerConfig } from '../../apps/worker/src/config.js';
import { createWorkerApp } from '../../apps/worker/src/worker.module.js';
import { CountingOrigin } from './origin.js';

export type Env = Record<string, string>;

export type ServiceName = 'ingress' | 'coordinator' | 'policy' | 'worker' | 'telemetry';

/**
 * Neither the policy nor the embedded fallback flushes on its own: the envelope
 * flushes at the batch timeout, so a burst after warm-up is one slot and one
 * origin call. Joins get room, so counts test coalescing, not a busy machine.
 */
export const PATIENT_POLICY: Env = {
  BATCHGATE_POLICY_STRATEGY: 'size_cap:size=100000',
  BATCHGATE_FALLBACK_STRATEGY: 'size_cap:size=100000',
  BATCHGATE_JOIN_TIMEOUT_MS: '250',
};

export interface FleetOptions {
  ingresses?: number;
  coordinators?: number;
  workers?: number;
  /** Policy replicas in this process (default 1; 0 when the test runs the policy itself, e.g. as a child process). */
  policies?: number;
  telemetry?: boolean;
  /** Env shared by every service (BATCHGATE_BATCH_TIMEOUT_MS, BATCHGATE_POLICY_STRATEGY ...). */
  env?: Env;
  originDelayMs?: number;
  /** Extra nats-server flags (e.g. ['-c', 'deploy/nats/nats.conf']). */
  natsArgs?: string[];
  /** Env of one kind of service on top of `env` (e.g. its own NATS_URL user). */
  serviceEnv?: (service: ServiceName, nats: InfraProcess) => Env;
}

function portOf(app: NestFastifyApplication): number {
  return (app.getHttpServer().address() as AddressInfo).port;
}

/**
 * A whole fleet in this process, every service a separate Nest app with its
 * own NATS and Redis connections, against real nats-server and redis-server
 * processes on free ports and a real counting origin.
 */
export class TestFleet {
  readonly ingresses: NestFastifyApplication[] = [];
  readonly coordinators: NestFastifyApplication[] = [];
  readonly workers: NestFastifyApplication[] = [];
  readonly policies: NestFastifyApplication[] = [];
  telemetry: NestFastifyApplication | undefined;

  private constructor(
    readonly nats: InfraProcess,
    readonly redis: InfraProcess,
    readonly origin: CountingOrigin,
    readonly env: Env,
    private readonly serviceEnv: (service: ServiceName) => Env = () => ({}),
  ) {}

  static async start(options: FleetOptions = {}): Promise<TestFleet> {
    const [nats, redis, origin] = await Promise.all([
      startNats({ args: options.natsArgs ?? [] }),
      startRedis(),
      CountingOrigin.start(options.originDelayMs ?? 0),
    ]);
    const env: Env = {
      NATS_URL: nats.url,
      REDIS_URL: redis.url,
      BATCHGATE_UPSTREAM: origin.url,
      BATCHGATE_LOG_LEVEL: 'silent',
      BATCHGATE_PORT: '0',
      BATCHGATE_METRICS_PORT: '0',
      BATCHGATE_HTTP_PORT: '0',
      ...options.env,
    };
    const perService = options.serviceEnv;
    const fleet = new TestFleet(nats, redis, origin, env, perService ? (service) => perService(service, nats) : undefined);
    for (let i = 0; i < (options.coordinators ?? 1); i++) await fleet.addCoordinator();
    for (let i = 0; i < (options.policies ?? 1); i++) await fleet.startPolicy();
    for (let i = 0; i < (options.workers ?? 1); i++)
      fleet.workers.push(await createWorkerApp(loadWorkerConfig({ ...fleet.envOf('worker'), BATCHGATE_INSTANCE_ID: `worker-${i}` })));
    if (options.telemetry ?? false)
      fleet.telemetry = await createTelemetryApp(
        loadTelemetryConfig({ ...fleet.envOf('telemetry'), BATCHGATE_INSTANCE_ID: 'telemetry-0' }),
      );
    for (let i = 0; i < (options.ingresses ?? 1); i++) await fleet.addIngress();
    await fleet.waitForPartitions();
    return fleet;
  }

  /** The env one kind of service starts with: the fleet's, plus its own (serviceEnv). */
  envOf(service: ServiceName): Env {
    return { ...this.env, ...this.serviceEnv(service) };
  }

  ingressConfig(extra: Env = {}): IngressConfig {
    return loadIngressConfig({ ...this.envOf('ingress'), BATCHGATE_INSTANCE_ID: `ingress-${this.ingresses.length}`, ...extra });
  }

  async addIngress(extra: Env = {}): Promise<NestFastifyApplication> {
    const app = await createIngressApp(this.ingressConfig(extra));
    this.ingresses.push(app);
    return app;
  }

  async addCoordinator(extra: Env = {}): Promise<NestFastifyApplication> {
    const config: CoordinatorConfig = loadCoordinatorConfig({
      ...this.envOf('coordinator'),
      BATCHGATE_INSTANCE_ID: `coordinator-${this.coordinators.length}`,
      ...extra,
    });
    const app = await createCoordinatorApp(config);
    this.coordinators.push(app);
    return app;
  }

  async startPolicy(extra: Env = {}): Promise<NestFastifyApplication> {
    const app = await createPolicyApp(
      loadPolicyConfig({ ...this.envOf('policy'), BATCHGATE_INSTANCE_ID: `policy-${this.policies.length}`, ...extra }),
    );
    this.policies.push(app);
    return app;
  }

  /** Stops every policy replica (as an outage would). */
  async stopPolicy(): Promise<void> {
    await Promise.all(this.policies.splice(0).map((app) => app.close()));
  }

  policyUrl(index = 0): string {
    return `http://127.0.0.1:${portOf(this.policies[index]!)}`;
  }

  coordinatorUrl(index = 0): string {
    return `http://127.0.0.1:${portOf(this.coordinators[index]!)}`;
  }

  /** The gateway port of an ingress: client traffic only, every path goes to the origin. */
  ingressUrl(index = 0): string {
    return `http://127.0.0.1:${this.ingresses[index]!.get(IngressService).gatewayPort}`;
  }

  /** The operator port of an ingress: /healthz, /readyz, /metrics and /admin. */
  ingressOpsUrl(index = 0): string {
    return `http://127.0.0.1:${portOf(this.ingresses[index]!)}`;
  }

  telemetryUrl(): string {
    return `http://127.0.0.1:${portOf(this.telemetry!)}`;
  }

  coordinator(index: number): CoordinatorService {
    return this.coordinators[index]!.get(CoordinatorService);
  }

  /** Waits until every partition has an owner and live coordinators share them fairly. */
  async waitForPartitions(timeoutMs = 10_000): Promise<void> {
    const live = this.coordinators.map((_, i) => this.coordinator(i));
    const partitions = Number(this.env.BATCHGATE_PARTITIONS ?? 64);
    const fair = Math.ceil(partitions / Math.max(1, live.length));
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      const counts = live.map((c) => c.leases.owned.size);
      const total = counts.reduce((a, b) => a + b, 0);
      if (total === partitions && counts.every((count) => count <= fair)) return;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    throw new Error('coordinators did not settle partition ownership');
  }

  async stop(): Promise<void> {
    const apps = [...this.ingresses, ...this.workers, ...this.coordinators, ...this.policies, this.telemetry].filter(
      (app): app is NestFastifyApplication => app !== undefined,
    );
    await Promise.allSettled(apps.map((app) => app.close()));
    await Promise.allSettled([this.origin.close(), this.nats.dispose(), this.redis.dispose()]);
  }
}
