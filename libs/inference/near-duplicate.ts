import { createHash } from 'node:crypto';

/** Dimensions of the local text vector: 256 hashed buckets keep collisions rare for short texts and the vector cheap. */
const DIMENSIONS = 256;

/**
 * A cheap local vector of a text (no model): counts of its character
 * trigrams (lower-cased, whitespace collapsed) hashed into 256 buckets,
 * L2-normalised. Texts that differ in case, spacing or a character or two
 * score ~0.95-0.99 cosine; different sentences score far lower.
 */
export function textVector(text: string): Float64Array {
  const vector = new Float64Array(DIMENSIONS);
  const normal = ` ${text.toLowerCase().replace(/\s+/g, ' ').trim()} `;
  for (let i = 0; i + 3 <= normal.length; i++) {
    const bucket =
      createHash('md5')
        .update(normal.slice(i, i + 3))
        .digest()
        .readUInt16BE(0) % DIMENSIONS;
    vector[bucket]! += 1;
  }
  let norm = 0;
  for (const v of vector) norm += v * v;
  norm = Math.sqrt(norm);
  if (norm > 0) for (let i = 0; i < DIMENSIONS; i++) vector[i]! /= norm;
  return vector;
}

export function cosine(a: Float64Array, b: Float64Array): number {
  let dot = 0;
  for (let i = 0; i < a.length; i++) dot += a[i]! * b[i]!;
  return dot;
}
