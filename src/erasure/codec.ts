// The Reed-Solomon coder behind one small interface, so a faster implementation can replace
// the pure-TypeScript one without touching the stripe code (and tests cross-check them).

export interface ErasureCodec {
  readonly k: number;
  readonly m: number;
  /**
   * Computes the m parity blocks of one stripe. `data` holds k blocks of equal length;
   * `parity` holds m blocks of the same length, overwritten.
   */
  encode(data: Uint8Array[], parity: Uint8Array[]): void;
  /**
   * Rebuilds missing blocks in place. `shards` has k+m entries, data blocks first; `present[i]`
   * tells which are intact. At least k must be present. Every missing block (data and parity)
   * is overwritten with its reconstructed content; all blocks must have the same length.
   */
  reconstruct(shards: Uint8Array[], present: boolean[]): void;
}
