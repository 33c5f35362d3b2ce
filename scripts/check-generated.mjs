// Fails when libs/contracts/gen is not what proto/ generates (someone edited
// generated code, or changed a .proto without `npm run proto`).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const out = mkdtempSync(join(tmpdir(), 'batchgate-proto-'));
const buf = join(root, 'node_modules/.bin/buf');
const result = spawnSync(buf, ['generate', 'proto', '--template', 'proto/buf.gen.yaml', '-o', out], { cwd: root, stdio: 'inherit' });
if (result.status !== 0) process.exit(result.status ?? 1);

const files = (dir) =>
  readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));
const committed = join(root, 'libs/contracts/gen');
const fresh = join(out, 'libs/contracts/gen');
const names = new Set([...files(committed).map((f) => relative(committed, f)), ...files(fresh).map((f) => relative(fresh, f))]);
const stale = [...names].filter((name) => {
  try {
    return readFileSync(join(committed, name), 'utf8') !== readFileSync(join(fresh, name), 'utf8');
  } catch {
    return true;
  }
});
rmSync(out, { recursive: true, force: true });
if (stale.length > 0) {
  console.error(`libs/contracts/gen is out of date with proto/ (${stale.join(', ')}); run \`npm run proto\``);
  process.exit(1);
}
console.log('libs/contracts/gen matches proto/');
