// What every batchgate service has in common, wired once: its logger, its
// metrics registry, the NATS bus, the event publisher, JetStream handles and
// the /healthz, /readyz and /metrics endpoints.
export { ServiceCoreModule, LOGGER, READINESS } from './service-core.module.js';
export type { Readiness, ServiceIdentity } from './service-core.module.js';
export { JetStreamProvider } from './jetstream.provider.js';
export { LiveConfig } from './live-config.js';
export type { LiveValue } from './live-config.js';
export { OpsController } from './ops.controller.js';
export { coordinatorReadiness, ingressReadiness, recorderReadiness } from './readiness.js';
export type { ReadinessState } from './readiness.js';
export { errorMessage } from './errors.js';
export { runMain } from './run-main.js';
export { createServiceApp } from './create-app.js';
export { authorizeAdmin } from './admin-auth.js';
