// npm run policy:publish -- <model.onnx> --version <v>
// Publishes an exported policy model to a running fleet (NATS_URL): object
// store + KV pointer. Policy replicas pick it up, shadow it, then switch.
import { readFileSync } from 'node:fs';
import { Bus, eventMeta, EventPublisher, provisionJetStream } from '#libs/nats';
import { ModelPublishedSchema } from '#libs/contracts';
import { publishPolicyModel } from '#libs/onnx';
import { redactNatsUrl } from '#libs/config';

const [file, flag, version] = process.argv.slice(2);
if (!file || flag !== '--version' || !version) {
  console.error('usage: npm run policy:publish -- <model.onnx> --version <version>');
  process.exit(2);
}
const logger = { info: () => undefined, warn: console.warn, error: console.error };
const natsUrl = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const bus = await Bus.connect({ url: natsUrl, name: 'policy-publish', logger });
const nc = bus.connection;
if (!nc) {
  console.error(`cannot reach NATS at ${redactNatsUrl(natsUrl)}`);
  process.exit(1);
}
const handles = await provisionJetStream(nc);
const published = await publishPolicyModel(handles, new Uint8Array(readFileSync(file)), version);
new EventPublisher(bus, logger).publish('model.published', ModelPublishedSchema, {
  meta: eventMeta('tools/policy'),
  name: 'ppo',
  version,
  sha256: published.sha256,
});
await nc.flush();
console.log(
  `published ${file} as ${published.object} (sha256 ${published.sha256.slice(0, 12)}…); policy replicas will shadow then switch to ${version}`,
);
await bus.close();
