import 'reflect-metadata';
import { runMain } from '#libs/service';
import { startTracing } from '#libs/tracing';
import { loadTelemetryConfig } from './config.js';
import { createTelemetryApp } from './telemetry.module.js';

await runMain(
  'telemetry',
  () => loadTelemetryConfig(process.env),
  async (config) => {
    startTracing({ service: 'telemetry', instanceId: config.instanceId, otlpEndpoint: config.otlpEndpoint });
    await createTelemetryApp(config);
  },
);
