import 'reflect-metadata';
import { runMain } from '#libs/service';
import { startTracing } from '#libs/tracing';
import { loadPolicyConfig } from './config.js';
import { createPolicyApp } from './policy.module.js';

await runMain(
  'policy',
  () => loadPolicyConfig(process.env),
  async (config) => {
    startTracing({ service: 'policy', instanceId: config.instanceId, otlpEndpoint: config.otlpEndpoint });
    await createPolicyApp(config);
  },
);
