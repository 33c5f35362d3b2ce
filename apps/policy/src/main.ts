import 'reflect-metadata';
import { runMain } from '#libs/service';
import { loadPolicyConfig } from './config.js';
import { createPolicyApp } from './policy.module.js';

await runMain('policy', () => loadPolicyConfig(process.env), createPolicyApp);
