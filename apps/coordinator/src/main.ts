import 'reflect-metadata';
import { runMain } from '#libs/service';
import { loadCoordinatorConfig } from './config.js';
import { createCoordinatorApp } from './coordinator.module.js';

await runMain('coordinator', () => loadCoordinatorConfig(process.env), createCoordinatorApp);
