import { createHash } from 'node:crypto';
import { InferKind } from '#libs/contracts';

/** JSON with object keys sorted at every level, so equal values give equal text whatever the key order. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) {
    const v = (value as Record<string, unknown>)[key];
    if (v !== undefined) out[key] = sortKeys(v);
  }
  return out;
}

/**
 * Whether the same request gives the same answer, so one backend call may
 * answer several clients: embeddings always; completions and chat only with
 * temperature 0 or a seed (a sampled answer belongs to the client who asked).
 */
export function isDeterministic(kind: InferKind, params: Readonly<Record<string, unknown>>): boolean {
  if (kind === InferKind.EMBEDDING) return true;
  return params.temperature === 0 || Number.isInteger(params.seed);
}

/**
 * The dedup key of one item: a hash of kind, model, canonical params and the
 * canonical input; '' when the item must not be shared (see isDeterministic).
 * `user` is not part of params (it only names the tenant), so two tenants'
 * identical embedding inputs share one backend input.
 */
export function dedupKeyOf(kind: InferKind, model: string, params: Readonly<Record<string, unknown>>, input: unknown): string {
  if (!isDeterministic(kind, params)) return '';
  return createHash('sha256')
    .update(`${kind}\n${model}\n${canonicalJson(params)}\n${canonicalJson(input)}`)
    .digest('base64url');
}

/**
 * The partition whose coordinator batches `model` (Flow A's partition map:
 * hash mod P, the same leases). One owner per model means every queue of a
 * model, and so every dedup and batch of it, lives in one place.
 */
export function partitionOfModel(model: string, partitions: number): number {
  return createHash('sha256').update(`model\n${model}`).digest().readUInt32BE(0) % partitions;
}
