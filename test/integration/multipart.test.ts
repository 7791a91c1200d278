// Multipart upload through real clients at their default settings, against a real server:
// aws-cli `s3 cp` of 200 MiB both ways (multipart above 8 MiB), the SDK's lib-storage `Upload`
// with 4 parts in flight, boto3's upload_file / download_file, and a resumed upload with a
// fresh SDK client (ListParts / ListMultipartUploads as a resuming client uses them).
// Semantics and error codes are in multipart-semantics.test.ts.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, test } from 'node:test';
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { aws, boto3, type RunResult } from '../helpers/clients.js';
import { md5OfStream, patternBuffer, patternStream } from '../helpers/data.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { bodyBytes, uniqueBucket } from './sdk-helpers.js';

const MiB = 1024 * 1024;

let server: TestServer;
let s3: S3Client;
let work: string;

before(async () => {
  server = await startTestServer();
  s3 = sdkClient();
  work = await mkdtemp(path.join(os.tmpdir(), 'tessera-mpu-'));
});

after(async () => {
  s3?.destroy();
  await server?.destroy();
  if (work) await rm(work, { recursive: true, force: true });
});

function sdkClient(): S3Client {
  return new S3Client({
    endpoint: server.endpoint,
    region: server.region,
    forcePathStyle: true,
    credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
  });
}

async function newBucket(tag: string): Promise<string> {
  const b = uniqueBucket(`mp-${tag}`);
  await s3.send(new CreateBucketCommand({ Bucket: b }));
  return b;
}

function show(r: RunResult): string {
  return `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;
}

/** The S3 multipart ETag of a stream cut into parts of partSize bytes: md5(concat(md5(part)))-N. */
async function multipartEtag(src: AsyncIterable<Buffer> | Iterable<Buffer>, partSize: number): Promise<string> {
  const md5s: Buffer[] = [];
  let h = createHash('md5');
  let inPart = 0;
  for await (let c of src) {
    while (c.length > 0) {
      const n = Math.min(c.length, partSize - inPart);
      h.update(c.subarray(0, n));
      inPart += n;
      c = c.subarray(n);
      if (inPart === partSize) {
        md5s.push(h.digest());
        h = createHash('md5');
        inPart = 0;
      }
    }
  }
  if (inPart > 0) md5s.push(h.digest());
  return `${createHash('md5').update(Buffer.concat(md5s)).digest('hex')}-${md5s.length}`;
}

/** S3's COMPOSITE CRC32 of a stream cut into parts: crc32 of the parts' big-endian CRC32s, "-N". */
async function compositeCrc32(src: AsyncIterable<Buffer>, partSize: number): Promise<string> {
  const sums: Buffer[] = [];
  let crc = 0;
  let inPart = 0;
  const flush = () => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(crc >>> 0);
    sums.push(b);
    crc = 0;
    inPart = 0;
  };
  for await (let c of src) {
    while (c.length > 0) {
      const n = Math.min(c.length, partSize - inPart);
      crc = zlib.crc32(c.subarray(0, n), crc);
      inPart += n;
      c = c.subarray(n);
      if (inPart === partSize) flush();
    }
  }
  if (inPart > 0) flush();
  const all = Buffer.alloc(4);
  all.writeUInt32BE(zlib.crc32(Buffer.concat(sums)) >>> 0);
  return `${all.toString('base64')}-${sums.length}`;
}

describe('clients at their default settings', () => {
  test('aws s3 cp: a 200 MiB file up and down (multipart both ways), md5 equal', async () => {
    const bucket = await newBucket('cli');
    const size = 200 * MiB;
    const src = path.join(work, 'cli-200.bin');
    const dst = path.join(work, 'cli-200.out');
    try {
      await pipeline(patternStream(size, 7), createWriteStream(src));
      const want = await md5OfStream(createReadStream(src));
      assert.equal(want.size, size);

      const up = await aws(server, ['s3', 'cp', src, `s3://${bucket}/big/file.bin`, '--no-progress']);
      assert.equal(up.code, 0, show(up));
      const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'big/file.bin' }));
      assert.equal(head.ContentLength, size);
      // aws-cli cut it into 8 MiB parts: the ETag is the multipart form for 25 parts.
      assert.equal(head.ETag, `"${await multipartEtag(createReadStream(src) as AsyncIterable<Buffer>, 8 * MiB)}"`);
      // HEAD with partNumber=1 tells aws-cli the object has parts; it downloads with ranged GETs.
      const down = await aws(server, ['s3', 'cp', `s3://${bucket}/big/file.bin`, dst, '--no-progress']);
      assert.equal(down.code, 0, show(down));
      const got = await md5OfStream(createReadStream(dst));
      assert.deepEqual(got, want);

      // An S3-to-S3 copy above the threshold is a multipart copy (UploadPartCopy with ranges).
      const cp = await aws(server, ['s3', 'cp', `s3://${bucket}/big/file.bin`, `s3://${bucket}/big/copy.bin`, '--no-progress']);
      assert.equal(cp.code, 0, show(cp));
      const copied = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'big/copy.bin' }));
      assert.match(copied.ETag ?? '', /^"[0-9a-f]{32}-\d+"$/, 'the copy was assembled from parts');
      assert.deepEqual(await md5OfStream(copied.Body as AsyncIterable<Uint8Array>), want);
    } finally {
      await rm(src, { force: true });
      await rm(dst, { force: true });
    }
  });

  test('SDK Upload (lib-storage), queueSize 4, 100 MiB stream: progress reaches total, md5 equal, "-N" ETag', async () => {
    const bucket = await newBucket('upload');
    const size = 100 * MiB;
    const events: { loaded?: number; total?: number; part?: number }[] = [];
    const up = new Upload({
      client: s3,
      queueSize: 4,
      params: { Bucket: bucket, Key: 'stream.bin', Body: patternStream(size, 11), ContentLength: size },
    });
    up.on('httpUploadProgress', (p) => events.push({ loaded: p.loaded, total: p.total, part: p.part }));
    const out = await up.done();
    const etag = await multipartEtag(patternStream(size, 11) as AsyncIterable<Buffer>, 5 * MiB);
    assert.equal(out.ETag, `"${etag}"`);
    assert.match(out.ETag!, /^"[0-9a-f]{32}-20"$/);

    assert.ok(events.length >= 20, `expected a progress event per part, got ${events.length}`);
    let prev = 0;
    for (const e of events) {
      assert.equal(e.total, size);
      assert.ok((e.loaded ?? 0) >= prev, 'loaded never goes back');
      prev = e.loaded ?? 0;
    }
    assert.equal(events[events.length - 1].loaded, size, 'loaded reaches total');

    // lib-storage asks for CRC32 on CreateMultipartUpload (the SDK's default checksum
    // setting): the object's checksum is the composite crc32(concat(part crc32s))-20.
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'stream.bin', ChecksumMode: 'ENABLED' }));
    assert.equal(head.ChecksumCRC32, await compositeCrc32(patternStream(size, 11) as AsyncIterable<Buffer>, 5 * MiB));
    assert.equal(head.ChecksumType, 'COMPOSITE');

    const want = await md5OfStream(patternStream(size, 11));
    const get = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'stream.bin' }));
    assert.equal(get.ContentLength, size);
    assert.equal(get.ETag, `"${etag}"`);
    assert.deepEqual(await md5OfStream(get.Body as AsyncIterable<Uint8Array>), want);
  });

  test('boto3 upload_file / download_file with 5 MiB threshold and chunks, 23 MiB, bytes equal', async () => {
    const bucket = await newBucket('boto');
    const data = patternBuffer(23 * MiB, 23);
    const src = path.join(work, 'boto-23.bin');
    const dst = path.join(work, 'boto-23.out');
    try {
      await writeFile(src, data);
      const r = await boto3(server, [
        'from boto3.s3.transfer import TransferConfig',
        'cfg = TransferConfig(multipart_threshold=5*1024*1024, multipart_chunksize=5*1024*1024)',
        `s3.upload_file(${JSON.stringify(src)}, ${JSON.stringify(bucket)}, 'py/obj.bin', Config=cfg)`,
        `s3.download_file(${JSON.stringify(bucket)}, 'py/obj.bin', ${JSON.stringify(dst)}, Config=cfg)`,
        `print(json.dumps(s3.head_object(Bucket=${JSON.stringify(bucket)}, Key='py/obj.bin')['ETag']))`,
      ].join('\n'));
      assert.equal(r.code, 0, show(r));
      const etag = JSON.parse(r.stdout.trim()) as string;
      assert.equal(etag, `"${await multipartEtag([data], 5 * MiB)}"`);
      assert.match(etag, /-5"$/);
      const got = await readFile(dst);
      assert.equal(got.length, data.length);
      assert.ok(got.equals(data), 'downloaded bytes equal the file');
    } finally {
      await rm(src, { force: true });
      await rm(dst, { force: true });
    }
  });
});

describe('resuming an upload with a new client', () => {
  test('parts 1-2, new S3Client, ListParts, part 3, Complete; ListMultipartUploads before and after', async () => {
    const bucket = await newBucket('resume');
    const key = 'resume/obj.bin';
    const p1 = patternBuffer(5 * MiB, 101);
    const p2 = patternBuffer(5 * MiB, 102);
    const p3 = patternBuffer(100 * 1024 + 17, 103);
    const md5 = (b: Buffer) => `"${createHash('md5').update(b).digest('hex')}"`;

    const first = sdkClient();
    const { UploadId } = await first.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ContentType: 'application/x-test' }));
    assert.ok(UploadId);
    const r1 = await first.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: 1, Body: p1 }));
    const r2 = await first.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: 2, Body: p2 }));
    assert.equal(r1.ETag, md5(p1));
    assert.equal(r2.ETag, md5(p2));
    first.destroy();

    const second = sdkClient();
    try {
      const uploads = await second.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
      assert.deepEqual(uploads.Uploads?.map((u) => [u.Key, u.UploadId]), [[key, UploadId]]);
      assert.ok(uploads.Uploads![0].Initiated instanceof Date);

      const listed = await second.send(new ListPartsCommand({ Bucket: bucket, Key: key, UploadId }));
      assert.equal(listed.UploadId, UploadId);
      assert.equal(listed.IsTruncated, false);
      assert.deepEqual(listed.Parts?.map((p) => [p.PartNumber, p.ETag, p.Size]), [
        [1, md5(p1), p1.length],
        [2, md5(p2), p2.length],
      ]);
      for (const p of listed.Parts!) assert.ok(p.LastModified instanceof Date);

      const r3 = await second.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: 3, Body: p3 }));
      assert.equal(r3.ETag, md5(p3));
      const parts = [...listed.Parts!.map((p) => ({ PartNumber: p.PartNumber, ETag: p.ETag })), { PartNumber: 3, ETag: r3.ETag }];
      const done = await second.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId, MultipartUpload: { Parts: parts } }));
      assert.equal(done.ETag, `"${await multipartEtag([p1, p2, p3], 5 * MiB)}"`);
      assert.equal(done.Key, key);
      assert.equal(done.Bucket, bucket);

      const after = await second.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
      assert.equal(after.Uploads?.length ?? 0, 0);

      const get = await second.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      assert.equal(get.ContentType, 'application/x-test');
      assert.equal(get.ETag, done.ETag);
      const bytes = await bodyBytes(get.Body);
      assert.ok(bytes.equals(Buffer.concat([p1, p2, p3])), 'object bytes equal the concatenation of the parts');
      // Part 3 is small enough to be kept inline: reads across the boundary into it, and of it alone.
      const whole = Buffer.concat([p1, p2, p3]);
      const from = 2 * 5 * MiB - 1000;
      const ranged = await second.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: `bytes=${from}-${from + 2999}` }));
      assert.ok((await bodyBytes(ranged.Body)).equals(whole.subarray(from, from + 3000)));
      const third = await second.send(new GetObjectCommand({ Bucket: bucket, Key: key, PartNumber: 3 }));
      assert.ok((await bodyBytes(third.Body)).equals(p3));
    } finally {
      second.destroy();
    }
  });
});
