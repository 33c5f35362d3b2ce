import 'reflect-metadata';
import { runMain } from '#libs/service';
import { startTracing } from '#libs/tracing';
import { loadCoordinatorConfig } from './config.js';
import { createCoordinatorApp } from './coordinator.module.js';

await runMain(
  'coordinator',
  () => loadCoordinatorConfig(process.env),
  async (config) => {
    startTracing({ service: 'coordinator', instanceId: config.instanceId, otlpEndpoint: config.otlpEndpoint });
    await createCoordinatorApp(config);
  },
);
