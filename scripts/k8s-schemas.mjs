// Kubernetes JSON schemas for kubeconform, offline: derived from the Kubernetes OpenAPI v2 spec
// (api/openapi-spec/swagger.json of k8s.io/kubernetes at the pinned version, from the Go module
// proxy), the way kubeconform's openapi2jsonschema does it: one standalone schema per kind ($refs
// inlined), strict (additionalProperties: false on every object with properties, so a misspelt
// field fails), int-or-string and quantities as string or number. Cached under .tools (~60 MB,
// never committed); returns the folder for kubeconform's -schema-location.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { goModuleDir, PINS, TOOLS_DIR } from './go-tools.mjs';

const EITHER = { oneOf: [{ type: 'string' }, { type: 'integer' }] };
const QUANTITY = { oneOf: [{ type: 'string' }, { type: 'number' }] };

function inline(schema, definitions, stack) {
  if (Array.isArray(schema)) return schema.map((item) => inline(item, definitions, stack));
  if (schema === null || typeof schema !== 'object') return schema;
  if (typeof schema.$ref === 'string') {
    const name = schema.$ref.replace('#/definitions/', '');
    if (name === 'io.k8s.apimachinery.pkg.util.intstr.IntOrString') return EITHER;
    if (name === 'io.k8s.apimachinery.pkg.api.resource.Quantity') return QUANTITY;
    // Recursive types (JSONSchemaProps of CRDs) are left open past their first level.
    if (stack.includes(name)) return {};
    const { description: _d, ...rest } = schema;
    return inline({ ...definitions[name], ...rest, $ref: undefined }, definitions, [...stack, name]);
  }
  const out = {};
  for (const [key, value] of Object.entries(schema)) {
    if (value === undefined || key === 'description' || key.startsWith('x-kubernetes-')) continue;
    out[key] =
      key === 'properties'
        ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, inline(v, definitions, stack)]))
        : inline(value, definitions, stack);
  }
  if (out.properties && out.additionalProperties === undefined) out.additionalProperties = false;
  return out;
}

/** kubeconform's file name for a kind: <kind>-<group's first label>-<version>, core group <kind>-<version>. */
export function schemaFileName({ group, kind, version }) {
  const prefix = group ? `${group.split('.')[0]}-` : '';
  return `${kind.toLowerCase()}-${prefix}${version}.json`;
}

export function kubernetesSchemas(log = (line) => console.error(line)) {
  const [module, version] = PINS.kubernetes;
  const dir = join(TOOLS_DIR, 'k8s-schemas', `${version}-standalone-strict`);
  if (existsSync(join(dir, 'deployment-apps-v1.json'))) return dir;
  log(`deriving Kubernetes ${version} JSON schemas from its OpenAPI spec into .tools (once per machine) ...`);
  const spec = JSON.parse(readFileSync(join(goModuleDir(module, version), 'api/openapi-spec/swagger.json'), 'utf8'));
  mkdirSync(dir, { recursive: true });
  for (const [name, definition] of Object.entries(spec.definitions)) {
    for (const gvk of definition['x-kubernetes-group-version-kind'] ?? []) {
      if (!definition.properties?.kind) continue;
      const schema = { $schema: 'http://json-schema.org/draft-07/schema#', ...inline(definition, spec.definitions, [name]) };
      writeFileSync(join(dir, schemaFileName(gvk)), JSON.stringify(schema));
    }
  }
  return dir;
}
