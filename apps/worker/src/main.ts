import 'reflect-metadata';
import { runMain } from '#libs/service';
import { startTracing } from '#libs/tracing';
import { loadWorkerConfig } from './config.js';
import { createWorkerApp } from './worker.module.js';

await runMain(
  'worker',
  () => loadWorkerConfig(process.env),
  async (config) => {
    startTracing({ service: 'worker', instanceId: config.instanceId, otlpEndpoint: config.otlpEndpoint });
    await createWorkerApp(config);
  },
);
