// npm run telemetry:rebuild [-- --compare <telemetry url>] [--arrivals <file.jsonl>] [--episodes <file.jsonl>]
// Replays the events stream (NATS_URL) into fresh projections (metrics
// counters, arrival traces, decision episodes), the recorders' own code:
// prints how many events were applied or skipped and the projected metrics;
// with --compare, exits 1 when the live recorder's differ.
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { redactNatsUrl } from '#libs/config';
import { Bus } from '#libs/nats';
import { loadTelemetryConfig } from '../../apps/telemetry/src/config.js';
import { episodesJsonl } from '../../apps/telemetry/src/episodes.js';
import { arrivalsJsonl } from '../../apps/telemetry/src/projections.js';
import { exportDiff, projectionDiff, rebuildProjection } from '../../apps/telemetry/src/rebuild.js';

const { values } = parseArgs({
  options: { compare: { type: 'string' }, arrivals: { type: 'string' }, episodes: { type: 'string' }, quiet: { type: 'boolean' } },
});
const config = loadTelemetryConfig(process.env);
const logger = { info: () => undefined, warn: console.warn, error: console.error };
const bus = await Bus.connect({ url: config.natsUrl, name: 'telemetry-rebuild', logger });
const nc = bus.connection;
if (!nc) {
  console.error(`cannot reach NATS at ${redactNatsUrl(config.natsUrl)}`);
  process.exit(1);
}
const rebuilt = await rebuildProjection(nc, {
  arrivalsKept: config.arrivalsKept,
  envelope: config.envelope,
  episodesKept: config.episodesKept,
});
await bus.close();
const metrics = await rebuilt.registry.metrics();
const arrivals = arrivalsJsonl(rebuilt.projection);
const episodes = episodesJsonl(rebuilt.episodes);
console.error(`replayed the events stream: ${JSON.stringify(rebuilt.outcomes)}`);
if (!values.quiet) process.stdout.write(metrics);
if (values.arrivals) {
  writeFileSync(values.arrivals, arrivals + '\n');
  console.error(`wrote ${rebuilt.projection.arrivals.length} arrivals to ${values.arrivals}`);
}
if (values.episodes) {
  writeFileSync(values.episodes, episodes + '\n');
  console.error(`wrote ${rebuilt.episodes.episodes().length} episodes to ${values.episodes}`);
}
if (values.compare) {
  const live = async (path: string) => {
    const response = await fetch(new URL(path, values.compare));
    if (!response.ok) throw new Error(`GET ${path} from ${values.compare}: ${response.status}`);
    return response.text();
  };
  const differences = [
    ...projectionDiff(await live('/metrics'), metrics),
    ...exportDiff('arrivals', await live('/export/arrivals.jsonl'), arrivals),
    ...exportDiff('episodes', await live('/export/episodes.jsonl'), episodes),
  ];
  if (differences.length > 0) {
    console.error(`the rebuilt projections differ from ${values.compare}'s:\n${differences.join('\n')}`);
    process.exit(1);
  }
  console.error(`the rebuilt projections (metrics, arrivals, episodes) equal ${values.compare}'s`);
}
