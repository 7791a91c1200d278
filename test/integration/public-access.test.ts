// Anonymous access (public buckets), bucket policies naming users, canned ACLs and
// PublicAccessBlock, with plain unsigned HTTP requests as a browser or curl sends them.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  CreateBucketCommand, DeleteBucketPolicyCommand, DeletePublicAccessBlockCommand, GetBucketAclCommand,
  GetBucketPolicyCommand, GetBucketPolicyStatusCommand, GetObjectAclCommand, GetObjectCommand, GetPublicAccessBlockCommand,
  PutBucketAclCommand, PutBucketVersioningCommand, PutBucketPolicyCommand, PutObjectAclCommand, PutObjectCommand, PutPublicAccessBlockCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { run, sdkClient } from '../helpers/clients.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { bodyText, expectS3Error, uniqueBucket, xmlField } from './sdk-helpers.js';

const T = { timeout: 120_000 };
let s: TestServer;
let root: S3Client;

async function anon(method: string, p: string, body?: string): Promise<{ status: number; body: string }> {
  const r = await fetch(`${s.endpoint}${p}`, { method, body });
  return { status: r.status, body: await r.text() };
}

const publicRead = (b: string) => JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Sid: 'PublicRead', Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${b}/*` }],
});

before(async () => {
  s = await startTestServer();
  root = sdkClient(s);
});
after(async () => {
  await s?.destroy();
});

describe('bucket policies', () => {
  test('anonymous GET works only under a public policy, and stops when PublicAccessBlock is put', T, async () => {
    const b = uniqueBucket('pub');
    await root.send(new CreateBucketCommand({ Bucket: b }));
    await root.send(new PutObjectCommand({ Bucket: b, Key: 'site/index.html', Body: '<h1>hi</h1>', ContentType: 'text/html' }));

    const before = await anon('GET', `/${b}/site/index.html`);
    assert.equal(before.status, 403);
    assert.equal(xmlField(before.body, 'Code'), 'AccessDenied');

    await root.send(new PutBucketPolicyCommand({ Bucket: b, Policy: publicRead(b) }));
    const got = await anon('GET', `/${b}/site/index.html`);
    assert.equal(got.status, 200);
    assert.equal(got.body, '<h1>hi</h1>');
    // What a user of the website does: plain curl, no credentials.
    const curl = await run('curl', ['-sS', '-w', '\n%{http_code}', `${s.endpoint}/${b}/site/index.html`]);
    assert.equal(curl.stdout, '<h1>hi</h1>\n200');
    assert.equal((await root.send(new GetBucketPolicyStatusCommand({ Bucket: b }))).PolicyStatus?.IsPublic, true);
    assert.equal(JSON.parse((await root.send(new GetBucketPolicyCommand({ Bucket: b }))).Policy!).Statement[0].Sid, 'PublicRead');
    // The policy grants reads only: no listing, no writes.
    assert.equal((await anon('GET', `/${b}`)).status, 403);
    assert.equal((await anon('PUT', `/${b}/site/evil`, 'x')).status, 403);
    await expectS3Error(root.send(new GetObjectCommand({ Bucket: b, Key: 'site/evil' })), 'NoSuchKey', 404);

    await root.send(new PutPublicAccessBlockCommand({ Bucket: b, PublicAccessBlockConfiguration: { RestrictPublicBuckets: true } }));
    assert.equal((await anon('GET', `/${b}/site/index.html`)).status, 403);
    const pab = await root.send(new GetPublicAccessBlockCommand({ Bucket: b }));
    assert.deepEqual(pab.PublicAccessBlockConfiguration, { BlockPublicAcls: false, IgnorePublicAcls: false, BlockPublicPolicy: false, RestrictPublicBuckets: true });
    await root.send(new DeletePublicAccessBlockCommand({ Bucket: b }));
    assert.equal((await anon('GET', `/${b}/site/index.html`)).status, 200);
    await expectS3Error(root.send(new GetPublicAccessBlockCommand({ Bucket: b })), 'NoSuchPublicAccessBlockConfiguration', 404);

    await root.send(new DeleteBucketPolicyCommand({ Bucket: b }));
    assert.equal((await anon('GET', `/${b}/site/index.html`)).status, 403);
    await expectS3Error(root.send(new GetBucketPolicyCommand({ Bucket: b })), 'NoSuchBucketPolicy', 404);
  });

  test('BlockPublicPolicy refuses a public policy; a malformed one is MalformedPolicy; nothing is stored', T, async () => {
    const b = uniqueBucket('block');
    await root.send(new CreateBucketCommand({ Bucket: b }));
    await root.send(new PutPublicAccessBlockCommand({ Bucket: b, PublicAccessBlockConfiguration: { BlockPublicPolicy: true } }));
    await expectS3Error(root.send(new PutBucketPolicyCommand({ Bucket: b, Policy: publicRead(b) })), 'AccessDenied', 403);
    await expectS3Error(root.send(new PutBucketPolicyCommand({ Bucket: b, Policy: '{"Statement": 5' })), 'MalformedPolicy', 400);
    const otherBucket = publicRead('someone-elses-bucket');
    await expectS3Error(root.send(new PutBucketPolicyCommand({ Bucket: b, Policy: otherBucket })), 'MalformedPolicy', 400);
    await expectS3Error(root.send(new GetBucketPolicyCommand({ Bucket: b })), 'NoSuchBucketPolicy', 404);
  });
});

describe('holes found in review stay closed', () => {
  test('a copy source is checked at the version named: an old private version of a now public key is AccessDenied', T, async () => {
    const b = uniqueBucket('ver');
    // Anyone may write here, so only the source check stands between a caller and v1.
    await root.send(new CreateBucketCommand({ Bucket: b, ACL: 'public-read-write' }));
    await root.send(new PutBucketVersioningCommand({ Bucket: b, VersioningConfiguration: { Status: 'Enabled' } }));
    const v1 = (await root.send(new PutObjectCommand({ Bucket: b, Key: 'k', Body: 'SECRET v1' }))).VersionId!;
    await root.send(new PutObjectCommand({ Bucket: b, Key: 'k', Body: 'public v2', ACL: 'public-read' }));
    const anonymousCopy = await fetch(`${s.endpoint}/${b}/stolen`, { method: 'PUT', headers: { 'x-amz-copy-source': `${b}/k?versionId=${v1}` } });
    assert.equal(anonymousCopy.status, 403);
    await expectS3Error(root.send(new GetObjectCommand({ Bucket: b, Key: 'stolen' })), 'NoSuchKey', 404);
    // The current (public) version may be copied.
    const ok = await fetch(`${s.endpoint}/${b}/copied`, { method: 'PUT', headers: { 'x-amz-copy-source': `${b}/k` } });
    assert.equal(ok.status, 200, await ok.text());
    assert.equal((await anon('GET', `/${b}/k?versionId=${v1}`)).status, 403);
    assert.equal((await anon('GET', `/${b}/k`)).status, 200);
  });

  test('anonymous callers may not pick reply headers, nor delete versions of a public-read-write bucket', T, async () => {
    const b = uniqueBucket('anon');
    await root.send(new CreateBucketCommand({ Bucket: b, ACL: 'public-read-write' }));
    await root.send(new PutBucketVersioningCommand({ Bucket: b, VersioningConfiguration: { Status: 'Enabled' } }));
    const v1 = (await root.send(new PutObjectCommand({ Bucket: b, Key: 'important', Body: 'keep', ACL: 'public-read' }))).VersionId!;
    const html = await anon('GET', `/${b}/important?response-content-type=text/html`);
    assert.equal(html.status, 400);
    assert.equal(xmlField(html.body, 'Code'), 'InvalidRequest');
    assert.equal((await anon('DELETE', `/${b}/important?versionId=${v1}`)).status, 403);
    assert.equal(await bodyText((await root.send(new GetObjectCommand({ Bucket: b, Key: 'important', VersionId: v1 }))).Body), 'keep');
    // A plain DELETE only adds a delete marker, as for any writer.
    assert.equal((await anon('DELETE', `/${b}/important`)).status, 204);
    assert.equal(await bodyText((await root.send(new GetObjectCommand({ Bucket: b, Key: 'important', VersionId: v1 }))).Body), 'keep');
  });

  test('a bucket policy over 20 KB is MalformedPolicy', T, async () => {
    const b = uniqueBucket('big');
    await root.send(new CreateBucketCommand({ Bucket: b }));
    const big = JSON.stringify({ Version: '2012-10-17', Statement: [{ Sid: 'x'.repeat(21_000), Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${b}/*` }] });
    await expectS3Error(root.send(new PutBucketPolicyCommand({ Bucket: b, Policy: big })), 'MalformedPolicy', 400);
  });
});

describe('canned ACLs', () => {
  test('public-read object ACL lets anonymous GET it; PutObjectAcl private takes it back; IgnorePublicAcls overrides', T, async () => {
    const b = uniqueBucket('acl');
    await root.send(new CreateBucketCommand({ Bucket: b }));
    await root.send(new PutObjectCommand({ Bucket: b, Key: 'pub', Body: 'public', ACL: 'public-read' }));
    await root.send(new PutObjectCommand({ Bucket: b, Key: 'priv', Body: 'private' }));
    assert.deepEqual(await anon('GET', `/${b}/pub`), { status: 200, body: 'public' });
    assert.equal((await anon('GET', `/${b}/priv`)).status, 403);
    const acl = await root.send(new GetObjectAclCommand({ Bucket: b, Key: 'pub' }));
    assert.deepEqual(acl.Grants?.map((g) => `${g.Grantee?.URI ?? g.Grantee?.ID}:${g.Permission}`).sort(), [
      `${acl.Owner?.ID}:FULL_CONTROL`, 'http://acs.amazonaws.com/groups/global/AllUsers:READ',
    ].sort());

    await root.send(new PutPublicAccessBlockCommand({ Bucket: b, PublicAccessBlockConfiguration: { IgnorePublicAcls: true } }));
    assert.equal((await anon('GET', `/${b}/pub`)).status, 403);
    await root.send(new DeletePublicAccessBlockCommand({ Bucket: b }));
    await root.send(new PutObjectAclCommand({ Bucket: b, Key: 'pub', ACL: 'private' }));
    assert.equal((await anon('GET', `/${b}/pub`)).status, 403);
  });

  test('public-read bucket ACL lets anonymous list; BlockPublicAcls refuses public ACLs with AccessDenied', T, async () => {
    const b = uniqueBucket('bacl');
    await root.send(new CreateBucketCommand({ Bucket: b, ACL: 'public-read' }));
    await root.send(new PutObjectCommand({ Bucket: b, Key: 'listed', Body: 'x' }));
    const list = await anon('GET', `/${b}?list-type=2`);
    assert.equal(list.status, 200);
    assert.equal(xmlField(list.body, 'Key'), 'listed');
    assert.equal((await anon('GET', `/${b}/listed`)).status, 403, 'listing rights do not include reading objects');
    const grants = (await root.send(new GetBucketAclCommand({ Bucket: b }))).Grants?.map((g) => g.Permission).sort();
    assert.deepEqual(grants, ['FULL_CONTROL', 'READ']);

    await root.send(new PutPublicAccessBlockCommand({ Bucket: b, PublicAccessBlockConfiguration: { BlockPublicAcls: true } }));
    await expectS3Error(root.send(new PutObjectCommand({ Bucket: b, Key: 'p', Body: 'x', ACL: 'public-read' })), 'AccessDenied', 403);
    await expectS3Error(root.send(new GetObjectCommand({ Bucket: b, Key: 'p' })), 'NoSuchKey', 404);
    await expectS3Error(root.send(new PutBucketAclCommand({ Bucket: b, ACL: 'public-read-write' })), 'AccessDenied', 403);
    await root.send(new PutBucketAclCommand({ Bucket: b, ACL: 'private' }));
    assert.equal((await anon('GET', `/${b}?list-type=2`)).status, 403);
  });

  test('public-read-write bucket takes anonymous uploads; unsupported canned ACLs are refused, never ignored', T, async () => {
    const b = uniqueBucket('prw');
    await root.send(new CreateBucketCommand({ Bucket: b, ACL: 'public-read-write' }));
    const put = await anon('PUT', `/${b}/dropbox`, 'anonymous bytes');
    assert.equal(put.status, 200, put.body);
    assert.equal(await bodyText((await root.send(new GetObjectCommand({ Bucket: b, Key: 'dropbox' }))).Body), 'anonymous bytes');
    await expectS3Error(root.send(new PutObjectCommand({ Bucket: b, Key: 'x', Body: 'x', ACL: 'aws-exec-read' })), 'NotImplemented', 501);
    await expectS3Error(root.send(new PutObjectCommand({ Bucket: b, Key: 'x', Body: 'x', GrantRead: 'id="abc"' })), 'NotImplemented', 501);
    await expectS3Error(root.send(new GetObjectCommand({ Bucket: b, Key: 'x' })), 'NoSuchKey', 404);
  });
});
