// Server-side encryption through the SDK against real servers: SSE-S3 round trips whose bytes
// appear nowhere on the disks or in the metadata directory, exact ranges across chunk and
// part boundaries, multipart, copies between plain and encrypted, bucket default encryption,
// SSE-C over HTTPS (the server's own TLS listener, plain HTTP beside it for the refusals),
// and a server without a master key that refuses every SSE-S3 request and stores nothing.

import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import type http from 'node:http';
import https from 'node:https';
import aws4 from 'aws4';
import { createPresignedPost } from '@aws-sdk/s3-presigned-post';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import {
  CompleteMultipartUploadCommand, CopyObjectCommand, CreateBucketCommand, CreateMultipartUploadCommand,
  DeleteBucketEncryptionCommand, GetBucketEncryptionCommand, GetObjectCommand, HeadObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command,
  PutBucketEncryptionCommand, PutObjectCommand, S3Client, UploadPartCommand, UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import { banner } from '../../src/cli/server.js';
import { crc32c } from '../../src/erasure/bitrot.js';
import { CRC_BYTES, shardBlockLength } from '../../src/erasure/layout.js';
import { aws, boto3, sdkClient, type RunResult } from '../helpers/clients.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { assertXmlError, bodyBytes, expectS3Error, expectStatusError, signedRawRequest, uniqueBucket } from './sdk-helpers.js';

let dir: string;
let s: TestServer;
/** Clients of the same server: `c` over its plain-HTTP listener, `sc` over HTTPS. */
let c: S3Client;
let sc: S3Client;
/** The plain-HTTP listener, for raw requests. */
let plain: TestServer;

/** `size` bytes of a random 4 KiB block repeated, and a 48-byte piece of it to search for. */
function pattern(size: number): { data: Buffer; needle: Buffer } {
  const block = randomBytes(4096);
  const data = Buffer.alloc(size);
  for (let i = 0; i < size; i += block.length) block.copy(data, i);
  return { data, needle: block.subarray(100, 148) };
}

/** Every file under the server's root (disks, metadata directory, journals) holding `needle`. */
async function filesHolding(root: string, needle: Buffer): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile() && (await readFile(p)).includes(needle)) out.push(path.relative(root, p));
    }
  };
  await walk(root);
  return out;
}

/** A SigV4-signed request to the HTTPS listener (for headers the SDK would compute itself). */
function signedHttps(method: string, p: string, headers: Record<string, string>, body?: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  const port = s.port;
  const opts = { host: `127.0.0.1:${port}`, method, path: p, service: 's3', region: s.region, headers: { ...headers } as Record<string, string>, body };
  aws4.sign(opts, { accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey });
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port, method, path: p, headers: opts.headers, ca: s.ca, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const md5hex = (b: Buffer) => createHash('md5').update(b).digest('hex');

/** A browser-style POST form upload (createPresignedPost's fields, then the file) of `data` to `key`. */
async function postForm(client: S3Client, bucket: string, key: string, fields: Record<string, string>, data: Buffer): Promise<Response> {
  const p = await createPresignedPost(client, { Bucket: bucket, Key: key, Fields: fields, Expires: 600 });
  const fd = new FormData();
  for (const [k, v] of Object.entries(p.fields)) fd.append(k, v);
  fd.append('file', new Blob([new Uint8Array(data)]), 'f.bin');
  return fetch(p.url, { method: 'POST', body: fd });
}

/** postForm to the HTTPS listener of `s` (fetch cannot be given the test CA). */
async function postFormHttps(bucket: string, key: string, fields: Record<string, string>, data: Buffer): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  const p = await createPresignedPost(sc, { Bucket: bucket, Key: key, Fields: fields, Expires: 600 });
  const fd = new FormData();
  for (const [k, v] of Object.entries(p.fields)) fd.append(k, v);
  fd.append('file', new Blob([new Uint8Array(data)]), 'f.bin');
  const form = new Request(p.url, { method: 'POST', body: fd });
  const body = Buffer.from(await form.arrayBuffer());
  const url = new URL(p.url);
  return new Promise((resolve, reject) => {
    const headers = { 'content-type': form.headers.get('content-type')!, 'content-length': String(body.length) };
    const req = https.request({ host: '127.0.0.1', port: url.port, method: 'POST', path: url.pathname, headers, ca: s.ca, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** The same server seen through its plain-HTTP listener (started with `tls` and `plainHttp`). */
function plainSide(t: TestServer): TestServer {
  return { ...t, endpoint: t.httpEndpoint!, port: Number(new URL(t.httpEndpoint!).port) };
}

async function get(client: S3Client, input: ConstructorParameters<typeof GetObjectCommand>[0]): Promise<Buffer> {
  return bodyBytes((await client.send(new GetObjectCommand(input))).Body);
}

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'tessera-sse-'));
  const keyFile = path.join(dir, 'master.key');
  await writeFile(keyFile, randomBytes(32).toString('base64'));
  await chmod(keyFile, 0o600);
  s = await startTestServer({ root: path.join(dir, 'server'), tls: true, plainHttp: true, env: { TESSERA_SSE_MASTER_KEY_FILE: keyFile } });
  plain = plainSide(s);
  c = sdkClient(plain);
  sc = sdkClient(s);
});

after(async () => {
  c?.destroy();
  sc?.destroy();
  await s?.destroy();
  await rm(dir, { recursive: true, force: true });
});

test('SSE-S3: round trip, S3 headers, and no plaintext on any disk or in the metadata (inline and erasure-coded)', { timeout: 60_000 }, async () => {
  assert.match(banner(s.started), /encryption: +SSE-S3 available \(master key .*master\.key\)/);
  const b = uniqueBucket('sse');
  await c.send(new CreateBucketCommand({ Bucket: b }));
  const small = pattern(20_000); // inline, in the metadata store
  const large = pattern(3 * 1024 * 1024 + 77); // erasure-coded shards
  const plain = pattern(3 * 1024 * 1024); // control: stored in clear, must be found
  for (const [key, p] of [['small', small], ['large', large]] as const) {
    const put = await c.send(new PutObjectCommand({ Bucket: b, Key: key, Body: p.data, ServerSideEncryption: 'AES256' }));
    assert.equal(put.ServerSideEncryption, 'AES256');
    assert.equal(put.ETag, `"${md5hex(p.data)}"`, 'ETag is the MD5 of the plaintext for SSE-S3');
    const head = await c.send(new HeadObjectCommand({ Bucket: b, Key: key }));
    assert.equal(head.ServerSideEncryption, 'AES256');
    assert.equal(head.ContentLength, p.data.length);
    const got = await c.send(new GetObjectCommand({ Bucket: b, Key: key }));
    assert.equal(got.ServerSideEncryption, 'AES256');
    assert.equal(got.ContentLength, p.data.length);
    assert.ok((await bodyBytes(got.Body)).equals(p.data), `${key} reads back`);
  }
  await c.send(new PutObjectCommand({ Bucket: b, Key: 'clear', Body: plain.data }));
  const listed = await c.send(new ListObjectsV2Command({ Bucket: b }));
  assert.deepEqual(listed.Contents?.map((o) => [o.Key, o.Size]), [['clear', plain.data.length], ['large', large.data.length], ['small', small.data.length]]);
  await s.started.engine.store.settle();
  assert.ok((await filesHolding(s.root, plain.needle)).length > 0, 'the search finds an object stored in clear');
  assert.deepEqual(await filesHolding(s.root, small.needle), [], 'inline SSE object found in clear');
  assert.deepEqual(await filesHolding(s.root, large.needle), [], 'erasure-coded SSE object found in clear');
});

test('SSE-S3 ranges are exact across chunk boundaries, and multipart objects across part boundaries', { timeout: 90_000 }, async () => {
  const b = uniqueBucket('sser');
  await c.send(new CreateBucketCommand({ Bucket: b }));
  const C = 64 * 1024;
  const data = randomBytes(5 * C + 333);
  await c.send(new PutObjectCommand({ Bucket: b, Key: 'r', Body: data, ServerSideEncryption: 'AES256' }));
  for (const [from, to] of [[0, 0], [C - 1, C], [C - 3, 3 * C + 2], [5 * C, 5 * C + 332], [12345, 12345], [1, data.length - 2]]) {
    const r = await c.send(new GetObjectCommand({ Bucket: b, Key: 'r', Range: `bytes=${from}-${to}` }));
    assert.equal(r.ContentRange, `bytes ${from}-${to}/${data.length}`);
    assert.ok((await bodyBytes(r.Body)).equals(data.subarray(from, to + 1)), `range ${from}-${to}`);
  }
  assert.ok((await get(c, { Bucket: b, Key: 'r', Range: 'bytes=-100' })).equals(data.subarray(data.length - 100)), 'suffix range');

  const parts = [randomBytes(5 * 1024 * 1024 + 5), randomBytes(5 * 1024 * 1024), randomBytes(70_000)];
  const u = await c.send(new CreateMultipartUploadCommand({ Bucket: b, Key: 'mp', ServerSideEncryption: 'AES256' }));
  assert.equal(u.ServerSideEncryption, 'AES256');
  const done = [];
  for (let i = 0; i < parts.length; i++) {
    const p = await c.send(new UploadPartCommand({ Bucket: b, Key: 'mp', UploadId: u.UploadId, PartNumber: i + 1, Body: parts[i] }));
    assert.equal(p.ServerSideEncryption, 'AES256');
    assert.equal(p.ETag, `"${md5hex(parts[i]!)}"`);
    done.push({ PartNumber: i + 1, ETag: p.ETag });
  }
  const fin = await c.send(new CompleteMultipartUploadCommand({ Bucket: b, Key: 'mp', UploadId: u.UploadId, MultipartUpload: { Parts: done } }));
  assert.equal(fin.ServerSideEncryption, 'AES256');
  const whole = Buffer.concat(parts);
  assert.ok((await get(c, { Bucket: b, Key: 'mp' })).equals(whole), 'whole multipart object');
  const p1 = parts[0]!.length;
  const p2 = p1 + parts[1]!.length;
  for (const [from, to] of [[p1 - 10, p1 + 10], [p1 - 1, p2], [p2 - C, whole.length - 1], [3, p2 + 5]]) {
    assert.ok((await get(c, { Bucket: b, Key: 'mp', Range: `bytes=${from}-${to}` })).equals(whole.subarray(from, to + 1)), `multipart range ${from}-${to}`);
  }
  assert.ok((await get(c, { Bucket: b, Key: 'mp', PartNumber: 3 })).equals(parts[2]!), 'GET ?partNumber=3');
  const head = await c.send(new HeadObjectCommand({ Bucket: b, Key: 'mp' }));
  assert.equal(head.ServerSideEncryption, 'AES256');
  assert.equal(head.ContentLength, whole.length);
});

test('CopyObject: plain to SSE-S3 and SSE-S3 to plain', { timeout: 30_000 }, async () => {
  const b = uniqueBucket('ssec');
  await c.send(new CreateBucketCommand({ Bucket: b }));
  const data = randomBytes(300_000);
  await c.send(new PutObjectCommand({ Bucket: b, Key: 'plain', Body: data }));
  const enc = await c.send(new CopyObjectCommand({ Bucket: b, Key: 'enc', CopySource: `${b}/plain`, ServerSideEncryption: 'AES256' }));
  assert.equal(enc.ServerSideEncryption, 'AES256');
  assert.equal((await c.send(new HeadObjectCommand({ Bucket: b, Key: 'enc' }))).ServerSideEncryption, 'AES256');
  assert.ok((await get(c, { Bucket: b, Key: 'enc' })).equals(data));
  const back = await c.send(new CopyObjectCommand({ Bucket: b, Key: 'back', CopySource: `${b}/enc` }));
  assert.equal(back.ServerSideEncryption, undefined);
  assert.equal((await c.send(new HeadObjectCommand({ Bucket: b, Key: 'back' }))).ServerSideEncryption, undefined);
  assert.ok((await get(c, { Bucket: b, Key: 'back' })).equals(data));
  // UploadPartCopy of a range of the encrypted object into an SSE-S3 upload.
  const u = await c.send(new CreateMultipartUploadCommand({ Bucket: b, Key: 'mpc', ServerSideEncryption: 'AES256' }));
  const pc = await c.send(new UploadPartCopyCommand({ Bucket: b, Key: 'mpc', UploadId: u.UploadId, PartNumber: 1, CopySource: `${b}/enc`, CopySourceRange: 'bytes=65000-200000' }));
  await c.send(new CompleteMultipartUploadCommand({ Bucket: b, Key: 'mpc', UploadId: u.UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: pc.CopyPartResult?.ETag }] } }));
  assert.ok((await get(c, { Bucket: b, Key: 'mpc' })).equals(data.subarray(65000, 200001)));
  // Encrypting an object in place is a legal copy onto itself.
  await c.send(new CopyObjectCommand({ Bucket: b, Key: 'plain', CopySource: `${b}/plain`, ServerSideEncryption: 'AES256' }));
  assert.equal((await c.send(new HeadObjectCommand({ Bucket: b, Key: 'plain' }))).ServerSideEncryption, 'AES256');
  assert.ok((await get(c, { Bucket: b, Key: 'plain' })).equals(data));
});

test('bucket default encryption: Put/Get/DeleteBucketEncryption, applied to a plain PUT; SSE-KMS refused', { timeout: 30_000 }, async () => {
  const b = uniqueBucket('ssed');
  await c.send(new CreateBucketCommand({ Bucket: b }));
  await expectS3Error(c.send(new GetBucketEncryptionCommand({ Bucket: b })), 'ServerSideEncryptionConfigurationNotFoundError', 404);
  await expectS3Error(c.send(new PutBucketEncryptionCommand({ Bucket: b, ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms' } }] } })), 'NotImplemented', 501);
  await expectS3Error(c.send(new PutObjectCommand({ Bucket: b, Key: 'k', Body: 'x', ServerSideEncryption: 'aws:kms' })), 'NotImplemented', 501);
  // As S3: the configuration must come with Content-MD5 (or a checksum), and a wrong one is BadDigest.
  const xml = '<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>';
  const putRaw = (headers: Record<string, string>) => signedRawRequest(plain, { method: 'PUT', host: `127.0.0.1:${plain.port}`, path: `/${b}?encryption`, headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', ...headers }, body: xml });
  for (const [headers, code] of [[{}, 'InvalidRequest'], [{ 'Content-MD5': createHash('md5').update('other').digest('base64') }, 'BadDigest']] as const) {
    const r = await putRaw(headers);
    assertXmlError({ ...r, body: r.body.toString() }, code, 400);
  }
  await expectS3Error(c.send(new GetBucketEncryptionCommand({ Bucket: b })), 'ServerSideEncryptionConfigurationNotFoundError', 404);
  await c.send(new PutBucketEncryptionCommand({ Bucket: b, ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] } }));
  const conf = await c.send(new GetBucketEncryptionCommand({ Bucket: b }));
  assert.equal(conf.ServerSideEncryptionConfiguration?.Rules?.[0]?.ApplyServerSideEncryptionByDefault?.SSEAlgorithm, 'AES256');
  const p = pattern(10_000);
  const put = await c.send(new PutObjectCommand({ Bucket: b, Key: 'k', Body: p.data }));
  assert.equal(put.ServerSideEncryption, 'AES256');
  assert.equal((await c.send(new HeadObjectCommand({ Bucket: b, Key: 'k' }))).ServerSideEncryption, 'AES256');
  assert.ok((await get(c, { Bucket: b, Key: 'k' })).equals(p.data));
  await s.started.engine.store.settle();
  assert.deepEqual(await filesHolding(s.root, p.needle), []);
  await c.send(new DeleteBucketEncryptionCommand({ Bucket: b }));
  await expectS3Error(c.send(new GetBucketEncryptionCommand({ Bucket: b })), 'ServerSideEncryptionConfigurationNotFoundError', 404);
  const after = await c.send(new PutObjectCommand({ Bucket: b, Key: 'k2', Body: 'x' }));
  assert.equal(after.ServerSideEncryption, undefined);
});

test('POST form: an x-amz-server-side-encryption field stores the file encrypted; SSE-C fields are taken over HTTPS (key MD5 echoed) and refused over plain HTTP', { timeout: 30_000 }, async () => {
  const b = uniqueBucket('ssep');
  await c.send(new CreateBucketCommand({ Bucket: b }));
  const p = pattern(300_000);
  const r = await postForm(c, b, 'posted', { 'x-amz-server-side-encryption': 'AES256' }, p.data);
  assert.equal(r.status, 204, await r.text());
  assert.equal(r.headers.get('x-amz-server-side-encryption'), 'AES256');
  assert.equal((await c.send(new HeadObjectCommand({ Bucket: b, Key: 'posted' }))).ServerSideEncryption, 'AES256');
  assert.ok((await get(c, { Bucket: b, Key: 'posted' })).equals(p.data));
  await s.started.engine.store.settle();
  assert.deepEqual(await filesHolding(s.root, p.needle), [], 'POSTed SSE object found in clear');
  const key = randomBytes(32);
  const ssec = { 'x-amz-server-side-encryption-customer-algorithm': 'AES256', 'x-amz-server-side-encryption-customer-key': key.toString('base64'), 'x-amz-server-side-encryption-customer-key-md5': createHash('md5').update(key).digest('base64') };
  // Over HTTPS the same SSE-C fields are taken, and the reply names the key's MD5 as S3's does.
  const okC = await postFormHttps(b, 'posted-c-tls', ssec, p.data);
  assert.equal(okC.status, 204, okC.body.toString());
  assert.equal(okC.headers['x-amz-server-side-encryption-customer-algorithm'], 'AES256');
  assert.equal(okC.headers['x-amz-server-side-encryption-customer-key-md5'], ssec['x-amz-server-side-encryption-customer-key-md5']);
  assert.ok((await get(sc, { Bucket: b, Key: 'posted-c-tls', SSECustomerAlgorithm: 'AES256', SSECustomerKey: key as unknown as string })).equals(p.data));
  await expectStatusError(sc.send(new HeadObjectCommand({ Bucket: b, Key: 'posted-c-tls' })), 400);
  const refused = await postForm(c, b, 'posted-c', ssec, p.data);
  const text = await refused.text();
  assertXmlError({ status: refused.status, headers: refused.headers, body: text }, 'InvalidRequest', 400);
  assert.match(text, /secure connection/);
  await expectStatusError(c.send(new HeadObjectCommand({ Bucket: b, Key: 'posted-c' })), 404);
});

test('SSE-C over HTTPS: right key reads, wrong key 403, missing key 400; copy and multipart with keys; plain HTTP refused', { timeout: 60_000 }, async () => {
  const b = uniqueBucket('ssek');
  await sc.send(new CreateBucketCommand({ Bucket: b }));
  const key = randomBytes(32);
  const wrong = randomBytes(32);
  const ssec = (k: Buffer) => ({ SSECustomerAlgorithm: 'AES256', SSECustomerKey: k as unknown as string });
  const data = randomBytes(200_000);
  const put = await sc.send(new PutObjectCommand({ Bucket: b, Key: 'c', Body: data, ...ssec(key) }));
  assert.equal(put.SSECustomerAlgorithm, 'AES256');
  assert.equal(put.SSECustomerKeyMD5, createHash('md5').update(key).digest('base64'));
  assert.notEqual(put.ETag, `"${md5hex(data)}"`, 'an SSE-C ETag is not the MD5 of the plaintext');
  assert.ok((await get(sc, { Bucket: b, Key: 'c', ...ssec(key) })).equals(data));
  assert.ok((await get(sc, { Bucket: b, Key: 'c', Range: 'bytes=65530-131080', ...ssec(key) })).equals(data.subarray(65530, 131081)));
  const head = await sc.send(new HeadObjectCommand({ Bucket: b, Key: 'c', ...ssec(key) }));
  assert.equal(head.SSECustomerAlgorithm, 'AES256');
  assert.equal(head.ContentLength, data.length);
  await expectS3Error(sc.send(new GetObjectCommand({ Bucket: b, Key: 'c', ...ssec(wrong) })), 'AccessDenied', 403);
  await expectStatusError(sc.send(new HeadObjectCommand({ Bucket: b, Key: 'c', ...ssec(wrong) })), 403);
  await expectS3Error(sc.send(new GetObjectCommand({ Bucket: b, Key: 'c' })), 'InvalidRequest', 400);
  await expectStatusError(sc.send(new HeadObjectCommand({ Bucket: b, Key: 'c' })), 400);

  // Copy: the source opened with its key, the destination stored with SSE-S3.
  await expectS3Error(sc.send(new CopyObjectCommand({ Bucket: b, Key: 'd', CopySource: `${b}/c` })), 'InvalidRequest', 400);
  await sc.send(new CopyObjectCommand({ Bucket: b, Key: 'd', CopySource: `${b}/c`, CopySourceSSECustomerAlgorithm: 'AES256', CopySourceSSECustomerKey: key as unknown as string, ServerSideEncryption: 'AES256' }));
  assert.ok((await get(sc, { Bucket: b, Key: 'd' })).equals(data));

  // Multipart: every part needs the upload's key.
  const u = await sc.send(new CreateMultipartUploadCommand({ Bucket: b, Key: 'm', ...ssec(key) }));
  assert.equal(u.SSECustomerAlgorithm, 'AES256');
  await expectS3Error(sc.send(new UploadPartCommand({ Bucket: b, Key: 'm', UploadId: u.UploadId, PartNumber: 1, Body: 'x', ...ssec(wrong) })), 'InvalidRequest', 400);
  await expectS3Error(sc.send(new UploadPartCommand({ Bucket: b, Key: 'm', UploadId: u.UploadId, PartNumber: 1, Body: 'x' })), 'InvalidRequest', 400);
  const p1 = await sc.send(new UploadPartCommand({ Bucket: b, Key: 'm', UploadId: u.UploadId, PartNumber: 1, Body: data, ...ssec(key) }));
  await sc.send(new CompleteMultipartUploadCommand({ Bucket: b, Key: 'm', UploadId: u.UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: p1.ETag }] } }));
  assert.ok((await get(sc, { Bucket: b, Key: 'm', ...ssec(key) })).equals(data));
  await expectS3Error(sc.send(new GetObjectCommand({ Bucket: b, Key: 'm', ...ssec(wrong) })), 'AccessDenied', 403);

  // A plain object read with a customer key, or with x-amz-server-side-encryption: 400, as S3.
  await sc.send(new PutObjectCommand({ Bucket: b, Key: 'plain', Body: data }));
  await expectS3Error(sc.send(new GetObjectCommand({ Bucket: b, Key: 'plain', ...ssec(key) })), 'InvalidRequest', 400);
  await expectStatusError(sc.send(new HeadObjectCommand({ Bucket: b, Key: 'plain', ...ssec(key) })), 400);
  const withSse = await signedHttps('GET', `/${b}/plain`, { 'x-amz-server-side-encryption': 'AES256', 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' });
  assertXmlError({ ...withSse, body: withSse.body.toString() }, 'InvalidArgument', 400);
  assert.ok((await get(sc, { Bucket: b, Key: 'plain' })).equals(data), 'the plain object is unchanged');

  // Over plain HTTP the key would have crossed the network in clear: refused, nothing stored.
  const md5 = createHash('md5').update(key).digest('base64');
  const headers = { 'x-amz-server-side-encryption-customer-algorithm': 'AES256', 'x-amz-server-side-encryption-customer-key': key.toString('base64'), 'x-amz-server-side-encryption-customer-key-md5': md5, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' };
  const r = await signedRawRequest(plain, { method: 'PUT', host: `127.0.0.1:${plain.port}`, path: `/${b}/insecure`, headers, body: 'secret' });
  assertXmlError({ ...r, body: r.body.toString() }, 'InvalidRequest', 400);
  assert.match(r.body.toString(), /must be made over a secure connection/);
  const g = await signedRawRequest(plain, { method: 'GET', host: `127.0.0.1:${plain.port}`, path: `/${b}/c`, headers });
  assertXmlError({ ...g, body: g.body.toString() }, 'InvalidRequest', 400);
  await expectStatusError(c.send(new HeadObjectCommand({ Bucket: b, Key: 'insecure' })), 404);
  // Content-MD5 describes the plaintext under SSE-C too: the right one is taken, a wrong one is BadDigest and nothing is stored.
  const body = 'checked body';
  const right = await signedHttps('PUT', `/${b}/md5`, { ...headers, 'Content-MD5': createHash('md5').update(body).digest('base64') }, body);
  assert.equal(right.status, 200, right.body.toString());
  const bad = await signedHttps('PUT', `/${b}/md5-bad`, { ...headers, 'Content-MD5': createHash('md5').update('other').digest('base64') }, body);
  assertXmlError({ ...bad, body: bad.body.toString() }, 'BadDigest', 400);
  await expectStatusError(sc.send(new HeadObjectCommand({ Bucket: b, Key: 'md5-bad', ...ssec(key) })), 404);
  assert.equal((await get(sc, { Bucket: b, Key: 'md5', ...ssec(key) })).toString(), body);

  // Over HTTPS, a key MD5 that does not match the key, and a key of the wrong length, are InvalidArgument.
  for (const h of [
    { ...headers, 'x-amz-server-side-encryption-customer-key-md5': createHash('md5').update(wrong).digest('base64') },
    { ...headers, 'x-amz-server-side-encryption-customer-key': key.subarray(0, 16).toString('base64') },
  ]) {
    const x = await signedHttps('PUT', `/${b}/x`, h, 'x');
    assertXmlError({ ...x, body: x.body.toString() }, 'InvalidArgument', 400);
  }
});

test('without a master key every SSE-S3 request is refused and nothing is stored; SSE-C still works', { timeout: 60_000 }, async () => {
  const plainServer = await startTestServer({ tls: true, plainHttp: true });
  const pc = sdkClient(plainSide(plainServer));
  const tc = sdkClient(plainServer);
  try {
    assert.match(banner(plainServer.started), /encryption: +off/);
    const b = uniqueBucket('ssen');
    await pc.send(new CreateBucketCommand({ Bucket: b }));
    await pc.send(new PutObjectCommand({ Bucket: b, Key: 'src', Body: 'clear' }));
    const e = await expectS3Error(pc.send(new PutObjectCommand({ Bucket: b, Key: 'k', Body: 'secret', ServerSideEncryption: 'AES256' })), 'NotImplemented', 501);
    assert.match(e.message ?? '', /master key/);
    await expectS3Error(pc.send(new CopyObjectCommand({ Bucket: b, Key: 'k2', CopySource: `${b}/src`, ServerSideEncryption: 'AES256' })), 'NotImplemented', 501);
    await expectS3Error(pc.send(new CreateMultipartUploadCommand({ Bucket: b, Key: 'k3', ServerSideEncryption: 'AES256' })), 'NotImplemented', 501);
    await expectS3Error(pc.send(new PutBucketEncryptionCommand({ Bucket: b, ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] } })), 'NotImplemented', 501);
    await expectS3Error(pc.send(new GetBucketEncryptionCommand({ Bucket: b })), 'ServerSideEncryptionConfigurationNotFoundError', 404);
    const posted = await postForm(pc, b, 'k4', { 'x-amz-server-side-encryption': 'AES256' }, Buffer.from('secret'));
    const postedText = await posted.text();
    assertXmlError({ status: posted.status, headers: posted.headers, body: postedText }, 'NotImplemented', 501);
    const listed = await pc.send(new ListObjectsV2Command({ Bucket: b }));
    assert.deepEqual(listed.Contents?.map((o) => o.Key), ['src'], 'nothing stored');
    const uploads = await pc.send(new ListMultipartUploadsCommand({ Bucket: b }));
    assert.equal(uploads.Uploads, undefined, 'no upload created');
    // SSE-C needs no master key (over the server's HTTPS listener).
    const key = randomBytes(32);
    await tc.send(new PutObjectCommand({ Bucket: b, Key: 'c', Body: 'hello', SSECustomerAlgorithm: 'AES256', SSECustomerKey: key as unknown as string }));
    assert.equal((await get(tc, { Bucket: b, Key: 'c', SSECustomerAlgorithm: 'AES256', SSECustomerKey: key as unknown as string })).toString(), 'hello');
  } finally {
    pc.destroy();
    tc.destroy();
    await plainServer.destroy();
  }
});

test('aws-cli and boto3 over HTTPS: --sse AES256, --sse-c with a key file, put-bucket-encryption; boto3 SSE-C', { timeout: 120_000 }, async () => {
  const t = await startTestServer({ tls: true, root: path.join(dir, 'cli'), env: { TESSERA_SSE_MASTER_KEY_FILE: path.join(dir, 'master.key') } });
  const tc = sdkClient(t);
  try {
    const ok = (r: RunResult, what: string) => assert.equal(r.code, 0, `${what}: ${r.stderr}`);
    const file = path.join(dir, 'cli-in');
    const data = randomBytes(150_000);
    await writeFile(file, data);
    const keyFile = path.join(dir, 'cli-key');
    await writeFile(keyFile, randomBytes(32));
    await tc.send(new CreateBucketCommand({ Bucket: 'cli-sse' }));
    ok(await aws(t, ['s3', 'cp', file, 's3://cli-sse/s3', '--sse', 'AES256']), 'cp --sse');
    const head = await aws(t, ['s3api', 'head-object', '--bucket', 'cli-sse', '--key', 's3']);
    ok(head, 'head-object');
    assert.equal((JSON.parse(head.stdout) as { ServerSideEncryption?: string }).ServerSideEncryption, 'AES256');
    ok(await aws(t, ['s3', 'cp', file, 's3://cli-sse/c', '--sse-c', 'AES256', '--sse-c-key', `fileb://${keyFile}`]), 'cp --sse-c');
    const out = path.join(dir, 'cli-out');
    ok(await aws(t, ['s3', 'cp', 's3://cli-sse/c', out, '--sse-c', 'AES256', '--sse-c-key', `fileb://${keyFile}`]), 'cp back --sse-c');
    assert.ok((await readFile(out)).equals(data));
    await expectStatusError(tc.send(new HeadObjectCommand({ Bucket: 'cli-sse', Key: 'c' })), 400);
    ok(await aws(t, ['s3api', 'put-bucket-encryption', '--bucket', 'cli-sse', '--server-side-encryption-configuration', '{"Rules":[{"ApplyServerSideEncryptionByDefault":{"SSEAlgorithm":"AES256"}}]}']), 'put-bucket-encryption');
    const conf = await tc.send(new GetBucketEncryptionCommand({ Bucket: 'cli-sse' }));
    assert.equal(conf.ServerSideEncryptionConfiguration?.Rules?.[0]?.ApplyServerSideEncryptionByDefault?.SSEAlgorithm, 'AES256');
    // boto3: SSE-C with its own key handling, a wrong key refused with 403, SSE-S3 reported.
    const py = await boto3(t, [
      "key = os.urandom(32); other = os.urandom(32)",
      "s3.put_object(Bucket='cli-sse', Key='py', Body=b'boto3 data', SSECustomerAlgorithm='AES256', SSECustomerKey=key)",
      "body = s3.get_object(Bucket='cli-sse', Key='py', SSECustomerAlgorithm='AES256', SSECustomerKey=key)['Body'].read()",
      "try:\n  s3.head_object(Bucket='cli-sse', Key='py', SSECustomerAlgorithm='AES256', SSECustomerKey=other); status = 200\nexcept botocore.exceptions.ClientError as e:\n  status = e.response['ResponseMetadata']['HTTPStatusCode']",
      "print(json.dumps({'body': body.decode(), 'wrong': status, 'sse': s3.head_object(Bucket='cli-sse', Key='s3').get('ServerSideEncryption')}))",
    ].join('\n'));
    ok(py, 'boto3');
    assert.deepEqual(JSON.parse(py.stdout), { body: 'boto3 data', wrong: 403, sse: 'AES256' });
  } finally {
    tc.destroy();
    await t.destroy();
  }
});

test('a ciphertext byte changed on disk past the CRC check is refused by GCM; ranges that do not cover it still read', { timeout: 30_000 }, async () => {
  const b = uniqueBucket('sset');
  await c.send(new CreateBucketCommand({ Bucket: b }));
  const data = randomBytes(300_000);
  await c.send(new PutObjectCommand({ Bucket: b, Key: 't', Body: data, ServerSideEncryption: 'AES256' }));
  const store = s.started.engine.store;
  const v = await store.resolve(b, 't');
  const l = v.data!;
  assert.equal(l.kind, 'shards');
  if (l.kind !== 'shards') return;
  // Data shard 0 holds the first stored bytes (the code is systematic): flip one byte of the
  // first chunk's ciphertext and write a matching CRC32C, as a corruption the CRC cannot see.
  const file = store.disks[l.distribution[0]!]!.shardPath(l.dataId);
  const shard = await readFile(file);
  const blockLen = shardBlockLength({ size: l.size, k: l.k, blockSize: l.blockSize }, 0);
  shard[CRC_BYTES + 1000] ^= 0x01;
  shard.writeUInt32BE(crc32c(shard.subarray(CRC_BYTES, CRC_BYTES + blockLen)), 0);
  await writeFile(file, shard);
  const e = await expectS3Error(c.send(new GetObjectCommand({ Bucket: b, Key: 't' })), 'InternalError', 500);
  assert.match(e.message ?? '', /authentication check/);
  await expectS3Error(c.send(new GetObjectCommand({ Bucket: b, Key: 't', Range: 'bytes=10-20' })), 'InternalError', 500);
  // Chunk 0 is the only one changed: a range from chunk 1 on never reads it.
  assert.ok((await get(c, { Bucket: b, Key: 't', Range: 'bytes=70000-299999' })).equals(data.subarray(70000)));
});

test('an SSE-S3 object reads back after a restart with the same master key; under another key, or none, it is refused', { timeout: 90_000 }, async () => {
  const root = path.join(dir, 'restart');
  const keys = [path.join(dir, 'restart-a.key'), path.join(dir, 'restart-b.key')];
  for (const k of keys) {
    await writeFile(k, randomBytes(32).toString('base64'));
    await chmod(k, 0o600);
  }
  const data = randomBytes(200_000);
  /** A server on the same root with `keyFile` (or no master key), for the length of `f`. */
  const withServer = async (keyFile: string | undefined, f: (client: S3Client) => Promise<void>) => {
    const t = await startTestServer({ root, env: keyFile ? { TESSERA_SSE_MASTER_KEY_FILE: keyFile } : {} });
    const tc = sdkClient(t);
    try {
      await f(tc);
    } finally {
      tc.destroy();
      await t.stop();
    }
  };
  try {
    await withServer(keys[0], async (tc) => {
      await tc.send(new CreateBucketCommand({ Bucket: 'restart' }));
      await tc.send(new PutObjectCommand({ Bucket: 'restart', Key: 'k', Body: data, ServerSideEncryption: 'AES256' }));
    });
    await withServer(keys[0], async (tc) => {
      assert.ok((await get(tc, { Bucket: 'restart', Key: 'k' })).equals(data), 'same key after a restart');
    });
    await withServer(keys[1], async (tc) => {
      const e = await expectS3Error(tc.send(new GetObjectCommand({ Bucket: 'restart', Key: 'k' })), 'InternalError', 500);
      assert.match(e.message ?? '', /another master key/);
    });
    await withServer(undefined, async (tc) => {
      const e = await expectS3Error(tc.send(new GetObjectCommand({ Bucket: 'restart', Key: 'k' })), 'NotImplemented', 501);
      assert.match(e.message ?? '', /master key/);
    });
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
