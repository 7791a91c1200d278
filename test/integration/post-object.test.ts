// POST Object (HTML form uploads) against a real server: forms made by boto3's
// generate_presigned_post and the SDK's createPresignedPost, posted the way a browser would
// (multipart/form-data, no request signature), and hand-built forms signed here with an
// independent SigV4 implementation for the cases the SDKs would not produce.

import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import {
  CreateBucketCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutBucketVersioningCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { createPresignedPost } from '@aws-sdk/s3-presigned-post';
import { boto3, sdkClient } from '../helpers/clients.js';
import { patternBuffer, patternStream } from '../helpers/data.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { assertXmlError, bodyBytes, expectStatusError, md5hex, rawRequest, signedRawRequest, xmlField, type RawResponse } from './sdk-helpers.js';

const T = { timeout: 120_000 };
const B = 'post-bucket';
const VERSIONED = 'post-versioned';
let s: TestServer;
let s3: S3Client;

before(async () => {
  s = await startTestServer({ env: { TESSERA_DOMAIN: 'localhost' } });
  s3 = sdkClient(s);
  await s3.send(new CreateBucketCommand({ Bucket: B }));
  await s3.send(new CreateBucketCommand({ Bucket: VERSIONED }));
  await s3.send(new PutBucketVersioningCommand({ Bucket: VERSIONED, VersioningConfiguration: { Status: 'Enabled' } }));
});

after(async () => {
  s3?.destroy();
  await s?.destroy();
});

// ---------------------------------------------------------------------------------------------
// Building and signing forms

interface FilePart {
  filename?: string;
  contentType?: string;
  data: Buffer;
}

/** A multipart/form-data body: fields, then the file part, then fields S3 must ignore. */
function multipart(fields: Array<[string, string]>, file?: FilePart, after: Array<[string, string]> = []): { body: Buffer; contentType: string } {
  const boundary = `----tessera-form-${Math.random().toString(16).slice(2)}`;
  const parts: Buffer[] = [];
  const field = ([name, value]: [string, string]) => {
    parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`));
  };
  fields.forEach(field);
  if (file) {
    const filename = file.filename === undefined ? '' : `; filename="${file.filename}"`;
    const type = file.contentType === undefined ? '' : `Content-Type: ${file.contentType}\r\n`;
    parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"${filename}\r\n${type}\r\n`), file.data, Buffer.from('\r\n'));
  }
  after.forEach(field);
  parts.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(parts), contentType: `multipart/form-data; boundary=${boundary}` };
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

interface PolicySpec {
  /** Conditions besides the bucket and the x-amz-algorithm/credential/date ones added here. */
  conditions?: unknown[];
  expiration?: string;
  bucket?: string;
  accessKeyId?: string;
  secret?: string;
}

/** The x-amz-* fields, policy and signature of a SigV4 POST form (computed independently of the server). */
function signedFields(p: PolicySpec): Array<[string, string]> {
  const amzDate = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  const date = amzDate.slice(0, 8);
  const credential = `${p.accessKeyId ?? s.accessKeyId}/${date}/${s.region}/s3/aws4_request`;
  const policy = {
    expiration: p.expiration ?? new Date(Date.now() + 10 * 60_000).toISOString(),
    conditions: [
      { bucket: p.bucket ?? B },
      ...(p.conditions ?? []),
      { 'x-amz-algorithm': 'AWS4-HMAC-SHA256' },
      { 'x-amz-credential': credential },
      { 'x-amz-date': amzDate },
    ],
  };
  const text = Buffer.from(JSON.stringify(policy)).toString('base64');
  const key = ['s3', 'aws4_request'].reduce((k, part) => hmac(k, part), hmac(hmac(`AWS4${p.secret ?? s.secretAccessKey}`, date), s.region));
  return [
    ['x-amz-algorithm', 'AWS4-HMAC-SHA256'],
    ['x-amz-credential', credential],
    ['x-amz-date', amzDate],
    ['policy', text],
    ['x-amz-signature', hmac(key, text).toString('hex')],
  ];
}

function post(form: { body: Buffer; contentType: string }, o: { bucket?: string; host?: string } = {}): Promise<RawResponse> {
  return rawRequest(s, {
    method: 'POST',
    path: o.host ? '/' : `/${o.bucket ?? B}`,
    headers: { 'Content-Type': form.contentType, 'Content-Length': String(form.body.length), ...(o.host ? { Host: o.host } : {}) },
    body: form.body,
  });
}

function assertError(r: RawResponse, code: string, status: number, message?: string): void {
  const body = r.body.toString('utf8');
  assertXmlError({ status: r.status, headers: r.headers, body }, code, status);
  if (message !== undefined) assert.equal(xmlField(body, 'Message'), escapeXmlText(message), body);
}

function escapeXmlText(m: string): string {
  return m.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

async function getObject(bucket: string, key: string): Promise<{ data: Buffer; contentType?: string; metadata?: Record<string, string> }> {
  const r = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return { data: await bodyBytes(r.Body), contentType: r.ContentType, metadata: r.Metadata };
}

async function assertAbsent(bucket: string, key: string): Promise<void> {
  await expectStatusError(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key })), 404);
  const list = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: key }));
  assert.equal(list.KeyCount, 0, `nothing listed under ${key}`);
}

/** Shard files being written live in <disk>/tmp until committed; an aborted upload leaves none. */
async function tmpFiles(): Promise<string[]> {
  const out: string[] = [];
  for (const d of s.disks) out.push(...(await readdir(path.join(d, 'tmp'))).filter((n) => !n.startsWith('format.')));
  return out;
}

const oneHour = () => new Date(Date.now() + 3600_000).toISOString();

// ---------------------------------------------------------------------------------------------

describe('POST Object with forms made by the SDKs', () => {
  test('boto3 generate_presigned_post (starts-with $key, ${filename}, Content-Type), posted with requests', T, async () => {
    const data = 'posted by python requests\n'.repeat(50);
    const r = await boto3(s, `
import requests
p = s3.generate_presigned_post(${JSON.stringify(B)}, 'boto/\${filename}',
    Fields={'Content-Type': 'text/x-boto', 'x-amz-meta-origin': 'boto3'},
    Conditions=[{'Content-Type': 'text/x-boto'}, {'x-amz-meta-origin': 'boto3'}, ['content-length-range', 1, 1048576]],
    ExpiresIn=600)
res = requests.post(p['url'], data=p['fields'], files={'file': ('hello world.txt', ${JSON.stringify(data)}.encode())})
print(json.dumps({'status': res.status_code, 'body': res.text, 'etag': res.headers.get('ETag'), 'location': res.headers.get('Location'), 'fields': sorted(p['fields'].keys())}))
`);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { status: number; body: string; etag: string; location: string; fields: string[] };
    assert.equal(out.status, 204, out.body);
    assert.ok(out.fields.includes('policy') && out.fields.includes('x-amz-signature'), out.fields.join());
    assert.equal(out.etag, `"${md5hex(data)}"`);
    assert.equal(out.location, `${s.endpoint}/${B}/boto/hello%20world.txt`);
    const got = await getObject(B, 'boto/hello world.txt');
    assert.equal(got.data.toString(), data);
    assert.equal(got.contentType, 'text/x-boto');
    assert.deepEqual(got.metadata, { origin: 'boto3' });
  });

  test('createPresignedPost with content-length-range: a file within is stored, a larger one is refused and nothing is stored', T, async () => {
    const form = async (key: string) =>
      createPresignedPost(s3, {
        Bucket: B,
        Key: key,
        Conditions: [['content-length-range', 1, 3 * 1024 * 1024], ['starts-with', '$Content-Type', 'image/']],
        Fields: { 'Content-Type': 'image/png' },
        Expires: 600,
      });
    const send = async (p: Awaited<ReturnType<typeof form>>, data: Buffer) => {
      const fd = new FormData();
      for (const [k, v] of Object.entries(p.fields)) fd.append(k, v);
      fd.append('file', new Blob([new Uint8Array(data)], { type: 'image/png' }), 'pic.png');
      return fetch(p.url, { method: 'POST', body: fd });
    };

    const small = patternBuffer(200_000, 7);
    const ok = await send(await form('sdk/within.png'), small);
    assert.equal(ok.status, 204, await ok.text());
    const got = await getObject(B, 'sdk/within.png');
    assert.ok(got.data.equals(small));
    assert.equal(got.contentType, 'image/png');

    // Bigger than the inline threshold and than one stripe: shard files are being written
    // when the limit is passed, and must be removed.
    const big = patternBuffer(4 * 1024 * 1024, 8);
    const refused = await send(await form('sdk/too-large.png'), big);
    const text = await refused.text();
    assertXmlError({ status: refused.status, headers: refused.headers, body: text }, 'EntityTooLarge', 400);
    assert.equal(xmlField(text, 'MaxSizeAllowed'), String(3 * 1024 * 1024));
    await assertAbsent(B, 'sdk/too-large.png');
    assert.deepEqual(await tmpFiles(), []);

    const empty = await send(await form('sdk/empty.png'), Buffer.alloc(0));
    const emptyText = await empty.text();
    assertXmlError({ status: empty.status, headers: empty.headers, body: emptyText }, 'EntityTooSmall', 400);
    assert.equal(xmlField(emptyText, 'MinSizeAllowed'), '1');
    await assertAbsent(B, 'sdk/empty.png');
  });

  test('createPresignedPost with ${filename}: the key takes the uploaded file name', T, async () => {
    const p = await createPresignedPost(s3, { Bucket: B, Key: 'named/${filename}', Expires: 600 });
    const fd = new FormData();
    for (const [k, v] of Object.entries(p.fields)) fd.append(k, v);
    fd.append('file', new Blob(['héllo']), 'résumé.txt');
    const res = await fetch(p.url, { method: 'POST', body: fd });
    assert.equal(res.status, 204, await res.text());
    const got = await getObject(B, 'named/résumé.txt');
    assert.equal(got.data.toString(), 'héllo');
    assert.equal(got.contentType, 'binary/octet-stream', 'the file part\'s own type is not the object\'s');
  });
});

describe('POST policy checks', () => {
  test('starts-with $key: a key outside the prefix is refused', T, async () => {
    const fields = signedFields({ conditions: [['starts-with', '$key', 'user/eric/']] });
    const ok = await post(multipart([['key', 'user/eric/a.txt'], ...fields], { filename: 'a.txt', data: Buffer.from('a') }));
    assert.equal(ok.status, 204, ok.body.toString());
    const r = await post(multipart([['key', 'user/other/a.txt'], ...fields], { filename: 'a.txt', data: Buffer.from('a') }));
    assertError(r, 'AccessDenied', 403, 'Invalid according to Policy: Policy Condition failed: ["starts-with", "$key", "user/eric/"]');
    await assertAbsent(B, 'user/other/a.txt');
  });

  test('eq on a field, the simple form {"acl": …}, and an empty starts-with that allows anything', T, async () => {
    const conditions = [['eq', '$key', 'eq/k'], { acl: 'public-read' }, ['starts-with', '$x-amz-meta-note', '']];
    const fields = signedFields({ conditions });
    const ok = await post(multipart([['key', 'eq/k'], ['acl', 'public-read'], ['X-Amz-Meta-Note', 'Any Value'], ...fields], { data: Buffer.from('x') }));
    assert.equal(ok.status, 204, ok.body.toString());
    assert.deepEqual((await getObject(B, 'eq/k')).metadata, { note: 'Any Value' });
    const r = await post(multipart([['key', 'eq/k'], ['acl', 'private'], ['x-amz-meta-note', ''], ...fields], { data: Buffer.from('x') }));
    assertError(r, 'AccessDenied', 403, 'Invalid according to Policy: Policy Condition failed: ["eq", "$acl", "public-read"]');
  });

  test('an expired policy is refused', T, async () => {
    const fields = signedFields({ conditions: [['starts-with', '$key', '']], expiration: new Date(Date.now() - 60_000).toISOString() });
    const r = await post(multipart([['key', 'expired.txt'], ...fields], { data: Buffer.from('x') }));
    assertError(r, 'AccessDenied', 403, 'Invalid according to Policy: Policy expired.');
    await assertAbsent(B, 'expired.txt');
  });

  test('a wrong signature is SignatureDoesNotMatch, an unknown key InvalidAccessKeyId', T, async () => {
    const wrong = signedFields({ conditions: [['starts-with', '$key', '']], secret: 'not-the-secret' });
    const r = await post(multipart([['key', 'sig.txt'], ...wrong], { data: Buffer.from('x') }));
    assertError(r, 'SignatureDoesNotMatch', 403);
    const unknown = signedFields({ conditions: [['starts-with', '$key', '']], accessKeyId: 'AKIANOBODY' });
    assertError(await post(multipart([['key', 'sig.txt'], ...unknown], { data: Buffer.from('x') })), 'InvalidAccessKeyId', 403);
    // The policy text is what is signed: changing it breaks the signature.
    const tampered = signedFields({ conditions: [['starts-with', '$key', 'safe/']] }).map(([k, v]): [string, string] =>
      k === 'policy' ? [k, Buffer.from(Buffer.from(v, 'base64').toString().replace('safe/', '')).toString('base64')] : [k, v]);
    assertError(await post(multipart([['key', 'sig.txt'], ...tampered], { data: Buffer.from('x') })), 'SignatureDoesNotMatch', 403);
    await assertAbsent(B, 'sig.txt');
  });

  test('a field no condition names is refused; x-ignore-* fields and fields after the file are not checked', T, async () => {
    const fields = signedFields({ conditions: [['starts-with', '$key', 'extra/']] });
    const r = await post(multipart([['key', 'extra/a'], ['x-amz-meta-extra', '1'], ...fields], { data: Buffer.from('x') }));
    assertError(r, 'AccessDenied', 403, 'Invalid according to Policy: Extra input fields: x-amz-meta-extra');
    const ok = await post(multipart([['key', 'extra/b'], ['x-ignore-tracking', 'abc'], ...fields], { data: Buffer.from('x') }, [['x-amz-meta-after', 'ignored']]));
    assert.equal(ok.status, 204, ok.body.toString());
    assert.deepEqual((await getObject(B, 'extra/b')).metadata, {});
  });

  test('policies that cannot be read are InvalidPolicyDocument', T, async () => {
    const replacePolicy = (text: string) => signedFields({}).map(([k, v]): [string, string] => [k, k === 'policy' ? text : v]);
    // The signature check comes first; sign the broken text so the document itself is read.
    const signBroken = (text: string): Array<[string, string]> => {
      const fields = replacePolicy(text);
      const cred = fields.find(([k]) => k === 'x-amz-credential')![1];
      const date = cred.split('/')[1];
      const key = ['s3', 'aws4_request'].reduce((k, part) => hmac(k, part), hmac(hmac(`AWS4${s.secretAccessKey}`, date), s.region));
      return fields.map(([k, v]): [string, string] => [k, k === 'x-amz-signature' ? hmac(key, text).toString('hex') : v]);
    };
    const notJson = signBroken(Buffer.from('{"expiration": ').toString('base64'));
    assertError(await post(multipart([['key', 'bad'], ...notJson], { data: Buffer.from('x') })), 'InvalidPolicyDocument', 400, 'Invalid Policy: Invalid JSON.');
    const noExpiry = signBroken(Buffer.from('{"conditions": []}').toString('base64'));
    assertError(await post(multipart([['key', 'bad'], ...noExpiry], { data: Buffer.from('x') })), 'InvalidPolicyDocument', 400, 'Invalid Policy: Policy missing expiration.');
    const notBase64 = signBroken('%%%not base64%%%');
    assertError(await post(multipart([['key', 'bad'], ...notBase64], { data: Buffer.from('x') })), 'InvalidPolicyDocument', 400);
    await assertAbsent(B, 'bad');
  });

  test('the trailing comma of the S3 documentation\'s example policy is accepted', T, async () => {
    const fields = signedFields({ conditions: [['starts-with', '$key', 'doc/']] });
    const policy = fields.find(([k]) => k === 'policy')![1];
    const withComma = Buffer.from(Buffer.from(policy, 'base64').toString().replace(/\]\}$/, ',\n  ]\n}')).toString('base64');
    const cred = fields.find(([k]) => k === 'x-amz-credential')![1];
    const key = ['s3', 'aws4_request'].reduce((k, part) => hmac(k, part), hmac(hmac(`AWS4${s.secretAccessKey}`, cred.split('/')[1]), s.region));
    const resigned = fields.map(([k, v]): [string, string] => [k, k === 'policy' ? withComma : k === 'x-amz-signature' ? hmac(key, withComma).toString('hex') : v]);
    const r = await post(multipart([['key', 'doc/x'], ...resigned], { data: Buffer.from('x') }));
    assert.equal(r.status, 204, r.body.toString());
  });

  test('without a policy the upload is anonymous, and refused unless the bucket allows it', T, async () => {
    const r = await post(multipart([['key', 'anon.txt']], { filename: 'anon.txt', data: Buffer.from('x') }));
    assertError(r, 'AccessDenied', 403);
    await assertAbsent(B, 'anon.txt');
  });
});

describe('POST form structure', () => {
  test('missing key, missing file, x-amz-security-token', T, async () => {
    const fields = signedFields({ conditions: [['starts-with', '$key', '']] });
    assertError(await post(multipart(fields, { data: Buffer.from('x') })), 'InvalidArgument', 400,
      "Bucket POST must contain a field named 'key'.  If it is specified, please check the order of the fields.");
    // A key after the file is not seen.
    assertError(await post(multipart(fields, { data: Buffer.from('x') }, [['key', 'late']])), 'InvalidArgument', 400,
      "Bucket POST must contain a field named 'key'.  If it is specified, please check the order of the fields.");
    assertError(await post(multipart([['key', 'nofile'], ...fields])), 'InvalidArgument', 400, 'POST requires exactly one file upload per request.');
    assertError(await post(multipart([['key', 'tok'], ['x-amz-security-token', 'abc'], ...fields], { data: Buffer.from('x') })), 'InvalidToken', 400);
  });

  test('fields before the file are limited to 20 KiB', T, async () => {
    const fields = signedFields({ conditions: [['starts-with', '$key', ''], ['starts-with', '$x-amz-meta-big', '']] });
    const r = await post(multipart([['key', 'big-fields'], ['x-amz-meta-big', 'x'.repeat(21 * 1024)], ...fields], { data: Buffer.from('x') }));
    assertError(r, 'MaxPostPreDataLengthExceededError', 400);
    await assertAbsent(B, 'big-fields');
  });

  test('a form that ends inside the file stores nothing', T, async () => {
    const fields = signedFields({ conditions: [['starts-with', '$key', '']] });
    const full = multipart([['key', 'truncated'], ...fields], { data: patternBuffer(300_000, 3) });
    const cut = { body: full.body.subarray(0, full.body.length - 5_000), contentType: full.contentType };
    assertError(await post(cut), 'MalformedPOSTRequest', 400);
    await assertAbsent(B, 'truncated');
    assert.deepEqual(await tmpFiles(), []);
  });

  test('a signed POST to a bucket that is not a form is PreconditionFailed', T, async () => {
    const r = await signedRawRequest(s, { method: 'POST', host: `127.0.0.1:${s.port}`, path: `/${B}`, headers: { 'Content-Type': 'text/plain' }, body: 'x' });
    assertError(r, 'PreconditionFailed', 412);
    assert.equal(xmlField(r.body.toString(), 'Condition'), 'Bucket POST must be of the enclosure-type multipart/form-data');
  });

  test('field names are case-insensitive; Content-Type, Cache-Control, Content-Disposition, tagging are stored', T, async () => {
    const tagging = '<Tagging><TagSet><Tag><Key>team</Key><Value>blue</Value></Tag></TagSet></Tagging>';
    const conditions = [['starts-with', '$Key', 'meta/'], ['eq', '$content-type', 'text/csv'], ['starts-with', '$cache-control', ''], ['starts-with', '$Content-Disposition', 'attachment'], ['eq', '$tagging', tagging]];
    const fields = signedFields({ conditions });
    const r = await post(multipart([
      ['Key', 'meta/report.csv'],
      ['Content-Type', 'text/csv'],
      ['CACHE-CONTROL', 'max-age=60'],
      ['content-disposition', 'attachment; filename="r.csv"'],
      ['Tagging', tagging],
      ...fields.map(([k, v]): [string, string] => [k.toUpperCase(), v]),
    ], { data: Buffer.from('a,b\n') }));
    assert.equal(r.status, 204, r.body.toString());
    const h = await s3.send(new HeadObjectCommand({ Bucket: B, Key: 'meta/report.csv' }));
    assert.equal(h.ContentType, 'text/csv');
    assert.equal(h.CacheControl, 'max-age=60');
    assert.equal(h.ContentDisposition, 'attachment; filename="r.csv"');
    const t = await s3.send(new GetObjectTaggingCommand({ Bucket: B, Key: 'meta/report.csv' }));
    assert.deepEqual(t.TagSet, [{ Key: 'team', Value: 'blue' }]);
  });
});

describe('POST form digests', () => {
  test('x-amz-checksum-* and Content-MD5 fields are verified; a mismatch stores nothing', T, async () => {
    const data = Buffer.from('checked bytes');
    const sha = createHash('sha256').update(data).digest('base64');
    const md5 = createHash('md5').update(data).digest('base64');
    const fields = signedFields({ conditions: [['starts-with', '$key', 'sum/'], ['starts-with', '$x-amz-checksum-sha256', ''], ['starts-with', '$content-md5', '']] });
    const ok = await post(multipart([['key', 'sum/ok'], ['x-amz-checksum-sha256', sha], ['Content-MD5', md5], ...fields], { data }));
    assert.equal(ok.status, 204, ok.body.toString());
    assert.equal(ok.headers['x-amz-checksum-sha256'], sha);
    const bad = await post(multipart([['key', 'sum/bad'], ['x-amz-checksum-sha256', sha], ['Content-MD5', md5], ...fields], { data: Buffer.from('other bytes!!') }));
    assertError(bad, 'BadDigest', 400);
    await assertAbsent(B, 'sum/bad');
  });
});

describe('POST Object replies', () => {
  test('success_action_status 201: a PostResponse document', T, async () => {
    const fields = signedFields({ conditions: [['starts-with', '$key', 'reply/'], { success_action_status: '201' }] });
    const r = await post(multipart([['key', 'reply/a b.txt'], ['success_action_status', '201'], ...fields], { data: Buffer.from('201') }));
    const body = r.body.toString();
    assert.equal(r.status, 201, body);
    assert.match(r.headers['content-type'] ?? '', /xml/);
    assert.match(body, /^<\?xml[^>]*\?>\s*<PostResponse>/);
    assert.equal(xmlField(body, 'Location'), `${s.endpoint}/${B}/reply/a%20b.txt`);
    assert.equal(xmlField(body, 'Bucket'), B);
    assert.equal(xmlField(body, 'Key'), 'reply/a b.txt');
    assert.equal(xmlField(body, 'ETag'), `&quot;${md5hex('201')}&quot;`);
    assert.equal(r.headers.etag, `"${md5hex('201')}"`);
  });

  test('success_action_status 200 is an empty 200; any other value the default 204', T, async () => {
    const fields = signedFields({ conditions: [['starts-with', '$key', 'reply/'], ['starts-with', '$success_action_status', '']] });
    const ok = await post(multipart([['key', 'reply/200'], ['success_action_status', '200'], ...fields], { data: Buffer.from('x') }));
    assert.equal(ok.status, 200);
    assert.equal(ok.body.length, 0);
    const other = await post(multipart([['key', 'reply/404'], ['success_action_status', '404'], ...fields], { data: Buffer.from('x') }));
    assert.equal(other.status, 204);
  });

  test('success_action_redirect: 303 to it with bucket, key and etag', T, async () => {
    const redirect = 'https://example.com/done?from=form';
    const fields = signedFields({ conditions: [['starts-with', '$key', 'reply/'], ['eq', '$success_action_redirect', redirect]] });
    const r = await post(multipart([['key', 'reply/redirect me'], ['success_action_redirect', redirect], ...fields], { data: Buffer.from('303') }));
    assert.equal(r.status, 303, r.body.toString());
    const loc = new URL(r.headers.location!);
    assert.equal(`${loc.origin}${loc.pathname}`, 'https://example.com/done');
    assert.equal(loc.searchParams.get('from'), 'form');
    assert.equal(loc.searchParams.get('bucket'), B);
    assert.equal(loc.searchParams.get('key'), 'reply/redirect me');
    assert.equal(loc.searchParams.get('etag'), `"${md5hex('303')}"`);
    assert.equal((await getObject(B, 'reply/redirect me')).data.toString(), '303');
  });

  test('a versioned bucket names the version; virtual-host style works', T, async () => {
    const fields = signedFields({ bucket: VERSIONED, conditions: [['starts-with', '$key', '']] });
    const r = await post(multipart([['key', 'v.txt'], ...fields], { data: Buffer.from('v1') }), { host: `${VERSIONED}.localhost:${s.port}` });
    assert.equal(r.status, 204, r.body.toString());
    const versionId = r.headers['x-amz-version-id'] as string;
    assert.ok(versionId && versionId !== 'null');
    assert.equal(r.headers.location, `http://${VERSIONED}.localhost:${s.port}/v.txt`);
    const h = await s3.send(new HeadObjectCommand({ Bucket: VERSIONED, Key: 'v.txt' }));
    assert.equal(h.VersionId, versionId);
  });

  test('a 20 MiB file streams through', T, async () => {
    const size = 20 * 1024 * 1024;
    const fields = signedFields({ conditions: [['starts-with', '$key', 'large/'], ['content-length-range', size, size]] });
    const head = multipart([['key', 'large/20m.bin'], ...fields]);
    const boundary = head.contentType.split('boundary=')[1];
    // The head without its close delimiter, then the file part, streamed and hashed as sent.
    const prefix = Buffer.concat([
      head.body.subarray(0, head.body.length - `--${boundary}--\r\n`.length),
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="20m.bin"\r\n\r\n`),
    ]);
    const suffix = Buffer.from(`\r\n--${boundary}--\r\n`);
    const md5 = createHash('md5');
    const hashing = new Transform({ transform(c: Buffer, _e, cb) { md5.update(c); cb(null, c); } });
    const body = Readable.from((async function* () {
      yield prefix;
      yield* patternStream(size, 11).pipe(hashing);
      yield suffix;
    })());
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = http.request({
        host: '127.0.0.1', port: s.port, method: 'POST', path: `/${B}`, agent: false,
        headers: { 'Content-Type': head.contentType, 'Content-Length': String(prefix.length + size + suffix.length) },
      }, resolve);
      req.on('error', reject);
      body.pipe(req);
    });
    res.resume();
    assert.equal(res.statusCode, 204);
    const sent = md5.digest('hex');
    assert.equal(res.headers.etag, `"${sent}"`);
    const got = await s3.send(new GetObjectCommand({ Bucket: B, Key: 'large/20m.bin' }));
    assert.equal(got.ContentLength, size);
    assert.equal(md5hex(await bodyBytes(got.Body)), sent);
  });
});

describe('POST Object fields that a reply header could not carry', () => {
  test('metadata or Content-Type with a NUL or a character beyond Latin-1, or a metadata name that is no header name → 400 InvalidArgument, nothing stored', T, async () => {
    const cases: Array<[string, string, string]> = [
      ['x-amz-meta-note', 'a\u0000b', 'NUL in a metadata value'],
      ['x-amz-meta-note', '日本', 'characters beyond Latin-1'],
      ['x-amz-meta-bad name', 'v', 'a space in a metadata name'],
      ['Content-Type', 'text/plain\u0001', 'a control character in Content-Type'],
    ];
    for (const [name, value, what] of cases) {
      const key = `unreplayable/${what.replace(/\W+/g, '-')}`;
      const fields = signedFields({ conditions: [['starts-with', '$key', ''], ['starts-with', `$${name.toLowerCase()}`, '']] });
      const r = await post(multipart([['key', key], [name, value], ...fields], { data: Buffer.from('x') }));
      assertError(r, 'InvalidArgument', 400);
      await assertAbsent(B, key);
    }
  });
});
