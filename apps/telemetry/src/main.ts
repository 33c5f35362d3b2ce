import 'reflect-metadata';
import { startTracing } from '#libs/tracing';
import { loadTelemetryConfig } from './config.js';
import { createTelemetryApp } from './telemetry.module.js';

const config = loadTelemetryConfig(process.env);
startTracing({ service: 'telemetry', instanceId: config.instanceId, otlpEndpoint: config.otlpEndpoint });
await createTelemetryApp(config);
