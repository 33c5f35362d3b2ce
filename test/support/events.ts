import type { SlotFlushed } from '#libs/contracts';
import { SlotFlushedSchema } from '#libs/contracts';
import { Bus, SUBJECTS } from '#libs/nats';

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
