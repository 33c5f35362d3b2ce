import type { Reply } from './client.js';
import { get } from './client.js';

/**
 * Closed-loop load: `clients` loops, each requesting `url(client, i)` until
 * stopped. Every reply and failure is kept; a failing loop pauses briefly so
 * an outage cannot turn into a tight error loop.
 */
export function closedLoop(clients: number, url: (client: number, i: number) => string) {
  const replies: Array<Reply & { ms: number }> = [];
  const failures: unknown[] = [];
  let running = true;
  const loops = Array.from({ length: clients }, async (_, c) => {
    for (let i = 0; running; i++) {
      const started = performance.now();
      try {
        replies.push({ ...(await get(url(c, i))), ms: performance.now() - started });
      } catch (error) {
        failures.push(error);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
  });
  return {
    replies,
    failures,
    stop: async () => {
      running = false;
      await Promise.all(loops);
    },
  };
}
