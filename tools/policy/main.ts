// npm run policy:publish -- <model.onnx> --version <v>
// Publishes an exported policy model to a running fleet (NATS_URL): object
// store + KV pointer. Policy replicas pick it up, shadow it, then promote it
// or refuse it (GET /models on a policy replica says which, and why).
import { readFileSync } from 'node:fs';
import { publishModelToFleet } from './publish.js';

const [file, flag, version] = process.argv.slice(2);
if (!file || flag !== '--version' || !version) {
  console.error('usage: npm run policy:publish -- <model.onnx> --version <version>');
  process.exit(2);
}
const natsUrl = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
try {
  const published = await publishModelToFleet(natsUrl, new Uint8Array(readFileSync(file)), version, 'tools/policy');
  console.log(
    `published ${file} as ${published.object} (sha256 ${published.sha256.slice(0, 12)}…); policy replicas will shadow it, then promote or refuse it`,
  );
} catch (error) {
  console.error((error as Error).message);
  process.exit(1);
}
