import 'reflect-metadata';
import { startTracing } from '#libs/tracing';
import { loadIngressConfig } from './config.js';
import { createIngressApp } from './ingress.module.js';

const config = loadIngressConfig(process.env);
startTracing({ service: 'ingress', instanceId: config.instanceId, otlpEndpoint: config.otlpEndpoint });
await createIngressApp(config);
