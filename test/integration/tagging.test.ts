// Object and bucket tagging against a real server with the AWS SDK for JavaScript v3 (default
// settings): Put/Get/DeleteObjectTagging (current version and by VersionId), x-amz-tagging on
// PutObject, CopyObject (TaggingDirective COPY / REPLACE) and CreateMultipartUpload, the
// x-amz-tagging-count header on GET and HEAD, S3's tag limits, and bucket tagging.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketTaggingCommand,
  DeleteObjectCommand,
  DeleteObjectTaggingCommand,
  GetBucketTaggingCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  PutBucketTaggingCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  PutObjectTaggingCommand,
  S3Client,
  UploadPartCommand,
  type Tag,
} from '@aws-sdk/client-s3';
import type { TestServer } from '../helpers/server.js';
import { sdkClient, useSuiteServer } from '../helpers/clients.js';
import { bodyBytes, expectS3Error, expectStatusError, signedRawRequest, uniqueBucket } from './sdk-helpers.js';

let server: TestServer;
let s3: S3Client;

useSuiteServer((srv, client) => {
  server = srv;
  s3 = client;
});

async function newBucket(tag: string, versioned = false): Promise<string> {
  const b = uniqueBucket(tag);
  await s3.send(new CreateBucketCommand({ Bucket: b }));
  if (versioned) await s3.send(new PutBucketVersioningCommand({ Bucket: b, VersioningConfiguration: { Status: 'Enabled' } }));
  return b;
}

/** Tag set as a plain object (order-independent comparison). */
function asObject(set: Tag[] | undefined): Record<string, string> {
  return Object.fromEntries((set ?? []).map((t) => [t.Key!, t.Value!]));
}

async function tagsOf(bucket: string, key: string, versionId?: string): Promise<Record<string, string>> {
  const r = await s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: key, VersionId: versionId }));
  return asObject(r.TagSet);
}

async function tagCounts(bucket: string, key: string, versionId?: string): Promise<{ get?: number; head?: number }> {
  const g = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, VersionId: versionId }));
  await bodyBytes(g.Body);
  const h = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key, VersionId: versionId }));
  return { get: g.TagCount, head: h.TagCount };
}

const tagSet = (o: Record<string, string>): Tag[] => Object.entries(o).map(([Key, Value]) => ({ Key, Value }));

describe('object tagging', () => {
  test('Put / Get / Delete on the current object; tagging count on GET and HEAD', async () => {
    const b = await newBucket('obj');
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'k', Body: 'data' }));
    const empty = await s3.send(new GetObjectTaggingCommand({ Bucket: b, Key: 'k' }));
    assert.deepEqual(empty.TagSet ?? [], []);
    assert.deepEqual(await tagCounts(b, 'k'), { get: undefined, head: undefined }, 'no x-amz-tagging-count without tags');

    const put = await s3.send(new PutObjectTaggingCommand({ Bucket: b, Key: 'k', Tagging: { TagSet: tagSet({ project: 'tessera', 'cost center': 'R+D = 1/2 @ x: y_z.w-v', empty: '' }) } }));
    assert.equal(put.$metadata.httpStatusCode, 200);
    assert.deepEqual(await tagsOf(b, 'k'), { project: 'tessera', 'cost center': 'R+D = 1/2 @ x: y_z.w-v', empty: '' });
    assert.deepEqual(await tagCounts(b, 'k'), { get: 3, head: 3 });

    // A new PutObjectTagging replaces the whole set.
    await s3.send(new PutObjectTaggingCommand({ Bucket: b, Key: 'k', Tagging: { TagSet: tagSet({ only: 'one' }) } }));
    assert.deepEqual(await tagsOf(b, 'k'), { only: 'one' });
    assert.deepEqual(await tagCounts(b, 'k'), { get: 1, head: 1 });

    const del = await s3.send(new DeleteObjectTaggingCommand({ Bucket: b, Key: 'k' }));
    assert.equal(del.$metadata.httpStatusCode, 204);
    assert.deepEqual(await tagsOf(b, 'k'), {});
    assert.deepEqual(await tagCounts(b, 'k'), { get: undefined, head: undefined });

    // An empty TagSet is valid and clears the tags too.
    await s3.send(new PutObjectTaggingCommand({ Bucket: b, Key: 'k', Tagging: { TagSet: tagSet({ a: '1' }) } }));
    await s3.send(new PutObjectTaggingCommand({ Bucket: b, Key: 'k', Tagging: { TagSet: [] } }));
    assert.deepEqual(await tagsOf(b, 'k'), {});

    // Tagging leaves the data and the ETag alone.
    const g = await s3.send(new GetObjectCommand({ Bucket: b, Key: 'k' }));
    assert.equal((await bodyBytes(g.Body)).toString(), 'data');
  });

  test('missing key → 404 NoSuchKey; missing bucket → 404 NoSuchBucket', async () => {
    const b = await newBucket('missing');
    await expectS3Error(s3.send(new GetObjectTaggingCommand({ Bucket: b, Key: 'nope' })), 'NoSuchKey', 404);
    await expectS3Error(s3.send(new PutObjectTaggingCommand({ Bucket: b, Key: 'nope', Tagging: { TagSet: tagSet({ a: '1' }) } })), 'NoSuchKey', 404);
    await expectS3Error(s3.send(new DeleteObjectTaggingCommand({ Bucket: b, Key: 'nope' })), 'NoSuchKey', 404);
    await expectS3Error(s3.send(new GetObjectTaggingCommand({ Bucket: uniqueBucket('nb'), Key: 'k' })), 'NoSuchBucket', 404);
  });

  test('by VersionId: each version has its own tag set; tagging makes no new version', async () => {
    const b = await newBucket('ver', true);
    const v1 = (await s3.send(new PutObjectCommand({ Bucket: b, Key: 'k', Body: 'one', Tagging: 'gen=1' }))).VersionId!;
    const v2 = (await s3.send(new PutObjectCommand({ Bucket: b, Key: 'k', Body: 'two', Tagging: 'gen=2&extra=x' }))).VersionId!;
    assert.deepEqual(await tagsOf(b, 'k'), { gen: '2', extra: 'x' });
    assert.deepEqual(await tagsOf(b, 'k', v1), { gen: '1' });
    const gt = await s3.send(new GetObjectTaggingCommand({ Bucket: b, Key: 'k', VersionId: v1 }));
    assert.equal(gt.VersionId, v1);
    assert.equal((await s3.send(new GetObjectTaggingCommand({ Bucket: b, Key: 'k' }))).VersionId, v2);
    assert.deepEqual(await tagCounts(b, 'k', v1), { get: 1, head: 1 });
    assert.deepEqual(await tagCounts(b, 'k'), { get: 2, head: 2 });

    // Tag the old version: the current one keeps its tags.
    const p = await s3.send(new PutObjectTaggingCommand({ Bucket: b, Key: 'k', VersionId: v1, Tagging: { TagSet: tagSet({ archived: 'yes' }) } }));
    assert.equal(p.VersionId, v1);
    assert.deepEqual(await tagsOf(b, 'k', v1), { archived: 'yes' });
    assert.deepEqual(await tagsOf(b, 'k'), { gen: '2', extra: 'x' });

    // Tag the current version without naming it.
    const pc = await s3.send(new PutObjectTaggingCommand({ Bucket: b, Key: 'k', Tagging: { TagSet: tagSet({ gen: 'two' }) } }));
    assert.equal(pc.VersionId, v2);
    assert.deepEqual(await tagsOf(b, 'k', v2), { gen: 'two' });
    assert.deepEqual(await tagCounts(b, 'k'), { get: 1, head: 1 });

    // Delete the tags of one version only.
    const d = await s3.send(new DeleteObjectTaggingCommand({ Bucket: b, Key: 'k', VersionId: v1 }));
    assert.equal(d.VersionId, v1);
    assert.deepEqual(await tagsOf(b, 'k', v1), {});
    assert.deepEqual(await tagsOf(b, 'k'), { gen: 'two' });

    // Still exactly two versions, the same ids, the same data.
    const lv = await s3.send(new ListObjectVersionsCommand({ Bucket: b }));
    assert.deepEqual(lv.Versions?.map((v) => [v.VersionId, v.IsLatest]), [[v2, true], [v1, false]]);
    const g1 = await s3.send(new GetObjectCommand({ Bucket: b, Key: 'k', VersionId: v1 }));
    assert.equal((await bodyBytes(g1.Body)).toString(), 'one');

    // Unknown / malformed version ids.
    const unknown = v1.replace(/[0-9a-f]$/, (c) => (c === '0' ? '1' : '0'));
    await expectS3Error(s3.send(new GetObjectTaggingCommand({ Bucket: b, Key: 'k', VersionId: unknown })), 'NoSuchVersion', 404);
    await expectS3Error(s3.send(new PutObjectTaggingCommand({ Bucket: b, Key: 'k', VersionId: unknown, Tagging: { TagSet: [] } })), 'NoSuchVersion', 404);
    await expectS3Error(s3.send(new GetObjectTaggingCommand({ Bucket: b, Key: 'k', VersionId: 'zzz' })), 'InvalidArgument', 400);
  });

  test('delete markers: tagging one by id → 405; the key behind a marker → 404 NoSuchKey', async () => {
    const b = await newBucket('dm', true);
    const v1 = (await s3.send(new PutObjectCommand({ Bucket: b, Key: 'k', Body: 'x', Tagging: 'a=1' }))).VersionId!;
    const m = (await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'k' }))).VersionId!;
    await expectS3Error(s3.send(new GetObjectTaggingCommand({ Bucket: b, Key: 'k', VersionId: m })), 'MethodNotAllowed', 405);
    await expectS3Error(s3.send(new PutObjectTaggingCommand({ Bucket: b, Key: 'k', VersionId: m, Tagging: { TagSet: tagSet({ b: '2' }) } })), 'MethodNotAllowed', 405);
    await expectS3Error(s3.send(new DeleteObjectTaggingCommand({ Bucket: b, Key: 'k', VersionId: m })), 'MethodNotAllowed', 405);
    await expectS3Error(s3.send(new GetObjectTaggingCommand({ Bucket: b, Key: 'k' })), 'NoSuchKey', 404);
    await expectS3Error(s3.send(new PutObjectTaggingCommand({ Bucket: b, Key: 'k', Tagging: { TagSet: tagSet({ b: '2' }) } })), 'NoSuchKey', 404);
    // The version behind the marker can still be tagged by id.
    await s3.send(new PutObjectTaggingCommand({ Bucket: b, Key: 'k', VersionId: v1, Tagging: { TagSet: tagSet({ b: '2' }) } }));
    assert.deepEqual(await tagsOf(b, 'k', v1), { b: '2' });
    // Removing the marker brings the object back with the tags set meanwhile.
    await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'k', VersionId: m }));
    assert.deepEqual(await tagsOf(b, 'k'), { b: '2' });
    assert.deepEqual(await tagCounts(b, 'k'), { get: 1, head: 1 });
  });

  test('x-amz-tagging on PutObject (URL-encoded query string)', async () => {
    const b = await newBucket('hdr');
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'k', Body: 'x', Tagging: 'a=1&b=2' }));
    assert.deepEqual(await tagsOf(b, 'k'), { a: '1', b: '2' });
    assert.deepEqual(await tagCounts(b, 'k'), { get: 2, head: 2 });

    // Percent-encoding, '+' as space, an empty value, a key without '='. Only characters S3
    // allows in tags: letters, digits, spaces and + - = . _ : / @.
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'enc', Body: 'x', Tagging: 'note=a%20b%2Bc&plus=x+y&empty=&bare&%C3%A9t%C3%A9=gr%C3%BC%C3%9F' }));
    assert.deepEqual(await tagsOf(b, 'enc'), { note: 'a b+c', plus: 'x y', empty: '', bare: '', 'été': 'grüß' });

    // Overwriting the object without x-amz-tagging leaves it without tags.
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'k', Body: 'y' }));
    assert.deepEqual(await tagsOf(b, 'k'), {});
    assert.deepEqual(await tagCounts(b, 'k'), { get: undefined, head: undefined });
  });

  test('CopyObject: TaggingDirective COPY (default) keeps the source tags, REPLACE takes x-amz-tagging', async () => {
    const b = await newBucket('copy');
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'src', Body: 'source', Tagging: 'from=src&n=1' }));
    await s3.send(new CopyObjectCommand({ Bucket: b, Key: 'copy-default', CopySource: `${b}/src` }));
    assert.deepEqual(await tagsOf(b, 'copy-default'), { from: 'src', n: '1' });
    await s3.send(new CopyObjectCommand({ Bucket: b, Key: 'copy-copy', CopySource: `${b}/src`, TaggingDirective: 'COPY', Tagging: 'ignored=yes' }));
    assert.deepEqual(await tagsOf(b, 'copy-copy'), { from: 'src', n: '1' }, 'COPY ignores x-amz-tagging');
    await s3.send(new CopyObjectCommand({ Bucket: b, Key: 'copy-replace', CopySource: `${b}/src`, TaggingDirective: 'REPLACE', Tagging: 'new=tag' }));
    assert.deepEqual(await tagsOf(b, 'copy-replace'), { new: 'tag' });
    await s3.send(new CopyObjectCommand({ Bucket: b, Key: 'copy-none', CopySource: `${b}/src`, TaggingDirective: 'REPLACE' }));
    assert.deepEqual(await tagsOf(b, 'copy-none'), {}, 'REPLACE without x-amz-tagging → no tags');
    // Onto itself, REPLACE of the tags alone is a valid change.
    await s3.send(new CopyObjectCommand({ Bucket: b, Key: 'src', CopySource: `${b}/src`, TaggingDirective: 'REPLACE', Tagging: 'self=1' }));
    assert.deepEqual(await tagsOf(b, 'src'), { self: '1' });
    const g = await s3.send(new GetObjectCommand({ Bucket: b, Key: 'src' }));
    assert.equal((await bodyBytes(g.Body)).toString(), 'source');
    assert.equal(g.TagCount, 1);
    // Invalid tags under REPLACE are refused and nothing is written.
    await expectS3Error(s3.send(new CopyObjectCommand({ Bucket: b, Key: 'copy-bad', CopySource: `${b}/src`, TaggingDirective: 'REPLACE', Tagging: 'a=1&a=2' })), 'InvalidTag', 400);
    await expectS3Error(s3.send(new GetObjectTaggingCommand({ Bucket: b, Key: 'copy-bad' })), 'NoSuchKey', 404);
  });

  test('CopyObject from a specific version copies that version\'s tags', async () => {
    const b = await newBucket('copyver', true);
    const v1 = (await s3.send(new PutObjectCommand({ Bucket: b, Key: 'src', Body: 'one', Tagging: 'v=1' }))).VersionId!;
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'src', Body: 'two', Tagging: 'v=2' }));
    await s3.send(new CopyObjectCommand({ Bucket: b, Key: 'dst', CopySource: `${b}/src?versionId=${v1}` }));
    assert.deepEqual(await tagsOf(b, 'dst'), { v: '1' });
  });

  test('CreateMultipartUpload with x-amz-tagging: tags present after Complete', async () => {
    const b = await newBucket('mpu');
    const up = await s3.send(new CreateMultipartUploadCommand({ Bucket: b, Key: 'big', Tagging: 'kind=multipart&parts=2' }));
    const p1 = await s3.send(new UploadPartCommand({ Bucket: b, Key: 'big', UploadId: up.UploadId, PartNumber: 1, Body: Buffer.alloc(5 * 1024 * 1024, 1) }));
    const p2 = await s3.send(new UploadPartCommand({ Bucket: b, Key: 'big', UploadId: up.UploadId, PartNumber: 2, Body: 'tail' }));
    await s3.send(new CompleteMultipartUploadCommand({
      Bucket: b,
      Key: 'big',
      UploadId: up.UploadId,
      MultipartUpload: { Parts: [{ PartNumber: 1, ETag: p1.ETag }, { PartNumber: 2, ETag: p2.ETag }] },
    }));
    assert.deepEqual(await tagsOf(b, 'big'), { kind: 'multipart', parts: '2' });
    const h = await s3.send(new HeadObjectCommand({ Bucket: b, Key: 'big' }));
    assert.equal(h.TagCount, 2);
    assert.equal(h.ContentLength, 5 * 1024 * 1024 + 4);
    // Invalid tags are refused when the upload is created.
    await expectS3Error(s3.send(new CreateMultipartUploadCommand({ Bucket: b, Key: 'bad', Tagging: 'a=1&a=2' })), 'InvalidTag', 400);
  });
});

describe('tag limits (400 InvalidTag)', () => {
  let b: string;
  before(async () => {
    b = await newBucket('limits');
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'k', Body: 'x', Tagging: 'keep=me' }));
  });

  const many = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, `v${i}`]));

  test('10 tags are fine; 11 → InvalidTag (PutObjectTagging and x-amz-tagging)', async () => {
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'ten', Body: 'x', Tagging: new URLSearchParams(many(10)).toString() }));
    assert.equal(Object.keys(await tagsOf(b, 'ten')).length, 10);
    await s3.send(new PutObjectTaggingCommand({ Bucket: b, Key: 'ten', Tagging: { TagSet: tagSet(many(10)) } }));
    await expectS3Error(s3.send(new PutObjectTaggingCommand({ Bucket: b, Key: 'k', Tagging: { TagSet: tagSet(many(11)) } })), 'InvalidTag', 400);
    await expectS3Error(s3.send(new PutObjectCommand({ Bucket: b, Key: 'eleven', Body: 'x', Tagging: new URLSearchParams(many(11)).toString() })), 'InvalidTag', 400);
    await expectStatusError(s3.send(new HeadObjectCommand({ Bucket: b, Key: 'eleven' })), 404);
    assert.deepEqual(await tagsOf(b, 'k'), { keep: 'me' }, 'tags unchanged after a refused request');
  });

  test('key of 128 characters is fine, 129 → InvalidTag; value 256 fine, 257 → InvalidTag', async () => {
    await s3.send(new PutObjectTaggingCommand({ Bucket: b, Key: 'k', Tagging: { TagSet: [{ Key: 'k'.repeat(128), Value: 'v'.repeat(256) }] } }));
    assert.deepEqual(await tagsOf(b, 'k'), { ['k'.repeat(128)]: 'v'.repeat(256) });
    // Lengths count characters, not bytes.
    await s3.send(new PutObjectTaggingCommand({ Bucket: b, Key: 'k', Tagging: { TagSet: [{ Key: 'é'.repeat(128), Value: 'ü'.repeat(256) }] } }));
    await s3.send(new PutObjectTaggingCommand({ Bucket: b, Key: 'k', Tagging: { TagSet: tagSet({ keep: 'me' }) } }));
    await expectS3Error(s3.send(new PutObjectTaggingCommand({ Bucket: b, Key: 'k', Tagging: { TagSet: [{ Key: 'k'.repeat(129), Value: 'v' }] } })), 'InvalidTag', 400);
    await expectS3Error(s3.send(new PutObjectTaggingCommand({ Bucket: b, Key: 'k', Tagging: { TagSet: [{ Key: 'k', Value: 'v'.repeat(257) }] } })), 'InvalidTag', 400);
    await expectS3Error(s3.send(new PutObjectCommand({ Bucket: b, Key: 'long', Body: 'x', Tagging: `${'k'.repeat(129)}=v` })), 'InvalidTag', 400);
    await expectS3Error(s3.send(new PutObjectCommand({ Bucket: b, Key: 'long', Body: 'x', Tagging: `k=${'v'.repeat(257)}` })), 'InvalidTag', 400);
    assert.deepEqual(await tagsOf(b, 'k'), { keep: 'me' });
  });

  test('duplicate keys → InvalidTag; aws: prefix → InvalidTag', async () => {
    await expectS3Error(s3.send(new PutObjectTaggingCommand({ Bucket: b, Key: 'k', Tagging: { TagSet: [{ Key: 'a', Value: '1' }, { Key: 'a', Value: '2' }] } })), 'InvalidTag', 400);
    await expectS3Error(s3.send(new PutObjectCommand({ Bucket: b, Key: 'dup', Body: 'x', Tagging: 'a=1&a=2' })), 'InvalidTag', 400);
    await expectS3Error(s3.send(new PutObjectTaggingCommand({ Bucket: b, Key: 'k', Tagging: { TagSet: tagSet({ 'aws:owner': 'x' }) } })), 'InvalidTag', 400);
    assert.deepEqual(await tagsOf(b, 'k'), { keep: 'me' });
  });

  test('malformed tagging XML → 400 MalformedXML', async () => {
    const r = await signedRawRequest(server, {
      method: 'PUT',
      host: `127.0.0.1:${server.port}`,
      path: `/${b}/k?tagging`,
      headers: { 'content-type': 'application/xml' },
      body: '<Tagging><TagSet><Tag><Key>a</Key></Tag>',
    });
    assert.equal(r.status, 400, r.body.toString());
    assert.match(r.body.toString(), /<Code>MalformedXML<\/Code>/);
    assert.deepEqual(await tagsOf(b, 'k'), { keep: 'me' });
  });
});

describe('bucket tagging', () => {
  test('GetBucketTagging on an untagged bucket → 404 NoSuchTagSet; Put / Get / Delete', async () => {
    const b = await newBucket('bt');
    await expectS3Error(s3.send(new GetBucketTaggingCommand({ Bucket: b })), 'NoSuchTagSet', 404);
    const put = await s3.send(new PutBucketTaggingCommand({ Bucket: b, Tagging: { TagSet: tagSet({ team: 'storage', env: 'test env' }) } }));
    assert.ok(put.$metadata.httpStatusCode === 204 || put.$metadata.httpStatusCode === 200);
    const g = await s3.send(new GetBucketTaggingCommand({ Bucket: b }));
    assert.deepEqual(asObject(g.TagSet), { team: 'storage', env: 'test env' });
    // Put replaces the whole set.
    await s3.send(new PutBucketTaggingCommand({ Bucket: b, Tagging: { TagSet: tagSet({ only: 'this' }) } }));
    assert.deepEqual(asObject((await s3.send(new GetBucketTaggingCommand({ Bucket: b }))).TagSet), { only: 'this' });
    const d = await s3.send(new DeleteBucketTaggingCommand({ Bucket: b }));
    assert.equal(d.$metadata.httpStatusCode, 204);
    await expectS3Error(s3.send(new GetBucketTaggingCommand({ Bucket: b })), 'NoSuchTagSet', 404);
    // Deleting again is fine.
    await s3.send(new DeleteBucketTaggingCommand({ Bucket: b }));
    // Bucket tags are not object tags.
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'k', Body: 'x' }));
    await s3.send(new PutBucketTaggingCommand({ Bucket: b, Tagging: { TagSet: tagSet({ a: '1' }) } }));
    assert.deepEqual(await tagsOf(b, 'k'), {});
  });

  test('bucket limits: 50 tags fine, 51 → InvalidTag; duplicates and long keys → InvalidTag; state unchanged', async () => {
    const b = await newBucket('btl');
    const many = (n: number) => Array.from({ length: n }, (_, i) => ({ Key: `k${i}`, Value: `v${i}` }));
    await s3.send(new PutBucketTaggingCommand({ Bucket: b, Tagging: { TagSet: many(50) } }));
    assert.equal((await s3.send(new GetBucketTaggingCommand({ Bucket: b }))).TagSet?.length, 50);
    await expectS3Error(s3.send(new PutBucketTaggingCommand({ Bucket: b, Tagging: { TagSet: many(51) } })), 'InvalidTag', 400);
    await expectS3Error(s3.send(new PutBucketTaggingCommand({ Bucket: b, Tagging: { TagSet: [{ Key: 'a', Value: '1' }, { Key: 'a', Value: '2' }] } })), 'InvalidTag', 400);
    await expectS3Error(s3.send(new PutBucketTaggingCommand({ Bucket: b, Tagging: { TagSet: [{ Key: 'k'.repeat(129), Value: '1' }] } })), 'InvalidTag', 400);
    await expectS3Error(s3.send(new PutBucketTaggingCommand({ Bucket: b, Tagging: { TagSet: [{ Key: 'k', Value: 'v'.repeat(257) }] } })), 'InvalidTag', 400);
    assert.equal((await s3.send(new GetBucketTaggingCommand({ Bucket: b }))).TagSet?.length, 50);
  });

  test('missing bucket → 404 NoSuchBucket', async () => {
    const b = uniqueBucket('nobt');
    await expectS3Error(s3.send(new GetBucketTaggingCommand({ Bucket: b })), 'NoSuchBucket', 404);
    await expectS3Error(s3.send(new PutBucketTaggingCommand({ Bucket: b, Tagging: { TagSet: tagSet({ a: '1' }) } })), 'NoSuchBucket', 404);
    await expectS3Error(s3.send(new DeleteBucketTaggingCommand({ Bucket: b })), 'NoSuchBucket', 404);
  });
});
