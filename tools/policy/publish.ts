import { redactNatsUrl } from '#libs/config';
import { ModelPublishedSchema } from '#libs/contracts';
import { Bus, eventMeta, EventPublisher, provisionJetStream } from '#libs/nats';
import type { PublishedModel } from '#libs/onnx';
import { publishPolicyModel } from '#libs/onnx';

/**
 * Publishes a policy model to a running fleet: the object store and the KV
 * pointer every policy replica watches (they shadow it, then promote or
 * refuse it), and a model.published event. What `policy:publish` and
 * `policy:learn` both do.
 */
export async function publishModelToFleet(natsUrl: string, bytes: Uint8Array, version: string, source: string): Promise<PublishedModel> {
  const logger = { info: () => undefined, warn: console.warn, error: console.error };
  const bus = await Bus.connect({ url: natsUrl, name: source.replace('/', '-'), logger });
  try {
    const nc = bus.connection;
    if (!nc) throw new Error(`cannot reach NATS at ${redactNatsUrl(natsUrl)}`);
    const published = await publishPolicyModel(await provisionJetStream(nc), bytes, version);
    new EventPublisher(bus, logger).publish('model.published', ModelPublishedSchema, {
      meta: eventMeta(source),
      name: 'ppo',
      version,
      sha256: published.sha256,
    });
    await nc.flush();
    return published;
  } finally {
    await bus.close();
  }
}
