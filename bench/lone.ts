import { SlotFlushedSchema } from '#libs/contracts';
import { Bus, SUBJECTS } from '#libs/nats';
import { startStack } from '#stack';

// Lone requests (one per key, 100 ms apart) through the stack and straight to its origin: where a sparse request's time goes.
const stack = await startStack({ env: { ...process.env, BATCHGATE_LOG_LEVEL: 'warn' }, originDelayMs: 20 });
try {
  const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };
  const bus = await Bus.connect({ url: stack.env.NATS_URL!, name: 'lone', logger: quiet });
  const ages: number[] = [];
  const reasons = new Map<string, number>();
  bus.subscribe(SUBJECTS.event('slot.flushed'), SlotFlushedSchema, (event) => {
    if (!event.key) return;
    ages.push(event.ageMs);
    reasons.set(event.reason, (reasons.get(event.reason) ?? 0) + 1);
  });
  const gateway = stack.urls.ingresses[0]!;
  const origin = stack.env.BATCHGATE_UPSTREAM!;
  const time = async (url: string) => {
    const started = performance.now();
    const response = await fetch(url);
    await response.arrayBuffer();
    return performance.now() - started;
  };
  for (let i = 0; i < 20; i++) await time(`${gateway}/warm/${i}`);
  const via: number[] = [];
  const direct: number[] = [];
  for (let i = 0; i < 60; i++) {
    via.push(await time(`${gateway}/lone/${i}`));
    direct.push(await time(`${origin}/lone/${i}`));
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const p50 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!.toFixed(1);
  console.log(`lone request p50: batchgate ${p50(via)} ms, origin direct ${p50(direct)} ms; slot age at flush p50 ${p50(ages)} ms`, [
    ...reasons,
  ]);
  await bus.close();
} finally {
  await stack.stop();
}
