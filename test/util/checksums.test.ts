import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import {
  CHECKSUM_ALGORITHMS,
  checksumAlgorithmFromHeaderName,
  checksumBase64,
  checksumHeaderName,
  checksumLength,
  createChecksummer,
  decodeChecksumValue,
  isNativeCrc32c,
  parseChecksumAlgorithm,
  type ChecksumAlgorithm,
} from '../../src/util/checksums.js';
import { Crc64Nvme, crc64nvme } from '../../src/util/crc64nvme.js';

const CHECK_INPUT = Buffer.from('123456789');

// The standard "check" values of each CRC model, and the SHA digests of the same input.
const VECTORS: Record<ChecksumAlgorithm, string> = {
  CRC32: 'cbf43926',
  CRC32C: 'e3069283',
  CRC64NVME: 'ae8b14860a799888',
  SHA1: 'f7c3bc1d808e04732adf679965ccc34ca7ae3441',
  SHA256: '15e2b0d3c33891ebb0f1ef609ec419420c20e320ce94c65fbc8c3312448eb225',
};

function digestOf(alg: ChecksumAlgorithm, pieces: Buffer[]): Buffer {
  const c = createChecksummer(alg);
  for (const p of pieces) c.update(p);
  return c.digest();
}

test('known vectors for "123456789", big-endian bytes', () => {
  for (const alg of CHECKSUM_ALGORITHMS) {
    assert.equal(digestOf(alg, [CHECK_INPUT]).toString('hex'), VECTORS[alg], alg);
  }
});

test('empty input', () => {
  assert.equal(checksumBase64('CRC32', Buffer.alloc(0)), 'AAAAAA==');
  assert.equal(checksumBase64('CRC32C', Buffer.alloc(0)), 'AAAAAA==');
  assert.equal(checksumBase64('CRC64NVME', Buffer.alloc(0)), 'AAAAAAAAAAA=');
  assert.equal(checksumBase64('SHA256', Buffer.alloc(0)), '47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=');
});

test('S3 example: CRC32C of 66560 bytes of "a" is sOO8/Q==', () => {
  // From the "Signature calculations for trailing headers" example in the S3 API reference.
  assert.equal(checksumBase64('CRC32C', Buffer.alloc(66560, 'a')), 'sOO8/Q==');
});

test('incremental updates equal a one-shot digest, for every algorithm and split', () => {
  const data = randomBytes(100_003);
  for (const alg of CHECKSUM_ALGORITHMS) {
    const whole = digestOf(alg, [data]);
    assert.equal(whole.length, checksumLength(alg));
    for (const piece of [1, 3, 7, 8, 9, 4096, 65537]) {
      const pieces: Buffer[] = [];
      for (let i = 0; i < data.length; i += piece) pieces.push(data.subarray(i, i + piece));
      assert.deepEqual(digestOf(alg, pieces), whole, `${alg} in pieces of ${piece}`);
    }
    assert.deepEqual(digestOf(alg, [Buffer.alloc(0), data, Buffer.alloc(0)]), whole, `${alg} with empty updates`);
  }
});

/** Bit-at-a-time CRC-64/NVME, straight from the definition, to check the sliced tables. */
function crc64Reference(data: Uint8Array): bigint {
  const poly = 0x9a6c9329ac4bc9b5n;
  const mask = 0xffffffffffffffffn;
  let crc = mask;
  for (const byte of data) {
    crc ^= BigInt(byte);
    for (let k = 0; k < 8; k++) crc = crc & 1n ? (crc >> 1n) ^ poly : crc >> 1n;
  }
  return crc ^ mask;
}

test('CRC64NVME slicing-by-8 agrees with the bitwise definition at every length and offset', () => {
  const data = randomBytes(300);
  for (let len = 0; len <= 70; len++) {
    for (const offset of [0, 1, 5]) {
      const view = data.subarray(offset, offset + len);
      assert.equal(new Crc64Nvme().update(view).value(), crc64Reference(view), `len ${len} offset ${offset}`);
    }
  }
  assert.equal(crc64nvme(Buffer.alloc(32)).toString('hex'), 'cf3473434d4ecf3b');
});

test('header names and algorithm parsing', () => {
  assert.equal(checksumHeaderName('CRC32'), 'x-amz-checksum-crc32');
  assert.equal(checksumHeaderName('CRC64NVME'), 'x-amz-checksum-crc64nvme');
  assert.equal(parseChecksumAlgorithm('crc32c'), 'CRC32C');
  assert.equal(parseChecksumAlgorithm(' Sha256 '), 'SHA256');
  assert.equal(parseChecksumAlgorithm('CRC64NVME'), 'CRC64NVME');
  assert.equal(parseChecksumAlgorithm('md5'), undefined);
  assert.equal(parseChecksumAlgorithm(''), undefined);
  assert.equal(checksumAlgorithmFromHeaderName('X-Amz-Checksum-SHA1'), 'SHA1');
  assert.equal(checksumAlgorithmFromHeaderName('x-amz-checksum-algorithm'), undefined);
  assert.equal(checksumAlgorithmFromHeaderName('content-md5'), undefined);
});

test('decodeChecksumValue accepts only canonical base64 of the right length', () => {
  assert.deepEqual(decodeChecksumValue('CRC32', 'y/Q5Jg=='), Buffer.from('cbf43926', 'hex'));
  assert.equal(decodeChecksumValue('CRC32', 'y/Q5Jg'), undefined, 'padding is required');
  assert.equal(decodeChecksumValue('CRC32', 'AAAAAAAAAAA='), undefined, 'wrong length');
  assert.equal(decodeChecksumValue('CRC32', 'not base64!'), undefined);
  assert.equal(decodeChecksumValue('SHA256', ''), undefined);
});

test('CRC32C runs on the native SSE4.2 addon (fast-crc32c did not fall back to pure JS)', () => {
  assert.equal(isNativeCrc32c(), true);
});
