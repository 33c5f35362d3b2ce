import 'reflect-metadata';
import { runMain } from '#libs/service';
import { loadTelemetryConfig } from './config.js';
import { createTelemetryApp } from './telemetry.module.js';

await runMain('telemetry', () => loadTelemetryConfig(process.env), createTelemetryApp);
