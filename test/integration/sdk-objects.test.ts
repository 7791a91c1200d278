// Object operations through the AWS SDK for JavaScript v3 with default settings (which send
// CRC32 checksums, aws-chunked bodies with trailers for streams, and validate response
// checksums), against a real server with real disks.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Readable } from 'node:stream';
import { crc32 } from 'node:zlib';
import {
  CopyObjectCommand,
  CreateBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type PutObjectCommandInput,
} from '@aws-sdk/client-s3';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { sdkClient } from '../helpers/clients.js';
import { bodyBytes, expectS3Error, expectStatusError, md5b64, md5hex, patternBuffer, sleep, uniqueBucket } from './sdk-helpers.js';

let server: TestServer;
let s3: S3Client;
/** Headers of every request the SDK sent, as it sent them (after checksums and signing). */
const sent: Array<{ method: string; path: string; headers: Record<string, string> }> = [];

before(async () => {
  server = await startTestServer();
  s3 = sdkClient(server);
  s3.middlewareStack.add(
    (next) => async (args) => {
      const r = args.request as { method: string; path: string; headers: Record<string, string> };
      sent.push({ method: r.method, path: r.path, headers: { ...r.headers } });
      return next(args);
    },
    { step: 'finalizeRequest', name: 'recordSentHeaders', priority: 'low' },
  );
});

after(async () => {
  s3?.destroy();
  await server?.destroy();
});

async function newBucket(tag: string): Promise<string> {
  const b = uniqueBucket(tag);
  await s3.send(new CreateBucketCommand({ Bucket: b }));
  return b;
}

async function getBytes(bucket: string, key: string): Promise<Buffer> {
  const r = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return bodyBytes(r.Body);
}

function crc32b64(b: Buffer): string {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(crc32(b) >>> 0);
  return out.toString('base64');
}

function lastSent(method: string): Record<string, string> {
  for (let i = sent.length - 1; i >= 0; i--) if (sent[i].method === method) return sent[i].headers;
  throw new Error(`no ${method} recorded`);
}

function lowerKeys(h: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toLowerCase(), v]));
}

describe('PutObject bodies and checksums', () => {
  test('string body: ETag is the MD5, default CRC32 is stored and returned with ChecksumMode', async () => {
    const b = await newBucket('str');
    const text = 'hello, Tessera — ünïcödé text\n';
    const r = await s3.send(new PutObjectCommand({ Bucket: b, Key: 'greeting.txt', Body: text }));
    assert.equal(r.$metadata.httpStatusCode, 200);
    assert.equal(r.ETag, `"${md5hex(text)}"`);
    assert.equal(r.VersionId, undefined, 'unversioned bucket: no version id');
    const expectedCrc = crc32b64(Buffer.from(text));
    assert.equal(lowerKeys(lastSent('PUT'))['x-amz-checksum-crc32'], expectedCrc, 'the SDK sent a CRC32 header');
    assert.equal(r.ChecksumCRC32, expectedCrc);

    const g = await s3.send(new GetObjectCommand({ Bucket: b, Key: 'greeting.txt', ChecksumMode: 'ENABLED' }));
    assert.equal(g.$metadata.httpStatusCode, 200);
    assert.equal(g.ETag, r.ETag);
    assert.equal(g.ContentLength, Buffer.byteLength(text));
    // The SDK sends application/octet-stream for a body without a ContentType; it is stored as sent.
    assert.equal(g.ContentType, lowerKeys(lastSent('PUT'))['content-type'] ?? 'binary/octet-stream');
    assert.equal(g.ChecksumCRC32, expectedCrc);
    assert.equal(g.AcceptRanges, 'bytes');
    assert.ok(g.LastModified instanceof Date && Math.abs(g.LastModified.getTime() - Date.now()) < 60_000);
    assert.equal(await g.Body!.transformToString(), text);
  });

  test('Buffer body with every byte value round-trips exactly', async () => {
    const b = await newBucket('buf');
    const data = Buffer.alloc(256 * 64);
    for (let i = 0; i < data.length; i++) data[i] = i & 0xff;
    const r = await s3.send(new PutObjectCommand({ Bucket: b, Key: 'bytes.bin', Body: data }));
    assert.equal(r.ETag, `"${md5hex(data)}"`);
    assert.deepEqual(await getBytes(b, 'bytes.bin'), data);
  });

  test('empty body: size 0, ETag of nothing', async () => {
    const b = await newBucket('empty');
    const r = await s3.send(new PutObjectCommand({ Bucket: b, Key: 'empty', Body: '' }));
    assert.equal(r.ETag, '"d41d8cd98f00b204e9800998ecf8427e"');
    const g = await s3.send(new GetObjectCommand({ Bucket: b, Key: 'empty' }));
    assert.equal(g.ContentLength, 0);
    assert.equal((await bodyBytes(g.Body)).length, 0);
    const h = await s3.send(new HeadObjectCommand({ Bucket: b, Key: 'empty' }));
    assert.equal(h.ContentLength, 0);
  });

  for (const size of [1000, 300 * 1024, 3 * 1024 * 1024 + 17]) {
    test(`Readable stream body (${size} bytes): aws-chunked with a trailing CRC32 round-trips`, async () => {
      const b = await newBucket('stream');
      const data = patternBuffer(size, size);
      const chunks: Buffer[] = [];
      for (let off = 0; off < data.length; off += 64 * 1024) chunks.push(data.subarray(off, off + 64 * 1024));
      const r = await s3.send(new PutObjectCommand({ Bucket: b, Key: 'streamed', Body: Readable.from(chunks), ContentLength: size }));
      const h = lowerKeys(lastSent('PUT'));
      assert.match(h['content-encoding'] ?? '', /aws-chunked/, 'the SDK used aws-chunked');
      assert.equal(h['x-amz-trailer'], 'x-amz-checksum-crc32', 'with a trailing CRC32');
      assert.equal(h['x-amz-decoded-content-length'], String(size));
      assert.equal(r.ETag, `"${md5hex(data)}"`);
      const expectedCrc = crc32b64(data);
      assert.equal(r.ChecksumCRC32, expectedCrc);

      const g = await s3.send(new GetObjectCommand({ Bucket: b, Key: 'streamed', ChecksumMode: 'ENABLED' }));
      assert.equal(g.ChecksumCRC32, expectedCrc, 'GET returns the CRC32 the SDK computed');
      assert.equal(g.ContentLength, size);
      assert.equal(g.ContentEncoding, undefined, 'aws-chunked is not stored as the object Content-Encoding');
      const got = await bodyBytes(g.Body);
      assert.equal(got.length, size);
      assert.ok(got.equals(data), 'bytes equal');
    });
  }

  for (const alg of ['SHA256', 'CRC32C', 'CRC64NVME', 'SHA1'] as const) {
    const field = `Checksum${alg}` as 'ChecksumSHA256' | 'ChecksumCRC32C' | 'ChecksumCRC64NVME' | 'ChecksumSHA1';
    test(`ChecksumAlgorithm ${alg}: Buffer body (header) and stream body (trailer) store the SDK's value`, async () => {
      const b = await newBucket(alg.toLowerCase());
      const data = patternBuffer(200 * 1024 + 3, 7);
      const r1 = await s3.send(new PutObjectCommand({ Bucket: b, Key: 'buf', Body: data, ChecksumAlgorithm: alg }));
      const sentValue = lowerKeys(lastSent('PUT'))[`x-amz-checksum-${alg.toLowerCase()}`];
      assert.ok(sentValue, `SDK sent x-amz-checksum-${alg.toLowerCase()}`);
      assert.equal(r1[field], sentValue);
      if (alg === 'SHA256') {
        const { createHash } = await import('node:crypto');
        assert.equal(sentValue, createHash('sha256').update(data).digest('base64'));
      }
      const g1 = await s3.send(new GetObjectCommand({ Bucket: b, Key: 'buf', ChecksumMode: 'ENABLED' }));
      assert.equal(g1[field], sentValue);
      assert.ok((await bodyBytes(g1.Body)).equals(data));

      const r2 = await s3.send(new PutObjectCommand({ Bucket: b, Key: 'stream', Body: Readable.from([data.subarray(0, 100_000), data.subarray(100_000)]), ContentLength: data.length, ChecksumAlgorithm: alg }));
      const h2 = lowerKeys(lastSent('PUT'));
      assert.equal(h2['x-amz-trailer'], `x-amz-checksum-${alg.toLowerCase()}`);
      assert.equal(r2[field], sentValue, 'same bytes, same checksum through the trailer path');
      const head = await s3.send(new HeadObjectCommand({ Bucket: b, Key: 'stream', ChecksumMode: 'ENABLED' }));
      assert.equal(head[field], sentValue);
      assert.equal(head.ChecksumType, 'FULL_OBJECT');
      assert.ok((await getBytes(b, 'stream')).equals(data));
    });
  }

  test('a wrong x-amz-checksum-crc32 value → 400 BadDigest, nothing stored', async () => {
    const b = await newBucket('badsum');
    await expectS3Error(s3.send(new PutObjectCommand({ Bucket: b, Key: 'k', Body: 'some data', ChecksumCRC32: 'AAAAAA==' })), 'BadDigest', 400);
    await expectS3Error(s3.send(new HeadObjectCommand({ Bucket: b, Key: 'k' })), 'NotFound', 404);
  });

  test('ContentMD5 right → 200; wrong → 400 BadDigest; malformed → 400 InvalidDigest; nothing stored', async () => {
    const b = await newBucket('md5');
    const data = Buffer.from('content md5 checked body');
    const ok = await s3.send(new PutObjectCommand({ Bucket: b, Key: 'ok', Body: data, ContentMD5: md5b64(data) }));
    assert.equal(ok.ETag, `"${md5hex(data)}"`);
    await expectS3Error(s3.send(new PutObjectCommand({ Bucket: b, Key: 'bad', Body: data, ContentMD5: md5b64('other') })), 'BadDigest', 400);
    await expectS3Error(s3.send(new PutObjectCommand({ Bucket: b, Key: 'bad', Body: data, ContentMD5: 'not-base64-md5' })), 'InvalidDigest', 400);
    await expectS3Error(s3.send(new PutObjectCommand({ Bucket: b, Key: 'bad', Body: data, ContentMD5: Buffer.from('short').toString('base64') })), 'InvalidDigest', 400);
    await expectS3Error(s3.send(new HeadObjectCommand({ Bucket: b, Key: 'bad' })), 'NotFound', 404);
    // A wrong MD5 on an existing key leaves the old object in place.
    await expectS3Error(s3.send(new PutObjectCommand({ Bucket: b, Key: 'ok', Body: 'replacement', ContentMD5: md5b64('x') })), 'BadDigest', 400);
    assert.deepEqual(await getBytes(b, 'ok'), data);
  });
});

describe('sizes around the inline threshold and stripe boundaries', () => {
  // Defaults: objects below 128 KiB are inline; a stripe is 2 data shards × 1 MiB.
  const KiB = 1024;
  const MiB = 1024 * KiB;
  const sizes = [1, 128 * KiB - 1, 128 * KiB, 128 * KiB + 1, MiB, 2 * MiB - 1, 2 * MiB, 2 * MiB + 1, 4 * MiB + 3];
  let b: string;
  before(async () => {
    b = await newBucket('sizes');
  });
  for (const size of sizes) {
    test(`${size} bytes as a Buffer and as a stream: bit-exact, ETag, CRC32`, async () => {
      const data = patternBuffer(size, size + 1);
      const crc = crc32b64(data);
      const r1 = await s3.send(new PutObjectCommand({ Bucket: b, Key: `buf-${size}`, Body: data }));
      const r2 = await s3.send(new PutObjectCommand({ Bucket: b, Key: `stream-${size}`, Body: Readable.from([data.subarray(0, size >> 1), data.subarray(size >> 1)]), ContentLength: size }));
      for (const [key, r] of [[`buf-${size}`, r1], [`stream-${size}`, r2]] as const) {
        assert.equal(r.ETag, `"${md5hex(data)}"`, key);
        const g = await s3.send(new GetObjectCommand({ Bucket: b, Key: key, ChecksumMode: 'ENABLED' }));
        assert.equal(g.ContentLength, size);
        assert.equal(g.ChecksumCRC32, crc);
        assert.ok((await bodyBytes(g.Body)).equals(data), `${key} bytes`);
      }
    });
  }

  test('a zero-byte stream body (aws-chunked with only the final chunk and trailer)', async () => {
    const r = await s3.send(new PutObjectCommand({ Bucket: b, Key: 'empty-stream', Body: Readable.from([]), ContentLength: 0 }));
    assert.equal(r.ETag, '"d41d8cd98f00b204e9800998ecf8427e"');
    const g = await s3.send(new GetObjectCommand({ Bucket: b, Key: 'empty-stream', ChecksumMode: 'ENABLED' }));
    assert.equal(g.ContentLength, 0);
    assert.equal((await bodyBytes(g.Body)).length, 0);
    assert.equal(g.ChecksumCRC32, 'AAAAAA==');
  });
});

describe('stream bodies with explicit values', () => {
  test('a stream with a caller-supplied ChecksumCRC32: right → stored; wrong → 400 BadDigest, nothing stored', async () => {
    const b = await newBucket('streamsum');
    const data = patternBuffer(400_000, 13);
    const ok = await s3.send(new PutObjectCommand({ Bucket: b, Key: 'ok', Body: Readable.from([data]), ContentLength: data.length, ChecksumCRC32: crc32b64(data) }));
    assert.equal(ok.ChecksumCRC32, crc32b64(data));
    await expectS3Error(
      s3.send(new PutObjectCommand({ Bucket: b, Key: 'bad', Body: Readable.from([data]), ContentLength: data.length, ChecksumCRC32: crc32b64(Buffer.from('other')) })),
      'BadDigest',
      400,
    );
    await expectS3Error(s3.send(new HeadObjectCommand({ Bucket: b, Key: 'bad' })), 'NotFound', 404);
  });

  test('a stream with ContentEncoding gzip: the object keeps gzip, not aws-chunked', async () => {
    const b = await newBucket('gzip');
    const { gzipSync, gunzipSync } = await import('node:zlib');
    const gz = gzipSync(Buffer.from('compressed text '.repeat(1000)));
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'a.txt', Body: Readable.from([gz]), ContentLength: gz.length, ContentEncoding: 'gzip', ContentType: 'text/plain' }));
    assert.match(lowerKeys(lastSent('PUT'))['content-encoding'], /gzip/);
    const g = await s3.send(new GetObjectCommand({ Bucket: b, Key: 'a.txt' }));
    assert.equal(g.ContentEncoding, 'gzip');
    const got = await bodyBytes(g.Body);
    assert.ok(got.equals(gz), 'stored compressed bytes as sent');
    assert.equal(gunzipSync(got).toString(), 'compressed text '.repeat(1000));
  });
});

describe('concurrent writers', () => {
  test("8 concurrent IfNoneMatch '*' PUTs of one key: exactly one wins, the rest get 412 (or 409), the winner's bytes are stored", async () => {
    const b = await newBucket('race');
    const bodies = Array.from({ length: 8 }, (_, i) => patternBuffer(200_000 + i, 100 + i));
    const results = await Promise.allSettled(bodies.map((Body) => s3.send(new PutObjectCommand({ Bucket: b, Key: 'once', Body, IfNoneMatch: '*' }))));
    const winners = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
    assert.equal(winners.length, 1, `winners: ${winners}`);
    for (const r of results) {
      if (r.status === 'rejected') {
        const e = r.reason as { name: string; $metadata?: { httpStatusCode?: number } };
        assert.ok(
          (e.name === 'PreconditionFailed' && e.$metadata?.httpStatusCode === 412) || (e.name === 'ConditionalRequestConflict' && e.$metadata?.httpStatusCode === 409),
          `${e.name} ${e.$metadata?.httpStatusCode}`,
        );
      }
    }
    assert.ok((await getBytes(b, 'once')).equals(bodies[winners[0]]));
  });

  test('8 concurrent plain PUTs of one key: the object is exactly one of them, listed once', async () => {
    const b = await newBucket('lastwins');
    const bodies = Array.from({ length: 8 }, (_, i) => patternBuffer(300_000 + i * 1000, 200 + i));
    await Promise.all(bodies.map((Body) => s3.send(new PutObjectCommand({ Bucket: b, Key: 'k', Body }))));
    const got = await getBytes(b, 'k');
    assert.ok(bodies.some((x) => x.equals(got)), 'one whole body, not a mix');
    const l = await s3.send(new ListObjectsV2Command({ Bucket: b }));
    assert.equal(l.KeyCount, 1);
    assert.equal(l.Contents?.[0].Size, got.length);
    assert.equal(l.Contents?.[0].ETag, `"${md5hex(got)}"`);
  });
});

describe('tags, storage class, part number', () => {
  test('Tagging on PUT shows as TagCount; StorageClass is kept and listed', async () => {
    const b = await newBucket('tags');
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 't', Body: 'x', Tagging: 'a=1&b=two%20words', StorageClass: 'STANDARD_IA' }));
    const g = await s3.send(new GetObjectCommand({ Bucket: b, Key: 't' }));
    assert.equal(g.TagCount, 2);
    assert.equal(g.StorageClass, 'STANDARD_IA');
    await g.Body!.transformToString();
    const l = await s3.send(new ListObjectsV2Command({ Bucket: b }));
    assert.equal(l.Contents?.[0].StorageClass, 'STANDARD_IA');
  });

  test('PartNumber 1 of a single-part object is the whole object as a 206 range; PartNumber 2 → 416 InvalidPartNumber', async () => {
    const b = await newBucket('partno');
    const data = patternBuffer(10_000, 17);
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'p', Body: data }));
    const g = await s3.send(new GetObjectCommand({ Bucket: b, Key: 'p', PartNumber: 1 }));
    assert.equal(g.$metadata.httpStatusCode, 206);
    assert.equal(g.ContentRange, `bytes 0-${data.length - 1}/${data.length}`);
    assert.equal(g.ContentLength, data.length);
    assert.ok((await bodyBytes(g.Body)).equals(data));
    const h = await s3.send(new HeadObjectCommand({ Bucket: b, Key: 'p', PartNumber: 1 }));
    assert.equal(h.$metadata.httpStatusCode, 206);
    assert.equal(h.ContentLength, data.length);
    await expectS3Error(s3.send(new GetObjectCommand({ Bucket: b, Key: 'p', PartNumber: 2 })), 'InvalidPartNumber', 416);
  });
});

describe('metadata and system headers', () => {
  test('x-amz-meta-* and Content-Type/Encoding/Disposition/Language/Cache-Control/Expires round-trip', async () => {
    const b = await newBucket('meta');
    const expires = new Date('2031-05-06T07:08:09Z');
    const input: PutObjectCommandInput = {
      Bucket: b,
      Key: 'doc.txt.gz',
      Body: 'pretend this is gzip',
      ContentType: 'text/plain; charset=utf-8',
      ContentEncoding: 'gzip',
      ContentDisposition: 'attachment; filename="report 2024.txt"',
      ContentLanguage: 'de-DE',
      CacheControl: 'max-age=3600, must-revalidate',
      Expires: expires,
      Metadata: { color: 'blue', 'Mixed-Case': 'Value With Spaces', empty: '', number: '42' },
    };
    await s3.send(new PutObjectCommand(input));
    for (const r of [
      await s3.send(new HeadObjectCommand({ Bucket: b, Key: 'doc.txt.gz' })),
      await s3.send(new GetObjectCommand({ Bucket: b, Key: 'doc.txt.gz' })),
    ]) {
      assert.equal(r.ContentType, input.ContentType);
      assert.equal(r.ContentEncoding, 'gzip');
      assert.equal(r.ContentDisposition, input.ContentDisposition);
      assert.equal(r.ContentLanguage, 'de-DE');
      assert.equal(r.CacheControl, input.CacheControl);
      assert.equal(r.Expires?.getTime(), expires.getTime());
      assert.equal(r.ExpiresString, expires.toUTCString());
      assert.deepEqual(r.Metadata, { color: 'blue', 'mixed-case': 'Value With Spaces', empty: '', number: '42' });
    }
  });

  test('metadata of 2 KiB is accepted; more → 400 MetadataTooLarge and nothing stored', async () => {
    const b = await newBucket('bigmeta');
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'fits', Body: 'x', Metadata: { a: 'v'.repeat(1500), b: 'w'.repeat(400) } }));
    const h = await s3.send(new HeadObjectCommand({ Bucket: b, Key: 'fits' }));
    assert.equal(h.Metadata?.a, 'v'.repeat(1500));
    await expectS3Error(s3.send(new PutObjectCommand({ Bucket: b, Key: 'big', Body: 'x', Metadata: { a: 'v'.repeat(1500), b: 'w'.repeat(1500) } })), 'MetadataTooLarge', 400);
    await expectS3Error(s3.send(new HeadObjectCommand({ Bucket: b, Key: 'big' })), 'NotFound', 404);
  });

  test('GetObject Response* overrides set the reply headers (the stored ones are unchanged)', async () => {
    const b = await newBucket('override');
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'k', Body: 'data', ContentType: 'text/plain' }));
    const exp = new Date('2030-01-02T03:04:05Z');
    const g = await s3.send(new GetObjectCommand({
      Bucket: b,
      Key: 'k',
      ResponseContentType: 'application/json',
      ResponseContentDisposition: 'attachment; filename="x.json"',
      ResponseCacheControl: 'no-cache',
      ResponseContentLanguage: 'fr',
      ResponseContentEncoding: 'identity',
      ResponseExpires: exp,
    }));
    assert.equal(g.ContentType, 'application/json');
    assert.equal(g.ContentDisposition, 'attachment; filename="x.json"');
    assert.equal(g.CacheControl, 'no-cache');
    assert.equal(g.ContentLanguage, 'fr');
    assert.equal(g.ContentEncoding, 'identity');
    assert.equal(g.Expires?.getTime(), exp.getTime());
    assert.equal(await g.Body!.transformToString(), 'data');
    const h = await s3.send(new HeadObjectCommand({ Bucket: b, Key: 'k' }));
    assert.equal(h.ContentType, 'text/plain');
    assert.equal(h.CacheControl, undefined);
  });
});

describe('response header overrides that are not plain ASCII', () => {
  test("RFC 5987 filename* passes; a value outside ISO-8859-1 → 400 InvalidArgument (not a 500)", async () => {
    const b = await newBucket('ovr8859');
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'k', Body: 'data' }));
    const rfc5987 = "attachment; filename*=UTF-8''%E6%97%A5%E6%9C%AC.txt";
    const ok = await s3.send(new GetObjectCommand({ Bucket: b, Key: 'k', ResponseContentDisposition: rfc5987 }));
    assert.equal(ok.ContentDisposition, rfc5987);
    await ok.Body!.transformToString();
    const e = await expectS3Error(s3.send(new GetObjectCommand({ Bucket: b, Key: 'k', ResponseContentDisposition: 'attachment; filename="日本.txt"' })), 'InvalidArgument', 400);
    assert.equal(e.$metadata?.attempts, 1, 'a client error, not retried');
    await expectS3Error(s3.send(new GetObjectCommand({ Bucket: b, Key: 'k', ResponseContentType: 'text/plain\r\nX-Injected: yes' })), 'InvalidArgument', 400);
  });
});

describe('GetObject ranges', () => {
  const size = 100_000;
  const data = patternBuffer(size, 3);
  let b: string;
  before(async () => {
    b = await newBucket('range');
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'obj', Body: data }));
  });

  const cases: Array<[string, number, number]> = [
    ['bytes=0-0', 0, 0],
    ['bytes=10-19', 10, 19],
    ['bytes=99990-', 99990, size - 1],
    ['bytes=-100', size - 100, size - 1],
    ['bytes=50000-999999', 50000, size - 1],
    ['bytes=-200000', 0, size - 1],
    ['bytes=65535-65537', 65535, 65537],
  ];
  for (const [range, start, end] of cases) {
    test(`${range} → 206, Content-Range bytes ${start}-${end}/${size}, exact bytes`, async () => {
      const g = await s3.send(new GetObjectCommand({ Bucket: b, Key: 'obj', Range: range }));
      assert.equal(g.$metadata.httpStatusCode, 206);
      assert.equal(g.ContentRange, `bytes ${start}-${end}/${size}`);
      assert.equal(g.ContentLength, end - start + 1);
      assert.equal(g.ETag, `"${md5hex(data)}"`);
      assert.ok((await bodyBytes(g.Body)).equals(data.subarray(start, end + 1)));
    });
  }

  test('a range that starts past the end → 416 InvalidRange', async () => {
    await expectS3Error(s3.send(new GetObjectCommand({ Bucket: b, Key: 'obj', Range: `bytes=${size}-` })), 'InvalidRange', 416);
    await expectS3Error(s3.send(new GetObjectCommand({ Bucket: b, Key: 'obj', Range: `bytes=${size + 10}-${size + 20}` })), 'InvalidRange', 416);
  });

  test('HeadObject with a Range → 206 with Content-Range and the range length', async () => {
    const h = await s3.send(new HeadObjectCommand({ Bucket: b, Key: 'obj', Range: 'bytes=0-9' }));
    assert.equal(h.$metadata.httpStatusCode, 206);
    assert.equal(h.ContentLength, 10);
    assert.equal(h.ContentRange, `bytes 0-9/${size}`);
  });
});

describe('HeadObject and missing things', () => {
  test('HeadObject describes the object without a body', async () => {
    const b = await newBucket('head');
    const data = patternBuffer(5000, 9);
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'h', Body: data, ContentType: 'image/png' }));
    const h = await s3.send(new HeadObjectCommand({ Bucket: b, Key: 'h' }));
    assert.equal(h.$metadata.httpStatusCode, 200);
    assert.equal(h.ContentLength, 5000);
    assert.equal(h.ContentType, 'image/png');
    assert.equal(h.ETag, `"${md5hex(data)}"`);
    assert.equal(h.AcceptRanges, 'bytes');
    assert.ok(h.LastModified instanceof Date);
  });

  test('NoSuchKey on GET, NotFound on HEAD, NoSuchBucket for a missing bucket', async () => {
    const b = await newBucket('missing');
    const e = await expectS3Error(s3.send(new GetObjectCommand({ Bucket: b, Key: 'nope' })), 'NoSuchKey', 404);
    assert.ok(e.$metadata?.requestId);
    await expectS3Error(s3.send(new HeadObjectCommand({ Bucket: b, Key: 'nope' })), 'NotFound', 404);
    await expectS3Error(s3.send(new GetObjectCommand({ Bucket: uniqueBucket('nob'), Key: 'k' })), 'NoSuchBucket', 404);
    await expectS3Error(s3.send(new PutObjectCommand({ Bucket: uniqueBucket('nob'), Key: 'k', Body: 'x' })), 'NoSuchBucket', 404);
    await expectS3Error(s3.send(new ListObjectsV2Command({ Bucket: uniqueBucket('nob') })), 'NoSuchBucket', 404);
  });
});

describe('conditional requests', () => {
  let b: string;
  let etag: string;
  let lastModified: Date;
  before(async () => {
    b = await newBucket('cond');
    etag = (await s3.send(new PutObjectCommand({ Bucket: b, Key: 'c', Body: 'conditional' }))).ETag!;
    lastModified = (await s3.send(new HeadObjectCommand({ Bucket: b, Key: 'c' }))).LastModified!;
  });
  const past = new Date('2001-01-01T00:00:00Z');
  const future = () => new Date(Date.now() + 24 * 3600 * 1000);

  test('IfMatch: right ETag → 200, wrong → 412 PreconditionFailed', async () => {
    const ok = await s3.send(new GetObjectCommand({ Bucket: b, Key: 'c', IfMatch: etag }));
    assert.equal(await ok.Body!.transformToString(), 'conditional');
    const unquoted = await s3.send(new GetObjectCommand({ Bucket: b, Key: 'c', IfMatch: etag.replace(/"/g, '') }));
    assert.equal(unquoted.$metadata.httpStatusCode, 200);
    await expectS3Error(s3.send(new GetObjectCommand({ Bucket: b, Key: 'c', IfMatch: '"0123456789abcdef0123456789abcdef"' })), 'PreconditionFailed', 412);
    await expectStatusError(s3.send(new HeadObjectCommand({ Bucket: b, Key: 'c', IfMatch: '"0123456789abcdef0123456789abcdef"' })), 412);
  });

  test('IfNoneMatch: matching ETag → 304, other → 200', async () => {
    const nm = await expectStatusError(s3.send(new GetObjectCommand({ Bucket: b, Key: 'c', IfNoneMatch: etag })), 304);
    // RFC 7232 §4.1 (and S3): a 304 still names the representation's ETag and Last-Modified.
    assert.equal(nm.$response?.headers?.etag, etag);
    assert.equal(nm.$response?.headers?.['last-modified'], lastModified.toUTCString());
    await expectStatusError(s3.send(new HeadObjectCommand({ Bucket: b, Key: 'c', IfNoneMatch: etag })), 304);
    const ok = await s3.send(new GetObjectCommand({ Bucket: b, Key: 'c', IfNoneMatch: '"other"' }));
    assert.equal(ok.$metadata.httpStatusCode, 200);
    await ok.Body!.transformToString();
  });

  test('IfModifiedSince: before → 200, after → 304', async () => {
    const ok = await s3.send(new GetObjectCommand({ Bucket: b, Key: 'c', IfModifiedSince: past }));
    assert.equal(ok.$metadata.httpStatusCode, 200);
    await ok.Body!.transformToString();
    await expectStatusError(s3.send(new GetObjectCommand({ Bucket: b, Key: 'c', IfModifiedSince: future() })), 304);
    // Exactly the Last-Modified time is "not modified since".
    await expectStatusError(s3.send(new GetObjectCommand({ Bucket: b, Key: 'c', IfModifiedSince: lastModified })), 304);
  });

  test('IfUnmodifiedSince: after → 200, before → 412', async () => {
    const ok = await s3.send(new GetObjectCommand({ Bucket: b, Key: 'c', IfUnmodifiedSince: future() }));
    assert.equal(ok.$metadata.httpStatusCode, 200);
    await ok.Body!.transformToString();
    await expectS3Error(s3.send(new GetObjectCommand({ Bucket: b, Key: 'c', IfUnmodifiedSince: past })), 'PreconditionFailed', 412);
  });

  test('IfMatch true + IfUnmodifiedSince false → 200 (If-Match wins); IfNoneMatch false + IfModifiedSince true → 304', async () => {
    const ok = await s3.send(new GetObjectCommand({ Bucket: b, Key: 'c', IfMatch: etag, IfUnmodifiedSince: past }));
    assert.equal(ok.$metadata.httpStatusCode, 200);
    await ok.Body!.transformToString();
    await expectStatusError(s3.send(new GetObjectCommand({ Bucket: b, Key: 'c', IfNoneMatch: etag, IfModifiedSince: past })), 304);
  });

  test("conditional PUT: IfNoneMatch '*' on a new key creates it; on an existing key → 412 and nothing changes", async () => {
    const fresh = await s3.send(new PutObjectCommand({ Bucket: b, Key: 'once', Body: 'first', IfNoneMatch: '*' }));
    assert.equal(fresh.ETag, `"${md5hex('first')}"`);
    await expectS3Error(s3.send(new PutObjectCommand({ Bucket: b, Key: 'once', Body: 'second', IfNoneMatch: '*' })), 'PreconditionFailed', 412);
    await expectS3Error(
      s3.send(new PutObjectCommand({ Bucket: b, Key: 'once', Body: Readable.from([Buffer.from('second, streamed')]), ContentLength: 16, IfNoneMatch: '*' })),
      'PreconditionFailed',
      412,
    );
    assert.equal((await getBytes(b, 'once')).toString(), 'first');
  });

  test('conditional PUT: IfMatch with the current ETag replaces; a wrong ETag → 412 and nothing changes', async () => {
    const v1 = await s3.send(new PutObjectCommand({ Bucket: b, Key: 'cas', Body: 'v1' }));
    await expectS3Error(s3.send(new PutObjectCommand({ Bucket: b, Key: 'cas', Body: 'v2', IfMatch: '"ffffffffffffffffffffffffffffffff"' })), 'PreconditionFailed', 412);
    assert.equal((await getBytes(b, 'cas')).toString(), 'v1');
    const v2 = await s3.send(new PutObjectCommand({ Bucket: b, Key: 'cas', Body: 'v2', IfMatch: v1.ETag }));
    assert.equal(v2.ETag, `"${md5hex('v2')}"`);
    assert.equal((await getBytes(b, 'cas')).toString(), 'v2');
    // If-Match on a key that does not exist: S3 answers 404 NoSuchKey.
    await expectS3Error(s3.send(new PutObjectCommand({ Bucket: b, Key: 'absent', Body: 'x', IfMatch: v1.ETag })), 'NoSuchKey', 404);
  });
});

describe('DeleteObject / DeleteObjects', () => {
  test('DeleteObject → 204; the key is gone; deleting a missing key is also 204', async () => {
    const b = await newBucket('delobj');
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'd', Body: 'x' }));
    const d = await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'd' }));
    assert.equal(d.$metadata.httpStatusCode, 204);
    await expectS3Error(s3.send(new GetObjectCommand({ Bucket: b, Key: 'd' })), 'NoSuchKey', 404);
    const again = await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'd' }));
    assert.equal(again.$metadata.httpStatusCode, 204);
    const never = await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'never-existed' }));
    assert.equal(never.$metadata.httpStatusCode, 204);
    await expectS3Error(s3.send(new DeleteObjectCommand({ Bucket: uniqueBucket('nob'), Key: 'd' })), 'NoSuchBucket', 404);
  });

  test('DeleteObjects: existing and missing keys are all reported Deleted, in order; the rest stays', async () => {
    const b = await newBucket('multi');
    for (const k of ['a', 'b', 'c', 'keep', 'sp ace', 'ü/ni&<code>']) await s3.send(new PutObjectCommand({ Bucket: b, Key: k, Body: k }));
    const keys = ['a', 'missing', 'b', 'c', 'sp ace', 'ü/ni&<code>'];
    const r = await s3.send(new DeleteObjectsCommand({ Bucket: b, Delete: { Objects: keys.map((Key) => ({ Key })) } }));
    assert.equal(r.$metadata.httpStatusCode, 200);
    assert.deepEqual(r.Deleted?.map((d) => d.Key), keys);
    assert.equal(r.Errors, undefined);
    const list = await s3.send(new ListObjectsV2Command({ Bucket: b }));
    assert.deepEqual(list.Contents?.map((o) => o.Key), ['keep']);
  });

  test('DeleteObjects Quiet: no Deleted entries, only errors', async () => {
    const b = await newBucket('quiet');
    for (const k of ['x', 'y']) await s3.send(new PutObjectCommand({ Bucket: b, Key: k, Body: k }));
    const r = await s3.send(new DeleteObjectsCommand({ Bucket: b, Delete: { Quiet: true, Objects: [{ Key: 'x' }, { Key: 'y' }, { Key: 'z' }] } }));
    assert.equal(r.$metadata.httpStatusCode, 200);
    assert.equal(r.Deleted, undefined);
    assert.equal(r.Errors, undefined);
    assert.equal((await s3.send(new ListObjectsV2Command({ Bucket: b }))).KeyCount, 0);

    // A malformed version id is a per-key error, reported even in quiet mode.
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'w', Body: 'w' }));
    const r2 = await s3.send(new DeleteObjectsCommand({ Bucket: b, Delete: { Quiet: true, Objects: [{ Key: 'w' }, { Key: 'v', VersionId: 'not a version id' }] } }));
    assert.equal(r2.Deleted, undefined);
    assert.equal(r2.Errors?.length, 1);
    assert.equal(r2.Errors?.[0].Key, 'v');
    assert.ok(r2.Errors?.[0].Code);
    await expectS3Error(s3.send(new HeadObjectCommand({ Bucket: b, Key: 'w' })), 'NotFound', 404);
  });
});

describe('DeleteObjects limits', () => {
  test('more than 1000 keys → 400 MalformedXML, nothing deleted; a missing bucket → 404 NoSuchBucket', async () => {
    const b = await newBucket('del1001');
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'k0', Body: 'x' }));
    const objects = Array.from({ length: 1001 }, (_, i) => ({ Key: `k${i}` }));
    await expectS3Error(s3.send(new DeleteObjectsCommand({ Bucket: b, Delete: { Objects: objects } })), 'MalformedXML', 400);
    assert.equal((await s3.send(new HeadObjectCommand({ Bucket: b, Key: 'k0' }))).ContentLength, 1);
    const r = await s3.send(new DeleteObjectsCommand({ Bucket: b, Delete: { Objects: objects.slice(0, 1000) } }));
    assert.equal(r.Deleted?.length, 1000);
    await expectS3Error(s3.send(new DeleteObjectsCommand({ Bucket: uniqueBucket('nob'), Delete: { Objects: [{ Key: 'x' }] } })), 'NoSuchBucket', 404);
  });
});

describe('CopyObject', () => {
  test('same bucket, COPY directive: bytes, content type and metadata come along', async () => {
    const b = await newBucket('copy');
    const data = patternBuffer(70_000, 11);
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'src', Body: data, ContentType: 'text/csv', Metadata: { origin: 'src' } }));
    const c = await s3.send(new CopyObjectCommand({ Bucket: b, Key: 'dst', CopySource: `${b}/src` }));
    assert.equal(c.$metadata.httpStatusCode, 200);
    assert.equal(c.CopyObjectResult?.ETag, `"${md5hex(data)}"`);
    assert.ok(c.CopyObjectResult?.LastModified instanceof Date);
    const g = await s3.send(new GetObjectCommand({ Bucket: b, Key: 'dst' }));
    assert.equal(g.ContentType, 'text/csv');
    assert.deepEqual(g.Metadata, { origin: 'src' });
    assert.ok((await bodyBytes(g.Body)).equals(data));
  });

  test('cross bucket, with awkward keys in the copy source', async () => {
    const src = await newBucket('csrc');
    const dst = await newBucket('cdst');
    const key = 'dir/naïve file+plus&amp %25.txt';
    await s3.send(new PutObjectCommand({ Bucket: src, Key: key, Body: 'cross' }));
    await s3.send(new CopyObjectCommand({ Bucket: dst, Key: 'copied/' + key, CopySource: `${src}/${encodeURIComponent(key)}` }));
    assert.equal((await getBytes(dst, 'copied/' + key)).toString(), 'cross');
    assert.equal((await getBytes(src, key)).toString(), 'cross', 'source untouched');
  });

  test('REPLACE directive takes metadata and content type from the request', async () => {
    const b = await newBucket('replace');
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'src', Body: 'r', ContentType: 'text/csv', Metadata: { old: '1' } }));
    await s3.send(new CopyObjectCommand({ Bucket: b, Key: 'dst', CopySource: `${b}/src`, MetadataDirective: 'REPLACE', ContentType: 'application/xml', Metadata: { new: '2' } }));
    const h = await s3.send(new HeadObjectCommand({ Bucket: b, Key: 'dst' }));
    assert.equal(h.ContentType, 'application/xml');
    assert.deepEqual(h.Metadata, { new: '2' });
  });

  test('copy onto itself without REPLACE → 400 InvalidRequest; with REPLACE changes the metadata, keeps the bytes', async () => {
    const b = await newBucket('self');
    const put = await s3.send(new PutObjectCommand({ Bucket: b, Key: 'me', Body: 'myself', Metadata: { v: '1' } }));
    await expectS3Error(s3.send(new CopyObjectCommand({ Bucket: b, Key: 'me', CopySource: `${b}/me` })), 'InvalidRequest', 400);
    const c = await s3.send(new CopyObjectCommand({ Bucket: b, Key: 'me', CopySource: `${b}/me`, MetadataDirective: 'REPLACE', Metadata: { v: '2' }, ContentType: 'text/plain' }));
    assert.equal(c.CopyObjectResult?.ETag, put.ETag);
    const g = await s3.send(new GetObjectCommand({ Bucket: b, Key: 'me' }));
    assert.deepEqual(g.Metadata, { v: '2' });
    assert.equal(g.ContentType, 'text/plain');
    assert.equal(await g.Body!.transformToString(), 'myself');
  });

  test('CopySourceIfMatch mismatch → 412 and no destination; match → 200', async () => {
    const b = await newBucket('cif');
    const put = await s3.send(new PutObjectCommand({ Bucket: b, Key: 'src', Body: 'cond' }));
    await expectS3Error(s3.send(new CopyObjectCommand({ Bucket: b, Key: 'dst', CopySource: `${b}/src`, CopySourceIfMatch: '"00000000000000000000000000000000"' })), 'PreconditionFailed', 412);
    await expectS3Error(s3.send(new HeadObjectCommand({ Bucket: b, Key: 'dst' })), 'NotFound', 404);
    await expectS3Error(s3.send(new CopyObjectCommand({ Bucket: b, Key: 'dst', CopySource: `${b}/src`, CopySourceIfNoneMatch: put.ETag })), 'PreconditionFailed', 412);
    await expectS3Error(s3.send(new CopyObjectCommand({ Bucket: b, Key: 'dst', CopySource: `${b}/src`, CopySourceIfUnmodifiedSince: new Date('2001-01-01Z') })), 'PreconditionFailed', 412);
    const ok = await s3.send(new CopyObjectCommand({ Bucket: b, Key: 'dst', CopySource: `${b}/src`, CopySourceIfMatch: put.ETag }));
    assert.equal(ok.CopyObjectResult?.ETag, put.ETag);
  });

  test('copy from a missing key → 404 NoSuchKey; from a missing bucket → 404 NoSuchBucket', async () => {
    const b = await newBucket('cmiss');
    await expectS3Error(s3.send(new CopyObjectCommand({ Bucket: b, Key: 'dst', CopySource: `${b}/nothing` })), 'NoSuchKey', 404);
    await expectS3Error(s3.send(new CopyObjectCommand({ Bucket: b, Key: 'dst', CopySource: `${uniqueBucket('nob')}/x` })), 'NoSuchBucket', 404);
  });

  test("a copy keeps the source's checksum; ChecksumAlgorithm on the copy computes a new one", async () => {
    const b = await newBucket('csum');
    const data = patternBuffer(300_000, 19);
    const put = await s3.send(new PutObjectCommand({ Bucket: b, Key: 'src', Body: data }));
    await s3.send(new CopyObjectCommand({ Bucket: b, Key: 'same', CopySource: `${b}/src` }));
    const h1 = await s3.send(new HeadObjectCommand({ Bucket: b, Key: 'same', ChecksumMode: 'ENABLED' }));
    assert.equal(h1.ChecksumCRC32, put.ChecksumCRC32);
    const c = await s3.send(new CopyObjectCommand({ Bucket: b, Key: 'sha', CopySource: `${b}/src`, ChecksumAlgorithm: 'SHA256' }));
    const { createHash } = await import('node:crypto');
    const sha = createHash('sha256').update(data).digest('base64');
    assert.equal(c.CopyObjectResult?.ChecksumSHA256, sha);
    const h2 = await s3.send(new HeadObjectCommand({ Bucket: b, Key: 'sha', ChecksumMode: 'ENABLED' }));
    assert.equal(h2.ChecksumSHA256, sha);
  });

  test('a large (erasure-coded, not inline) object copies bit-exact', async () => {
    const b = await newBucket('cbig');
    const data = patternBuffer(5 * 1024 * 1024 + 123, 5);
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'big', Body: data }));
    await s3.send(new CopyObjectCommand({ Bucket: b, Key: 'big2', CopySource: `${b}/big` }));
    const got = await getBytes(b, 'big2');
    assert.equal(md5hex(got), md5hex(data));
  });
});

describe('overwrite', () => {
  test('a second PUT replaces bytes and headers; the old metadata does not linger', async () => {
    const b = await newBucket('over');
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'k', Body: 'first version, longer', Metadata: { a: '1' }, ContentType: 'text/a' }));
    await sleep(5);
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'k', Body: 'second' }));
    const sentType = lowerKeys(lastSent('PUT'))['content-type'] ?? 'binary/octet-stream';
    const g = await s3.send(new GetObjectCommand({ Bucket: b, Key: 'k' }));
    assert.equal(await g.Body!.transformToString(), 'second');
    assert.deepEqual(g.Metadata, {});
    assert.equal(g.ContentType, sentType);
    const l = await s3.send(new ListObjectsV2Command({ Bucket: b }));
    assert.equal(l.KeyCount, 1);
    assert.equal(l.Contents?.[0].Size, 6);
  });
});
