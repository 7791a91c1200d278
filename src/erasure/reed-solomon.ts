// Systematic Reed-Solomon erasure code over GF(2^8), in plain TypeScript.
//
// A stripe is k data blocks d[0..k) and m parity blocks. The (k+m)×k encoding matrix M has the
// k×k identity on top, so the data blocks are stored as they are (a healthy read needs no
// decoding) and parity row j is p[j] = Σ_i M[k+j][i]·d[i]. Any k of the k+m rows of M form an
// invertible matrix, so any k surviving blocks determine the data: take those k rows of M,
// invert, multiply by the surviving blocks.
//
// M is built from a Vandermonde matrix V (row r = [r^0, r^1, …, r^(k-1)] for the distinct
// field elements r = 0..k+m-1). Any k rows of V are invertible (a square Vandermonde matrix
// with distinct points is). M = V · (top k×k of V)^-1 keeps that property, because any k rows
// of M are the same k rows of V times one fixed invertible matrix, and its top is the identity.
// The field has 256 elements, hence the limit k + m ≤ 256.
//
// The matrix is part of the on-disk format: parity written today must decode tomorrow. A test
// pins the parity of a fixed input to a golden value so an accidental change is noticed.

import type { ErasureCodec } from './codec.js';
import { matInvert, matMul, matSub, matSubRows, mulMatrix, gfPow, type Matrix } from './gf256.js';

/** Largest k + m: one distinct evaluation point per field element. */
export const MAX_SHARDS = 256;

/** How many decode matrices (one per distinct set of surviving rows) to keep. */
const DECODE_CACHE_SIZE = 64;

/** The (k+m)×k systematic encoding matrix described at the top of this file. */
export function buildEncodingMatrix(k: number, m: number): Matrix {
  const n = k + m;
  const vandermonde: Matrix = [];
  for (let r = 0; r < n; r++) {
    const row = new Uint8Array(k);
    for (let c = 0; c < k; c++) row[c] = gfPow(r, c);
    vandermonde.push(row);
  }
  const topInverse = matInvert(matSub(vandermonde, 0, k, 0, k));
  return matMul(vandermonde, topInverse);
}

function checkBlocks(blocks: readonly Uint8Array[], what: string, expectedLength: number): void {
  for (let i = 0; i < blocks.length; i++) {
    const b = blocks[i];
    if (!(b instanceof Uint8Array)) throw new Error(`ReedSolomon: ${what} block ${i} is not a Uint8Array`);
    if (b.length !== expectedLength) {
      throw new Error(
        `ReedSolomon: all blocks must have the same length; ${what} block ${i} has ${b.length}, expected ${expectedLength}`,
      );
    }
  }
}

/** True when the two views share at least one byte of memory. */
function overlaps(a: Uint8Array, b: Uint8Array): boolean {
  if (a.buffer !== b.buffer || a.length === 0 || b.length === 0) return false;
  return a.byteOffset < b.byteOffset + b.length && b.byteOffset < a.byteOffset + a.length;
}

/**
 * Output blocks are written while input blocks are still being read, so a block that is both
 * (or that shares memory with one) would silently produce garbage. Refuse it instead.
 */
function checkNoAliasing(inputs: readonly Uint8Array[], outputs: readonly Uint8Array[], what: string): void {
  const all = [...outputs, ...inputs];
  for (let o = 0; o < outputs.length; o++) {
    const out = outputs[o]!;
    // Compare with every other position (not every other object: the same view passed twice
    // is exactly the mistake to catch).
    for (let j = 0; j < all.length; j++) {
      if (j !== o && overlaps(out, all[j]!)) throw new Error(`ReedSolomon: ${what} blocks must not share memory`);
    }
  }
}

export class ReedSolomon implements ErasureCodec {
  readonly k: number;
  readonly m: number;
  /** (k+m)×k; rows 0..k-1 are the identity, rows k.. are the parity coefficients. */
  private readonly matrix: Matrix;
  /** Rows k.. of `matrix`: one row of coefficients per parity block. */
  private readonly parityRows: Matrix;
  /** Keyed by the chosen surviving row indices; value: the inverse of those rows of `matrix`. */
  private readonly decodeCache = new Map<string, Matrix>();

  constructor(k: number, m: number) {
    if (!Number.isInteger(k) || k < 1) throw new Error(`ReedSolomon: k (data blocks) must be an integer ≥ 1, got ${k}`);
    if (!Number.isInteger(m) || m < 0) throw new Error(`ReedSolomon: m (parity blocks) must be an integer ≥ 0, got ${m}`);
    if (k + m > MAX_SHARDS) throw new Error(`ReedSolomon: k + m must be at most ${MAX_SHARDS}, got ${k + m}`);
    this.k = k;
    this.m = m;
    this.matrix = buildEncodingMatrix(k, m);
    this.parityRows = this.matrix.slice(k);
  }

  /** A copy of the encoding matrix (for tests and diagnostics). */
  encodingMatrix(): Matrix {
    return this.matrix.map((row) => row.slice());
  }

  encode(data: Uint8Array[], parity: Uint8Array[]): void {
    const { k, m } = this;
    if (!Array.isArray(data) || data.length !== k) {
      throw new Error(`ReedSolomon: encode needs exactly ${k} data blocks, got ${Array.isArray(data) ? data.length : typeof data}`);
    }
    if (!Array.isArray(parity) || parity.length !== m) {
      throw new Error(`ReedSolomon: encode needs exactly ${m} parity blocks, got ${Array.isArray(parity) ? parity.length : typeof parity}`);
    }
    const len = data[0] instanceof Uint8Array ? data[0].length : 0;
    checkBlocks(data, 'data', len);
    checkBlocks(parity, 'parity', len);
    // m = 0 (no redundancy) is legal: there is simply nothing to compute.
    checkNoAliasing(data, parity, 'data and parity');
    // All parity rows in one pass over the data (see mulMatrix in gf256.ts).
    mulMatrix(this.parityRows, data, parity);
  }

  reconstruct(shards: Uint8Array[], present: boolean[]): void {
    const { k, m } = this;
    const n = k + m;
    if (!Array.isArray(shards) || shards.length !== n) {
      throw new Error(`ReedSolomon: reconstruct needs exactly ${n} shards, got ${Array.isArray(shards) ? shards.length : typeof shards}`);
    }
    if (!Array.isArray(present) || present.length !== n) {
      throw new Error(
        `ReedSolomon: reconstruct needs exactly ${n} present flags, got ${Array.isArray(present) ? present.length : typeof present}`,
      );
    }
    const len = shards[0] instanceof Uint8Array ? shards[0].length : 0;
    checkBlocks(shards, 'shard', len);

    // The first k present shards are the ones we decode from. Taking them in order prefers
    // data shards, whose rows are identity rows: that keeps the decode work smallest.
    const used: number[] = [];
    const missingData: number[] = [];
    const missingParity: number[] = [];
    let presentCount = 0;
    for (let i = 0; i < n; i++) {
      if (present[i] === true) {
        presentCount++;
        if (used.length < k) used.push(i);
      } else if (i < k) missingData.push(i);
      else missingParity.push(i);
    }
    if (presentCount < k) {
      throw new Error(`ReedSolomon: cannot reconstruct from ${presentCount} present shards; at least ${k} are needed`);
    }
    if (missingData.length === 0 && missingParity.length === 0) return;

    const inputs = used.map((i) => shards[i]!);
    const outputs = [...missingData, ...missingParity].map((i) => shards[i]!);
    checkNoAliasing(inputs, outputs, 'present and missing');

    if (missingData.length > 0) {
      // d[i] = Σ_j decode[i][j] · shard[used[j]], for every missing i in one pass.
      const decode = this.decodeMatrix(used);
      mulMatrix(
        missingData.map((i) => decode[i]!),
        inputs,
        missingData.map((i) => shards[i]!),
      );
    }
    // With every data block back, missing parity is ordinary encoding.
    if (missingParity.length > 0) {
      mulMatrix(
        missingParity.map((p) => this.matrix[p]!),
        shards.slice(0, k),
        missingParity.map((p) => shards[p]!),
      );
    }
  }

  /** The inverse of the rows `used` of the encoding matrix, cached per set of rows. */
  private decodeMatrix(used: readonly number[]): Matrix {
    const key = used.join(',');
    let inv = this.decodeCache.get(key);
    if (inv !== undefined) {
      // Re-insert so Map order approximates least-recently-used.
      this.decodeCache.delete(key);
      this.decodeCache.set(key, inv);
      return inv;
    }
    // Invertible by construction (see the top of the file); matInvert throws if not.
    inv = matInvert(matSubRows(this.matrix, used));
    if (this.decodeCache.size >= DECODE_CACHE_SIZE) {
      const oldest = this.decodeCache.keys().next().value;
      if (oldest !== undefined) this.decodeCache.delete(oldest);
    }
    this.decodeCache.set(key, inv);
    return inv;
  }
}
