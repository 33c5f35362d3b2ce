import { createHash } from 'node:crypto';
import type { KV } from '@nats-io/kv';
import type { ObjectStore } from '@nats-io/obj';
import { CONFIG_KEYS } from '#libs/nats';
import { decodePolicyModel } from './model.js';

export interface PublishedModel {
  version: string;
  object: string;
  sha256: string;
}

/**
 * Publishes a policy model to the fleet: the bytes go to the models object
 * store under ppo/<version>.onnx, then the KV pointer names it; every policy
 * replica watching the pointer fetches, checks, shadows and switches to it.
 * The bytes are decoded first so an obviously broken file is refused here.
 */
export async function publishPolicyModel(
  stores: { models: ObjectStore; config: KV },
  bytes: Uint8Array,
  version: string,
  check = true,
): Promise<PublishedModel> {
  if (check) decodePolicyModel(bytes);
  const object = `ppo/${version}.onnx`;
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  await stores.models.putBlob({ name: object }, bytes);
  const pointer: PublishedModel = { version, object, sha256 };
  await stores.config.put(CONFIG_KEYS.model, JSON.stringify(pointer));
  return pointer;
}
