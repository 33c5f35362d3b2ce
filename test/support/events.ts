import type { SlotFlushed } from '#libs/contracts';
import { DecideReplySchema, FlushAction, fromBinary, SlotFlushedSchema, SlotsDecidedSchema } from '#libs/contracts';
import { Bus, SUBJECTS } from '#libs/nats';
import { deciderOf } from '#libs/policy';

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

/** Collects slot.flushed events as they are published (a plain NATS subscription sees JetStream publishes). */
export class FlushWatch {
  readonly flushed: SlotFlushed[] = [];

  private constructor(private readonly bus: Bus) {}

  static async start(natsUrl: string): Promise<FlushWatch> {
    const bus = await Bus.connect({ url: natsUrl, name: 'test-watch', logger: quiet });
    const watch = new FlushWatch(bus);
    bus.subscribe(SUBJECTS.event('slot.flushed'), SlotFlushedSchema, (event) => void watch.flushed.push(event));
    await bus.connection?.flush();
    return watch;
  }

  async waitFor(count: number, timeoutMs = 5000): Promise<SlotFlushed[]> {
    const until = Date.now() + timeoutMs;
    while (this.flushed.length < count && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 10));
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
  readonly decided: DecidedRequest[] = [];

  private constructor(private readonly bus: Bus) {}

  static async start(natsUrl: string): Promise<DecisionWatch> {
    const bus = await Bus.connect({ url: natsUrl, name: 'test-decision-watch', logger: quiet });
    const watch = new DecisionWatch(bus);
    bus.subscribe(SUBJECTS.event('slot.decided'), SlotsDecidedSchema, (event) => {
      const reply = fromBinary(DecideReplySchema, event.reply);
      const slots = reply.actions.map((action, i) => ({ ...deciderOf(reply, i), flush: action === FlushAction.FLUSH }));
      watch.decided.push({ source: event.meta?.source ?? '', slots });
    });
    await bus.connection?.flush();
    return watch;
  }

  /** Waits until `check` holds for the events so far (returns them either way after `timeoutMs`). */
  async waitUntil(check: (decided: readonly DecidedRequest[]) => boolean, timeoutMs = 5000): Promise<DecidedRequest[]> {
    const until = Date.now() + timeoutMs;
    while (!check(this.decided) && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 10));
    return this.decided;
  }

  close(): Promise<void> {
    return this.bus.close();
  }
}
