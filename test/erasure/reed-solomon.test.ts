// Tests for the GF(2^8) arithmetic and the Reed-Solomon codec.
//
// The field operations are checked against a slow, independent bit-by-bit multiplication, so
// the fast table-driven code is never only compared with itself. Randomness comes from a
// seeded generator so a failure reproduces.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  EXP,
  LOG,
  gfAdd,
  gfDiv,
  gfInv,
  gfMul,
  gfPow,
  matIdentity,
  matInvert,
  matMul,
  matSub,
  matSubRows,
  mulSlice,
  mulSliceXor,
  type Matrix,
} from '../../src/erasure/gf256.js';
import { ReedSolomon, buildEncodingMatrix } from '../../src/erasure/reed-solomon.js';
import { createCodec } from '../../src/erasure/index-codec.js';

// ----- helpers --------------------------------------------------------------------------------

/** Reference multiplication: shift-and-add with reduction by 0x11d, one bit at a time. */
function slowMul(a: number, b: number): number {
  let result = 0;
  while (b > 0) {
    if (b & 1) result ^= a;
    b >>= 1;
    a <<= 1;
    if (a & 0x100) a ^= 0x11d;
  }
  return result;
}

/** Deterministic PRNG (xorshift32), so failures are reproducible. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

function randomBytes(next: () => number, len: number): Uint8Array {
  const out = new Uint8Array(len);
  for (let i = 0; i < len; i++) out[i] = next() & 0xff;
  return out;
}

/** All subsets of {0..n-1} of size at most `max`, as sorted index arrays. */
function subsetsUpTo(n: number, max: number): number[][] {
  const out: number[][] = [];
  for (let mask = 0; mask < 1 << n; mask++) {
    const set: number[] = [];
    for (let i = 0; i < n; i++) if (mask & (1 << i)) set.push(i);
    if (set.length <= max) out.push(set);
  }
  return out;
}

/** `size` distinct indices from 0..n-1, chosen at random. */
function randomSubset(next: () => number, n: number, size: number): number[] {
  const pool = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = next() % (i + 1);
    [pool[i], pool[j]] = [pool[j]!, pool[i]!];
  }
  return pool.slice(0, size).sort((a, b) => a - b);
}

/** Parity computed the slow way from the encoding matrix, as an independent check of encode. */
function slowParity(matrix: Matrix, k: number, m: number, data: Uint8Array[]): Uint8Array[] {
  const len = data[0]?.length ?? 0;
  const out: Uint8Array[] = [];
  for (let j = 0; j < m; j++) {
    const p = new Uint8Array(len);
    for (let i = 0; i < k; i++) {
      const c = matrix[k + j]![i]!;
      const d = data[i]!;
      for (let b = 0; b < len; b++) p[b]! ^= slowMul(c, d[b]!);
    }
    out.push(p);
  }
  return out;
}

/**
 * Encodes random data, then for each loss pattern overwrites the lost shards with garbage,
 * reconstructs, and checks every shard is bit-exact (lost ones restored, present ones untouched).
 */
function checkRoundTrip(rs: ReedSolomon, len: number, patterns: number[][], next: () => number): void {
  const { k, m } = rs;
  const data = Array.from({ length: k }, () => randomBytes(next, len));
  const parity = Array.from({ length: m }, () => randomBytes(next, len)); // garbage: encode must overwrite
  rs.encode(data, parity);
  const original = [...data, ...parity].map((b) => b.slice());
  // Small blocks: check encode itself against the slow reference (large ones would be slow).
  if (len <= 64) {
    const expected = slowParity(rs.encodingMatrix(), k, m, data);
    for (let j = 0; j < m; j++) assert.deepEqual(parity[j], expected[j], `parity ${j} of k=${k} m=${m} len=${len}`);
  }
  for (const lost of patterns) {
    const shards: Uint8Array[] = original.map((b) => b.slice());
    const present = shards.map(() => true);
    for (const i of lost) {
      present[i] = false;
      shards[i] = randomBytes(next, len);
    }
    rs.reconstruct(shards, present);
    for (let i = 0; i < k + m; i++) {
      assert.deepEqual(shards[i], original[i], `k=${k} m=${m} len=${len} lost=[${lost}] shard ${i}`);
    }
  }
}

// ----- GF(2^8) --------------------------------------------------------------------------------

describe('gf256', () => {
  it('exp/log tables are inverse bijections over the non-zero elements', () => {
    const seen = new Set<number>();
    for (let e = 0; e < 255; e++) {
      const x = EXP[e]!;
      assert.notEqual(x, 0);
      seen.add(x);
      assert.equal(LOG[x], e);
    }
    assert.equal(seen.size, 255, '2 generates the whole multiplicative group');
    for (let e = 255; e < 510; e++) assert.equal(EXP[e], EXP[e - 255]);
  });

  it('mul agrees with bitwise multiplication for every pair', () => {
    for (let a = 0; a < 256; a++) {
      for (let b = 0; b < 256; b++) {
        if (gfMul(a, b) !== slowMul(a, b)) assert.fail(`gfMul(${a}, ${b}) = ${gfMul(a, b)}, expected ${slowMul(a, b)}`);
      }
    }
  });

  it('identities, commutativity, inverses and division for every element', () => {
    for (let a = 0; a < 256; a++) {
      assert.equal(gfMul(a, 0), 0);
      assert.equal(gfMul(a, 1), a);
      assert.equal(gfAdd(a, a), 0);
      assert.equal(gfAdd(a, 0), a);
      for (let b = 0; b < 256; b++) {
        if (gfMul(a, b) !== gfMul(b, a)) assert.fail(`mul not commutative at ${a}, ${b}`);
        if (b !== 0 && gfMul(gfDiv(a, b), b) !== a) assert.fail(`(${a} / ${b}) * ${b} != ${a}`);
        if (b !== 0 && gfDiv(gfMul(a, b), b) !== a) assert.fail(`(${a} * ${b}) / ${b} != ${a}`);
      }
      if (a !== 0) {
        assert.equal(gfMul(a, gfInv(a)), 1, `inverse of ${a}`);
        assert.equal(gfDiv(1, a), gfInv(a));
        assert.equal(gfDiv(a, a), 1);
      }
    }
  });

  it('associativity and distributivity (random triples)', () => {
    const next = rng(0x5eed);
    for (let n = 0; n < 50_000; n++) {
      const a = next() & 0xff;
      const b = next() & 0xff;
      const c = next() & 0xff;
      assert.equal(gfMul(a, gfMul(b, c)), gfMul(gfMul(a, b), c));
      assert.equal(gfMul(a, gfAdd(b, c)), gfAdd(gfMul(a, b), gfMul(a, c)));
    }
  });

  it('pow follows repeated multiplication, with 0^0 = 1', () => {
    for (let a = 0; a < 256; a++) {
      let x = 1;
      for (let n = 0; n < 300; n++) {
        assert.equal(gfPow(a, n), x, `${a}^${n}`);
        x = gfMul(x, a);
      }
    }
  });

  it('refuses division by zero and the inverse of zero', () => {
    assert.throws(() => gfDiv(5, 0), /division by zero/);
    assert.throws(() => gfInv(0), /no inverse/);
    assert.throws(() => gfInv(256), /\[0, 255\]/);
    assert.throws(() => gfPow(2, -1), /exponent/);
  });

  it('mulSlice / mulSliceXor match the scalar product for every constant', () => {
    const next = rng(42);
    const src = randomBytes(next, 300);
    const base = randomBytes(next, 300);
    for (let c = 0; c < 256; c++) {
      const set = new Uint8Array(300);
      mulSlice(c, src, set);
      const acc = base.slice();
      mulSliceXor(c, src, acc);
      for (let i = 0; i < 300; i++) {
        const p = slowMul(c, src[i]!);
        if (set[i] !== p) assert.fail(`mulSlice c=${c} i=${i}`);
        if (acc[i] !== (base[i]! ^ p)) assert.fail(`mulSliceXor c=${c} i=${i}`);
      }
    }
  });

  it('slice routines are exact at every length and relative alignment', () => {
    // The word loop handles bytes before the first 4-byte boundary and after the last one
    // separately, and copies sources whose alignment differs from the destination's.
    const next = rng(7);
    const srcBuf = randomBytes(next, 300);
    const dstBuf = randomBytes(next, 300);
    for (const c of [0, 1, 2, 0x53, 0xff]) {
      for (const len of [0, 1, 3, 4, 5, 63, 64, 65, 67, 128, 131, 257]) {
        for (let so = 0; so < 4; so++) {
          for (let dof = 0; dof < 4; dof++) {
            const src = srcBuf.subarray(so, so + len);
            const before = dstBuf.slice();
            const dst1 = before.slice();
            mulSliceXor(c, src, dst1.subarray(dof, dof + len));
            const dst2 = before.slice();
            mulSlice(c, src, dst2.subarray(dof, dof + len));
            for (let i = 0; i < 300; i++) {
              const inside = i >= dof && i < dof + len;
              const p = inside ? slowMul(c, src[i - dof]!) : 0;
              const want1 = inside ? before[i]! ^ p : before[i]!;
              const want2 = inside ? p : before[i]!;
              if (dst1[i] !== want1) assert.fail(`xor c=${c} len=${len} so=${so} do=${dof} i=${i}`);
              if (dst2[i] !== want2) assert.fail(`set c=${c} len=${len} so=${so} do=${dof} i=${i}`);
            }
          }
        }
      }
    }
  });

  it('slice routines refuse unequal lengths', () => {
    assert.throws(() => mulSliceXor(3, new Uint8Array(4), new Uint8Array(5)), /lengths differ/);
    assert.throws(() => mulSlice(3, new Uint8Array(4), new Uint8Array(5)), /lengths differ/);
  });
});

describe('gf256 matrices', () => {
  it('identity is neutral and inversion round-trips on random matrices', () => {
    const next = rng(99);
    let inverted = 0;
    for (let trial = 0; trial < 300; trial++) {
      const n = 1 + (trial % 12);
      const a: Matrix = Array.from({ length: n }, () => randomBytes(next, n));
      assert.deepEqual(matMul(a, matIdentity(n)), a);
      assert.deepEqual(matMul(matIdentity(n), a), a);
      let inv: Matrix;
      try {
        inv = matInvert(a);
      } catch {
        continue; // a random matrix is occasionally singular
      }
      inverted++;
      assert.deepEqual(matMul(a, inv), matIdentity(n));
      assert.deepEqual(matMul(inv, a), matIdentity(n));
    }
    assert.ok(inverted > 250, `most random matrices are invertible (got ${inverted})`);
  });

  it('inversion leaves its input unchanged and rejects singular or non-square input', () => {
    const a: Matrix = [Uint8Array.from([1, 2]), Uint8Array.from([3, 4])];
    const copy = a.map((r) => r.slice());
    matInvert(a);
    assert.deepEqual(a, copy);
    assert.throws(() => matInvert([Uint8Array.from([1, 2]), Uint8Array.from([2, 4])]), /singular/);
    assert.throws(() => matInvert([Uint8Array.from([0, 0]), Uint8Array.from([0, 0])]), /singular/);
    assert.throws(() => matInvert([Uint8Array.from([1, 2])]), /non-square/);
    assert.throws(() => matMul([Uint8Array.from([1, 2])], [Uint8Array.from([1, 2])]), /cannot multiply/);
  });

  it('sub-matrices pick the requested rows and columns', () => {
    const a: Matrix = [Uint8Array.from([1, 2, 3]), Uint8Array.from([4, 5, 6]), Uint8Array.from([7, 8, 9])];
    assert.deepEqual(matSub(a, 1, 3, 0, 2), [Uint8Array.from([4, 5]), Uint8Array.from([7, 8])]);
    assert.deepEqual(matSubRows(a, [2, 0]), [Uint8Array.from([7, 8, 9]), Uint8Array.from([1, 2, 3])]);
    assert.throws(() => matSubRows(a, [3]), /out of range/);
  });
});

// ----- Reed-Solomon ---------------------------------------------------------------------------

/** Every (k, m) with k ≥ 1, m ≥ 0, k + m ≤ 16. */
const LAYOUTS: [number, number][] = [];
for (let k = 1; k <= 16; k++) for (let m = 0; k + m <= 16; m++) LAYOUTS.push([k, m]);

describe('ReedSolomon encoding matrix', () => {
  it('is systematic: the top k×k is the identity', () => {
    for (const [k, m] of LAYOUTS) {
      assert.deepEqual(matSub(buildEncodingMatrix(k, m), 0, k, 0, k), matIdentity(k), `k=${k} m=${m}`);
    }
  });

  it('every choice of k rows is invertible, for every k + m ≤ 16', () => {
    // Rows of a layout (k, m) are the first k+m rows of layout (k, 16-k) (both are the same
    // Vandermonde matrix times the same inverse), so checking k + m = 16 covers all m.
    for (let k = 1; k <= 16; k++) {
      const m = 16 - k;
      const matrix = buildEncodingMatrix(k, m);
      for (let mm = 0; mm <= m; mm++) {
        assert.deepEqual(buildEncodingMatrix(k, mm), matrix.slice(0, k + mm), `layout k=${k} m=${mm} is a prefix`);
      }
      // Enumerate k-subsets of the 16 rows by bitmask.
      let checked = 0;
      for (let mask = 0; mask < 1 << 16; mask++) {
        let bits = 0;
        for (let x = mask; x; x &= x - 1) bits++;
        if (bits !== k) continue;
        const rows: number[] = [];
        for (let i = 0; i < 16; i++) if (mask & (1 << i)) rows.push(i);
        const sub = matSubRows(matrix, rows);
        let inv: Matrix;
        try {
          inv = matInvert(sub);
        } catch {
          assert.fail(`k=${k} m=${m}: rows [${rows}] are singular`);
        }
        if (checked % 97 === 0) assert.deepEqual(matMul(sub, inv), matIdentity(k));
        checked++;
      }
      let binomial = 1;
      for (let i = 0; i < k; i++) binomial = (binomial * (16 - i)) / (i + 1);
      assert.equal(checked, binomial, `k=${k}: all C(16, k) row choices checked`);
    }
  });

  it('a large layout (k=128, m=128) is systematic and decodes from parity only', () => {
    const matrix = buildEncodingMatrix(128, 128);
    assert.deepEqual(matSub(matrix, 0, 128, 0, 128), matIdentity(128));
    const parityRows = Array.from({ length: 128 }, (_, i) => 128 + i);
    matInvert(matSubRows(matrix, parityRows)); // throws if singular
  });
});

describe('ReedSolomon', () => {
  it('golden parity for k=2, m=2 (our own reference values; a change means a format change)', () => {
    // These expected values were computed once by this implementation (and spot-checked by
    // hand: parity rows are [3, 2] and [2, 3]). They are OUR golden values, not taken from any
    // other library. If this test fails, the encoding matrix or the field changed, and every
    // stored shard written before would decode wrongly: do not just update the numbers.
    const rs = new ReedSolomon(2, 2);
    assert.deepEqual(
      rs.encodingMatrix().map((r) => [...r]),
      [
        [1, 0],
        [0, 1],
        [3, 2],
        [2, 3],
      ],
    );
    const data = [Uint8Array.from([0, 1, 2, 3, 4, 5, 6, 7]), Uint8Array.from([8, 9, 10, 11, 12, 13, 14, 15])];
    const parity = [new Uint8Array(8), new Uint8Array(8)];
    rs.encode(data, parity);
    assert.equal(Buffer.from(parity[0]!).toString('hex'), '1011121314151617');
    assert.equal(Buffer.from(parity[1]!).toString('hex'), '18191a1b1c1d1e1f');
  });

  it('golden parity for k=4, m=2 on a 4099-byte block (word path; our own reference values)', () => {
    // Our own golden values, as above. The block is long and odd-sized so the 32-bit loop and
    // the byte tail both contribute.
    const rs = new ReedSolomon(4, 2);
    const len = 4099;
    const data = Array.from({ length: 4 }, (_, s) => Uint8Array.from({ length: len }, (_, i) => (i * 31 + s * 101 + 7) & 255));
    const parity = [new Uint8Array(len), new Uint8Array(len)];
    rs.encode(data, parity);
    const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
    assert.equal(sha(parity[0]!), '4a186693ea94eaa1b5d3d737993ada93787f3c7ed18d9929754df9767b77f096');
    assert.equal(sha(parity[1]!), '351f3d878b35dd04fcd146993470d32a2a438d5c0853796d6a144fba0612b5a4');
    assert.deepEqual(parity, slowParity(rs.encodingMatrix(), 4, 2, data));
  });

  describe('round trips for every k + m ≤ 16', () => {
    for (const [k, m] of LAYOUTS) {
      const n = k + m;
      it(`k=${k} m=${m}`, () => {
        const next = rng(1000 * k + m);
        const rs = new ReedSolomon(k, m);
        for (const len of [0, 1, 7, 4096 + 3]) {
          let patterns: number[][];
          if (n <= 6) {
            // Every loss pattern of up to m shards, data and parity.
            patterns = subsetsUpTo(n, m);
          } else {
            // A sample: always all data lost when possible, then random patterns of each size.
            patterns = [[], Array.from({ length: Math.min(m, k) }, (_, i) => i)];
            for (let s = 1; s <= m; s++) {
              for (let t = 0; t < (len > 1000 ? 2 : 4); t++) patterns.push(randomSubset(next, n, s));
            }
          }
          checkRoundTrip(rs, len, patterns, next);
        }
      });
    }
  });

  it('decodes correctly when more loss patterns occur than the decode cache holds', () => {
    // k=4, m=4 has 163 loss patterns of up to 4 shards; the cache keeps 64 decode matrices.
    const rs = new ReedSolomon(4, 4);
    const patterns = subsetsUpTo(8, 4);
    const next = rng(3);
    checkRoundTrip(rs, 100, [...patterns, ...patterns.reverse()], next);
  });

  it('works on blocks that are unaligned views into shared buffers', () => {
    // The stripe writer hands in subarrays of one buffer at arbitrary offsets.
    const next = rng(11);
    const k = 3;
    const m = 2;
    const len = 1001;
    const rs = new ReedSolomon(k, m);
    const pool = randomBytes(next, 1 + (k + m) * len);
    const blocks = Array.from({ length: k + m }, (_, i) => pool.subarray(1 + i * len, 1 + (i + 1) * len));
    rs.encode(blocks.slice(0, k), blocks.slice(k));
    const copies = blocks.map((b) => b.slice());
    assert.deepEqual(blocks.slice(k), slowParity(rs.encodingMatrix(), k, m, copies.slice(0, k)));
    for (const lost of [[0, 1], [1, 4], [3, 4], [0, 3]]) {
      for (const i of lost) blocks[i]!.fill(0xa5);
      const present = blocks.map((_, i) => !lost.includes(i));
      rs.reconstruct(blocks, present);
      assert.deepEqual(blocks, copies, `lost [${lost}]`);
    }
  });

  it('m = 0: encode does nothing and reconstruct with all present is a no-op', () => {
    const rs = new ReedSolomon(3, 0);
    const data = [Uint8Array.from([1, 2]), Uint8Array.from([3, 4]), Uint8Array.from([5, 6])];
    rs.encode(data, []);
    assert.deepEqual(data, [Uint8Array.from([1, 2]), Uint8Array.from([3, 4]), Uint8Array.from([5, 6])]);
    rs.reconstruct(data, [true, true, true]);
    assert.deepEqual(data, [Uint8Array.from([1, 2]), Uint8Array.from([3, 4]), Uint8Array.from([5, 6])]);
    assert.throws(() => rs.reconstruct(data, [true, false, true]), /at least 3/);
  });

  it('zero-length blocks are a no-op', () => {
    const rs = new ReedSolomon(2, 2);
    const shards = [new Uint8Array(0), new Uint8Array(0), new Uint8Array(0), new Uint8Array(0)];
    rs.encode(shards.slice(0, 2), shards.slice(2));
    rs.reconstruct(shards, [false, true, false, true]);
    assert.ok(shards.every((s) => s.length === 0));
  });

  it('reconstruct throws when fewer than k shards are present', () => {
    const rs = new ReedSolomon(4, 2);
    const shards = Array.from({ length: 6 }, () => new Uint8Array(16));
    assert.throws(() => rs.reconstruct(shards, [true, true, true, false, false, false]), /from 3 present shards; at least 4/);
    assert.throws(() => rs.reconstruct(shards, [false, false, false, false, false, false]), /at least 4/);
  });

  it('rejects bad constructor arguments', () => {
    assert.throws(() => new ReedSolomon(0, 2), /k \(data blocks\)/);
    assert.throws(() => new ReedSolomon(1.5, 2), /k \(data blocks\)/);
    assert.throws(() => new ReedSolomon(2, -1), /m \(parity blocks\)/);
    assert.throws(() => new ReedSolomon(2, Number.NaN), /m \(parity blocks\)/);
    assert.throws(() => new ReedSolomon(200, 57), /at most 256/);
    assert.doesNotThrow(() => new ReedSolomon(1, 255));
  });

  it('rejects wrong block counts, unequal lengths and shared memory', () => {
    const rs = new ReedSolomon(2, 2);
    const b = () => new Uint8Array(8);
    assert.throws(() => rs.encode([b()], [b(), b()]), /exactly 2 data blocks/);
    assert.throws(() => rs.encode([b(), b()], [b()]), /exactly 2 parity blocks/);
    assert.throws(() => rs.encode([b(), new Uint8Array(9)], [b(), b()]), /same length/);
    assert.throws(() => rs.encode([b(), b()], [b(), new Uint8Array(7)]), /same length/);
    const d = b();
    assert.throws(() => rs.encode([d, b()], [d, b()]), /share memory/);
    const pool = new Uint8Array(20);
    assert.throws(() => rs.encode([pool.subarray(0, 8), b()], [pool.subarray(4, 12), b()]), /share memory/);
    assert.throws(() => rs.reconstruct([b(), b(), b()], [true, true, true]), /exactly 4 shards/);
    assert.throws(() => rs.reconstruct([b(), b(), b(), b()], [true, true, true]), /exactly 4 present flags/);
    assert.throws(() => rs.reconstruct([b(), b(), b(), new Uint8Array(3)], [true, true, true, false]), /same length/);
  });

  it('createCodec returns a working codec for the layout, shared per layout', () => {
    const codec = createCodec(3, 2);
    assert.equal(codec.k, 3);
    assert.equal(codec.m, 2);
    assert.equal(createCodec(3, 2), codec);
    assert.throws(() => createCodec(0, 1), /k \(data blocks\)/);
    const next = rng(5);
    const data = Array.from({ length: 3 }, () => randomBytes(next, 77));
    const parity = [new Uint8Array(77), new Uint8Array(77)];
    codec.encode(data, parity);
    const shards = [...data, ...parity].map((x) => x.slice());
    shards[0]!.fill(0);
    shards[2]!.fill(0);
    codec.reconstruct(shards, [false, true, false, true, true]);
    assert.deepEqual(shards, [...data, ...parity]);
  });
});
