// CRC-64/NVME, the checksum S3 calls CRC64NVME: reflected polynomial 0x9a6c9329ac4bc9b5,
// initial value and final xor all ones.
//
// JavaScript has no fast 64-bit integers (BigInt is an order of magnitude slower), so the
// 64-bit register is kept as two unsigned 32-bit halves and the tables likewise. Slicing-by-8
// folds eight input bytes per step through eight 256-entry tables, which is what makes a pure
// JS CRC usable at object sizes.

const POLY_LO = 0xac4bc9b5;
const POLY_HI = 0x9a6c9329;

/** TABLE_LO/TABLE_HI[k * 256 + n]: contribution of byte n that is k bytes from the end of an 8-byte block. */
const TABLE_LO = new Uint32Array(8 * 256);
const TABLE_HI = new Uint32Array(8 * 256);

(function buildTables(): void {
  for (let n = 0; n < 256; n++) {
    let lo = n;
    let hi = 0;
    for (let bit = 0; bit < 8; bit++) {
      const lsb = lo & 1;
      lo = ((lo >>> 1) | ((hi & 1) << 31)) >>> 0;
      hi = hi >>> 1;
      if (lsb) {
        lo = (lo ^ POLY_LO) >>> 0;
        hi = (hi ^ POLY_HI) >>> 0;
      }
    }
    TABLE_LO[n] = lo;
    TABLE_HI[n] = hi;
  }
  for (let k = 1; k < 8; k++) {
    for (let n = 0; n < 256; n++) {
      const prevLo = TABLE_LO[(k - 1) * 256 + n];
      const prevHi = TABLE_HI[(k - 1) * 256 + n];
      const idx = prevLo & 0xff;
      // (prev >> 8) ^ T0[prev & 0xff]
      TABLE_LO[k * 256 + n] = (((prevLo >>> 8) | (prevHi << 24)) ^ TABLE_LO[idx]) >>> 0;
      TABLE_HI[k * 256 + n] = ((prevHi >>> 8) ^ TABLE_HI[idx]) >>> 0;
    }
  }
})();

/** Incremental CRC-64/NVME. The register is stored pre-inverted, as the algorithm runs it. */
export class Crc64Nvme {
  private lo = 0xffffffff;
  private hi = 0xffffffff;

  update(buf: Uint8Array): this {
    let lo = this.lo;
    let hi = this.hi;
    let i = 0;
    const len = buf.length;
    const TL = TABLE_LO;
    const TH = TABLE_HI;
    for (const end8 = len - (len % 8); i < end8; i += 8) {
      const a = (lo ^ (buf[i] | (buf[i + 1] << 8) | (buf[i + 2] << 16) | (buf[i + 3] << 24))) >>> 0;
      const b = (hi ^ (buf[i + 4] | (buf[i + 5] << 8) | (buf[i + 6] << 16) | (buf[i + 7] << 24))) >>> 0;
      const i7 = 7 * 256 + (a & 0xff);
      const i6 = 6 * 256 + ((a >>> 8) & 0xff);
      const i5 = 5 * 256 + ((a >>> 16) & 0xff);
      const i4 = 4 * 256 + (a >>> 24);
      const i3 = 3 * 256 + (b & 0xff);
      const i2 = 2 * 256 + ((b >>> 8) & 0xff);
      const i1 = 256 + ((b >>> 16) & 0xff);
      const i0 = b >>> 24;
      lo = (TL[i7] ^ TL[i6] ^ TL[i5] ^ TL[i4] ^ TL[i3] ^ TL[i2] ^ TL[i1] ^ TL[i0]) >>> 0;
      hi = (TH[i7] ^ TH[i6] ^ TH[i5] ^ TH[i4] ^ TH[i3] ^ TH[i2] ^ TH[i1] ^ TH[i0]) >>> 0;
    }
    for (; i < len; i++) {
      const idx = (lo ^ buf[i]) & 0xff;
      lo = (((lo >>> 8) | (hi << 24)) ^ TL[idx]) >>> 0;
      hi = ((hi >>> 8) ^ TH[idx]) >>> 0;
    }
    this.lo = lo;
    this.hi = hi;
    return this;
  }

  /** The 8 checksum bytes, big-endian (the order S3 base64-encodes). */
  digest(): Buffer {
    const out = Buffer.allocUnsafe(8);
    out.writeUInt32BE((this.hi ^ 0xffffffff) >>> 0, 0);
    out.writeUInt32BE((this.lo ^ 0xffffffff) >>> 0, 4);
    return out;
  }

  /** The checksum as a bigint (for tests and logs). */
  value(): bigint {
    return this.digest().readBigUInt64BE(0);
  }
}

export function crc64nvme(buf: Uint8Array): Buffer {
  return new Crc64Nvme().update(buf).digest();
}
