// Multipart upload semantics against a real server with the SDK at its default settings:
// every refusal with the S3 code and HTTP status AWS sends, part replacement, idempotent and
// conditional Complete, reads by part number and across part boundaries, UploadPartCopy, and
// what happens on the disks (Complete moves no data; Abort and expiry leave no files), plus
// composite SHA-256 checksums.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import zlib from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectVersionsCommand,
  ListPartsCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  UploadPartCopyCommand,
  type CompletedPart,
} from '@aws-sdk/client-s3';
import { sdkClient, useSuiteServer } from '../helpers/clients.js';
import { patternBuffer } from '../helpers/data.js';
import type { TestServer } from '../helpers/server.js';
import { bodyBytes, expectS3Error, sleep, uniqueBucket } from './sdk-helpers.js';

const MiB = 1024 * 1024;
const PART = 5 * MiB;

let server: TestServer;
let s3: S3Client;

useSuiteServer((srv, client) => {
  server = srv;
  s3 = client;
});

async function newBucket(tag: string): Promise<string> {
  const b = uniqueBucket(`mps-${tag}`);
  await s3.send(new CreateBucketCommand({ Bucket: b }));
  return b;
}

const md5hex = (b: Buffer) => createHash('md5').update(b).digest('hex');

function multipartEtag(parts: Buffer[]): string {
  const md5s = Buffer.concat(parts.map((p) => createHash('md5').update(p).digest()));
  return `"${createHash('md5').update(md5s).digest('hex')}-${parts.length}"`;
}

async function create(bucket: string, key: string, extra: Record<string, unknown> = {}): Promise<string> {
  const r = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ...extra }));
  assert.ok(r.UploadId);
  return r.UploadId;
}

async function put(bucket: string, key: string, uploadId: string, n: number, body: Buffer, extra: Record<string, unknown> = {}): Promise<CompletedPart> {
  const r = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumber: n, Body: body, ...extra }));
  assert.equal(r.ETag, `"${md5hex(body)}"`);
  return { PartNumber: n, ETag: r.ETag };
}

function complete(bucket: string, key: string, uploadId: string, parts: CompletedPart[], extra: Record<string, unknown> = {}) {
  return s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts: parts }, ...extra }));
}

async function getBytes(bucket: string, key: string): Promise<Buffer> {
  const r = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return bodyBytes(r.Body);
}

async function partNumbers(bucket: string, key: string, uploadId: string): Promise<number[]> {
  const r = await s3.send(new ListPartsCommand({ Bucket: bucket, Key: key, UploadId: uploadId }));
  return (r.Parts ?? []).map((p) => p.PartNumber!);
}

/** The shard files of one data id on every disk of the test server. */
function shardFiles(dataId: string): string[] {
  return server.disks.map((d) => path.join(d, 'shards', dataId.slice(0, 2), dataId));
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
}

async function dataIdsOf(uploadId: string): Promise<string[]> {
  const parts = await server.started.engine.store.meta.listParts(uploadId, 0, 1000);
  return parts.map((p) => p.data.dataId);
}

describe('refusals: S3 code and HTTP status', () => {
  let bucket: string;
  const key = 'errors/obj';
  const big = patternBuffer(PART, 1);
  const small = patternBuffer(1 * MiB, 2);

  before(async () => {
    bucket = await newBucket('err');
  });

  test('Complete with parts out of order → InvalidPartOrder 400', async () => {
    const id = await create(bucket, key);
    const a = await put(bucket, key, id, 1, big);
    const b = await put(bucket, key, id, 2, small);
    await expectS3Error(complete(bucket, key, id, [b, a]), 'InvalidPartOrder', 400);
    // Nothing changed: the upload is still there and can complete.
    await complete(bucket, key, id, [a, b]);
  });

  test('Complete with an unknown part number → InvalidPart 400', async () => {
    const id = await create(bucket, key);
    const a = await put(bucket, key, id, 1, big);
    await expectS3Error(complete(bucket, key, id, [a, { PartNumber: 2, ETag: `"${md5hex(small)}"` }]), 'InvalidPart', 400);
    await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: id }));
  });

  test('Complete with a wrong ETag → InvalidPart 400', async () => {
    const id = await create(bucket, key);
    const a = await put(bucket, key, id, 1, big);
    const b = await put(bucket, key, id, 2, small);
    await expectS3Error(complete(bucket, key, id, [a, { PartNumber: 2, ETag: `"${md5hex(big)}"` }]), 'InvalidPart', 400);
    assert.deepEqual(await partNumbers(bucket, key, id), [1, 2]);
    await complete(bucket, key, id, [a, b]);
  });

  test('Complete with a non-last part below 5 MiB → EntityTooSmall 400', async () => {
    const id = await create(bucket, key);
    const a = await put(bucket, key, id, 1, small);
    const b = await put(bucket, key, id, 2, big);
    await expectS3Error(complete(bucket, key, id, [a, b]), 'EntityTooSmall', 400);
    // The last part may be small (and a single small part is a valid object).
    const c = await put(bucket, key, id, 3, big);
    const d = await put(bucket, key, id, 4, small);
    const done = await complete(bucket, key, id, [b, c, d]);
    assert.equal(done.ETag, multipartEtag([big, big, small]));
  });

  test('UploadPart with partNumber 0 or 10001 → InvalidArgument 400', async () => {
    const id = await create(bucket, key);
    for (const n of [0, 10001]) {
      await expectS3Error(s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: id, PartNumber: n, Body: small })), 'InvalidArgument', 400);
    }
    // 1 and 10000 are the valid bounds.
    await put(bucket, key, id, 1, small);
    await put(bucket, key, id, 10000, small);
    assert.deepEqual(await partNumbers(bucket, key, id), [1, 10000]);
    await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: id }));
  });

  test('UploadPart / ListParts / Complete after Abort → NoSuchUpload 404', async () => {
    const id = await create(bucket, key);
    const a = await put(bucket, key, id, 1, small);
    await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: id }));
    await expectS3Error(s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: id, PartNumber: 2, Body: small })), 'NoSuchUpload', 404);
    await expectS3Error(s3.send(new ListPartsCommand({ Bucket: bucket, Key: key, UploadId: id })), 'NoSuchUpload', 404);
    await expectS3Error(complete(bucket, key, id, [a]), 'NoSuchUpload', 404);
    // A second Abort of the same upload, too.
    await expectS3Error(s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: id })), 'NoSuchUpload', 404);
  });

  test('Abort of an unknown upload → NoSuchUpload 404', async () => {
    await expectS3Error(
      s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: 'no-such-upload-id-0123456789' })),
      'NoSuchUpload',
      404,
    );
  });

  test('UploadPart with a wrong Content-MD5 → BadDigest 400, the part is not listed', async () => {
    const id = await create(bucket, key);
    await put(bucket, key, id, 1, big);
    const wrong = createHash('md5').update(big).digest('base64');
    await expectS3Error(
      s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: id, PartNumber: 2, Body: small, ContentMD5: wrong })),
      'BadDigest',
      400,
    );
    assert.deepEqual(await partNumbers(bucket, key, id), [1]);
    // A wrong Content-MD5 for an existing part number leaves the earlier part in place.
    await expectS3Error(
      s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: id, PartNumber: 1, Body: small, ContentMD5: wrong })),
      'BadDigest',
      400,
    );
    const listed = await s3.send(new ListPartsCommand({ Bucket: bucket, Key: key, UploadId: id }));
    assert.deepEqual(listed.Parts?.map((p) => [p.PartNumber, p.ETag, p.Size]), [[1, `"${md5hex(big)}"`, big.length]]);
    await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: id }));
  });
});

describe('parts and Complete', () => {
  let bucket: string;
  before(async () => {
    bucket = await newBucket('parts');
  });

  test('re-uploading a part number replaces it', async () => {
    const key = 'replace';
    const id = await create(bucket, key);
    const old1 = patternBuffer(PART, 10);
    const new1 = patternBuffer(PART, 11);
    const p2 = patternBuffer(300 * 1024, 12);
    const a = await put(bucket, key, id, 1, old1);
    const b = await put(bucket, key, id, 2, p2);
    const oldIds = await dataIdsOf(id);
    const a2 = await put(bucket, key, id, 1, new1);
    assert.notEqual(a2.ETag, a.ETag);
    const listed = await s3.send(new ListPartsCommand({ Bucket: bucket, Key: key, UploadId: id }));
    assert.deepEqual(listed.Parts?.map((p) => [p.PartNumber, p.ETag, p.Size]), [
      [1, a2.ETag, new1.length],
      [2, b.ETag, p2.length],
    ]);
    // The replaced part's ETag is no longer valid in Complete.
    await expectS3Error(complete(bucket, key, id, [a, b]), 'InvalidPart', 400);
    const done = await complete(bucket, key, id, [a2, b]);
    assert.equal(done.ETag, multipartEtag([new1, p2]));
    assert.ok((await getBytes(bucket, key)).equals(Buffer.concat([new1, p2])));
    // The replaced part's data is gone from the disks.
    await server.started.engine.store.settle();
    for (const f of shardFiles(oldIds[0])) assert.equal(await exists(f), false, `${f} was removed`);
  });

  test('Complete with a subset of the parts: the object is those parts, the others\' files are removed', async () => {
    const key = 'subset';
    const id = await create(bucket, key);
    const bodies = [patternBuffer(PART, 13), patternBuffer(PART, 14), patternBuffer(200 * 1024, 15)];
    const parts = [await put(bucket, key, id, 1, bodies[0]), await put(bucket, key, id, 2, bodies[1]), await put(bucket, key, id, 5, bodies[2])];
    const ids = await dataIdsOf(id);
    const done = await complete(bucket, key, id, [parts[0], parts[2]]);
    assert.equal(done.ETag, multipartEtag([bodies[0], bodies[2]]));
    assert.ok((await getBytes(bucket, key)).equals(Buffer.concat([bodies[0], bodies[2]])));
    await server.started.engine.store.settle();
    for (const f of shardFiles(ids[1])) assert.equal(await exists(f), false, `unused part 2: ${f} removed`);
    for (const f of [...shardFiles(ids[0]), ...shardFiles(ids[2])]) assert.equal(await exists(f), true, `${f} kept`);
  });

  test('the same Complete sent twice → 200 both times with the same ETag', async () => {
    const key = 'twice';
    const id = await create(bucket, key);
    const p1 = patternBuffer(PART, 20);
    const p2 = patternBuffer(1000, 21);
    const parts = [await put(bucket, key, id, 1, p1), await put(bucket, key, id, 2, p2)];
    const first = await complete(bucket, key, id, parts);
    const second = await complete(bucket, key, id, parts);
    assert.equal(first.$metadata.httpStatusCode, 200);
    assert.equal(second.$metadata.httpStatusCode, 200);
    assert.equal(first.ETag, multipartEtag([p1, p2]));
    assert.equal(second.ETag, first.ETag);
    assert.ok((await getBytes(bucket, key)).equals(Buffer.concat([p1, p2])));
  });

  test('Complete with IfNoneMatch "*" when the key exists → 412 PreconditionFailed, nothing changes', async () => {
    const key = 'conditional';
    const existing = patternBuffer(2000, 30);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: existing }));
    const id = await create(bucket, key);
    const parts = [await put(bucket, key, id, 1, patternBuffer(PART, 31))];
    await expectS3Error(complete(bucket, key, id, parts, { IfNoneMatch: '*' }), 'PreconditionFailed', 412);
    assert.ok((await getBytes(bucket, key)).equals(existing), 'the existing object is unchanged');
    // The upload survives a failed precondition; without the condition it completes.
    assert.deepEqual(await partNumbers(bucket, key, id), [1]);
    await complete(bucket, key, id, parts);

    // With IfNoneMatch "*" on a key that does not exist, Complete succeeds.
    const id2 = await create(bucket, 'conditional-new');
    const parts2 = [await put(bucket, 'conditional-new', id2, 1, existing)];
    const done = await complete(bucket, 'conditional-new', id2, parts2, { IfNoneMatch: '*' });
    assert.equal(done.ETag, multipartEtag([existing]));
  });
});

describe('reading a multipart object', () => {
  let bucket: string;
  const key = 'three-parts';
  const parts = [patternBuffer(PART, 40), patternBuffer(PART, 41), patternBuffer(MiB + 3, 42)];
  const whole = Buffer.concat(parts);

  before(async () => {
    bucket = await newBucket('read');
    const id = await create(bucket, key);
    const done: CompletedPart[] = [];
    for (let i = 0; i < parts.length; i++) done.push(await put(bucket, key, id, i + 1, parts[i]));
    await complete(bucket, key, id, done);
  });

  test('GET with PartNumber=N returns exactly that part and PartsCount', async () => {
    let offset = 0;
    for (let n = 1; n <= parts.length; n++) {
      const r = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, PartNumber: n }));
      assert.equal(r.$metadata.httpStatusCode, 206);
      assert.equal(r.PartsCount, 3);
      assert.equal(r.ContentLength, parts[n - 1].length);
      assert.equal(r.ContentRange, `bytes ${offset}-${offset + parts[n - 1].length - 1}/${whole.length}`);
      assert.equal(r.ETag, multipartEtag(parts), 'the ETag is the whole object\'s');
      assert.ok((await bodyBytes(r.Body)).equals(parts[n - 1]), `part ${n} bytes`);
      offset += parts[n - 1].length;
    }
    await expectS3Error(s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, PartNumber: 4 })), 'InvalidPartNumber', 416);
  });

  test('HEAD with PartNumber returns that part\'s ContentLength', async () => {
    for (let n = 1; n <= parts.length; n++) {
      const r = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key, PartNumber: n }));
      assert.equal(r.ContentLength, parts[n - 1].length);
      assert.equal(r.PartsCount, 3);
    }
    const plain = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    assert.equal(plain.ContentLength, whole.length);
  });

  test('Range GET across part boundaries is bit-exact', async () => {
    const ranges: [number, number][] = [
      [PART - 10, PART + 9],
      [PART - 1, PART],
      [PART * 2 - 4096, PART * 2 + 4095],
      [PART - 100, 2 * PART + 100], // spans a whole part
      [1, whole.length - 2],
      [whole.length - 7, whole.length - 1],
    ];
    for (const [a, b] of ranges) {
      const r = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: `bytes=${a}-${b}` }));
      assert.equal(r.ContentRange, `bytes ${a}-${b}/${whole.length}`);
      assert.ok((await bodyBytes(r.Body)).equals(whole.subarray(a, b + 1)), `bytes ${a}-${b}`);
    }
  });
});

describe('UploadPartCopy', () => {
  test('assembles an object from ranges of a 12 MiB object; a range outside it → 400 InvalidArgument (what AWS answers)', async () => {
    const bucket = await newBucket('copy');
    const src = patternBuffer(12 * MiB, 50);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'source', Body: src }));
    const key = 'assembled';
    const id = await create(bucket, key);
    const ranges = [`bytes=0-${PART - 1}`, `bytes=${PART}-${2 * PART - 1}`, `bytes=${2 * PART}-${src.length - 1}`];
    const done: CompletedPart[] = [];
    for (let i = 0; i < ranges.length; i++) {
      const r = await s3.send(new UploadPartCopyCommand({ Bucket: bucket, Key: key, UploadId: id, PartNumber: i + 1, CopySource: `${bucket}/source`, CopySourceRange: ranges[i] }));
      const [a, b] = ranges[i].slice(6).split('-').map(Number);
      assert.equal(r.CopyPartResult?.ETag, `"${md5hex(src.subarray(a, b + 1))}"`);
      assert.ok(r.CopyPartResult?.LastModified instanceof Date);
      done.push({ PartNumber: i + 1, ETag: r.CopyPartResult!.ETag });
    }
    await expectS3Error(
      s3.send(new UploadPartCopyCommand({ Bucket: bucket, Key: key, UploadId: id, PartNumber: 4, CopySource: `${bucket}/source`, CopySourceRange: `bytes=${src.length}-${src.length + 99}` })),
      'InvalidArgument',
      400,
    );
    assert.deepEqual(await partNumbers(bucket, key, id), [1, 2, 3]);
    const c = await complete(bucket, key, id, done);
    assert.equal(c.ETag, multipartEtag([src.subarray(0, PART), src.subarray(PART, 2 * PART), src.subarray(2 * PART)]));
    assert.ok((await getBytes(bucket, key)).equals(src), 'assembled bytes equal the source');
  });
});

describe('on the disks', () => {
  let bucket: string;
  before(async () => {
    bucket = await newBucket('disk');
  });

  test('Complete rewrites no data: the parts\' shard files are the object\'s, same inode and mtime', async () => {
    const key = 'no-rewrite';
    const id = await create(bucket, key);
    const bodies = [patternBuffer(PART, 60), patternBuffer(2 * MiB, 61)];
    const done = [await put(bucket, key, id, 1, bodies[0]), await put(bucket, key, id, 2, bodies[1])];
    const ids = await dataIdsOf(id);
    assert.equal(ids.length, 2);
    const before = new Map<string, { ino: number; mtimeMs: number; size: number }>();
    for (const dataId of ids) {
      for (const f of shardFiles(dataId)) {
        const st = await stat(f);
        before.set(f, { ino: st.ino, mtimeMs: st.mtimeMs, size: st.size });
      }
    }
    await sleep(20); // so a rewrite would show in mtime
    await complete(bucket, key, id, done);
    await server.started.engine.store.settle();

    const v = await server.started.engine.store.resolve(bucket, key);
    assert.equal(v.data?.kind, 'parts');
    if (v.data?.kind !== 'parts') return;
    assert.deepEqual(v.data.parts.map((p) => p.data.dataId), ids, 'the object\'s parts are the uploaded parts\' data');
    assert.deepEqual(v.data.parts.map((p) => p.data.kind), ['shards', 'shards']);
    for (const [f, st] of before) {
      const now = await stat(f);
      assert.deepEqual({ ino: now.ino, mtimeMs: now.mtimeMs, size: now.size }, st, `${f} untouched`);
    }
    assert.ok((await getBytes(bucket, key)).equals(Buffer.concat(bodies)));
  });

  test('Abort leaves no files', async () => {
    const key = 'aborted';
    const id = await create(bucket, key);
    await put(bucket, key, id, 1, patternBuffer(PART, 70));
    await put(bucket, key, id, 2, patternBuffer(MiB, 71));
    const ids = await dataIdsOf(id);
    for (const dataId of ids) for (const f of shardFiles(dataId)) assert.equal(await exists(f), true, `${f} exists before Abort`);
    await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: id }));
    await server.started.engine.store.settle();
    for (const dataId of ids) {
      for (const d of server.disks) {
        assert.equal(await exists(path.join(d, 'shards', dataId.slice(0, 2), dataId)), false);
        assert.equal(await exists(path.join(d, 'tmp', dataId)), false);
      }
    }
  });

  test('expiry aborts a pending upload and removes its files', async () => {
    const key = 'expiring';
    const id = await create(bucket, key);
    await put(bucket, key, id, 1, patternBuffer(PART, 80));
    const ids = await dataIdsOf(id);
    const listed = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
    assert.deepEqual(listed.Uploads?.map((u) => u.UploadId), [id]);
    await sleep(5);
    const n = await server.started.engine.upkeep.expireUploads(0);
    assert.ok(n >= 1, `expired ${n}`);
    await server.started.engine.store.settle();
    const after = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
    assert.equal(after.Uploads?.length ?? 0, 0);
    await expectS3Error(s3.send(new ListPartsCommand({ Bucket: bucket, Key: key, UploadId: id })), 'NoSuchUpload', 404);
    for (const dataId of ids) for (const f of shardFiles(dataId)) assert.equal(await exists(f), false, `${f} removed`);
  });
});

describe('checksums', () => {
  test('composite SHA256: Complete and GetObject (ChecksumMode ENABLED) return base64(sha256(part sums))-N', async () => {
    const bucket = await newBucket('sum');
    const key = 'sha256';
    const id = await create(bucket, key, { ChecksumAlgorithm: 'SHA256' });
    const bodies = [patternBuffer(PART, 90), patternBuffer(PART, 91), patternBuffer(12345, 92)];
    const done: CompletedPart[] = [];
    const raw: Buffer[] = [];
    for (let i = 0; i < bodies.length; i++) {
      const r = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: id, PartNumber: i + 1, Body: bodies[i], ChecksumAlgorithm: 'SHA256' }));
      const sum = createHash('sha256').update(bodies[i]).digest();
      assert.equal(r.ChecksumSHA256, sum.toString('base64'), `part ${i + 1} checksum`);
      raw.push(sum);
      done.push({ PartNumber: i + 1, ETag: r.ETag, ChecksumSHA256: r.ChecksumSHA256 });
    }
    const listed = await s3.send(new ListPartsCommand({ Bucket: bucket, Key: key, UploadId: id }));
    assert.equal(listed.ChecksumAlgorithm, 'SHA256');
    assert.deepEqual(listed.Parts?.map((p) => p.ChecksumSHA256), raw.map((r) => r.toString('base64')));
    const want = `${createHash('sha256').update(Buffer.concat(raw)).digest('base64')}-${bodies.length}`;
    const c = await complete(bucket, key, id, done);
    assert.equal(c.ChecksumSHA256, want);
    assert.equal(c.ChecksumType, 'COMPOSITE');
    const g = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, ChecksumMode: 'ENABLED' }));
    assert.equal(g.ChecksumSHA256, want);
    assert.ok((await bodyBytes(g.Body)).equals(Buffer.concat(bodies)));
    const h = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key, ChecksumMode: 'ENABLED' }));
    assert.equal(h.ChecksumSHA256, want);
  });
});

describe('more of what S3 does', () => {
  let bucket: string;
  before(async () => {
    bucket = await newBucket('more');
  });

  test('GET / HEAD with PartNumber=1 of a non-multipart object: 206, the whole object, no PartsCount; 2 → InvalidPartNumber', async () => {
    const body = patternBuffer(3000, 100);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'single', Body: body }));
    const g = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'single', PartNumber: 1 }));
    assert.equal(g.$metadata.httpStatusCode, 206);
    assert.equal(g.ContentRange, `bytes 0-${body.length - 1}/${body.length}`);
    assert.equal(g.PartsCount, undefined);
    assert.ok((await bodyBytes(g.Body)).equals(body));
    const h = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'single', PartNumber: 1 }));
    assert.equal(h.$metadata.httpStatusCode, 206);
    assert.equal(h.ContentLength, body.length);
    await expectS3Error(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'single', PartNumber: 2 })), 'InvalidPartNumber', 416);
  });

  test('Complete with no parts → MalformedXML; with a part number twice → InvalidPartOrder', async () => {
    const key = 'shape';
    const id = await create(bucket, key);
    const a = await put(bucket, key, id, 1, patternBuffer(PART, 101));
    await expectS3Error(complete(bucket, key, id, []), 'MalformedXML', 400);
    await expectS3Error(complete(bucket, key, id, [a, a]), 'InvalidPartOrder', 400);
    // ETags without quotes are accepted, as S3 accepts them.
    const done = await complete(bucket, key, id, [{ PartNumber: 1, ETag: a.ETag!.replace(/"/g, '') }]);
    assert.equal(done.ETag, multipartEtag([patternBuffer(PART, 101)]));
  });

  test('an upload id is bound to its key: UploadPart / ListParts / Complete with another key → NoSuchUpload', async () => {
    const id = await create(bucket, 'bound/a');
    const a = await put(bucket, 'bound/a', id, 1, patternBuffer(1000, 102));
    await expectS3Error(s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'bound/b', UploadId: id, PartNumber: 1, Body: Buffer.from('x') })), 'NoSuchUpload', 404);
    await expectS3Error(s3.send(new ListPartsCommand({ Bucket: bucket, Key: 'bound/b', UploadId: id })), 'NoSuchUpload', 404);
    await expectS3Error(complete(bucket, 'bound/b', id, [a]), 'NoSuchUpload', 404);
    await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: 'bound/a', UploadId: id }));
  });

  test('a one-part upload of zero bytes makes an empty object', async () => {
    const key = 'empty';
    const id = await create(bucket, key);
    const a = await put(bucket, key, id, 1, Buffer.alloc(0));
    const done = await complete(bucket, key, id, [a]);
    assert.equal(done.ETag, multipartEtag([Buffer.alloc(0)]));
    const g = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    assert.equal(g.ContentLength, 0);
    assert.equal((await bodyBytes(g.Body)).length, 0);
  });

  test('metadata, content type and tags given to CreateMultipartUpload are the object\'s', async () => {
    const key = 'meta';
    const id = await create(bucket, key, {
      ContentType: 'text/x-parts',
      ContentDisposition: 'attachment; filename="p.txt"',
      CacheControl: 'max-age=60',
      Metadata: { color: 'blue', 'two-words': 'a b' },
      Tagging: 'k1=v1&k2=v2',
    });
    const a = await put(bucket, key, id, 1, patternBuffer(2000, 103));
    await complete(bucket, key, id, [a]);
    const h = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    assert.equal(h.ContentType, 'text/x-parts');
    assert.equal(h.ContentDisposition, 'attachment; filename="p.txt"');
    assert.equal(h.CacheControl, 'max-age=60');
    assert.deepEqual(h.Metadata, { color: 'blue', 'two-words': 'a b' });
    assert.equal(h.PartsCount, undefined, 'no parts count without partNumber');
    const g = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    assert.equal(g.TagCount, 2);
    await bodyBytes(g.Body);
  });

  test('ListParts pages with MaxParts and PartNumberMarker', async () => {
    const key = 'many-parts';
    const id = await create(bucket, key);
    const etags = new Map<number, string>();
    for (const n of [1, 2, 3, 5, 8]) etags.set(n, (await put(bucket, key, id, n, Buffer.from(`part ${n}`))).ETag!);
    const seen: number[] = [];
    let marker: string | undefined;
    let pages = 0;
    for (;;) {
      const r = await s3.send(new ListPartsCommand({ Bucket: bucket, Key: key, UploadId: id, MaxParts: 2, PartNumberMarker: marker }));
      pages++;
      assert.equal(r.MaxParts, 2);
      for (const p of r.Parts ?? []) {
        seen.push(p.PartNumber!);
        assert.equal(p.ETag, etags.get(p.PartNumber!));
      }
      if (!r.IsTruncated) break;
      assert.equal(r.NextPartNumberMarker, String(r.Parts!.at(-1)!.PartNumber));
      marker = r.NextPartNumberMarker;
    }
    assert.deepEqual(seen, [1, 2, 3, 5, 8]);
    assert.equal(pages, 3);
    await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: id }));
  });

  test('ListMultipartUploads: key order then initiation order, pages, prefix and delimiter', async () => {
    const b = await newBucket('uploads');
    const made: [string, string][] = [];
    for (const key of ['a', 'a', 'a', 'b', 'c/x', 'c/y']) {
      made.push([key, await create(b, key)]);
      await sleep(3); // initiation order is visible in the listing
    }
    const all = await s3.send(new ListMultipartUploadsCommand({ Bucket: b }));
    assert.deepEqual(all.Uploads?.map((u) => [u.Key, u.UploadId]), made);
    assert.equal(all.IsTruncated, false);

    const seen: [string, string][] = [];
    let keyMarker: string | undefined;
    let idMarker: string | undefined;
    for (;;) {
      const r = await s3.send(new ListMultipartUploadsCommand({ Bucket: b, MaxUploads: 2, KeyMarker: keyMarker, UploadIdMarker: idMarker }));
      for (const u of r.Uploads ?? []) seen.push([u.Key!, u.UploadId!]);
      if (!r.IsTruncated) break;
      assert.equal(r.Uploads?.length, 2);
      keyMarker = r.NextKeyMarker;
      idMarker = r.NextUploadIdMarker;
      assert.deepEqual([keyMarker, idMarker], seen.at(-1));
    }
    assert.deepEqual(seen, made);

    const grouped = await s3.send(new ListMultipartUploadsCommand({ Bucket: b, Delimiter: '/' }));
    assert.deepEqual(grouped.Uploads?.map((u) => u.Key), ['a', 'a', 'a', 'b']);
    assert.deepEqual(grouped.CommonPrefixes?.map((p) => p.Prefix), ['c/']);
    const inC = await s3.send(new ListMultipartUploadsCommand({ Bucket: b, Prefix: 'c/' }));
    assert.deepEqual(inC.Uploads?.map((u) => u.Key), ['c/x', 'c/y']);
    // KeyMarker alone: only keys after it.
    const afterA = await s3.send(new ListMultipartUploadsCommand({ Bucket: b, KeyMarker: 'a' }));
    assert.deepEqual(afterA.Uploads?.map((u) => u.Key), ['b', 'c/x', 'c/y']);
    for (const [key, id] of made) await s3.send(new AbortMultipartUploadCommand({ Bucket: b, Key: key, UploadId: id }));
  });

  test('in a versioned bucket Complete returns a version id, and the retried Complete the same one', async () => {
    const b = await newBucket('versioned');
    await s3.send(new PutBucketVersioningCommand({ Bucket: b, VersioningConfiguration: { Status: 'Enabled' } }));
    const id = await create(b, 'v');
    const a = await put(b, 'v', id, 1, patternBuffer(1000, 104));
    const first = await complete(b, 'v', id, [a]);
    assert.ok(first.VersionId && first.VersionId !== 'null');
    const again = await complete(b, 'v', id, [a]);
    assert.equal(again.VersionId, first.VersionId);
    const h = await s3.send(new HeadObjectCommand({ Bucket: b, Key: 'v', VersionId: first.VersionId }));
    assert.equal(h.ETag, first.ETag);
  });

  test('deleting or overwriting a multipart object removes its parts\' files', async () => {
    const files = async (key: string): Promise<string[]> => {
      const v = await server.started.engine.store.resolve(bucket, key);
      assert.equal(v.data?.kind, 'parts');
      return v.data?.kind === 'parts' ? v.data.parts.flatMap((p) => shardFiles(p.data.dataId)) : [];
    };
    for (const how of ['delete', 'overwrite'] as const) {
      const key = `gone-${how}`;
      const id = await create(bucket, key);
      const parts = [await put(bucket, key, id, 1, patternBuffer(PART, 105)), await put(bucket, key, id, 2, patternBuffer(MiB, 106))];
      await complete(bucket, key, id, parts);
      const fs = await files(key);
      assert.equal(fs.length, 2 * server.disks.length);
      for (const f of fs) assert.equal(await exists(f), true);
      if (how === 'delete') await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
      else await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'small' }));
      await server.started.engine.store.settle();
      for (const f of fs) assert.equal(await exists(f), false, `${how}: ${f} removed`);
    }
  });
});

describe('how the SDK sends parts, and races', () => {
  let bucket: string;
  before(async () => {
    bucket = await newBucket('wire');
  });

  test('UploadPart with a stream body (aws-chunked, trailing CRC32) stores the part; its CRC32 comes back', async () => {
    const key = 'streamed';
    const id = await create(bucket, key, { ChecksumAlgorithm: 'CRC32' });
    const body = patternBuffer(6 * MiB + 5, 110);
    const r = await s3.send(new UploadPartCommand({
      Bucket: bucket, Key: key, UploadId: id, PartNumber: 1,
      Body: Readable.from([body.subarray(0, 3 * MiB), body.subarray(3 * MiB)]), ContentLength: body.length,
    }));
    assert.equal(r.ETag, `"${md5hex(body)}"`);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(zlib.crc32(body) >>> 0);
    assert.equal(r.ChecksumCRC32, crc.toString('base64'));
    const done = await complete(bucket, key, id, [{ PartNumber: 1, ETag: r.ETag, ChecksumCRC32: r.ChecksumCRC32 }]);
    assert.equal(done.ETag, multipartEtag([body]));
    assert.ok((await getBytes(bucket, key)).equals(body));
  });

  test('two Completes at once: both 200 with the same ETag; one version', async () => {
    const b = await newBucket('race');
    await s3.send(new PutBucketVersioningCommand({ Bucket: b, VersioningConfiguration: { Status: 'Enabled' } }));
    const key = 'raced';
    const id = await create(b, key);
    const parts = [await put(b, key, id, 1, patternBuffer(PART, 111)), await put(b, key, id, 2, patternBuffer(10, 112))];
    const [x, y] = await Promise.all([complete(b, key, id, parts), complete(b, key, id, parts)]);
    assert.equal(x.ETag, y.ETag);
    assert.equal(x.VersionId, y.VersionId);
    const versions = await s3.send(new ListObjectVersionsCommand({ Bucket: b }));
    assert.equal(versions.Versions?.length, 1);
  });

  test('a part that arrives after Abort is refused and leaves no files', async () => {
    const key = 'late';
    const id = await create(bucket, key);
    await put(bucket, key, id, 1, patternBuffer(MiB, 113));
    // Start a part, abort while its body is still streaming, then finish the body.
    const body = new PassThrough();
    const sending = s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: id, PartNumber: 2, Body: body, ContentLength: 2 * MiB }));
    body.write(patternBuffer(MiB, 114));
    await sleep(100);
    await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: id }));
    body.end(patternBuffer(MiB, 115));
    await expectS3Error(sending, 'NoSuchUpload', 404);
    await server.started.engine.store.settle();
    for (const d of server.disks) {
      const tmp = await readdir(path.join(d, 'tmp'));
      assert.deepEqual(tmp.filter((f) => !f.startsWith('format')), [], `${d}/tmp is empty`);
    }
    assert.equal((await server.started.engine.store.meta.listParts(id, 0, 10)).length, 0);
  });
});
