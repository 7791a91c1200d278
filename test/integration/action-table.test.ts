// Every S3 operation maps to the AWS action name a policy must allow. For each row: with a
// policy "Allow s3:* except Deny <action>" the operation is AccessDenied; with "Allow s3:*" it
// is not. A row whose action were mapped wrong fails one of the two.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CopyObjectCommand, CreateBucketCommand,
  CreateMultipartUploadCommand, DeleteBucketCommand, DeleteBucketCorsCommand, DeleteBucketPolicyCommand,
  DeleteBucketEncryptionCommand, DeleteBucketTaggingCommand, GetBucketEncryptionCommand, PutBucketEncryptionCommand, DeleteObjectCommand, DeleteObjectsCommand, DeleteObjectTaggingCommand,
  DeletePublicAccessBlockCommand, GetBucketAclCommand, GetBucketCorsCommand, GetBucketLocationCommand,
  GetBucketPolicyCommand, GetBucketPolicyStatusCommand, GetBucketTaggingCommand, GetBucketVersioningCommand,
  GetObjectAclCommand, GetObjectAttributesCommand, GetObjectCommand, GetObjectTaggingCommand, GetPublicAccessBlockCommand, HeadBucketCommand,
  HeadObjectCommand, ListBucketsCommand, ListMultipartUploadsCommand, ListObjectsCommand, ListObjectsV2Command,
  ListObjectVersionsCommand, ListPartsCommand, PutBucketAclCommand, PutBucketCorsCommand, PutBucketPolicyCommand,
  PutBucketTaggingCommand, PutBucketVersioningCommand, PutObjectAclCommand, PutObjectCommand, PutObjectTaggingCommand,
  PutPublicAccessBlockCommand, S3Client, UploadPartCommand,
} from '@aws-sdk/client-s3';
import { sdkClient } from '../helpers/clients.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { signedRawRequest, uniqueBucket } from './sdk-helpers.js';

let s: TestServer;
let root: S3Client;
let user: S3Client;
/** A versioned bucket owned by root, with object 'obj' (two versions) and an upload of 'mp'. */
let b: string;
let versionId: string;

async function adminCall(method: string, p: string, body?: string): Promise<void> {
  const r = await signedRawRequest(s, { method, host: `127.0.0.1:${s.port}`, path: `/tessera/admin/v1/${p}`, body });
  assert.ok(r.status < 300, `admin ${method} ${p}: ${r.status} ${r.body.toString()}`);
}

async function setPolicy(deny?: string): Promise<void> {
  const statements: unknown[] = [{ Effect: 'Allow', Action: 's3:*', Resource: '*' }];
  if (deny) statements.push({ Effect: 'Deny', Action: deny, Resource: '*' });
  await adminCall('PUT', 'policies/table', JSON.stringify({ Version: '2012-10-17', Statement: statements }));
}

async function upload(key = 'mp'): Promise<string> {
  return (await root.send(new CreateMultipartUploadCommand({ Bucket: b, Key: key }))).UploadId!;
}

const policy = (bucket: string) => JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: 'nobody' }, Action: 's3:GetObject', Resource: `arn:aws:s3:::${bucket}/*` }] });

async function freshBucket(): Promise<string> {
  const x = uniqueBucket('tbl');
  await root.send(new CreateBucketCommand({ Bucket: x }));
  return x;
}

type Row = [action: string, name: string, op: () => Promise<unknown>];

const rows: Row[] = [
  ['s3:ListAllMyBuckets', 'ListBuckets', () => user.send(new ListBucketsCommand({}))],
  ['s3:CreateBucket', 'CreateBucket', () => user.send(new CreateBucketCommand({ Bucket: uniqueBucket('made') }))],
  ['s3:DeleteBucket', 'DeleteBucket', async () => user.send(new DeleteBucketCommand({ Bucket: await freshBucket() }))],
  ['s3:ListBucket', 'ListObjectsV2', () => user.send(new ListObjectsV2Command({ Bucket: b }))],
  ['s3:ListBucket', 'ListObjects', () => user.send(new ListObjectsCommand({ Bucket: b }))],
  ['s3:ListBucket', 'HeadBucket', () => user.send(new HeadBucketCommand({ Bucket: b }))],
  ['s3:ListBucketVersions', 'ListObjectVersions', () => user.send(new ListObjectVersionsCommand({ Bucket: b }))],
  ['s3:ListBucketMultipartUploads', 'ListMultipartUploads', () => user.send(new ListMultipartUploadsCommand({ Bucket: b }))],
  ['s3:GetBucketLocation', 'GetBucketLocation', () => user.send(new GetBucketLocationCommand({ Bucket: b }))],
  ['s3:GetBucketVersioning', 'GetBucketVersioning', () => user.send(new GetBucketVersioningCommand({ Bucket: b }))],
  ['s3:PutBucketVersioning', 'PutBucketVersioning', () => user.send(new PutBucketVersioningCommand({ Bucket: b, VersioningConfiguration: { Status: 'Enabled' } }))],
  ['s3:GetBucketTagging', 'GetBucketTagging', () => user.send(new GetBucketTaggingCommand({ Bucket: b }))],
  ['s3:PutBucketTagging', 'PutBucketTagging', () => user.send(new PutBucketTaggingCommand({ Bucket: b, Tagging: { TagSet: [{ Key: 'k', Value: 'v' }] } }))],
  ['s3:PutBucketTagging', 'DeleteBucketTagging', () => user.send(new DeleteBucketTaggingCommand({ Bucket: b }))],
  ['s3:GetBucketPolicy', 'GetBucketPolicy', () => user.send(new GetBucketPolicyCommand({ Bucket: b }))],
  ['s3:PutBucketPolicy', 'PutBucketPolicy', () => user.send(new PutBucketPolicyCommand({ Bucket: b, Policy: policy(b) }))],
  ['s3:DeleteBucketPolicy', 'DeleteBucketPolicy', () => user.send(new DeleteBucketPolicyCommand({ Bucket: b }))],
  ['s3:GetBucketPolicyStatus', 'GetBucketPolicyStatus', () => user.send(new GetBucketPolicyStatusCommand({ Bucket: b }))],
  ['s3:GetBucketPublicAccessBlock', 'GetPublicAccessBlock', () => user.send(new GetPublicAccessBlockCommand({ Bucket: b }))],
  ['s3:PutBucketPublicAccessBlock', 'PutPublicAccessBlock', () => user.send(new PutPublicAccessBlockCommand({ Bucket: b, PublicAccessBlockConfiguration: { BlockPublicAcls: false } }))],
  ['s3:PutBucketPublicAccessBlock', 'DeletePublicAccessBlock', () => user.send(new DeletePublicAccessBlockCommand({ Bucket: b }))],
  ['s3:GetBucketAcl', 'GetBucketAcl', () => user.send(new GetBucketAclCommand({ Bucket: b }))],
  ['s3:PutBucketAcl', 'PutBucketAcl', () => user.send(new PutBucketAclCommand({ Bucket: b, ACL: 'private' }))],
  ['s3:GetBucketCORS', 'GetBucketCors', () => user.send(new GetBucketCorsCommand({ Bucket: b }))],
  ['s3:PutBucketCORS', 'PutBucketCors', () => user.send(new PutBucketCorsCommand({ Bucket: b, CORSConfiguration: { CORSRules: [{ AllowedMethods: ['GET'], AllowedOrigins: ['*'] }] } }))],
  ['s3:PutBucketCORS', 'DeleteBucketCors', () => user.send(new DeleteBucketCorsCommand({ Bucket: b }))],
  ['s3:GetEncryptionConfiguration', 'GetBucketEncryption', () => user.send(new GetBucketEncryptionCommand({ Bucket: b }))],
  ['s3:PutEncryptionConfiguration', 'PutBucketEncryption', () => user.send(new PutBucketEncryptionCommand({ Bucket: b, ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] } }))],
  ['s3:PutEncryptionConfiguration', 'DeleteBucketEncryption', () => user.send(new DeleteBucketEncryptionCommand({ Bucket: b }))],
  ['s3:GetObject', 'GetObject', () => user.send(new GetObjectCommand({ Bucket: b, Key: 'obj' }))],
  ['s3:GetObject', 'HeadObject', () => user.send(new HeadObjectCommand({ Bucket: b, Key: 'obj' }))],
  ['s3:GetObjectVersion', 'GetObject by versionId', () => user.send(new GetObjectCommand({ Bucket: b, Key: 'obj', VersionId: versionId }))],
  ['s3:GetObjectVersion', 'HeadObject by versionId', () => user.send(new HeadObjectCommand({ Bucket: b, Key: 'obj', VersionId: versionId }))],
  ['s3:PutObject', 'PutObject', () => user.send(new PutObjectCommand({ Bucket: b, Key: 'new', Body: 'x' }))],
  ['s3:PutObject', 'CopyObject (destination)', () => user.send(new CopyObjectCommand({ Bucket: b, Key: 'copy', CopySource: `${b}/obj` }))],
  ['s3:GetObject', 'CopyObject (source)', () => user.send(new CopyObjectCommand({ Bucket: b, Key: 'copy', CopySource: `${b}/obj` }))],
  ['s3:GetObjectVersion', 'CopyObject (source version)', () => user.send(new CopyObjectCommand({ Bucket: b, Key: 'copy', CopySource: `${b}/obj?versionId=${versionId}` }))],
  ['s3:PutObject', 'CreateMultipartUpload', () => user.send(new CreateMultipartUploadCommand({ Bucket: b, Key: 'mp' }))],
  ['s3:PutObject', 'UploadPart', async () => user.send(new UploadPartCommand({ Bucket: b, Key: 'mp', UploadId: await upload(), PartNumber: 1, Body: 'p' }))],
  ['s3:PutObject', 'CompleteMultipartUpload', async () => {
    const id = await upload();
    const part = await root.send(new UploadPartCommand({ Bucket: b, Key: 'mp', UploadId: id, PartNumber: 1, Body: 'p' }));
    return user.send(new CompleteMultipartUploadCommand({ Bucket: b, Key: 'mp', UploadId: id, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] } }));
  }],
  ['s3:AbortMultipartUpload', 'AbortMultipartUpload', async () => user.send(new AbortMultipartUploadCommand({ Bucket: b, Key: 'mp', UploadId: await upload() }))],
  ['s3:ListMultipartUploadParts', 'ListParts', async () => user.send(new ListPartsCommand({ Bucket: b, Key: 'mp', UploadId: await upload() }))],
  ['s3:DeleteObject', 'DeleteObject', () => user.send(new DeleteObjectCommand({ Bucket: b, Key: 'gone' }))],
  ['s3:DeleteObjectVersion', 'DeleteObject by versionId', async () => {
    const v = await root.send(new PutObjectCommand({ Bucket: b, Key: 'tmp', Body: 't' }));
    return user.send(new DeleteObjectCommand({ Bucket: b, Key: 'tmp', VersionId: v.VersionId }));
  }],
  ['s3:DeleteObject', 'DeleteObjects (per key)', async () => {
    const r = await user.send(new DeleteObjectsCommand({ Bucket: b, Delete: { Objects: [{ Key: 'gone2' }] } }));
    const e = r.Errors?.[0];
    if (e) throw Object.assign(new Error(e.Message), { name: e.Code });
    return r;
  }],
  ['s3:GetObjectTagging', 'GetObjectTagging', () => user.send(new GetObjectTaggingCommand({ Bucket: b, Key: 'obj' }))],
  ['s3:GetObjectVersionTagging', 'GetObjectTagging by versionId', () => user.send(new GetObjectTaggingCommand({ Bucket: b, Key: 'obj', VersionId: versionId }))],
  ['s3:PutObjectTagging', 'PutObjectTagging', () => user.send(new PutObjectTaggingCommand({ Bucket: b, Key: 'obj', Tagging: { TagSet: [{ Key: 't', Value: '1' }] } }))],
  ['s3:DeleteObjectTagging', 'DeleteObjectTagging', () => user.send(new DeleteObjectTaggingCommand({ Bucket: b, Key: 'obj' }))],
  ['s3:GetObjectAttributes', 'GetObjectAttributes', () => user.send(new GetObjectAttributesCommand({ Bucket: b, Key: 'obj', ObjectAttributes: ['ETag', 'ObjectSize'] }))],
  ['s3:GetObjectVersionAttributes', 'GetObjectAttributes by versionId', () => user.send(new GetObjectAttributesCommand({ Bucket: b, Key: 'obj', VersionId: versionId, ObjectAttributes: ['ETag'] }))],
  ['s3:GetObjectAcl', 'GetObjectAcl', () => user.send(new GetObjectAclCommand({ Bucket: b, Key: 'obj' }))],
  ['s3:PutObjectAcl', 'PutObjectAcl', () => user.send(new PutObjectAclCommand({ Bucket: b, Key: 'obj', ACL: 'private' }))],
];

before(async () => {
  s = await startTestServer();
  root = sdkClient(s);
  b = uniqueBucket('table');
  await root.send(new CreateBucketCommand({ Bucket: b }));
  await root.send(new PutBucketVersioningCommand({ Bucket: b, VersioningConfiguration: { Status: 'Enabled' } }));
  versionId = (await root.send(new PutObjectCommand({ Bucket: b, Key: 'obj', Body: 'v1' }))).VersionId!;
  await root.send(new PutObjectCommand({ Bucket: b, Key: 'obj', Body: 'v2' }));
  await setPolicy();
  const r = await signedRawRequest(s, { method: 'POST', host: `127.0.0.1:${s.port}`, path: '/tessera/admin/v1/users', body: JSON.stringify({ user: 'tabler', policies: ['table'] }) });
  const k = JSON.parse(r.body.toString()) as { accessKey: string; secretKey: string };
  user = sdkClient(s, { credentials: { accessKeyId: k.accessKey, secretAccessKey: k.secretKey } });
});
after(async () => {
  await s?.destroy();
});

for (const [action, name, op] of rows) {
  test(`${name} needs ${action}`, { timeout: 60_000 }, async () => {
    await setPolicy(action);
    const denied = await op().then(() => undefined, (e: { name?: string; $metadata?: { httpStatusCode?: number } }) => e);
    // A HEAD reply has no body, so the SDK only knows the status.
    const code = name.startsWith('Head') && denied?.$metadata?.httpStatusCode === 403 ? 'AccessDenied' : denied?.name;
    assert.equal(code, 'AccessDenied', `${name} with ${action} denied: ${denied ? `${denied.name}` : 'succeeded'}`);
    await setPolicy();
    const allowed = await op().then(() => undefined, (e: { name?: string; $metadata?: { httpStatusCode?: number } }) => e);
    assert.ok(allowed?.name !== 'AccessDenied' && allowed?.$metadata?.httpStatusCode !== 403, `${name} with ${action} allowed: ${allowed?.name}`);
  });
}
