// A 100 MiB object through the AWS SDK v3: generated on the fly as a stream (aws-chunked with a
// trailing CRC32, the SDK default for streams), read back as a stream, compared by MD5 and
// CRC32 computed while streaming on both sides. Plus ranges across stripe boundaries.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { PassThrough, type Readable } from 'node:stream';
import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { sdkClient } from '../helpers/clients.js';
import { bodyBytes, expectS3Error, patternBuffer, patternStream, uniqueBucket } from './sdk-helpers.js';

const SIZE = 100 * 1024 * 1024;
const SEED = 42;

let server: TestServer;
let s3: S3Client;
let bucket: string;

before(async () => {
  server = await startTestServer();
  s3 = sdkClient(server);
  bucket = uniqueBucket('large');
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
});

after(async () => {
  s3?.destroy();
  await server?.destroy();
});

/** Passes a stream through while computing its MD5, CRC32 and length. */
function tap(src: Readable): { stream: PassThrough; result: () => { md5: string; crc32: string; size: number } } {
  const md5 = createHash('md5');
  let crc = 0;
  let size = 0;
  const pt = new PassThrough({ highWaterMark: 1024 * 1024 });
  src.on('data', (c: Buffer) => {
    md5.update(c);
    crc = crc32(c, crc);
    size += c.length;
  });
  src.on('error', (e) => pt.destroy(e));
  src.pipe(pt);
  return {
    stream: pt,
    result: () => {
      const b = Buffer.alloc(4);
      b.writeUInt32BE(crc >>> 0);
      return { md5: md5.digest('hex'), crc32: b.toString('base64'), size };
    },
  };
}

async function digestStream(s: AsyncIterable<Uint8Array>): Promise<{ md5: string; crc32: string; size: number }> {
  const md5 = createHash('md5');
  let crc = 0;
  let size = 0;
  for await (const c of s) {
    md5.update(c);
    crc = crc32(c, crc);
    size += c.length;
  }
  const b = Buffer.alloc(4);
  b.writeUInt32BE(crc >>> 0);
  return { md5: md5.digest('hex'), crc32: b.toString('base64'), size };
}

/** Bytes [start, end] of the generated content, by generating it again. */
async function expectedRange(start: number, end: number): Promise<Buffer> {
  const out: Buffer[] = [];
  let pos = 0;
  for await (const c of patternStream(SIZE, SEED) as AsyncIterable<Buffer>) {
    const cEnd = pos + c.length - 1;
    if (cEnd >= start && pos <= end) out.push(c.subarray(Math.max(0, start - pos), Math.min(c.length, end - pos + 1)));
    pos += c.length;
    if (pos > end) break;
  }
  return Buffer.concat(out);
}

let uploaded: { md5: string; crc32: string; size: number };

test('PUT 100 MiB from a generated stream, GET it back streaming: MD5, CRC32 and size equal', { timeout: 90_000 }, async () => {
  const t = tap(patternStream(SIZE, SEED));
  const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'big/100MiB.bin', Body: t.stream, ContentLength: SIZE, ContentType: 'application/x-test' }));
  uploaded = t.result();
  assert.equal(uploaded.size, SIZE);
  assert.equal(put.ETag, `"${uploaded.md5}"`, 'ETag of a single PUT is the MD5 of the bytes');
  assert.equal(put.ChecksumCRC32, uploaded.crc32, 'the CRC32 the SDK sent in the trailer');

  const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'big/100MiB.bin' }));
  assert.equal(head.ContentLength, SIZE);
  assert.equal(head.ContentType, 'application/x-test');

  const get = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'big/100MiB.bin', ChecksumMode: 'ENABLED' }));
  assert.equal(get.ContentLength, SIZE);
  assert.equal(get.ChecksumCRC32, uploaded.crc32);
  const got = await digestStream(get.Body as AsyncIterable<Uint8Array>);
  assert.equal(got.size, SIZE);
  assert.equal(got.md5, uploaded.md5);
  assert.equal(got.crc32, uploaded.crc32);

  const l = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'big/' }));
  assert.equal(l.Contents?.[0].Size, SIZE);
});

test('ranges of the 100 MiB object: across chunk and stripe boundaries, the tail, the head', { timeout: 60_000 }, async (t) => {
  // Depends on the upload test above; fail (never skip) when it did not store the object.
  assert.ok(uploaded, 'the 100 MiB upload test must have stored the object');
  const MiB = 1024 * 1024;
  const ranges: Array<[number, number]> = [
    [0, 0],
    [MiB - 3, MiB + 2],
    [33 * MiB + 12345, 36 * MiB + 678],
    [SIZE - 1000, SIZE - 1],
    [SIZE - 1, SIZE - 1],
  ];
  for (const [start, end] of ranges) {
    const g = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'big/100MiB.bin', Range: `bytes=${start}-${end}` }));
    assert.equal(g.$metadata.httpStatusCode, 206);
    assert.equal(g.ContentRange, `bytes ${start}-${end}/${SIZE}`);
    const got = await bodyBytes(g.Body);
    assert.equal(got.length, end - start + 1);
    assert.ok(got.equals(await expectedRange(start, end)), `bytes ${start}-${end}`);
  }
});

test('a download abandoned after 1 MiB leaves the server healthy', { timeout: 60_000 }, async (t) => {
  // Depends on the upload test above; fail (never skip) when it did not store the object.
  assert.ok(uploaded, 'the 100 MiB upload test must have stored the object');
  const g = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'big/100MiB.bin' }));
  const body = g.Body as Readable;
  let n = 0;
  for await (const c of body as AsyncIterable<Buffer>) {
    n += c.length;
    if (n >= 1024 * 1024) break; // leaving the loop destroys the stream
  }
  const again = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'big/100MiB.bin', Range: 'bytes=0-1023' }));
  assert.equal((await bodyBytes(again.Body)).length, 1024);
  const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'big/100MiB.bin' }));
  assert.equal(head.ContentLength, SIZE);
});

test('an upload aborted half way is not visible, and the old object stays whole', { timeout: 60_000 }, async () => {
  const key = 'big/aborted.bin';
  const old = patternBuffer(300_000, 77);
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: old }));
  const size = 20 * 1024 * 1024;
  const abort = new AbortController();
  let sent = 0;
  const src = patternStream(size, 78);
  src.on('data', (c: Buffer) => {
    sent += c.length;
    if (sent >= size / 2) abort.abort();
  });
  await assert.rejects(s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: src, ContentLength: size }), { abortSignal: abort.signal }));
  // The server notices the broken connection; the key keeps the old bytes.
  for (let i = 0; i < 20; i++) {
    const h = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    assert.equal(h.ContentLength, old.length, 'never the half upload');
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.ok((await bodyBytes((await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body)).equals(old));
  const l = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: key }));
  assert.equal(l.Contents?.[0].Size, old.length);
  // A fresh key aborted the same way never appears.
  const abort2 = new AbortController();
  let sent2 = 0;
  const src2 = patternStream(size, 79);
  src2.on('data', (c: Buffer) => {
    sent2 += c.length;
    if (sent2 >= size / 2) abort2.abort();
  });
  await assert.rejects(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'big/never.bin', Body: src2, ContentLength: size }), { abortSignal: abort2.signal }));
  await new Promise((r) => setTimeout(r, 200));
  await expectS3Error(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'big/never.bin' })), 'NotFound', 404);
  // Their temporary shard files are removed, not left behind until a restart.
  let leftovers: string[] = [];
  for (let i = 0; i < 40; i++) {
    leftovers = (await Promise.all(server.disks.map(async (d) => (await readdir(path.join(d, 'tmp')).catch(() => [] as string[])).map((f) => `${d}/tmp/${f}`)))).flat();
    if (leftovers.length === 0) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.deepEqual(leftovers, [], 'no temporary shard files left');
});
