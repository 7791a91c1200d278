// Presigned URLs from @aws-sdk/s3-request-presigner (default client settings), used with curl
// and with fetch: GET, PUT, response overrides, expiry, tampering; error replies as S3 XML.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { sdkClient } from '../helpers/clients.js';
import aws4 from 'aws4';
import { assertXmlError, bodyBytes, expectS3Error, md5hex, patternBuffer, rawRequest, sleep, uniqueBucket, xmlField } from './sdk-helpers.js';

const execFileP = promisify(execFile);
const CURL = '/usr/bin/curl';

let server: TestServer;
let s3: S3Client;
let tmp: string;

before(async () => {
  server = await startTestServer();
  s3 = sdkClient(server);
  tmp = await mkdtemp(path.join(os.tmpdir(), 'tessera-sdk-presign-'));
});

after(async () => {
  s3?.destroy();
  await server?.destroy();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

interface CurlResult {
  status: number;
  body: Buffer;
  headers: Record<string, string>;
}

/** Runs curl on a URL; the body goes to a file so binary data survives. --path-as-is keeps the URL as given. */
async function curl(url: string, args: string[] = []): Promise<CurlResult> {
  const out = path.join(tmp, `out-${Date.now()}-${Math.random().toString(36).slice(2)}`);
  const hdr = out + '.h';
  const { stdout } = await execFileP(CURL, ['-sS', '--path-as-is', '-o', out, '-D', hdr, '-w', '%{http_code}', ...args, url], { maxBuffer: 1024 * 1024 });
  const headers: Record<string, string> = {};
  for (const line of (await readFile(hdr, 'utf8')).split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
  }
  let body = Buffer.alloc(0);
  try {
    body = await readFile(out);
  } catch {
    // no body written (HEAD, empty reply)
  }
  return { status: Number(stdout.trim()), body, headers };
}

async function newBucket(tag: string): Promise<string> {
  const b = uniqueBucket(tag);
  await s3.send(new CreateBucketCommand({ Bucket: b }));
  return b;
}

describe('presigned GET', () => {
  let b: string;
  const data = patternBuffer(300_000, 21);
  before(async () => {
    b = await newBucket('pget');
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'dir/file name+1.bin', Body: data, ContentType: 'application/x-thing' }));
  });

  test('curl fetches the exact bytes with the stored headers', async () => {
    const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: b, Key: 'dir/file name+1.bin' }), { expiresIn: 300 });
    const r = await curl(url);
    assert.equal(r.status, 200, r.body.toString());
    assert.ok(r.body.equals(data));
    assert.equal(r.headers['content-type'], 'application/x-thing');
    assert.equal(r.headers['etag'], `"${md5hex(data)}"`);
    assert.equal(r.headers['content-length'], String(data.length));
    assert.ok(r.headers['x-amz-request-id']);
  });

  test('fetch works too, and a Range header still applies to a presigned GET', async () => {
    const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: b, Key: 'dir/file name+1.bin' }), { expiresIn: 300 });
    const r = await fetch(url);
    assert.equal(r.status, 200);
    assert.ok(Buffer.from(await r.arrayBuffer()).equals(data));
    const part = await fetch(url, { headers: { Range: 'bytes=100-199' } });
    assert.equal(part.status, 206);
    assert.equal(part.headers.get('content-range'), `bytes 100-199/${data.length}`);
    assert.ok(Buffer.from(await part.arrayBuffer()).equals(data.subarray(100, 200)));
  });

  test('a presigned HEAD (curl -I) describes the object', async () => {
    const url = await getSignedUrl(s3, new HeadObjectCommand({ Bucket: b, Key: 'dir/file name+1.bin' }), { expiresIn: 300 });
    const r = await curl(url, ['-I']);
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-length'], String(data.length));
    assert.equal(r.headers['etag'], `"${md5hex(data)}"`);
  });

  test('response-* overrides in a presigned GET set the reply headers (browser download)', async () => {
    const url = await getSignedUrl(
      s3,
      new GetObjectCommand({ Bucket: b, Key: 'dir/file name+1.bin', ResponseContentDisposition: 'attachment; filename="download.bin"', ResponseContentType: 'application/octet-stream', ResponseCacheControl: 'private, max-age=60' }),
      { expiresIn: 300 },
    );
    const r = await curl(url);
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-disposition'], 'attachment; filename="download.bin"');
    assert.equal(r.headers['content-type'], 'application/octet-stream');
    assert.equal(r.headers['cache-control'], 'private, max-age=60');
    assert.ok(r.body.equals(data));
  });

  test('a presigned ListObjectsV2 works with curl', async () => {
    const url = await getSignedUrl(s3, new ListObjectsV2Command({ Bucket: b, Prefix: 'dir/' }), { expiresIn: 300 });
    const r = await curl(url);
    assert.equal(r.status, 200);
    assert.equal(xmlField(r.body.toString(), 'Key'), 'dir/file name+1.bin');
  });

  test('a missing key through a presigned URL → 404 NoSuchKey as S3 XML', async () => {
    const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: b, Key: 'no/such key' }), { expiresIn: 300 });
    const r = await curl(url);
    assertXmlError({ status: r.status, headers: r.headers, body: r.body.toString() }, 'NoSuchKey', 404);
  });
});

describe('presigned PUT', () => {
  test('curl uploads a file (the SDK URL carries a CRC32 of the empty body in its query, which S3 ignores)', async () => {
    const b = await newBucket('pput');
    const data = patternBuffer(1_234_567, 22);
    const file = path.join(tmp, 'upload.bin');
    await writeFile(file, data);
    const url = await getSignedUrl(s3, new PutObjectCommand({ Bucket: b, Key: 'uploads/curl file.bin' }), { expiresIn: 300 });
    const r = await curl(url, ['-X', 'PUT', '-T', file, '-H', 'Expect:']);
    assert.equal(r.status, 200, r.body.toString());
    assert.equal(r.headers['etag'], `"${md5hex(data)}"`);
    const g = await s3.send(new GetObjectCommand({ Bucket: b, Key: 'uploads/curl file.bin' }));
    assert.ok((await bodyBytes(g.Body)).equals(data));
  });

  test('fetch uploads a body; Content-Type signed into the URL is stored', async () => {
    const b = await newBucket('pputf');
    const url = await getSignedUrl(s3, new PutObjectCommand({ Bucket: b, Key: 'from-fetch.json', ContentType: 'application/json' }), { expiresIn: 300, signableHeaders: new Set(['content-type']) });
    const r = await fetch(url, { method: 'PUT', body: '{"ok":true}', headers: { 'Content-Type': 'application/json' } });
    assert.equal(r.status, 200, await r.clone().text());
    assert.equal(r.headers.get('etag'), `"${md5hex('{"ok":true}')}"`);
    const h = await s3.send(new HeadObjectCommand({ Bucket: b, Key: 'from-fetch.json' }));
    assert.equal(h.ContentType, 'application/json');
    assert.equal(h.ContentLength, 11);
    // Sending another Content-Type than the signed one breaks the signature.
    const bad = await fetch(url, { method: 'PUT', body: 'x', headers: { 'Content-Type': 'text/plain' } });
    assertXmlError({ status: bad.status, headers: bad.headers, body: await bad.text() }, 'SignatureDoesNotMatch', 403);
    assert.equal((await s3.send(new HeadObjectCommand({ Bucket: b, Key: 'from-fetch.json' }))).ContentLength, 11, 'object unchanged');
  });

  test('a presigned PUT with Content-MD5 signed in rejects other bytes (BadDigest) and stores nothing', async () => {
    const b = await newBucket('pputmd5');
    const { createHash } = await import('node:crypto');
    const md5 = createHash('md5').update('expected body').digest('base64');
    const url = await getSignedUrl(s3, new PutObjectCommand({ Bucket: b, Key: 'k', ContentMD5: md5 }), { expiresIn: 300, signableHeaders: new Set(['content-md5']) });
    const bad = await fetch(url, { method: 'PUT', body: 'other body', headers: { 'Content-MD5': md5 } });
    assertXmlError({ status: bad.status, headers: bad.headers, body: await bad.text() }, 'BadDigest', 400);
    await expectS3Error(s3.send(new HeadObjectCommand({ Bucket: b, Key: 'k' })), 'NotFound', 404);
    const ok = await fetch(url, { method: 'PUT', body: 'expected body', headers: { 'Content-MD5': md5 } });
    assert.equal(ok.status, 200);
  });

  test('a presigned DELETE works with curl -X DELETE', async () => {
    const b = await newBucket('pdel');
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'gone', Body: 'x' }));
    const url = await getSignedUrl(s3, new DeleteObjectCommand({ Bucket: b, Key: 'gone' }), { expiresIn: 300 });
    const r = await curl(url, ['-X', 'DELETE']);
    assert.equal(r.status, 204);
    await expectS3Error(s3.send(new HeadObjectCommand({ Bucket: b, Key: 'gone' })), 'NotFound', 404);
  });
});

describe('refused presigned URLs', () => {
  let b: string;
  before(async () => {
    b = await newBucket('prefuse');
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'k', Body: 'secret' }));
  });

  test('expired (expiresIn 1, used 2 s later) → 403 AccessDenied XML, for curl and fetch', async () => {
    const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: b, Key: 'k' }), { expiresIn: 1 });
    const putUrl = await getSignedUrl(s3, new PutObjectCommand({ Bucket: b, Key: 'k' }), { expiresIn: 1 });
    await sleep(2100);
    const r = await curl(url);
    assertXmlError({ status: r.status, headers: r.headers, body: r.body.toString() }, 'AccessDenied', 403);
    assert.match(xmlField(r.body.toString(), 'Message') ?? '', /expired/i);
    const f = await fetch(url);
    assertXmlError({ status: f.status, headers: f.headers, body: await f.text() }, 'AccessDenied', 403);
    const p = await fetch(putUrl, { method: 'PUT', body: 'overwritten' });
    assertXmlError({ status: p.status, headers: p.headers, body: await p.text() }, 'AccessDenied', 403);
    const g = await s3.send(new GetObjectCommand({ Bucket: b, Key: 'k' }));
    assert.equal(await g.Body!.transformToString(), 'secret', 'the expired PUT changed nothing');
  });

  test('tampered signature → 403 SignatureDoesNotMatch XML', async () => {
    const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: b, Key: 'k' }), { expiresIn: 300 });
    const sig = /X-Amz-Signature=([0-9a-f]{64})/.exec(url)![1];
    const flipped = (sig[0] === '0' ? '1' : '0') + sig.slice(1);
    const r = await curl(url.replace(sig, flipped));
    assertXmlError({ status: r.status, headers: r.headers, body: r.body.toString() }, 'SignatureDoesNotMatch', 403);
    const f = await fetch(url.replace(sig, flipped));
    assertXmlError({ status: f.status, headers: f.headers, body: await f.text() }, 'SignatureDoesNotMatch', 403);
  });

  test('URL pointed at another key, or with an added parameter → 403 SignatureDoesNotMatch', async () => {
    const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: b, Key: 'k' }), { expiresIn: 300 });
    const other = await fetch(url.replace(`/${b}/k?`, `/${b}/k2?`));
    assertXmlError({ status: other.status, headers: other.headers, body: await other.text() }, 'SignatureDoesNotMatch', 403);
    const extra = await fetch(url + '&response-content-type=text%2Fhtml');
    assertXmlError({ status: extra.status, headers: extra.headers, body: await extra.text() }, 'SignatureDoesNotMatch', 403);
    const expires = await fetch(url.replace('X-Amz-Expires=300', 'X-Amz-Expires=301'));
    assertXmlError({ status: expires.status, headers: expires.headers, body: await expires.text() }, 'SignatureDoesNotMatch', 403);
  });

  test('a URL signed with another secret → 403 SignatureDoesNotMatch; unknown key id → 403 InvalidAccessKeyId', async () => {
    const wrong = sdkClient(server, { credentials: { accessKeyId: server.accessKeyId, secretAccessKey: 'wrong-secret' } });
    const unknown = sdkClient(server, { credentials: { accessKeyId: 'AKIAUNKNOWNKEY000000', secretAccessKey: 'x' } });
    try {
      const r1 = await fetch(await getSignedUrl(wrong, new GetObjectCommand({ Bucket: b, Key: 'k' }), { expiresIn: 60 }));
      assertXmlError({ status: r1.status, headers: r1.headers, body: await r1.text() }, 'SignatureDoesNotMatch', 403);
      const r2 = await fetch(await getSignedUrl(unknown, new GetObjectCommand({ Bucket: b, Key: 'k' }), { expiresIn: 60 }));
      assertXmlError({ status: r2.status, headers: r2.headers, body: await r2.text() }, 'InvalidAccessKeyId', 403);
    } finally {
      wrong.destroy();
      unknown.destroy();
    }
  });

  test('expiresIn above 7 days: the presigner refuses; a hand-signed X-Amz-Expires=604801 → 400, 604800 → 200', async () => {
    await assert.rejects(getSignedUrl(s3, new GetObjectCommand({ Bucket: b, Key: 'k' }), { expiresIn: 604801 }));
    const host = `127.0.0.1:${server.port}`;
    for (const [expires, status, code] of [['604800', 200, undefined], ['604801', 400, 'AuthorizationQueryParametersError']] as const) {
      const opts = { host, path: `/${b}/k?X-Amz-Expires=${expires}`, service: 's3', region: server.region, signQuery: true };
      aws4.sign(opts, { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey });
      const r = await rawRequest(server, { method: 'GET', path: opts.path, headers: { Host: host } });
      if (code) assertXmlError({ status: r.status, headers: r.headers, body: r.body.toString() }, code, status);
      else assert.equal(r.status, status, r.body.toString());
    }
  });
});
