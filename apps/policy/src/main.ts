import 'reflect-metadata';
import { startTracing } from '#libs/tracing';
import { loadPolicyConfig } from './config.js';
import { createPolicyApp } from './policy.module.js';

const config = loadPolicyConfig(process.env);
startTracing({ service: 'policy', instanceId: config.instanceId, otlpEndpoint: config.otlpEndpoint });
await createPolicyApp(config);
