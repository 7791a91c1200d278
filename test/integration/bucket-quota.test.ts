// Per-bucket quotas: set, shown and removed with `tessera admin bucket quota`, enforced on
// PutObject (declared and unknown sizes), UploadPart and CompleteMultipartUpload with 403
// XTesseraQuotaExceeded, and the bucket's usage kept with every write and delete (and across
// a restart) rather than counted by a scan.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { readdir } from 'node:fs/promises';
import {
  AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CopyObjectCommand, CreateBucketCommand, CreateMultipartUploadCommand,
  DeleteObjectCommand, ListObjectsV2Command, PutBucketVersioningCommand, PutObjectCommand, UploadPartCommand, type S3Client,
} from '@aws-sdk/client-s3';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { run, sdkClient } from '../helpers/clients.js';
import { assertXmlError, expectS3Error, patternBuffer, signedChunkedPut } from './sdk-helpers.js';

const MAIN = path.resolve('dist/src/cli/main.js');
const KiB = 1024;
const MiB = 1024 * 1024;

interface QuotaInfo { bucket: string; maxBytes: number | null; usedBytes: number | null; versions: number | null }

async function admin(s: TestServer, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, AWS_ACCESS_KEY_ID: s.accessKeyId, AWS_SECRET_ACCESS_KEY: s.secretAccessKey };
  return run(process.execPath, [MAIN, 'admin', '--endpoint', s.endpoint, ...args], { env, timeoutMs: 60_000 });
}

async function quota(s: TestServer, bucket: string, ...opts: string[]): Promise<QuotaInfo> {
  const r = await admin(s, ['bucket', 'quota', bucket, '--json', ...opts]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as QuotaInfo;
}

async function keys(s3: S3Client, bucket: string): Promise<string[]> {
  const r = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
  return (r.Contents ?? []).map((o) => o.Key!).sort();
}

test('bucket quotas: set with the CLI, enforced on every write, usage kept incrementally and across a restart', { timeout: 180_000 }, async () => {
  let s = await startTestServer();
  const root = s.root;
  try {
    let s3 = sdkClient(s);
    const bucket = 'quota';
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    assert.deepEqual(await quota(s, bucket), { bucket, maxBytes: null, usedBytes: 0, versions: 0 });
    const human = await admin(s, ['bucket', 'quota', bucket]);
    assert.match(human.stdout, /quota: none {2}used: 0 bytes in 0 version/);

    assert.equal((await quota(s, bucket, '--max-bytes', '1MiB')).maxBytes, MiB);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'a', Body: patternBuffer(600 * KiB) }));
    await expectS3Error(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'b', Body: patternBuffer(600 * KiB) })), 'XTesseraQuotaExceeded', 403);
    // A body of unknown size is checked once it has arrived, before the commit.
    const raw = await signedChunkedPut(s, `/${bucket}/c`, patternBuffer(2 * MiB));
    assertXmlError(raw, 'XTesseraQuotaExceeded', 403);
    assert.deepEqual(await keys(s3, bucket), ['a']);
    for (const d of s.disks) assert.deepEqual(await readdir(path.join(d, 'tmp')), [], `${d}/tmp is empty`);
    assert.deepEqual(await quota(s, bucket), { bucket, maxBytes: MiB, usedBytes: 600 * KiB, versions: 1 });

    // Overwriting (unversioned): the old bytes make room for the new ones.
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'a', Body: patternBuffer(900 * KiB) }));
    assert.equal((await quota(s, bucket)).usedBytes, 900 * KiB);
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'a' }));
    assert.deepEqual(await quota(s, bucket), { bucket, maxBytes: MiB, usedBytes: 0, versions: 0 });

    // Multipart: a part that alone is too big is refused; parts that fit but add up to too
    // much are refused at Complete, and the upload can still be aborted.
    assert.equal((await quota(s, bucket, '--max-bytes', String(8 * MiB))).maxBytes, 8 * MiB);
    const up = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'mp' }));
    await expectS3Error(s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'mp', UploadId: up.UploadId, PartNumber: 1, Body: patternBuffer(9 * MiB) })), 'XTesseraQuotaExceeded', 403);
    const p1 = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'mp', UploadId: up.UploadId, PartNumber: 1, Body: patternBuffer(5 * MiB) }));
    const p2 = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'mp', UploadId: up.UploadId, PartNumber: 2, Body: patternBuffer(4 * MiB) }));
    await expectS3Error(s3.send(new CompleteMultipartUploadCommand({
      Bucket: bucket, Key: 'mp', UploadId: up.UploadId,
      MultipartUpload: { Parts: [{ PartNumber: 1, ETag: p1.ETag }, { PartNumber: 2, ETag: p2.ETag }] },
    })), 'XTesseraQuotaExceeded', 403);
    await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: 'mp', UploadId: up.UploadId }));
    const up2 = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'mp' }));
    const q1 = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'mp', UploadId: up2.UploadId, PartNumber: 1, Body: patternBuffer(5 * MiB) }));
    const q2 = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'mp', UploadId: up2.UploadId, PartNumber: 2, Body: patternBuffer(2 * MiB) }));
    await s3.send(new CompleteMultipartUploadCommand({
      Bucket: bucket, Key: 'mp', UploadId: up2.UploadId,
      MultipartUpload: { Parts: [{ PartNumber: 1, ETag: q1.ETag }, { PartNumber: 2, ETag: q2.ETag }] },
    }));
    assert.deepEqual(await quota(s, bucket), { bucket, maxBytes: 8 * MiB, usedBytes: 7 * MiB, versions: 1 });

    // Versioned: every version counts, delete markers do not.
    await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'v', Body: patternBuffer(400 * KiB) }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'v', Body: patternBuffer(400 * KiB) }));
    await expectS3Error(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'v', Body: patternBuffer(400 * KiB) })), 'XTesseraQuotaExceeded', 403);
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'v' }));
    const before = await quota(s, bucket);
    assert.deepEqual(before, { bucket, maxBytes: 8 * MiB, usedBytes: 7 * MiB + 800 * KiB, versions: 3 });

    // The usage is in the metadata (and its journal): a restart has it without a scan.
    s3.destroy();
    await s.stop();
    s = await startTestServer({ root });
    s3 = sdkClient(s);
    assert.deepEqual(await quota(s, bucket), before);

    // Removed: writes are no longer limited.
    const cleared = await admin(s, ['bucket', 'quota', bucket, '--clear']);
    assert.equal(cleared.code, 0, cleared.stderr);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'big', Body: patternBuffer(2 * MiB) }));
    assert.equal((await quota(s, bucket)).maxBytes, null);

    // Bad input: a clear CLI error, nothing changed.
    const bad = await admin(s, ['bucket', 'quota', bucket, '--max-bytes', 'lots']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /--max-bytes/);
    const missing = await admin(s, ['bucket', 'quota', 'no-such-bucket']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /NoSuchBucket/);
    s3.destroy();
  } finally {
    await s.destroy();
  }
});

test('bucket usage follows version deletes, delete markers, copies, suspended overwrites and multipart', { timeout: 120_000 }, async () => {
  const s = await startTestServer();
  const s3 = sdkClient(s);
  const usage = () => s.started.engine.store.bucketUsage(bucket);
  const bucket = 'usage';
  try {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
    const v1 = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'v', Body: patternBuffer(100 * KiB) }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'v', Body: patternBuffer(200 * KiB) }));
    assert.deepEqual(await usage(), { bytes: 300 * KiB, versions: 2 });

    // Deleting one version by id gives back exactly its bytes.
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'v', VersionId: v1.VersionId }));
    assert.deepEqual(await usage(), { bytes: 200 * KiB, versions: 1 });
    // Deleting it again changes nothing (already gone).
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'v', VersionId: v1.VersionId }));
    assert.deepEqual(await usage(), { bytes: 200 * KiB, versions: 1 });

    // A delete marker, and deleting that marker, hold no bytes.
    const marker = await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'v' }));
    assert.deepEqual(await usage(), { bytes: 200 * KiB, versions: 1 });
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'v', VersionId: marker.VersionId }));
    assert.deepEqual(await usage(), { bytes: 200 * KiB, versions: 1 });

    // A copy counts as a new version of its size.
    await s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'w', CopySource: `${bucket}/v` }));
    assert.deepEqual(await usage(), { bytes: 400 * KiB, versions: 2 });

    // Suspended: a write makes (then replaces) the null version; a delete replaces it with a marker.
    await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Suspended' } }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'w', Body: patternBuffer(50 * KiB) }));
    assert.deepEqual(await usage(), { bytes: 450 * KiB, versions: 3 });
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'w', Body: patternBuffer(70 * KiB) }));
    assert.deepEqual(await usage(), { bytes: 470 * KiB, versions: 3 });
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'w' }));
    assert.deepEqual(await usage(), { bytes: 400 * KiB, versions: 2 });

    // Parts do not count until Complete, and an aborted upload leaves nothing behind.
    const up = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'mp' }));
    await s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'mp', UploadId: up.UploadId, PartNumber: 1, Body: patternBuffer(5 * MiB) }));
    assert.deepEqual(await usage(), { bytes: 400 * KiB, versions: 2 });
    await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: 'mp', UploadId: up.UploadId }));
    assert.deepEqual(await usage(), { bytes: 400 * KiB, versions: 2 });
    const up2 = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'w' }));
    const p = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'w', UploadId: up2.UploadId, PartNumber: 1, Body: patternBuffer(300 * KiB) }));
    await s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'w', UploadId: up2.UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: p.ETag }] } }));
    // It replaced the null delete marker: one more version of 300 KiB.
    assert.deepEqual(await usage(), { bytes: 700 * KiB, versions: 3 });
  } finally {
    s3.destroy();
    await s.destroy();
  }
});
