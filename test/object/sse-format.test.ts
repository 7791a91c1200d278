// The stored format of encrypted objects, without the rest of the server: a round trip, every
// kind of range, and that altered, reordered, moved or truncated chunks are refused.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile, chmod } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { loadMasterKey } from '../../src/config/master-key.js';
import { CHUNK, OpenStream, SEALED_CHUNK, SealStream, sealedRange, sealedSize, unwrapKey, wrapKey } from '../../src/object/sse-format.js';

async function collect(r: Readable): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of r as AsyncIterable<Buffer>) out.push(c);
  return Buffer.concat(out);
}

async function seal(key: Buffer, id: string, plain: Buffer, piece = 10_000): Promise<Buffer> {
  const pieces: Buffer[] = [];
  for (let i = 0; i < plain.length; i += piece) pieces.push(plain.subarray(i, i + piece));
  return collect(Readable.from(pieces).pipe(new SealStream(key, id)));
}

async function open(key: Buffer, id: string, plainSize: number, stored: Buffer, start: number, end: number): Promise<Buffer> {
  const r = sealedRange(plainSize, start, end);
  return collect(Readable.from([stored.subarray(r.start, r.end + 1)]).pipe(new OpenStream(key, id, plainSize, r)));
}

const key = randomBytes(32);

test('sealed size and a whole-stream round trip, for sizes around chunk boundaries', { timeout: 30_000 }, async () => {
  for (const n of [1, 100, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 3 * CHUNK + 17]) {
    const plain = randomBytes(n);
    const stored = await seal(key, 'id-a', plain);
    assert.equal(stored.length, sealedSize(n));
    if (n >= 16) assert.equal(stored.indexOf(plain.subarray(0, 16)), -1, 'plaintext visible in the stored form');
    assert.deepEqual(await open(key, 'id-a', n, stored, 0, n - 1), plain, `size ${n}`);
  }
});

test('ranges read only the chunks they cover and return exactly the bytes asked', { timeout: 30_000 }, async () => {
  const n = 4 * CHUNK + 1234;
  const plain = randomBytes(n);
  const stored = await seal(key, 'id-r', plain);
  const cases: Array<[number, number]> = [
    [0, 0], [0, CHUNK - 1], [CHUNK - 1, CHUNK], [CHUNK, CHUNK], [CHUNK - 5, 2 * CHUNK + 5],
    [3 * CHUNK + 10, n - 1], [n - 1, n - 1], [12345, 12345 + 2 * CHUNK], [1, n - 2],
  ];
  for (const [s, e] of cases) {
    const r = sealedRange(n, s, e);
    assert.equal(r.start % SEALED_CHUNK, 0);
    assert.ok(r.end - r.start + 1 <= (Math.floor(e / CHUNK) - Math.floor(s / CHUNK) + 1) * SEALED_CHUNK, 'reads no more than the chunks covering the range');
    assert.deepEqual(await open(key, 'id-r', n, stored, s, e), plain.subarray(s, e + 1), `range ${s}-${e}`);
  }
});

test('a flipped byte, swapped chunks, a chunk from another stream, truncation and a wrong key are all refused', { timeout: 30_000 }, async () => {
  const n = 3 * CHUNK;
  const plain = randomBytes(n);
  const stored = await seal(key, 'id-t', plain);
  const refused = (p: Promise<unknown>) => assert.rejects(p, /authentication check/);

  const flipped = Buffer.from(stored);
  flipped[SEALED_CHUNK + 100] ^= 1;
  await refused(open(key, 'id-t', n, flipped, 0, n - 1));
  const flippedTag = Buffer.from(stored);
  flippedTag[SEALED_CHUNK - 1] ^= 0x80;
  await refused(open(key, 'id-t', n, flippedTag, 0, 10));

  const swapped = Buffer.concat([stored.subarray(SEALED_CHUNK, 2 * SEALED_CHUNK), stored.subarray(0, SEALED_CHUNK), stored.subarray(2 * SEALED_CHUNK)]);
  await refused(open(key, 'id-t', n, swapped, 0, n - 1));

  const other = await seal(key, 'id-u', plain);
  const moved = Buffer.concat([stored.subarray(0, SEALED_CHUNK), other.subarray(SEALED_CHUNK, 2 * SEALED_CHUNK), stored.subarray(2 * SEALED_CHUNK)]);
  await refused(open(key, 'id-t', n, moved, 0, n - 1));

  // The first two chunks presented as a whole two-chunk stream: the second was not sealed as final.
  await refused(open(key, 'id-t', 2 * CHUNK, stored.subarray(0, 2 * SEALED_CHUNK), 0, 2 * CHUNK - 1));
  // Bytes missing from the end of what was read.
  const r = sealedRange(n, 0, n - 1);
  await assert.rejects(collect(Readable.from([stored.subarray(0, stored.length - 1)]).pipe(new OpenStream(key, 'id-t', n, r))));

  await refused(open(randomBytes(32), 'id-t', n, stored, 0, 10));
  // Untouched, the same bytes still open.
  assert.deepEqual(await open(key, 'id-t', n, stored, 0, n - 1), plain);
});

test('data keys wrap and unwrap only under the right key and label', () => {
  const kek = randomBytes(32);
  const dk = randomBytes(32);
  const w = wrapKey(kek, dk, 'label');
  assert.deepEqual(unwrapKey(kek, w, 'label'), dk);
  assert.equal(unwrapKey(randomBytes(32), w, 'label'), undefined);
  assert.equal(unwrapKey(kek, w, 'other'), undefined);
  assert.equal(unwrapKey(kek, 'AAAA', 'label'), undefined);
});

test('the master key file: raw or base64, 32 bytes, not readable by others', { timeout: 10_000 }, async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tessera-mk-'));
  try {
    const k = randomBytes(32);
    const raw = path.join(dir, 'raw');
    await writeFile(raw, k, { mode: 0o600 });
    assert.deepEqual(await loadMasterKey(raw, 'linux'), k);
    const b64 = path.join(dir, 'b64');
    await writeFile(b64, k.toString('base64') + '\n', { mode: 0o600 });
    assert.deepEqual(await loadMasterKey(b64, 'linux'), k);
    const short = path.join(dir, 'short');
    await writeFile(short, randomBytes(16).toString('base64'), { mode: 0o600 });
    await assert.rejects(loadMasterKey(short, 'linux'), /32 random bytes/);
    await chmod(raw, 0o640);
    await assert.rejects(loadMasterKey(raw, 'linux'), /can be read by other users.*chmod 600/);
    await assert.rejects(loadMasterKey(path.join(dir, 'missing'), 'linux'), /cannot be read/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
