// The simulated OpenAI-compatible inference backend (npm start runs it when
// BATCHGATE_INFERENCE_UPSTREAM is not set): /v1/embeddings, /v1/completions,
// /v1/chat/completions with the Go repo's mock service time, GET /stats.
import { ConfigError } from '#libs/config';
import { flagsAsEnv, loadBackendConfig } from './config.js';
import { SimulatedBackend } from './server.js';

let config;
try {
  config = loadBackendConfig({ ...process.env, ...flagsAsEnv(process.argv.slice(2)) });
} catch (error) {
  process.stderr.write(`batchgate inference-backend: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(error instanceof ConfigError ? 78 : 2);
}
const backend = new SimulatedBackend(config);
const url = await backend.listen();
const m = config.model;
process.stdout.write(
  `inference backend ${url} (base ${m.baseMs} ms + ${m.perTokenMs}/token + ${m.perMaxTokenMs}/max token + ${m.perItemMs}/item, variance ${m.variance}, failure rate ${m.failureRate}, concurrency ${config.concurrency}, seed ${config.seed})\n`,
);
const stop = () => void backend.close().then(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
