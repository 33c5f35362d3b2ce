import 'reflect-metadata';
import { runMain } from '#libs/service';
import { loadWorkerConfig } from './config.js';
import { createWorkerApp } from './worker.module.js';

await runMain('worker', () => loadWorkerConfig(process.env), createWorkerApp);
