import 'reflect-metadata';
import { runMain } from '#libs/service';
import { startTracing } from '#libs/tracing';
import { loadIngressConfig } from './config.js';
import { createIngressApp } from './ingress.module.js';

await runMain(
  'ingress',
  () => loadIngressConfig(process.env),
  async (config) => {
    startTracing({ service: 'ingress', instanceId: config.instanceId, otlpEndpoint: config.otlpEndpoint });
    await createIngressApp(config);
  },
);
