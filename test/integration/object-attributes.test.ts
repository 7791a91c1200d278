// GetObjectAttributes with the AWS SDK v3's GetObjectAttributesCommand (default settings):
// ETag, Checksum, ObjectParts (with part checksums, paged by MaxParts/PartNumberMarker),
// StorageClass, ObjectSize; by versionId; only what x-amz-object-attributes asks for.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import {
  CompleteMultipartUploadCommand, CreateBucketCommand, CreateMultipartUploadCommand, DeleteObjectCommand,
  GetObjectAttributesCommand, PutBucketVersioningCommand, PutObjectCommand, S3Client, UploadPartCommand,
} from '@aws-sdk/client-s3';
import type { TestServer } from '../helpers/server.js';
import { useSuiteServer, boto3 } from '../helpers/clients.js';
import { expectS3Error, signedRawRequest, uniqueBucket } from './sdk-helpers.js';

let server: TestServer;
let s3: S3Client;
useSuiteServer((sv, c) => {
  server = sv;
  s3 = c;
});

const ALL = ['ETag', 'Checksum', 'ObjectParts', 'StorageClass', 'ObjectSize'] as const;
const sha256b64 = (b: Buffer | string) => createHash('sha256').update(b).digest('base64');
const md5hex = (b: Buffer | string) => createHash('md5').update(b).digest('hex');

describe('GetObjectAttributes', { timeout: 180_000 }, () => {
  test('a single-part object: ETag (unquoted), Checksum, StorageClass, ObjectSize; no ObjectParts', async () => {
    const b = uniqueBucket('attr');
    await s3.send(new CreateBucketCommand({ Bucket: b }));
    const body = 'attributes of this object';
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'k', Body: body, ChecksumAlgorithm: 'SHA256', StorageClass: 'STANDARD_IA' }));
    const r = await s3.send(new GetObjectAttributesCommand({ Bucket: b, Key: 'k', ObjectAttributes: [...ALL] }));
    assert.equal(r.ETag, md5hex(body));
    assert.equal(r.Checksum?.ChecksumSHA256, sha256b64(body));
    assert.equal(r.Checksum?.ChecksumType, 'FULL_OBJECT');
    assert.equal(r.ObjectParts, undefined);
    assert.equal(r.StorageClass, 'STANDARD_IA');
    assert.equal(r.ObjectSize, Buffer.byteLength(body));
    assert.ok(r.LastModified instanceof Date);
    assert.equal(r.VersionId, undefined, 'an unversioned bucket sends no version id');
    // Only what was asked for.
    const some = await s3.send(new GetObjectAttributesCommand({ Bucket: b, Key: 'k', ObjectAttributes: ['ObjectSize'] }));
    assert.equal(some.ObjectSize, Buffer.byteLength(body));
    assert.equal(some.ETag, undefined);
    assert.equal(some.Checksum, undefined);
    assert.equal(some.StorageClass, undefined);
    await expectS3Error(s3.send(new GetObjectAttributesCommand({ Bucket: b, Key: 'missing', ObjectAttributes: ['ETag'] })), 'NoSuchKey', 404);
    await expectS3Error(s3.send(new GetObjectAttributesCommand({ Bucket: b, Key: 'k', ObjectAttributes: ['Colour' as 'ETag'] })), 'InvalidArgument', 400);
  });

  test('a multipart object: ObjectParts with part checksums, paged by MaxParts and PartNumberMarker', async () => {
    const b = uniqueBucket('attrmp');
    await s3.send(new CreateBucketCommand({ Bucket: b }));
    const parts = [Buffer.alloc(5 * 1024 * 1024, 1), Buffer.alloc(5 * 1024 * 1024, 2), Buffer.from('last part')];
    const u = await s3.send(new CreateMultipartUploadCommand({ Bucket: b, Key: 'mp', ChecksumAlgorithm: 'SHA256' }));
    const done = [];
    for (const [i, p] of parts.entries()) {
      const r = await s3.send(new UploadPartCommand({ Bucket: b, Key: 'mp', UploadId: u.UploadId, PartNumber: i + 1, Body: p, ChecksumAlgorithm: 'SHA256' }));
      done.push({ PartNumber: i + 1, ETag: r.ETag, ChecksumSHA256: r.ChecksumSHA256 });
    }
    const c = await s3.send(new CompleteMultipartUploadCommand({ Bucket: b, Key: 'mp', UploadId: u.UploadId, MultipartUpload: { Parts: done } }));
    const all = await s3.send(new GetObjectAttributesCommand({ Bucket: b, Key: 'mp', ObjectAttributes: [...ALL] }));
    assert.equal(all.ETag, c.ETag!.replace(/"/g, ''));
    assert.match(all.ETag!, /-3$/);
    // The composite checksum, without the "-3" that Complete and HeadObject show.
    assert.match(c.ChecksumSHA256!, /-3$/);
    assert.equal(all.Checksum?.ChecksumSHA256, c.ChecksumSHA256!.replace(/-3$/, ''));
    assert.equal(all.Checksum?.ChecksumSHA256, createHash('sha256').update(Buffer.concat(parts.map((p) => createHash('sha256').update(p).digest()))).digest('base64'));
    assert.equal(all.Checksum?.ChecksumType, 'COMPOSITE');
    assert.equal(all.ObjectSize, parts.reduce((a, p) => a + p.length, 0));
    assert.equal(all.StorageClass, 'STANDARD');
    assert.equal(all.ObjectParts?.TotalPartsCount, 3);
    assert.equal(all.ObjectParts?.IsTruncated, false);
    assert.deepEqual(all.ObjectParts?.Parts?.map((p) => [p.PartNumber, p.Size, p.ChecksumSHA256]), parts.map((p, i) => [i + 1, p.length, sha256b64(p)]));
    const first = await s3.send(new GetObjectAttributesCommand({ Bucket: b, Key: 'mp', ObjectAttributes: ['ObjectParts'], MaxParts: 2 }));
    assert.equal(first.ObjectParts?.IsTruncated, true);
    assert.equal(first.ObjectParts?.MaxParts, 2);
    assert.equal(first.ObjectParts?.NextPartNumberMarker, '2');
    assert.deepEqual(first.ObjectParts?.Parts?.map((p) => p.PartNumber), [1, 2]);
    assert.equal(first.ObjectParts?.TotalPartsCount, 3);
    const rest = await s3.send(new GetObjectAttributesCommand({ Bucket: b, Key: 'mp', ObjectAttributes: ['ObjectParts'], MaxParts: 2, PartNumberMarker: first.ObjectParts!.NextPartNumberMarker }));
    assert.equal(rest.ObjectParts?.IsTruncated, false);
    assert.equal(rest.ObjectParts?.PartNumberMarker, '2');
    assert.deepEqual(rest.ObjectParts?.Parts?.map((p) => p.PartNumber), [3]);
  });

  test('by versionId; the current delete marker is 404, a delete marker by id 405', async () => {
    const b = uniqueBucket('attrv');
    await s3.send(new CreateBucketCommand({ Bucket: b }));
    await s3.send(new PutBucketVersioningCommand({ Bucket: b, VersioningConfiguration: { Status: 'Enabled' } }));
    const v1 = await s3.send(new PutObjectCommand({ Bucket: b, Key: 'k', Body: 'first' }));
    const v2 = await s3.send(new PutObjectCommand({ Bucket: b, Key: 'k', Body: 'second, longer' }));
    const old = await s3.send(new GetObjectAttributesCommand({ Bucket: b, Key: 'k', VersionId: v1.VersionId, ObjectAttributes: ['ETag', 'ObjectSize'] }));
    assert.equal(old.VersionId, v1.VersionId);
    assert.equal(old.ObjectSize, 5);
    assert.equal(old.ETag, md5hex('first'));
    const cur = await s3.send(new GetObjectAttributesCommand({ Bucket: b, Key: 'k', ObjectAttributes: ['ObjectSize'] }));
    assert.equal(cur.VersionId, v2.VersionId);
    assert.equal(cur.ObjectSize, 14);
    const dm = await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'k' }));
    await expectS3Error(s3.send(new GetObjectAttributesCommand({ Bucket: b, Key: 'k', ObjectAttributes: ['ETag'] })), 'NoSuchKey', 404);
    await expectS3Error(s3.send(new GetObjectAttributesCommand({ Bucket: b, Key: 'k', VersionId: dm.VersionId, ObjectAttributes: ['ETag'] })), 'MethodNotAllowed', 405);
  });

  test('boto3 get_object_attributes; a request without x-amz-object-attributes is refused', async () => {
    const b = uniqueBucket('attrpy');
    await s3.send(new CreateBucketCommand({ Bucket: b }));
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'k', Body: 'python' }));
    const r = await boto3(server, `r = s3.get_object_attributes(Bucket=${JSON.stringify(b)}, Key='k', ObjectAttributes=['ETag', 'ObjectSize', 'StorageClass'])\nprint(json.dumps([r.get('ETag'), r.get('ObjectSize'), r.get('StorageClass')]))`);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout.trim()), [md5hex('python'), 6, 'STANDARD']);
    const raw = await signedRawRequest(server, { method: 'GET', host: `127.0.0.1:${server.port}`, path: `/${b}/k?attributes` });
    assert.equal(raw.status, 400, raw.body.toString());
    assert.match(raw.body.toString(), /<Code>InvalidRequest<\/Code>/);
  });
});


