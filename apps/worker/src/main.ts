import 'reflect-metadata';
import { startTracing } from '#libs/tracing';
import { loadWorkerConfig } from './config.js';
import { createWorkerApp } from './worker.module.js';

const config = loadWorkerConfig(process.env);
startTracing({ service: 'worker', instanceId: config.instanceId, otlpEndpoint: config.otlpEndpoint });
await createWorkerApp(config);
