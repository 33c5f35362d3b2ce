// npm run telemetry:rebuild [-- --compare <telemetry url>] [--arrivals <file.jsonl>]
// Replays the events stream (NATS_URL) into fresh projections, the recorder's
// own code: prints how many events were applied or skipped and the projected
// metrics; with --compare, exits 1 when the live recorder's differ.
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { redactNatsUrl } from '#libs/config';
import { Bus } from '#libs/nats';
import { loadTelemetryConfig } from '../../apps/telemetry/src/config.js';
import { projectionDiff, rebuildProjection } from '../../apps/telemetry/src/rebuild.js';

const { values } = parseArgs({ options: { compare: { type: 'string' }, arrivals: { type: 'string' }, quiet: { type: 'boolean' } } });
const config = loadTelemetryConfig(process.env);
const logger = { info: () => undefined, warn: console.warn, error: console.error };
const bus = await Bus.connect({ url: config.natsUrl, name: 'telemetry-rebuild', logger });
const nc = bus.connection;
if (!nc) {
  console.error(`cannot reach NATS at ${redactNatsUrl(config.natsUrl)}`);
  process.exit(1);
}
const rebuilt = await rebuildProjection(nc, { arrivalsKept: config.arrivalsKept, envelope: config.envelope });
await bus.close();
const metrics = await rebuilt.registry.metrics();
console.error(`replayed the events stream: ${JSON.stringify(rebuilt.outcomes)}`);
if (!values.quiet) process.stdout.write(metrics);
if (values.arrivals) {
  writeFileSync(
    values.arrivals,
    rebuilt.projection
      .orderedArrivals()
      .map((a) => JSON.stringify(a))
      .join('\n') + '\n',
  );
  console.error(`wrote ${rebuilt.projection.arrivals.length} arrivals to ${values.arrivals}`);
}
if (values.compare) {
  const live = await (await fetch(new URL('/metrics', values.compare))).text();
  const differences = projectionDiff(live, metrics);
  if (differences.length > 0) {
    console.error(`the rebuilt projection differs from ${values.compare} in ${differences.length} series:\n${differences.join('\n')}`);
    process.exit(1);
  }
  console.error(`the rebuilt projection equals ${values.compare}'s`);
}
