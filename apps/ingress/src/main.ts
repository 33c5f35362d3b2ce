import 'reflect-metadata';
import { runMain } from '#libs/service';
import { loadIngressConfig } from './config.js';
import { createIngressApp } from './ingress.module.js';

await runMain('ingress', () => loadIngressConfig(process.env), createIngressApp);
