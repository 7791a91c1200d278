// Bucket operations through the AWS SDK for JavaScript v3 with default settings, against a
// real server; plus 501 for operations we do not have and the shape of error replies.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  GetBucketAclCommand,
  GetBucketLocationCommand,
  GetBucketWebsiteCommand,
  GetObjectCommand,
  HeadBucketCommand,
  ListBucketsCommand,
  ListMultipartUploadsCommand,
  PutBucketAclCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  paginateListBuckets,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { sdkClient, useSuiteServer } from '../helpers/clients.js';
import { assertXmlError, expectS3Error, rawRequest, signedRawRequest, uniqueBucket, xmlField } from './sdk-helpers.js';

let server: TestServer;
let s3: S3Client;

useSuiteServer((srv, client) => {
  server = srv;
  s3 = client;
});

describe('CreateBucket', () => {
  test('a valid name is created; Location header; HeadBucket 200', async () => {
    const b = uniqueBucket('create');
    const r = await s3.send(new CreateBucketCommand({ Bucket: b }));
    assert.equal(r.$metadata.httpStatusCode, 200);
    assert.equal(r.Location, `/${b}`);
    const h = await s3.send(new HeadBucketCommand({ Bucket: b }));
    assert.equal(h.$metadata.httpStatusCode, 200);
    assert.equal(h.BucketRegion, server.region);
  });

  for (const bad of ['AB', 'a', 'ab', '-abc', 'abc-', 'a..b', '192.168.1.1', 'Abc', 'abc_def', 'a'.repeat(64), '.abc', 'xn--abc']) {
    test(`InvalidBucketName for ${JSON.stringify(bad)}`, async () => {
      await expectS3Error(s3.send(new CreateBucketCommand({ Bucket: bad })), 'InvalidBucketName', 400);
    });
  }

  test('63-character and 3-character names are valid', async () => {
    const long = ('s' + uniqueBucket('len') + 'x'.repeat(63)).slice(0, 63);
    await s3.send(new CreateBucketCommand({ Bucket: long }));
    const short = `z${(process.pid % 90) + 10}`.slice(0, 3);
    await s3.send(new CreateBucketCommand({ Bucket: short }));
    const names = (await s3.send(new ListBucketsCommand({}))).Buckets?.map((x) => x.Name) ?? [];
    assert.ok(names.includes(long));
    assert.ok(names.includes(short));
  });

  test('creating it again in us-east-1 → 200 and nothing changes (S3\'s legacy behaviour)', async () => {
    const b = uniqueBucket('twice');
    await s3.send(new CreateBucketCommand({ Bucket: b }));
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'kept', Body: 'still here' }));
    const again = await s3.send(new CreateBucketCommand({ Bucket: b }));
    assert.equal(again.$metadata.httpStatusCode, 200);
    const g = await s3.send(new GetObjectCommand({ Bucket: b, Key: 'kept' }));
    assert.equal(await g.Body!.transformToString(), 'still here');
  });

  test('creating it again in another region → 409 BucketAlreadyOwnedByYou', { timeout: 60_000 }, async () => {
    const other = await startTestServer({ env: { TESSERA_REGION: 'eu-west-1' } });
    try {
      const c = new S3Client({ endpoint: other.endpoint, region: 'eu-west-1', forcePathStyle: true, credentials: { accessKeyId: other.accessKeyId, secretAccessKey: other.secretAccessKey }, maxAttempts: 1 });
      await c.send(new CreateBucketCommand({ Bucket: 'twice-eu', CreateBucketConfiguration: { LocationConstraint: 'eu-west-1' } }));
      await expectS3Error(c.send(new CreateBucketCommand({ Bucket: 'twice-eu', CreateBucketConfiguration: { LocationConstraint: 'eu-west-1' } })), 'BucketAlreadyOwnedByYou', 409);
      c.destroy();
    } finally {
      await other.destroy();
    }
  });

  test('LocationConstraint of the server region is accepted; another region is refused', async () => {
    const b = uniqueBucket('loc');
    // The test server's region is us-east-1 by default, for which S3 wants no constraint at all;
    // test the other region refusal which holds either way.
    await expectS3Error(
      s3.send(new CreateBucketCommand({ Bucket: b, CreateBucketConfiguration: { LocationConstraint: server.region === 'eu-west-1' ? 'ap-south-1' : 'eu-west-1' } })),
      'InvalidLocationConstraint',
      400,
    );
    await expectS3Error(s3.send(new HeadBucketCommand({ Bucket: b })), 'NotFound', 404);
  });
});

describe('HeadBucket / ListBuckets / GetBucketLocation', () => {
  test('HeadBucket on a missing bucket → 404 (NotFound: HEAD has no body)', async () => {
    await expectS3Error(s3.send(new HeadBucketCommand({ Bucket: uniqueBucket('nothere') })), 'NotFound', 404);
  });

  test('ListBuckets contains the new bucket with a creation date, and the owner', async () => {
    const b = uniqueBucket('list');
    const before = Date.now();
    await s3.send(new CreateBucketCommand({ Bucket: b }));
    const r = await s3.send(new ListBucketsCommand({}));
    assert.equal(r.$metadata.httpStatusCode, 200);
    const found = r.Buckets?.find((x) => x.Name === b);
    assert.ok(found, 'bucket listed');
    assert.ok(found.CreationDate instanceof Date);
    assert.ok(Math.abs(found.CreationDate.getTime() - before) < 60_000, 'creation date is now');
    assert.ok(r.Owner?.ID && r.Owner.ID.length > 0, 'owner id');
    const names = r.Buckets!.map((x) => x.Name!);
    assert.deepEqual(names, [...names].sort(), 'buckets in name order');
  });

  test('ListBuckets with Prefix and MaxBuckets pages with a ContinuationToken', async () => {
    const prefix = uniqueBucket('pg');
    const names = [`${prefix}-a`, `${prefix}-b`, `${prefix}-c`];
    for (const n of names) await s3.send(new CreateBucketCommand({ Bucket: n }));
    const all = await s3.send(new ListBucketsCommand({ Prefix: prefix }));
    assert.deepEqual(all.Buckets?.map((x) => x.Name), names);
    assert.equal(all.Prefix, prefix);
    assert.equal(all.ContinuationToken, undefined);
    assert.equal(all.Buckets?.[0].BucketRegion, server.region);
    const p1 = await s3.send(new ListBucketsCommand({ Prefix: prefix, MaxBuckets: 2 }));
    assert.deepEqual(p1.Buckets?.map((x) => x.Name), names.slice(0, 2));
    assert.ok(p1.ContinuationToken, 'more buckets follow: a ContinuationToken');
    const p2 = await s3.send(new ListBucketsCommand({ Prefix: prefix, MaxBuckets: 2, ContinuationToken: p1.ContinuationToken }));
    assert.deepEqual(p2.Buckets?.map((x) => x.Name), names.slice(2));
    assert.equal(p2.ContinuationToken, undefined);
    const seen: string[] = [];
    for await (const page of paginateListBuckets({ client: s3, pageSize: 1 }, { Prefix: prefix })) {
      for (const x of page.Buckets ?? []) seen.push(x.Name!);
    }
    assert.deepEqual(seen, names);
  });

  test('GetBucketLocation answers (null/empty LocationConstraint means us-east-1)', async () => {
    const b = uniqueBucket('where');
    await s3.send(new CreateBucketCommand({ Bucket: b }));
    const r = await s3.send(new GetBucketLocationCommand({ Bucket: b }));
    assert.equal(r.$metadata.httpStatusCode, 200);
    if (server.region === 'us-east-1') assert.ok(r.LocationConstraint === undefined || (r.LocationConstraint as string) === '', `got ${r.LocationConstraint}`);
    else assert.equal(r.LocationConstraint, server.region);
    await expectS3Error(s3.send(new GetBucketLocationCommand({ Bucket: uniqueBucket('nope') })), 'NoSuchBucket', 404);
  });
});

describe('DeleteBucket', () => {
  test('a bucket holding only unfinished multipart uploads is deleted with them; objects, versions and delete markers still block it', async () => {
    const b = uniqueBucket('uploads');
    await s3.send(new CreateBucketCommand({ Bucket: b }));
    const ids: string[] = [];
    for (const key of ['a', 'a', 'dir/b']) {
      const u = await s3.send(new CreateMultipartUploadCommand({ Bucket: b, Key: key }));
      ids.push(u.UploadId!);
      await s3.send(new UploadPartCommand({ Bucket: b, Key: key, UploadId: u.UploadId!, PartNumber: 1, Body: Buffer.alloc(300_000, 1) }));
    }
    // An object blocks it, and the uploads stay.
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'obj', Body: 'x' }));
    await expectS3Error(s3.send(new DeleteBucketCommand({ Bucket: b })), 'BucketNotEmpty', 409);
    assert.equal((await s3.send(new ListMultipartUploadsCommand({ Bucket: b }))).Uploads?.length, 3);
    await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'obj' }));
    const d = await s3.send(new DeleteBucketCommand({ Bucket: b }));
    assert.equal(d.$metadata.httpStatusCode, 204);
    await expectS3Error(s3.send(new HeadBucketCommand({ Bucket: b })), 'NotFound', 404);
    // The uploads went with it: a bucket of the same name starts empty.
    await s3.send(new CreateBucketCommand({ Bucket: b }));
    assert.equal((await s3.send(new ListMultipartUploadsCommand({ Bucket: b }))).Uploads?.length ?? 0, 0);
    await expectS3Error(s3.send(new UploadPartCommand({ Bucket: b, Key: 'a', UploadId: ids[0]!, PartNumber: 2, Body: 'x' })), 'NoSuchUpload', 404);
    // A delete marker alone (versioned bucket) still blocks it.
    await s3.send(new PutBucketVersioningCommand({ Bucket: b, VersioningConfiguration: { Status: 'Enabled' } }));
    const v = await s3.send(new PutObjectCommand({ Bucket: b, Key: 'k', Body: 'x' }));
    await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'k', VersionId: v.VersionId }));
    await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'k' })); // a delete marker only
    await s3.send(new CreateMultipartUploadCommand({ Bucket: b, Key: 'u' }));
    await expectS3Error(s3.send(new DeleteBucketCommand({ Bucket: b })), 'BucketNotEmpty', 409);
  });

  test('BucketNotEmpty while it holds an object; 204 once empty; NoSuchBucket afterwards', async () => {
    const b = uniqueBucket('del');
    await s3.send(new CreateBucketCommand({ Bucket: b }));
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'k', Body: 'x' }));
    await expectS3Error(s3.send(new DeleteBucketCommand({ Bucket: b })), 'BucketNotEmpty', 409);
    // still there, object intact
    const g = await s3.send(new GetObjectCommand({ Bucket: b, Key: 'k' }));
    assert.equal(await g.Body!.transformToString(), 'x');
    await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'k' }));
    const d = await s3.send(new DeleteBucketCommand({ Bucket: b }));
    assert.equal(d.$metadata.httpStatusCode, 204);
    await expectS3Error(s3.send(new DeleteBucketCommand({ Bucket: b })), 'NoSuchBucket', 404);
    await expectS3Error(s3.send(new HeadBucketCommand({ Bucket: b })), 'NotFound', 404);
    await expectS3Error(s3.send(new PutObjectCommand({ Bucket: b, Key: 'k', Body: 'x' })), 'NoSuchBucket', 404);
    const names = (await s3.send(new ListBucketsCommand({}))).Buckets?.map((x) => x.Name) ?? [];
    assert.ok(!names.includes(b));
  });

  test('a deleted bucket can be created again, empty', async () => {
    const b = uniqueBucket('again');
    await s3.send(new CreateBucketCommand({ Bucket: b }));
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'k', Body: 'x' }));
    await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'k' }));
    await s3.send(new DeleteBucketCommand({ Bucket: b }));
    await s3.send(new CreateBucketCommand({ Bucket: b }));
    await expectS3Error(s3.send(new GetObjectCommand({ Bucket: b, Key: 'k' })), 'NoSuchKey', 404);
  });
});

describe('operations we do not implement', () => {
  test('GetBucketWebsite → 501 NotImplemented', async () => {
    const b = uniqueBucket('website');
    await s3.send(new CreateBucketCommand({ Bucket: b }));
    await expectS3Error(s3.send(new GetBucketWebsiteCommand({ Bucket: b })), 'NotImplemented', 501);
  });

  test('explicit ACL grants (x-amz-grant-*) → 501 NotImplemented, nothing changes', async () => {
    const b = uniqueBucket('acl');
    await s3.send(new CreateBucketCommand({ Bucket: b }));
    await expectS3Error(s3.send(new PutBucketAclCommand({ Bucket: b, GrantRead: 'uri="http://acs.amazonaws.com/groups/global/AllUsers"' })), 'NotImplemented', 501);
    const acl = await s3.send(new GetBucketAclCommand({ Bucket: b }));
    assert.deepEqual(acl.Grants?.map((g) => g.Permission), ['FULL_CONTROL']);
  });
});

describe('error replies', () => {
  test('SDK errors carry the request id the server sent', async () => {
    const err = await expectS3Error(s3.send(new GetObjectCommand({ Bucket: uniqueBucket('gone'), Key: 'k' })), 'NoSuchBucket', 404);
    assert.match(err.$metadata?.requestId ?? '', /^[0-9A-F]{16}$/);
    assert.equal(err.$response?.headers?.['x-amz-request-id'], err.$metadata?.requestId);
  });

  test('NoSuchBucket / NoSuchKey / NotImplemented / MethodNotAllowed bodies: XML with Code, Message, RequestId', async () => {
    const b = uniqueBucket('xml');
    await s3.send(new CreateBucketCommand({ Bucket: b }));

    const noKey = await fetch(await getSignedUrl(s3, new GetObjectCommand({ Bucket: b, Key: 'missing key' })));
    const noKeyBody = await noKey.text();
    assertXmlError({ status: noKey.status, headers: noKey.headers, body: noKeyBody }, 'NoSuchKey', 404);
    assert.equal(xmlField(noKeyBody, 'Key'), 'missing key');
    assert.equal(xmlField(noKeyBody, 'Resource'), `/${b}/missing key`);

    const noBucket = await fetch(await getSignedUrl(s3, new GetObjectCommand({ Bucket: uniqueBucket('gone'), Key: 'k' })));
    assertXmlError({ status: noBucket.status, headers: noBucket.headers, body: await noBucket.text() }, 'NoSuchBucket', 404);

    const website = await signedRawRequest(server, { method: 'GET', host: `127.0.0.1:${server.port}`, path: `/${b}?website` });
    assertXmlError({ status: website.status, headers: website.headers, body: website.body.toString() }, 'NotImplemented', 501);

    const patch = await signedRawRequest(server, { method: 'PATCH', host: `127.0.0.1:${server.port}`, path: `/${b}/k`, body: '' });
    assertXmlError({ status: patch.status, headers: patch.headers, body: patch.body.toString() }, 'MethodNotAllowed', 405);
  });

  test('416, 412, 409, 400 replies are S3 XML with Code, Message and the RequestId of the header', async () => {
    const b = uniqueBucket('errs');
    await s3.send(new CreateBucketCommand({ Bucket: b }));
    const put = await s3.send(new PutObjectCommand({ Bucket: b, Key: 'obj', Body: 'ten bytes!' }));
    const host = `127.0.0.1:${server.port}`;
    const cases: Array<[string, { method: string; path: string; headers?: Record<string, string>; body?: string }, string, number]> = [
      ['range', { method: 'GET', path: `/${b}/obj`, headers: { Range: 'bytes=10-20' } }, 'InvalidRange', 416],
      ['if-match', { method: 'GET', path: `/${b}/obj`, headers: { 'If-Match': '"nope"' } }, 'PreconditionFailed', 412],
      ['put if-none-match', { method: 'PUT', path: `/${b}/obj`, headers: { 'If-None-Match': '*' }, body: 'other' }, 'PreconditionFailed', 412],
      ['not empty', { method: 'DELETE', path: `/${b}` }, 'BucketNotEmpty', 409],
      ['bad name', { method: 'PUT', path: '/Bad_Name', body: '' }, 'InvalidBucketName', 400],
      ['long key', { method: 'PUT', path: `/${b}/${'k'.repeat(1025)}`, body: 'x' }, 'KeyTooLongError', 400],
      ['bad md5', { method: 'PUT', path: `/${b}/m`, headers: { 'Content-MD5': 'AAAAAAAAAAAAAAAAAAAAAA==' }, body: 'x' }, 'BadDigest', 400],
      ['bad max-keys', { method: 'GET', path: `/${b}?list-type=2&max-keys=-5` }, 'InvalidArgument', 400],
    ];
    for (const [name, req, code, status] of cases) {
      const r = await signedRawRequest(server, { ...req, host });
      assertXmlError({ status: r.status, headers: r.headers, body: r.body.toString() }, code, status);
      assert.ok(r.body.toString().includes('<Resource>'), `${name}: Resource element`);
    }
    const range = await signedRawRequest(server, { method: 'GET', path: `/${b}/obj`, host, headers: { Range: 'bytes=10-20' } });
    assert.equal(range.headers['content-range'], 'bytes */10', '416 names the object size');
    const g = await s3.send(new GetObjectCommand({ Bucket: b, Key: 'obj' }));
    assert.equal(g.ETag, put.ETag, 'the refused PUT changed nothing');
    await g.Body!.transformToString();
  });

  test('an unsigned request → 403 AccessDenied XML; a wrong secret → 403 SignatureDoesNotMatch', async () => {
    const anon = await rawRequest(server, { method: 'GET', path: '/' });
    assertXmlError({ status: anon.status, headers: anon.headers, body: anon.body.toString() }, 'AccessDenied', 403);
    const bad = sdkClient(server, { credentials: { accessKeyId: server.accessKeyId, secretAccessKey: 'not-the-secret' } });
    try {
      await expectS3Error(bad.send(new ListBucketsCommand({})), 'SignatureDoesNotMatch', 403);
    } finally {
      bad.destroy();
    }
    const unknown = sdkClient(server, { credentials: { accessKeyId: 'AKIANOTAKEY000000000', secretAccessKey: 'x' } });
    try {
      await expectS3Error(unknown.send(new ListBucketsCommand({})), 'InvalidAccessKeyId', 403);
    } finally {
      unknown.destroy();
    }
  });

  test('HEAD errors have no body but keep the status and request id', async () => {
    const r = await signedRawRequest(server, { method: 'HEAD', host: `127.0.0.1:${server.port}`, path: `/${uniqueBucket('hd')}` });
    assert.equal(r.status, 404);
    assert.equal(r.body.length, 0);
    assert.ok(r.headers['x-amz-request-id']);
  });
});
