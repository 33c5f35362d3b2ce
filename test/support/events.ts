import type { DescMessage, MessageShape } from '@bufbuild/protobuf';
import type { SlotFlushed } from '#libs/contracts';
import { DecideReplySchema, FlushAction, fromBinary, SlotFlushedSchema, SlotsDecidedSchema } from '#libs/contracts';
import { Bus, SUBJECTS } from '#libs/nats';
import { deciderOf } from '#libs/policy';

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

/** A bus of its own subscribed to one event subject, once the server has the subscription. */
async function subscribeEvents<S extends DescMessage>(
  natsUrl: string,
  name: string,
  event: Parameters<typeof SUBJECTS.event>[0],
  schema: S,
  handler: (event: MessageShape<S>) => void,
): Promise<Bus> {
  const bus = await Bus.connect({ url: natsUrl, name, logger: quiet });
  bus.subscribe(SUBJECTS.event(event), schema, handler);
  await bus.connection?.flush();
  return bus;
}

/** Polls `check` every 10 ms until it holds or `timeoutMs` has passed. */
async function pollUntil(check: () => boolean, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check() && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 10));
}

/** Collects slot.flushed events as they are published (a plain NATS subscription sees JetStream publishes). */
export class FlushWatch {
  private constructor(
    private readonly bus: Bus,
    readonly flushed: SlotFlushed[],
  ) {}

  static async start(natsUrl: string): Promise<FlushWatch> {
    const flushed: SlotFlushed[] = [];
    const bus = await subscribeEvents(natsUrl, 'test-watch', 'slot.flushed', SlotFlushedSchema, (event) => void flushed.push(event));
    return new FlushWatch(bus, flushed);
  }

  async waitFor(count: number, timeoutMs = 5000): Promise<SlotFlushed[]> {
    await pollUntil(() => this.flushed.length >= count, timeoutMs);
    return this.flushed;
  }

  clear(): void {
    this.flushed.length = 0;
  }

  close(): Promise<void> {
    return this.bus.close();
  }
}

/** One slot.decided event (one decide request): who decided each of its slots, and what. */
export interface DecidedRequest {
  /** The deciding replica, e.g. "policy/policy-0". */
  source: string;
  slots: Array<{ strategy: string; modelVersion: string; flush: boolean }>;
}

/** Collects slot.decided events in publish order, each reply decoded slot by slot. */
export class DecisionWatch {
  private constructor(
    private readonly bus: Bus,
    readonly decided: DecidedRequest[],
  ) {}

  static async start(natsUrl: string): Promise<DecisionWatch> {
    const decided: DecidedRequest[] = [];
    const bus = await subscribeEvents(natsUrl, 'test-decision-watch', 'slot.decided', SlotsDecidedSchema, (event) => {
      const reply = fromBinary(DecideReplySchema, event.reply);
      const slots = reply.actions.map((action, i) => ({ ...deciderOf(reply, i), flush: action === FlushAction.FLUSH }));
      decided.push({ source: event.meta?.source ?? '', slots });
    });
    return new DecisionWatch(bus, decided);
  }

  /** Waits until `check` holds for the events so far (returns them either way after `timeoutMs`). */
  async waitUntil(check: (decided: readonly DecidedRequest[]) => boolean, timeoutMs = 5000): Promise<DecidedRequest[]> {
    await pollUntil(() => check(this.decided), timeoutMs);
    return this.decided;
  }

  close(): Promise<void> {
    return this.bus.close();
  }
}
