// Validation tools the deploy tests need, from the Go module proxy only, pinned, into a
// project-local cache (.tools, gitignored): built once per machine (CI keeps .tools between
// steps of one run), so a clean clone needs Go and the module proxy, nothing else.
//   goModuleDir('github.com/compose-spec/compose-go/v2', 'v2.16.2')  -> the module's source folder
//   goTool('kubeconform')                                            -> .tools/bin/kubeconform
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
export const TOOLS_DIR = join(root, '.tools');

/**
 * Pinned: kustomize v5.8.1 (v5.8.3 needs Go >= 1.27), kubeconform v0.8.0; the compose spec's
 * JSON schema as compose-go v2.16.2 embeds it (v2.17 needs Go >= 1.26.11); the Kubernetes
 * OpenAPI spec of v1.34.2 (api/openapi-spec/swagger.json in k8s.io/kubernetes).
 */
export const PINS = {
  kustomize: 'sigs.k8s.io/kustomize/kustomize/v5@v5.8.1',
  kubeconform: 'github.com/yannh/kubeconform/cmd/kubeconform@v0.8.0',
  k6: 'go.k6.io/k6@v1.8.1',
  composeGo: ['github.com/compose-spec/compose-go/v2', 'v2.16.2'],
  kubernetes: ['k8s.io/kubernetes', 'v1.34.2'],
};

function go(args, env = {}) {
  const result = spawnSync('go', args, { encoding: 'utf8', env: { ...process.env, GOFLAGS: '-mod=mod', ...env } });
  if (result.error) throw new Error(`go is not installed (${result.error.message}); install Go 1.26+ (Debian: apt-get install golang-go)`);
  return result;
}

/** Source folder of module@version in Go's module cache (`go mod download`, no build). */
export function goModuleDir(module, version) {
  const result = go(['mod', 'download', '-json', `${module}@${version}`], { GO111MODULE: 'on' });
  const info = JSON.parse(result.stdout || '{}');
  // A module whose go.mod asks for a newer Go still downloads; its Dir is what we read.
  const dir =
    info.Dir ?? (info.Zip ? join(process.env.GOMODCACHE ?? go(['env', 'GOMODCACHE']).stdout.trim(), `${module}@${version}`) : undefined);
  if (!dir || !existsSync(dir)) throw new Error(`go mod download ${module}@${version} failed: ${result.stderr || info.Error}`);
  return dir;
}

/** .tools/bin/<name>, `go install`ed at its pinned version when missing. */
export function goTool(name, log = (line) => console.error(line)) {
  const bin = join(TOOLS_DIR, 'bin', name);
  if (existsSync(bin)) return bin;
  mkdirSync(join(TOOLS_DIR, 'bin'), { recursive: true });
  log(`installing ${PINS[name]} into .tools/bin (go install; once per machine) ...`);
  const result = go(['install', PINS[name]], { GOBIN: join(TOOLS_DIR, 'bin') });
  if (result.status !== 0 || !existsSync(bin)) throw new Error(`go install ${PINS[name]} failed:\n${result.stderr}`);
  return bin;
}
