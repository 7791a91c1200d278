// Arithmetic in GF(2^8), the field Reed-Solomon works in, plus the small amount of linear
// algebra over it that the codec needs.
//
// Elements are bytes. Addition and subtraction are both XOR. Multiplication is polynomial
// multiplication modulo the primitive polynomial x^8 + x^4 + x^3 + x^2 + 1 (0x11d), for which
// 2 is a generator: every non-zero element is 2^e for exactly one e in [0, 255). That makes
// log/exp tables possible, and from them a full 256x256 product table.
//
// Changing the polynomial or the generator would change every parity byte ever written, so
// both are fixed here for the life of the on-disk format (a golden-value test guards this).

/** The primitive polynomial, including the x^8 term. */
export const GF_POLY = 0x11d;

/**
 * EXP[e] = 2^e. Doubled to 510 entries so that EXP[LOG[a] + LOG[b]] needs no "mod 255":
 * the sum of two logs is at most 254 + 254 = 508.
 */
export const EXP = new Uint8Array(510);
/** LOG[a] = e such that 2^e = a, for a != 0. LOG[0] is meaningless (left 0); callers check. */
export const LOG = new Uint8Array(256);

{
  let x = 1;
  for (let e = 0; e < 255; e++) {
    EXP[e] = x;
    LOG[x] = e;
    x <<= 1;
    if (x & 0x100) x ^= GF_POLY;
  }
  for (let e = 255; e < 510; e++) EXP[e] = EXP[e - 255]!;
}

/**
 * MUL[(a << 8) | b] = a·b. 64 KiB, built once. Row `a` (MUL.subarray(a << 8, (a + 1) << 8))
 * is the "multiply by a" table used by the slice routines.
 */
export const MUL = new Uint8Array(256 * 256);

for (let a = 1; a < 256; a++) {
  const la = LOG[a]!;
  for (let b = 1; b < 256; b++) MUL[(a << 8) | b] = EXP[la + LOG[b]!]!;
}

function checkByte(x: number, name: string): void {
  if (!Number.isInteger(x) || x < 0 || x > 255) {
    throw new Error(`gf256: ${name} must be an integer in [0, 255], got ${x}`);
  }
}

/** a + b (and a - b): XOR. */
export function gfAdd(a: number, b: number): number {
  return (a ^ b) & 0xff;
}

/** a · b. */
export function gfMul(a: number, b: number): number {
  return MUL[((a & 0xff) << 8) | (b & 0xff)]!;
}

/** a / b. Throws on division by zero. */
export function gfDiv(a: number, b: number): number {
  checkByte(a, 'dividend');
  checkByte(b, 'divisor');
  if (b === 0) throw new Error('gf256: division by zero');
  if (a === 0) return 0;
  return EXP[LOG[a]! + 255 - LOG[b]!]!;
}

/** The multiplicative inverse of a. Throws for 0, which has none. */
export function gfInv(a: number): number {
  checkByte(a, 'operand');
  if (a === 0) throw new Error('gf256: 0 has no inverse');
  return EXP[255 - LOG[a]!]!;
}

/** a^n for an integer n ≥ 0, with 0^0 = 1 (the convention a Vandermonde matrix needs). */
export function gfPow(a: number, n: number): number {
  checkByte(a, 'base');
  if (!Number.isInteger(n) || n < 0) throw new Error(`gf256: exponent must be an integer ≥ 0, got ${n}`);
  if (n === 0) return 1;
  if (a === 0) return 0;
  return EXP[(LOG[a]! * n) % 255]!;
}

// ---------------------------------------------------------------------------------------------
// Bulk slice operations: the hot path of encoding and reconstruction.
//
// The obvious loop, dst[i] ^= MUL[c<<8 | src[i]], costs a load, a table load, a load and a
// store per byte (~450-550 MB/s here). Working on 32-bit words does one load and one store per
// four bytes, and the four lookups go to a 4 KiB table that stays in L1. The table holds the
// product already shifted into each byte lane, so a word costs four lookups and three ORs.
// Unrolling four words per iteration gave a further ~25% under V8 (measured on Node 20:
// ~1.1 GB/s plain word loop, ~1.6 GB/s unrolled, per source pass). A 64 Ki-entry table
// indexed by 16 bits was not clearly faster and costs 128 KiB or more per constant.
// Each lane is multiplied independently, so platform endianness does not matter: the byte
// that came from lane n goes back into lane n.
// ---------------------------------------------------------------------------------------------

/** Per-constant lane tables, built on first use: entry [256·n + b] = (c·b) << 8n. */
const laneTables: (Uint32Array | undefined)[] = new Array(256);

function laneTable(c: number): Uint32Array {
  let t = laneTables[c];
  if (t === undefined) {
    t = new Uint32Array(1024);
    const row = c << 8;
    for (let b = 0; b < 256; b++) {
      const p = MUL[row | b]!;
      t[b] = p;
      t[256 + b] = p << 8;
      t[512 + b] = p << 16;
      t[768 + b] = (p << 24) >>> 0;
    }
    laneTables[c] = t;
  }
  return t;
}

/** Below this many bytes the typed-array views cost more than the word loop saves. */
const WORD_PATH_MIN = 64;

/**
 * Scratch space for a source whose address is not congruent to the destination's modulo 4:
 * copying it (memcpy speed, several GB/s) to a suitably aligned place and then using the
 * word loop beats the byte loop by far. Grows to the largest block seen; never shrinks.
 * Safe to share because every operation here is synchronous.
 */
let scratch = new Uint8Array(0);

function alignedCopy(src: Uint8Array, dstOffset: number): Uint8Array {
  const need = src.length + 3;
  if (scratch.length < need) scratch = new Uint8Array(Math.max(need, scratch.length * 2));
  // Place the copy at the same offset modulo 4 as the destination (scratch starts at 0 mod 4).
  const at = (dstOffset - scratch.byteOffset) & 3;
  const copy = scratch.subarray(at, at + src.length);
  copy.set(src);
  return copy;
}

function checkSlices(src: Uint8Array, dst: Uint8Array): void {
  if (src.length !== dst.length) {
    throw new Error(`gf256: source and destination lengths differ (${src.length} vs ${dst.length})`);
  }
}

/**
 * The word loop of the slice routines: for w in [0, words), d32[w] = (xor ? d32[w] : 0) ^
 * product of s32[w]. One function with a flag rather than two copies keeps the unrolled body
 * in one place; the flag is loop-invariant, so the branch costs nothing measurable.
 */
function mulWords(t: Uint32Array, s32: Uint32Array, d32: Uint32Array, words: number, xor: boolean): void {
  let w = 0;
  if (xor) {
    for (; w + 3 < words; w += 4) {
      const a = s32[w]!;
      const b = s32[w + 1]!;
      const c = s32[w + 2]!;
      const d = s32[w + 3]!;
      d32[w]! ^= t[a & 0xff]! | t[256 | ((a >>> 8) & 0xff)]! | t[512 | ((a >>> 16) & 0xff)]! | t[768 | (a >>> 24)]!;
      d32[w + 1]! ^= t[b & 0xff]! | t[256 | ((b >>> 8) & 0xff)]! | t[512 | ((b >>> 16) & 0xff)]! | t[768 | (b >>> 24)]!;
      d32[w + 2]! ^= t[c & 0xff]! | t[256 | ((c >>> 8) & 0xff)]! | t[512 | ((c >>> 16) & 0xff)]! | t[768 | (c >>> 24)]!;
      d32[w + 3]! ^= t[d & 0xff]! | t[256 | ((d >>> 8) & 0xff)]! | t[512 | ((d >>> 16) & 0xff)]! | t[768 | (d >>> 24)]!;
    }
    for (; w < words; w++) {
      const a = s32[w]!;
      d32[w]! ^= t[a & 0xff]! | t[256 | ((a >>> 8) & 0xff)]! | t[512 | ((a >>> 16) & 0xff)]! | t[768 | (a >>> 24)]!;
    }
  } else {
    for (; w + 3 < words; w += 4) {
      const a = s32[w]!;
      const b = s32[w + 1]!;
      const c = s32[w + 2]!;
      const d = s32[w + 3]!;
      d32[w] = t[a & 0xff]! | t[256 | ((a >>> 8) & 0xff)]! | t[512 | ((a >>> 16) & 0xff)]! | t[768 | (a >>> 24)]!;
      d32[w + 1] = t[b & 0xff]! | t[256 | ((b >>> 8) & 0xff)]! | t[512 | ((b >>> 16) & 0xff)]! | t[768 | (b >>> 24)]!;
      d32[w + 2] = t[c & 0xff]! | t[256 | ((c >>> 8) & 0xff)]! | t[512 | ((c >>> 16) & 0xff)]! | t[768 | (c >>> 24)]!;
      d32[w + 3] = t[d & 0xff]! | t[256 | ((d >>> 8) & 0xff)]! | t[512 | ((d >>> 16) & 0xff)]! | t[768 | (d >>> 24)]!;
    }
    for (; w < words; w++) {
      const a = s32[w]!;
      d32[w] = t[a & 0xff]! | t[256 | ((a >>> 8) & 0xff)]! | t[512 | ((a >>> 16) & 0xff)]! | t[768 | (a >>> 24)]!;
    }
  }
}

/** Plain XOR of words, for c = 1 (a common coefficient: every data row, and often parity). */
function xorWords(s32: Uint32Array, d32: Uint32Array, words: number): void {
  let w = 0;
  for (; w + 3 < words; w += 4) {
    d32[w]! ^= s32[w]!;
    d32[w + 1]! ^= s32[w + 1]!;
    d32[w + 2]! ^= s32[w + 2]!;
    d32[w + 3]! ^= s32[w + 3]!;
  }
  for (; w < words; w++) d32[w]! ^= s32[w]!;
}

/**
 * dst = (xor ? dst : 0) ^ c·src, for c in [2, 255] or (xor and c = 1). Bytes before dst's
 * first 4-byte boundary and after its last are done one by one; the rest word by word.
 */
function mulSliceImpl(c: number, src: Uint8Array, dst: Uint8Array, xor: boolean): void {
  const len = src.length;
  const row = c << 8;
  let i = 0;
  if (len >= WORD_PATH_MIN) {
    if ((src.byteOffset & 3) !== (dst.byteOffset & 3)) src = alignedCopy(src, dst.byteOffset);
    const head = (4 - (dst.byteOffset & 3)) & 3;
    const words = (len - head) >>> 2;
    const s32 = new Uint32Array(src.buffer, src.byteOffset + head, words);
    const d32 = new Uint32Array(dst.buffer, dst.byteOffset + head, words);
    if (xor) for (; i < head; i++) dst[i]! ^= MUL[row | src[i]!]!;
    else for (; i < head; i++) dst[i] = MUL[row | src[i]!]!;
    if (c === 1) xorWords(s32, d32, words);
    else mulWords(laneTable(c), s32, d32, words, xor);
    i = head + (words << 2);
  }
  // The tail, or everything for short slices.
  if (xor) for (; i < len; i++) dst[i]! ^= MUL[row | src[i]!]!;
  else for (; i < len; i++) dst[i] = MUL[row | src[i]!]!;
}

/** dst[i] ^= c · src[i] for every i. src and dst must have equal length and must not overlap. */
export function mulSliceXor(c: number, src: Uint8Array, dst: Uint8Array): void {
  checkSlices(src, dst);
  c &= 0xff;
  if (c === 0) return;
  mulSliceImpl(c, src, dst, true);
}

/** dst[i] = c · src[i] for every i (dst is overwritten). src and dst must not overlap. */
export function mulSlice(c: number, src: Uint8Array, dst: Uint8Array): void {
  checkSlices(src, dst);
  c &= 0xff;
  if (c === 0) dst.fill(0);
  else if (c === 1) dst.set(src);
  else mulSliceImpl(c, src, dst, false);
}

// ---------------------------------------------------------------------------------------------
// Whole-matrix products: out[j] = Σ_i coeffs[j][i] · in[i] for every output at once.
//
// Encoding with the slice routines above costs one pass per (output, input) pair, each doing
// four table lookups per word. A product computed for all outputs in one pass over the inputs
// is much cheaper, using "xtime" instead of tables: doubling all four bytes of a 32-bit word is
//   ((x & 0x7f7f7f7f) << 1) ^ (((x >>> 7) & 0x01010101) · 0x1d)
// (shift each byte left; where a byte's top bit fell out, reduce by the polynomial's low byte).
// c·x is then the XOR of x·2^b over the set bits b of c. Per input word the doublings are
// shared by every output, so a word costs a few ALU operations per set coefficient bit and no
// memory access besides one load per input and one store per output.
//
// V8 only makes this fast when the coefficients are constants of the loop, so the loop is
// generated for each coefficient matrix (only integers from the matrix go into the source)
// and cached. Measured on Node 20 (MB/s of data): 2+2 ~750 → ~2300, 4+2 ~790 → ~1200,
// 8+4 ~380 → ~720, 6+6 ~260 → ~520. Where code generation is not allowed, or the matrix is too
// large for one function, or the blocks are not 4-byte aligned, the slice routines do the work.
// ---------------------------------------------------------------------------------------------

type WordKernel = (inputs: Int32Array[], outputs: Int32Array[], words: number) => void;

/** Generated loop bodies longer than this many XOR/doubling steps fall back to the slice path. */
const KERNEL_MAX_STEPS = 4096;
/** Bodies up to this many steps are unrolled four times. */
const KERNEL_UNROLL_MAX_STEPS = 128;
/** How many compiled kernels to keep (one per distinct coefficient matrix; LRU by Map order). */
const KERNEL_CACHE_SIZE = 128;
const kernels = new Map<string, WordKernel | null>();
let codegenAllowed = true;

function doubleWordSource(v: string): string {
  return `(((${v} & 0x7f7f7f7f) << 1) ^ Math.imul((${v} >>> 7) & 0x01010101, 0x1d))`;
}

/** The word loop for one coefficient matrix (rows = outputs, columns = inputs), or null. */
function compileKernel(coeffs: readonly Uint8Array[], inputs: number): WordKernel | null {
  const rows = coeffs.length;
  // The loop body for the word at index expression `at`, with accumulators suffixed `u`.
  const wordBody = (at: string, u: number): string[] => {
    const lines = coeffs.map((_, j) => `let s${j}_${u} = 0;`);
    for (let i = 0; i < inputs; i++) {
      let top = -1;
      for (let j = 0; j < rows; j++) top = Math.max(top, 31 - Math.clz32(coeffs[j]![i]!));
      if (top < 0) continue; // a column of zeros
      lines.push(`x = in${i}[${at}];`);
      for (let b = 0; b <= top; b++) {
        for (let j = 0; j < rows; j++) if ((coeffs[j]![i]! >> b) & 1) lines.push(`s${j}_${u} ^= x;`);
        if (b < top) lines.push(`x = ${doubleWordSource('x')};`);
      }
    }
    coeffs.forEach((_, j) => lines.push(`out${j}[${at}] = s${j}_${u};`));
    return lines;
  };
  const steps = wordBody('w', 0).length;
  if (steps > KERNEL_MAX_STEPS) return null;
  // Four words per iteration where the body is short (~35% faster for 2+2 under V8).
  const unroll = steps <= KERNEL_UNROLL_MAX_STEPS ? 4 : 1;
  const unrolled: string[] = [];
  for (let u = 0; u < unroll; u++) unrolled.push(...wordBody(u === 0 ? 'w' : `w + ${u}`, u));
  const source = [
    '"use strict";',
    'return function gfKernel(I, O, n) {',
    ...Array.from({ length: inputs }, (_, i) => `const in${i} = I[${i}];`),
    ...coeffs.map((_, j) => `const out${j} = O[${j}];`),
    'let x = 0;',
    'let w = 0;',
    `for (; w + ${unroll - 1} < n; w += ${unroll}) {`,
    ...unrolled,
    '}',
    'for (; w < n; w++) {',
    ...wordBody('w', 0),
    '}',
    '};',
  ].join('\n');
  try {
    // eslint-disable-next-line @typescript-eslint/no-implied-eval
    return (new Function(source) as () => WordKernel)();
  } catch {
    // Code generation from strings is disabled (--disallow-code-generation-from-strings).
    codegenAllowed = false;
    return null;
  }
}

function kernelFor(coeffs: readonly Uint8Array[], inputs: number): WordKernel | null {
  if (!codegenAllowed) return null;
  let key = `${inputs}:`;
  for (const row of coeffs) key += row.join(',') + ';';
  let kern = kernels.get(key);
  if (kern !== undefined) {
    kernels.delete(key);
    kernels.set(key, kern);
    return kern;
  }
  kern = compileKernel(coeffs, inputs);
  if (kernels.size >= KERNEL_CACHE_SIZE) {
    const oldest = kernels.keys().next().value;
    if (oldest !== undefined) kernels.delete(oldest);
  }
  kernels.set(key, kern);
  return kern;
}

function int32View(b: Uint8Array, words: number): Int32Array {
  return new Int32Array(b.buffer, b.byteOffset, words);
}

/**
 * outputs[j] = Σ_i coeffs[j][i] · inputs[i], bytewise, for every j (outputs are overwritten).
 * Every block must have the same length; outputs must not overlap inputs or each other.
 * `coeffs` has one row per output and one column per input.
 */
export function mulMatrix(coeffs: readonly Uint8Array[], inputs: readonly Uint8Array[], outputs: readonly Uint8Array[]): void {
  if (coeffs.length !== outputs.length) throw new Error(`gf256: ${coeffs.length} coefficient rows for ${outputs.length} outputs`);
  for (const row of coeffs) {
    if (row.length !== inputs.length) throw new Error(`gf256: coefficient row of ${row.length} for ${inputs.length} inputs`);
  }
  if (outputs.length === 0) return;
  const len = outputs[0]!.length;
  for (const b of [...inputs, ...outputs]) checkSlices(b, outputs[0]!);
  let aligned = len >= WORD_PATH_MIN;
  for (let i = 0; aligned && i < inputs.length; i++) aligned = (inputs[i]!.byteOffset & 3) === 0;
  for (let j = 0; aligned && j < outputs.length; j++) aligned = (outputs[j]!.byteOffset & 3) === 0;
  const kern = aligned && inputs.length > 0 ? kernelFor(coeffs, inputs.length) : null;
  let done = 0;
  if (kern) {
    const words = len >>> 2;
    kern(
      inputs.map((b) => int32View(b, words)),
      outputs.map((b) => int32View(b, words)),
      words,
    );
    done = words << 2;
  }
  if (done === len) return;
  // Whatever the word loop did not cover (all of it, or a tail of up to 3 bytes).
  for (let j = 0; j < outputs.length; j++) {
    const row = coeffs[j]!;
    const out = outputs[j]!.subarray(done);
    if (inputs.length === 0) {
      out.fill(0);
      continue;
    }
    mulSlice(row[0]!, inputs[0]!.subarray(done), out);
    for (let i = 1; i < inputs.length; i++) mulSliceXor(row[i]!, inputs[i]!.subarray(done), out);
  }
}

// ---------------------------------------------------------------------------------------------
// Matrices: arrays of rows, each row a Uint8Array. Only small matrices (at most 256x256) are
// ever built, and only when a codec is created or a new loss pattern is seen, so clarity wins
// over speed here.
// ---------------------------------------------------------------------------------------------

export type Matrix = Uint8Array[];

/** A rows×cols matrix of zeros. */
export function matZero(rows: number, cols: number): Matrix {
  const out: Matrix = [];
  for (let r = 0; r < rows; r++) out.push(new Uint8Array(cols));
  return out;
}

/** The n×n identity. */
export function matIdentity(n: number): Matrix {
  const out = matZero(n, n);
  for (let i = 0; i < n; i++) out[i]![i] = 1;
  return out;
}

function cols(a: Matrix): number {
  return a.length === 0 ? 0 : a[0]!.length;
}

/** a · b. Throws when the inner dimensions differ. */
export function matMul(a: Matrix, b: Matrix): Matrix {
  const n = cols(a);
  if (n !== b.length) throw new Error(`gf256: cannot multiply ${a.length}x${n} by ${b.length}x${cols(b)}`);
  const p = cols(b);
  const out = matZero(a.length, p);
  for (let r = 0; r < a.length; r++) {
    const ar = a[r]!;
    const or = out[r]!;
    for (let i = 0; i < n; i++) {
      const x = ar[i]!;
      if (x === 0) continue;
      const bi = b[i]!;
      for (let c = 0; c < p; c++) or[c]! ^= gfMul(x, bi[c]!);
    }
  }
  return out;
}

/** The matrix made of the given rows of a (in that order), each restricted to columns [c0, c1). */
export function matSubRows(a: Matrix, rows: readonly number[], c0 = 0, c1 = cols(a)): Matrix {
  return rows.map((r) => {
    const row = a[r];
    if (row === undefined) throw new Error(`gf256: row ${r} out of range (matrix has ${a.length} rows)`);
    return row.slice(c0, c1);
  });
}

/** The block of a with rows [r0, r1) and columns [c0, c1). */
export function matSub(a: Matrix, r0: number, r1: number, c0: number, c1: number): Matrix {
  const rows: number[] = [];
  for (let r = r0; r < r1; r++) rows.push(r);
  return matSubRows(a, rows, c0, c1);
}

/**
 * The inverse of a square matrix, by Gauss-Jordan elimination. Throws when the matrix is
 * singular. The input is left unchanged.
 */
export function matInvert(a: Matrix): Matrix {
  const n = a.length;
  for (const row of a) {
    if (row.length !== n) throw new Error(`gf256: cannot invert a non-square ${n}x${row.length} matrix`);
  }
  const work = a.map((row) => row.slice());
  const inv = matIdentity(n);
  for (let col = 0; col < n; col++) {
    // Any non-zero pivot will do: there is no rounding error in a finite field.
    let pivot = col;
    while (pivot < n && work[pivot]![col] === 0) pivot++;
    if (pivot === n) throw new Error('gf256: matrix is singular');
    if (pivot !== col) {
      [work[pivot], work[col]] = [work[col]!, work[pivot]!];
      [inv[pivot], inv[col]] = [inv[col]!, inv[pivot]!];
    }
    const wr = work[col]!;
    const ir = inv[col]!;
    // Scale the pivot row so the pivot is 1.
    const s = gfInv(wr[col]!);
    if (s !== 1) {
      for (let c = 0; c < n; c++) {
        wr[c] = gfMul(wr[c]!, s);
        ir[c] = gfMul(ir[c]!, s);
      }
    }
    // Clear the column in every other row.
    for (let r = 0; r < n; r++) {
      if (r === col) continue;
      const f = work[r]![col]!;
      if (f === 0) continue;
      const w = work[r]!;
      const v = inv[r]!;
      for (let c = 0; c < n; c++) {
        w[c]! ^= gfMul(f, wr[c]!);
        v[c]! ^= gfMul(f, ir[c]!);
      }
    }
  }
  return inv;
}
