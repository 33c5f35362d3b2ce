import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { get } from './support/client.js';
import { TestFleet } from './support/fleet.js';

/** Issue 13 "overload is an answer" and issue 12 item 10: past its budgets the ingress sheds with 503 + Retry-After, never a reset. */
interface Outcome {
  status: number | string;
  retryAfter: string | undefined;
  connection: string | undefined;
}

async function attempt(url: string, agent: Agent): Promise<Outcome> {
  try {
    const response = await request(url, { headers: { 'cache-control': 'no-cache' }, dispatcher: agent });
    await response.body.text();
    return {
      status: response.statusCode,
      retryAfter: response.headers['retry-after'] as string | undefined,
      connection: response.headers.connection as string | undefined,
    };
  } catch (error) {
    return { status: (error as { code?: string }).code ?? String(error), retryAfter: undefined, connection: undefined };
  }
}

describe('overload', () => {
  let fleet: TestFleet;
  const HOLD_MS = 1500;

  beforeAll(async () => {
    fleet = await TestFleet.start({ ingresses: 0 });
    fleet.origin.handle(async (req, res) => {
      if (req.url?.startsWith('/hold')) await new Promise((resolve) => setTimeout(resolve, HOLD_MS));
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ url: req.url }));
    });
  });

  afterAll(() => fleet.stop());

  it('past BATCHGATE_MAX_CONNECTIONS new connections get 503 + Retry-After + close, never a reset, and /healthz still answers', async () => {
    const app = await fleet.addIngress({ BATCHGATE_MAX_CONNECTIONS: '5', BATCHGATE_MAX_INFLIGHT: '1000' });
    const index = fleet.ingresses.indexOf(app);
    // One connection per request, so each of the 25 is its own socket.
    const agents = Array.from({ length: 25 }, () => new Agent({ connections: 1, pipelining: 1 }));
    try {
      const holders = agents.slice(0, 5).map((a, i) => attempt(`${fleet.ingressUrl(index)}/hold/${i}`, a));
      await new Promise((resolve) => setTimeout(resolve, 300));
      const health = get(`${fleet.ingressOpsUrl(index)}/healthz`);
      const extra = await Promise.all(agents.slice(5).map((a, i) => attempt(`${fleet.ingressUrl(index)}/extra/${i}`, a)));
      expect((await health).status).toBe(200);
      expect(extra.map((o) => o.status)).toEqual(extra.map(() => 503));
      for (const outcome of extra) {
        expect(Number(outcome.retryAfter)).toBeGreaterThanOrEqual(1);
        expect(outcome.connection).toBe('close');
      }
      expect((await Promise.all(holders)).map((o) => o.status)).toEqual([200, 200, 200, 200, 200]);
      expect(fleet.origin.callsTo('/extra/')).toHaveLength(0);
    } finally {
      await Promise.all(agents.map((a) => a.close()));
    }
  });

  it('past BATCHGATE_MAX_INFLIGHT requests get 503 + Retry-After while the admitted ones complete', async () => {
    const app = await fleet.addIngress({ BATCHGATE_MAX_CONNECTIONS: '1000', BATCHGATE_MAX_INFLIGHT: '3' });
    const index = fleet.ingresses.indexOf(app);
    const agent = new Agent({ connections: 64 });
    try {
      const held = Array.from({ length: 3 }, (_, i) => attempt(`${fleet.ingressUrl(index)}/hold/inflight-${i}`, agent));
      await new Promise((resolve) => setTimeout(resolve, 300));
      const shed = await Promise.all(Array.from({ length: 10 }, (_, i) => attempt(`${fleet.ingressUrl(index)}/shed/${i}`, agent)));
      expect(shed.map((o) => o.status)).toEqual(shed.map(() => 503));
      for (const outcome of shed) expect(Number(outcome.retryAfter)).toBeGreaterThanOrEqual(1);
      expect((await Promise.all(held)).map((o) => o.status)).toEqual([200, 200, 200]);
      expect((await get(`${fleet.ingressOpsUrl(index)}/healthz`)).status).toBe(200);
      const metrics = (await get(`${fleet.ingressOpsUrl(index)}/metrics`)).body;
      expect(metrics).toMatch(/^batchgate_ingress_shed_requests_total\{reason="inflight"\} 10$/m);
      // Recorded like every other request (path shed), so the fleet's view and the status page count them.
      expect(metrics).toMatch(/^batchgate_ingress_requests_total\{path="shed",status="5xx"\} 10$/m);
      // Once the admitted requests are done there is room again.
      expect((await attempt(`${fleet.ingressUrl(index)}/after`, agent)).status).toBe(200);
    } finally {
      await agent.close();
    }
  });
});
