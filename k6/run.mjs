// npm run k6 [-- <suite> ...]: builds, starts the stack (as `npm start` does,
// on its own ports), runs the k6 suites against 127.0.0.1 and writes
// k6/results/<suite>[.<policy>].json. Suite 04 runs once per policy.
// K6_SCALE=0.1 shortens every stage tenfold. k6 comes from PATH, ~/go/bin or .tools/bin;
// when missing it is installed into .tools/bin (`go install` of the version pinned in scripts/go-tools.mjs).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { goTool } from '../scripts/go-tools.mjs';
import { startStack } from '../scripts/stack.mjs';

const root = new URL('..', import.meta.url).pathname;
const k6 =
  ['k6', join(homedir(), 'go/bin/k6'), join(root, '.tools/bin/k6')].find((c) => spawnSync(c, ['version']).status === 0) ?? installK6();

/** k6 is a Go program, not an npm package: built from the Go module proxy once, like npm start's nats-server install. */
function installK6() {
  try {
    return goTool('k6', (line) => console.log(line));
  } catch (error) {
    console.error(`k6 not found and could not be installed: ${error.message}`);
    process.exit(1);
  }
}
const suites = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['01', '02', '03', '04'];
const results = join(root, 'k6/results');
mkdirSync(results, { recursive: true });
if (!existsSync(join(root, 'dist/apps/ingress/src/main.js'))) spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });

const files = { '01': '01_latency_under_load', '02': '02_upstream_reduction', '03': '03_breaking_point', '04': '04_policy_vs_fixed_timer' };
const runs = suites.flatMap((suite) =>
  suite === '04'
    ? [
        [suite, 'cost_aware', 'cost_aware'],
        [suite, 'ppo', 'ppo'],
        [suite, 'fixed_timer', 'fixed_timer:window_ms=50'],
      ]
    : [[suite, undefined, undefined]],
);

for (const [suite, label, strategy] of runs) {
  const name = files[suite];
  const env = {
    ...process.env,
    BATCHGATE_LOG_LEVEL: 'warn',
    BATCHGATE_PORT: '18080',
    BATCHGATE_METRICS_PORT: '19090',
    BATCHGATE_DEMO_ORIGIN_PORT: '19000',
  };
  if (strategy) env.BATCHGATE_POLICY_STRATEGY = strategy;
  const stack = await startStack({ env, runDir: join(root, '.run/k6') });
  try {
    const before = await settledFlushes(stack.urls.metrics);
    const out = join(results, `${name}${label ? `.${label}` : ''}.json`);
    console.log(`\n== ${name}${label ? ` (${label})` : ''}`);
    spawnSync(
      k6,
      [
        'run',
        '--quiet',
        '--summary-export',
        out,
        '-e',
        `BASE_URL=${stack.urls.ingresses[0]}`,
        '-e',
        `METRICS_URL=${stack.urls.metrics}`,
        '-e',
        `RESULTS_DIR=${results}`,
        join(root, 'k6', `${name}.js`),
      ],
      {
        stdio: 'inherit',
        env: { ...process.env, K6_SCALE: process.env.K6_SCALE ?? '1' },
      },
    );
    // Who flushed this run's slots (policy / timeout / size_cap / fallback): the fleet metrics'
    // change over the run (the recorder replays the events of earlier runs in the same store).
    const after = await flushesByReason(stack.urls.metrics);
    const counts = Object.entries(after).map(([reason, n]) => `${reason} ${n - (before[reason] ?? 0)}`);
    console.log(`flushes by reason: ${counts.join(', ') || 'none'}`);
  } finally {
    await stack.stop();
  }
}

/** batch_flush_total by reason from the telemetry service's Prometheus text. */
async function flushesByReason(url) {
  const text = await fetch(url).then((r) => r.text());
  const counts = {};
  for (const match of text.matchAll(/^batch_flush_total\{reason="(\w+)"\} (\d+)/gm)) counts[match[1]] = Number(match[2]);
  return counts;
}

/** The counts once the recorder has caught up with the stored events (two equal reads 500 ms apart). */
async function settledFlushes(url) {
  let last = await flushesByReason(url);
  for (let i = 0; i < 20; i++) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    const now = await flushesByReason(url);
    if (JSON.stringify(now) === JSON.stringify(last)) return now;
    last = now;
  }
  return last;
}
