import { spawn } from 'node:child_process';
import { startNats } from './infra.mjs';
import { Bus, SUBJECTS } from '/work/main/dist/libs/nats/index.js';
import { DecideReplySchema, DecideRequestSchema } from '/work/main/dist/libs/contracts/index.js';
import { encodeSlotBatch, seededRandom } from '/work/main/dist/libs/policy/index.js';
const quiet = { info() {}, warn() {}, error() {} };
const q = (s, p) => s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)];
const nats = await startNats();
const policy = spawn(process.execPath, ['dist/apps/policy/src/main.js'], {
  env: { ...process.env, NATS_URL: nats.url, BATCHGATE_LOG_LEVEL: 'warn', BATCHGATE_HTTP_PORT: '0' },
  stdio: 'inherit',
});
const bus = await Bus.connect({ url: nats.url, name: 'b', logger: quiet });
while (
  await bus.request(SUBJECTS.decide, DecideRequestSchema, { slots: {} }, DecideReplySchema, 50).then(
    () => false,
    () => true,
  )
)
  await new Promise((r) => setTimeout(r, 50));
const r = seededRandom(1);
for (const n of [1, 100]) {
  const req = {
    coordinatorId: 'b',
    slots: encodeSlotBatch(
      Array.from({ length: n }, (_, i) => ({
        slotId: `slot-${i}-abcdef`,
        route: 'default',
        features: {
          size: 5,
          ageMs: r() * 50,
          upstreamP99Ms: 20,
          requestRate: r() * 500,
          queueDepth: 40,
          observedP99Ms: 0,
          idleMs: 1,
          batchTimeoutMs: 50,
          maxBatchSize: 128,
        },
      })),
    ),
  };
  for (let i = 0; i < 500; i++) await bus.request(SUBJECTS.decide, DecideRequestSchema, req, DecideReplySchema, 1000);
  for (let round = 0; round < 2; round++) {
    const s = [];
    for (let i = 0; i < 4000; i++) {
      const t = process.hrtime.bigint();
      await bus.request(SUBJECTS.decide, DecideRequestSchema, req, DecideReplySchema, 1000);
      s.push(Number(process.hrtime.bigint() - t) / 1000);
    }
    s.sort((a, b) => a - b);
    console.log(
      `${n} slots round ${round}: p50 ${q(s, 0.5).toFixed(0)} p90 ${q(s, 0.9).toFixed(0)} p99 ${q(s, 0.99).toFixed(0)} p99.9 ${q(s, 0.999).toFixed(0)} µs`,
    );
  }
}
await bus.close();
policy.kill();
await new Promise((r) => policy.once('exit', r));
await nats.dispose();
