// `npm start`: the whole set-up on a fresh machine. Installs npm dependencies
// and (as root, from Debian's packages) nats-server and redis-server when they
// are missing, builds, then runs the stack until Ctrl-C stops everything.
// `node scripts/start.mjs --no-build` skips the install and build steps (dist/
// is already built: the launcher and fault-suite tests use it).
// BATCHGATE_RUN_DIR (default .run/) holds the logs and stack.json.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { ensureInfraBinaries } from './infra.mjs';
import { bundledNode, majorOf, REQUIRED_MAJOR, tooOldMessage } from './node-runtime.mjs';

const root = new URL('..', import.meta.url).pathname;
const say = (line) => process.stdout.write(`[batchgate] ${line}\n`);

function run(command, args) {
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) {
    say(`\`${command} ${args.join(' ')}\` failed (exit ${result.status})`);
    process.exit(1);
  }
}

const build = !process.argv.includes('--no-build');

if (build && !existsSync(`${root}/node_modules/.package-lock.json`)) {
  say('installing npm dependencies ...');
  run('npm', ['ci', '--no-audit', '--no-fund']);
}

// A fresh clone's `npm start` begins on the machine's Node; once the dependencies are in, the
// project's own Node 24 (node_modules/.bin) takes over, with Ctrl-C / SIGTERM passed on to it.
if (majorOf(process.version) < REQUIRED_MAJOR) {
  const node = bundledNode();
  if (!node) {
    say(tooOldMessage(process.version));
    process.exit(1);
  }
  const child = spawn(node, [new URL(import.meta.url).pathname, ...process.argv.slice(2)], { stdio: 'inherit' });
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
  await new Promise(() => {});
}
say(`node ${process.version} (${process.execPath})`);

if (!process.env.NATS_URL || !process.env.REDIS_URL) {
  const missing = ensureInfraBinaries({ log: say });
  if (missing.length > 0) {
    say(`missing: ${missing.join(', ')}. Install them (Debian/Ubuntu: sudo apt-get install -y ${missing.join(' ')}),`);
    say('or point NATS_URL and REDIS_URL at running servers.');
    process.exit(1);
  }
}

if (build) {
  say('building ...');
  run(process.execPath, [`${root}/node_modules/typescript/bin/tsc`, '-p', `${root}/tsconfig.build.json`]);
}

const { startStack } = await import('./stack.mjs');
let stack;
try {
  stack = await startStack({ log: say, restart: true, runDir: process.env.BATCHGATE_RUN_DIR || undefined });
} catch (error) {
  say(error.message);
  process.exit(1);
}

say('');
say('batchgate is up:');
for (const [i, url] of stack.urls.ingresses.entries()) {
  say(`  gateway          ${url}   (try: curl -i ${url}/api/hello)`);
  say(`  ingress-${i} ops    ${stack.urls.operators[i]}   (/healthz /readyz /metrics /admin)`);
}
say(`  status page      ${stack.urls.metrics.replace(/\/metrics$/, '/')}`);
say(`  fleet metrics    ${stack.urls.metrics}`);
say(`  upstream         ${stack.env.BATCHGATE_UPSTREAM}`);
say(`  inference backend  ${stack.env.BATCHGATE_INFERENCE_UPSTREAM}   (OpenAI-compatible; /stats counts calls)`);
for (const [name, url] of Object.entries(stack.urls.services)) say(`  ${name.padEnd(16)} ${url}/metrics`);
say(`  logs             ${stack.logDir}`);
say('Ctrl-C stops everything.');

let stopping = false;
const shutdown = async () => {
  if (stopping) return;
  stopping = true;
  say('stopping ...');
  await stack.stop();
  process.exit(0);
};
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
