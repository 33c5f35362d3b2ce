// Copies one image's run-time tree out of a built checkout: package.json, the
// dist folders and data files the image names in images.json, and the lockfile
// closure of its dependencies from node_modules (nothing else: no dev tools, no
// other service's libraries). onnxruntime-node keeps only this machine's linux
// binaries (it ships darwin and win32 ones too: 288 MB -> ~40 MB). Run by each
// Dockerfile's build stage and by scripts/image-check.mjs, so both build the
// same tree.   node deploy/docker/prune.mjs <image> <from-dir> <to-dir>
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, sep } from 'node:path';

const manifest = JSON.parse(readFileSync(new URL('images.json', import.meta.url), 'utf8'));

/** The image's entry from images.json; throws naming the known ones. */
export function imageSpec(name) {
  const spec = manifest.images[name];
  if (!spec) throw new Error(`unknown image "${name}" (images.json has ${Object.keys(manifest.images).join(', ')})`);
  return spec;
}

export const IMAGES = Object.keys(manifest.images);
export const NODE_VERSION = manifest.node;

/** Where `dep`, required by the package installed at `from`, resolves in the lockfile (node's lookup, upwards). */
function resolveIn(packages, from, dep) {
  let base = from;
  for (;;) {
    const candidate = base === '' ? `node_modules/${dep}` : `${base}/node_modules/${dep}`;
    if (packages[candidate]) return candidate;
    if (base === '') return undefined;
    const at = base.lastIndexOf('node_modules/');
    base = at <= 0 ? '' : base.slice(0, at - 1);
  }
}

/**
 * Lockfile paths (node_modules/...) of `roots` and everything they need: dependencies,
 * peer dependencies that are not optional, and optional dependencies installed here.
 */
export function dependencyClosure(lock, roots) {
  const packages = lock.packages;
  const root = packages[''];
  const production = { ...root.dependencies, ...root.optionalDependencies };
  for (const name of roots) if (!production[name]) throw new Error(`"${name}" is not a production dependency in package.json`);
  const seen = new Set();
  const queue = roots.map((name) => `node_modules/${name}`);
  while (queue.length > 0) {
    const path = queue.pop();
    if (seen.has(path)) continue;
    const entry = packages[path];
    if (!entry) throw new Error(`${path} is not in package-lock.json`);
    if (entry.dev) throw new Error(`${path} is a dev dependency in package-lock.json`);
    seen.add(path);
    const optionalPeers = entry.peerDependenciesMeta ?? {};
    const wanted = [
      ...Object.keys(entry.dependencies ?? {}),
      ...Object.keys(entry.peerDependencies ?? {}).filter((name) => !optionalPeers[name]?.optional),
    ];
    for (const dep of wanted) {
      const found = resolveIn(packages, path, dep);
      if (!found) throw new Error(`${dep} (needed by ${path}) is not in package-lock.json`);
      queue.push(found);
    }
    for (const dep of Object.keys(entry.optionalDependencies ?? {})) {
      const found = resolveIn(packages, path, dep);
      if (found) queue.push(found);
    }
  }
  return [...seen].sort();
}

/** False for files an image never needs: other packages' nested trees, other platforms' onnxruntime binaries. */
function keepFile(packagePath, file) {
  const inside = file
    .slice(packagePath.length + 1)
    .split(sep)
    .join('/');
  if (inside.startsWith('node_modules/') || inside === 'node_modules') return false;
  const binary = /^bin\/napi-v\d+\/([^/]+)(?:\/([^/]+))?/.exec(inside);
  if (packagePath.endsWith(`node_modules${sep}onnxruntime-node`) && binary) {
    if (binary[1] !== 'linux') return false;
    if (binary[2] !== undefined && binary[2] !== process.arch) return false;
  }
  return true;
}

export function pruneImage(name, from, to) {
  const spec = imageSpec(name);
  const lock = JSON.parse(readFileSync(join(from, 'package-lock.json'), 'utf8'));
  mkdirSync(to, { recursive: true });
  const pkg = JSON.parse(readFileSync(join(from, 'package.json'), 'utf8'));
  // Only what Node reads at run time: the module type and the #libs import map.
  writeFileSync(
    join(to, 'package.json'),
    `${JSON.stringify({ name: pkg.name, version: pkg.version, type: pkg.type, imports: pkg.imports }, null, 2)}\n`,
  );
  for (const path of [...spec.dist, ...spec.files]) {
    if (!existsSync(join(from, path))) throw new Error(`${name}: ${path} does not exist in ${from} (built?)`);
    cpSync(join(from, path), join(to, path), { recursive: true, filter: (file) => !file.endsWith('.map') });
  }
  const closure = dependencyClosure(lock, spec.dependencies);
  for (const path of closure) {
    const source = join(from, path);
    if (!existsSync(source)) throw new Error(`${path} is in the lockfile but not installed in ${from}`);
    mkdirSync(dirname(join(to, path)), { recursive: true });
    cpSync(source, join(to, path), { recursive: true, filter: (file) => file === source || keepFile(source, file) });
  }
  return closure;
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const [name, from, to] = process.argv.slice(2);
  if (!name || !from || !to) {
    console.error('usage: node deploy/docker/prune.mjs <image> <from-dir> <to-dir>');
    process.exit(64);
  }
  const closure = pruneImage(name, from, to);
  console.log(`${name}: ${closure.length} packages`);
}
