// Combining CRCs: crc(A ‖ B) from crc(A), crc(B) and |B|, without the data. This is what a
// FULL_OBJECT checksum of a multipart upload needs: the whole object's CRC from the parts'.
// Arithmetic is over GF(2) polynomials modulo the CRC polynomial, in the reflected bit order
// these CRCs use; x^(8·len) is computed by repeated squaring, so the cost is O(log len).

import type { ChecksumAlgorithm } from '../meta/types.js';

interface Field {
  bits: bigint;
  poly: bigint; // reflected
}

const FIELDS: Partial<Record<ChecksumAlgorithm, Field>> = {
  CRC32: { bits: 32n, poly: 0xedb88320n },
  CRC32C: { bits: 32n, poly: 0x82f63b78n },
  CRC64NVME: { bits: 64n, poly: 0x9a6c9329ac4bc9b5n },
};

/** a·b mod P, reflected (the top bit is x^0). */
function multmodp(f: Field, a: bigint, b: bigint): bigint {
  const top = 1n << (f.bits - 1n);
  let m = top;
  let p = 0n;
  for (;;) {
    if (a & m) {
      p ^= b;
      if ((a & (m - 1n)) === 0n) break;
    }
    m >>= 1n;
    b = b & 1n ? (b >> 1n) ^ f.poly : b >> 1n;
  }
  return p;
}

const powerCache = new Map<Field, bigint[]>();

/** x^(2^k) mod P for k = 0..63. */
function powers(f: Field): bigint[] {
  let t = powerCache.get(f);
  if (!t) {
    t = [1n << (f.bits - 2n)]; // x^1
    for (let k = 1; k < 64; k++) t.push(multmodp(f, t[k - 1], t[k - 1]));
    powerCache.set(f, t);
  }
  return t;
}

/** x^(8·len) mod P. */
function xPow8n(f: Field, len: number): bigint {
  const t = powers(f);
  let p = 1n << (f.bits - 1n); // x^0
  let n = BigInt(len);
  let k = 3; // 8 = 2^3
  while (n > 0n) {
    if (n & 1n) p = multmodp(f, t[k % 64], p);
    n >>= 1n;
    k++;
  }
  return p;
}

export function canCombine(alg: ChecksumAlgorithm): boolean {
  return FIELDS[alg] !== undefined;
}

/** The CRC of A‖B given crc(A), crc(B) (big-endian bytes, as S3 encodes them) and |B|. */
export function combineCrc(alg: ChecksumAlgorithm, crcA: Buffer, crcB: Buffer, lenB: number): Buffer {
  const f = FIELDS[alg];
  if (!f) throw new Error(`${alg} cannot be combined`);
  const a = BigInt('0x' + crcA.toString('hex'));
  const b = BigInt('0x' + crcB.toString('hex'));
  const r = multmodp(f, xPow8n(f, lenB), a) ^ b;
  return Buffer.from(r.toString(16).padStart(Number(f.bits) / 4, '0'), 'hex');
}
