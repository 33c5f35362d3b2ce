import type { InferItemResult } from '#libs/contracts';
import { create, InferAcceptedSchema, InferOwnerSchema } from '#libs/contracts';
import type { Bus, LargeMessages } from '#libs/nats';
import { SUBJECTS } from '#libs/nats';
import { describe, expect, it } from 'vitest';
import { InferLink } from './infer-link.js';

type FakeBus = Pick<Bus, 'publish' | 'subscribe'>;

/**
 * A bus whose subscriptions the test feeds by hand, and a large-message side
 * whose submits are accepted by `coordinatorId` (these specs never send or
 * receive a message above max_payload: nothing is read from the Object Store).
 */
function fakeBus(coordinatorId: string): {
  bus: FakeBus;
  large: Pick<LargeMessages, 'receive' | 'request'>;
  deliver: (subject: string, message: unknown) => void;
} {
  const handlers = new Map<string, (message: unknown) => void>();
  const large = {
    receive: () => Promise.reject(new Error('no object store in this spec')),
    request: () => Promise.resolve(create(InferAcceptedSchema, { accepted: true, coordinatorId })),
  } as unknown as Pick<LargeMessages, 'receive' | 'request'>;
  const bus = {
    publish: () => undefined,
    subscribe: (subject: string, _schema: unknown, handler: (message: unknown) => void) => {
      handlers.set(subject, handler);
      return () => handlers.delete(subject);
    },
  } as unknown as FakeBus;
  return { bus, large, deliver: (subject, message) => handlers.get(subject)?.(message) };
}

async function waiting(link: InferLink, partition: number, itemId: string): Promise<InferItemResult[]> {
  const results: InferItemResult[] = [];
  await link.submit(partition, { requestId: itemId, items: [{ itemId }] }, new Map([[itemId, { result: (r) => void results.push(r) }]]));
  return results;
}

describe("the ingress's Flow B link when a partition changes owner", () => {
  it('fails at once (503) the items a coordinator no longer live held for that partition, and only those', async () => {
    const { bus, large, deliver } = fakeBus('coordinator-a');
    const link = new InferLink(bus, large, 'ingress-0');
    link.start();
    const onP3 = await waiting(link, 3, 'on-3');
    const onP4 = await waiting(link, 4, 'on-4');

    deliver(
      SUBJECTS.inferOwner,
      create(InferOwnerSchema, { partition: 3, coordinatorId: 'coordinator-b', liveCoordinatorIds: ['coordinator-b'] }),
    );

    expect(onP3).toEqual([expect.objectContaining({ itemId: 'on-3', status: 503 })]);
    expect(onP4).toEqual([]);
    expect(link.pending).toBe(1);
  });

  it('keeps waiting when the previous owner is still live (a rebalance: it still answers its items)', async () => {
    const { bus, large, deliver } = fakeBus('coordinator-a');
    const link = new InferLink(bus, large, 'ingress-0');
    link.start();
    const results = await waiting(link, 3, 'item');

    deliver(
      SUBJECTS.inferOwner,
      create(InferOwnerSchema, { partition: 3, coordinatorId: 'coordinator-b', liveCoordinatorIds: ['coordinator-a', 'coordinator-b'] }),
    );

    expect(results).toEqual([]);
    expect(link.pending).toBe(1);
  });
});
