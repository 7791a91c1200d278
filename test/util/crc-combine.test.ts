import { test } from 'node:test';
import assert from 'node:assert/strict';
import { combineCrc } from '../../src/util/crc-combine.js';
import { createChecksummer } from '../../src/util/checksums.js';
import { patternBuffer } from '../helpers/data.js';
import type { ChecksumAlgorithm } from '../../src/meta/types.js';

const digest = (alg: ChecksumAlgorithm, b: Buffer) => {
  const c = createChecksummer(alg);
  c.update(b);
  return c.digest();
};

test('combined CRCs equal the CRC of the concatenation, for every CRC S3 offers', () => {
  for (const alg of ['CRC32', 'CRC32C', 'CRC64NVME'] as const) {
    for (const [la, lb] of [[0, 0], [0, 5], [5, 0], [1, 1], [1000, 3], [65536, 65537], [5 * 1024 * 1024, 12345]]) {
      const a = patternBuffer(la, 3);
      const b = patternBuffer(lb, 4);
      const whole = digest(alg, Buffer.concat([a, b]));
      assert.deepEqual(combineCrc(alg, digest(alg, a), digest(alg, b), lb), whole, `${alg} ${la}+${lb}`);
    }
    // Folding many parts left to right, as Complete does.
    const parts = [7, 1 << 20, 3, 99999, 0, 42].map((n, i) => patternBuffer(n, i));
    let acc = digest(alg, parts[0]);
    for (const p of parts.slice(1)) acc = combineCrc(alg, acc, digest(alg, p), p.length);
    assert.deepEqual(acc, digest(alg, Buffer.concat(parts)), `${alg} fold`);
  }
});
