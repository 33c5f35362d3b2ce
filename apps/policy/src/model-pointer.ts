/** The KV value (key policy.model) naming the live model in the models object store. */
export interface ModelPointer {
  version: string;
  /** Object name in the models bucket. */
  object: string;
  /** Hex SHA-256 of the object, checked after download. */
  sha256: string;
}

export function parseModelPointer(json: unknown): ModelPointer {
  const { version, object, sha256 } = (json ?? {}) as Record<string, unknown>;
  if (typeof version !== 'string' || version.length === 0) throw new Error('model pointer needs a "version"');
  if (typeof object !== 'string' || object.length === 0) throw new Error('model pointer needs an "object"');
  if (typeof sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(sha256)) throw new Error('model pointer needs a hex "sha256"');
  return { version, object, sha256 };
}
