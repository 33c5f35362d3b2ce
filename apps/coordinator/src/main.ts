import 'reflect-metadata';
import { startTracing } from '#libs/tracing';
import { loadCoordinatorConfig } from './config.js';
import { createCoordinatorApp } from './coordinator.module.js';

const config = loadCoordinatorConfig(process.env);
startTracing({ service: 'coordinator', instanceId: config.instanceId, otlpEndpoint: config.otlpEndpoint });
await createCoordinatorApp(config);
