import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { burst, warm } from './support/client.js';
import { TestFleet } from './support/fleet.js';
import { SimBackend } from './support/inference-backend.js';

/** Debian's chromium, never a browser a tool downloads. */
const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join(new URL('.', import.meta.url).pathname, 'artifacts');

async function waitFor<T>(read: () => Promise<T>, ok: (value: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  let value = await read();
  while (!ok(value) && Date.now() < until) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    value = await read();
  }
  return value;
}

describe('status page', () => {
  let fleet: TestFleet;
  let browser: Browser;
  let backend: SimBackend;

  beforeAll(async () => {
    backend = await SimBackend.start({ BATCHGATE_BACKEND_DIMENSIONS: '4' });
    fleet = await TestFleet.start({
      telemetry: true,
      env: { BATCHGATE_BATCH_TIMEOUT_MS: '40', BATCHGATE_INFERENCE_UPSTREAM: backend.url },
    });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await fleet.stop();
    await backend?.stop();
  });

  it('is served with a same-origin-only content security policy', async () => {
    const response = await fetch(`${fleet.telemetryUrl()}/`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(await response.text()).toContain('/status/app.js');
  });

  it('shows numbers that change during a scripted burst, with the slots and their decisions', async () => {
    const page = await browser.newPage({ viewport: { width: 1100, height: 1400 } });
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    page.on('console', (message) => message.type() === 'error' && errors.push(message.text()));
    await page.goto(`${fleet.telemetryUrl()}/`);
    await waitFor(
      () => page.textContent('#state'),
      (text) => text?.startsWith('live') ?? false,
    );
    const slotsBefore = await page.locator('#recent tr').count();

    // The burst: several rounds of concurrent identical GETs on a few keys.
    await warm(fleet.ingressUrl(), 5);
    for (let round = 0; round < 6; round++) {
      await Promise.all([0, 1, 2].map((key) => burst(`${fleet.ingressUrl()}/status-burst/${key}`, 30)));
    }
    const rps = await waitFor(
      async () => Number(await page.textContent('#rps')),
      (value) => value > 0,
    );
    expect(rps).toBeGreaterThan(0);
    const reduction = await waitFor(
      () => page.textContent('#reduction'),
      (text) => text !== null && text.endsWith('%'),
    );
    // 540 requests on 3 keys in 18 bursts: far fewer origin calls than requests.
    expect(Number.parseFloat(reduction!)).toBeGreaterThan(50);
    const slots = await waitFor(
      () => page.locator('#recent tr').count(),
      (count) => count > slotsBefore,
    );
    expect(slots).toBeGreaterThan(slotsBefore);
    const firstSlot = await page.locator('#recent tr').first().textContent();
    expect(firstSlot).toMatch(/policy|timeout|size_cap|fallback/);
    const latencyRows = await page.locator('#latency tr').allTextContents();
    expect(latencyRows.some((row) => row.startsWith('coalesced'))).toBe(true);

    // The origin agrees with the page's reduction: it saw far fewer calls than requests.
    expect(fleet.origin.callsTo('/status-burst/').length).toBeLessThan(540 / 2);

    // Flow B: 48 embedding requests from different clients, 8 of them repeating an input, batched into fewer backend calls.
    const embed = (input: string) =>
      fetch(`${fleet.ingressUrl()}/v1/embeddings`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'sim-embedding', input }),
      });
    const answers = await Promise.all(Array.from({ length: 48 }, (_, i) => embed(`status item ${i % 40}`)));
    expect(answers.map((a) => a.status)).toEqual(Array(48).fill(200));
    const batches = await waitFor(
      async () => Number(await page.textContent('#infer-batches')),
      (value) => value > 0,
    );
    expect(batches).toBeGreaterThan(0);
    const perBatch = await waitFor(
      async () => Number(await page.textContent('#infer-per-batch')),
      (value) => value > 1,
    );
    // More than one client's item per backend call, as the backend itself counted.
    const { calls } = await backend.stats();
    expect(perBatch).toBeGreaterThan(1);
    expect(calls).toBeLessThan(48);
    const models = await page.locator('#infer-models tr').allTextContents();
    expect(models.some((row) => row.startsWith('sim-embedding'))).toBe(true);
    expect(await page.locator('#infer-recent tr').count()).toBeGreaterThan(0);

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'status-page.png'), fullPage: true });
    expect(errors).toEqual([]);
    await page.close();
  });
});
