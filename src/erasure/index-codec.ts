// The one place that decides which ErasureCodec implementation the rest of Tessera gets.
// Today that is the pure-TypeScript ReedSolomon; a native (SIMD) coder can be plugged in here
// later, and as long as it uses the same encoding matrix its shards stay interchangeable.

import type { ErasureCodec } from './codec.js';
import { ReedSolomon } from './reed-solomon.js';

/**
 * One codec per layout, shared. Callers may well ask for a codec per stripe; sharing keeps the
 * encoding matrix from being rebuilt each time and lets the per-loss-pattern decode matrices
 * cached inside ReedSolomon actually be reused. Sharing is safe: encode and reconstruct are
 * synchronous and keep no per-call state between calls.
 */
const codecs = new Map<string, ErasureCodec>();

export function createCodec(k: number, m: number): ErasureCodec {
  const key = `${k}+${m}`;
  let codec = codecs.get(key);
  if (codec === undefined) {
    codec = new ReedSolomon(k, m); // validates k and m (throws before anything is cached)
    codecs.set(key, codec);
  }
  return codec;
}
