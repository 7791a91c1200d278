// The edge behaviours that S3 conformance suites and clients trip over (issue 14), each checked
// with a real client at its default settings: boto3 (python3 subprocess) or the AWS SDK v3.
// Each snippet prints one JSON document last; the assertions are here in TypeScript.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { boto3, sdkClient } from '../helpers/clients.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { rawRequest, signedRawRequest } from './sdk-helpers.js';

const T = { timeout: 120_000 };
let s: TestServer;
let sdk: S3Client;
let n = 0;

/** A fresh bucket name for one test. */
function bucket(tag: string): string {
  return `edge-${tag}-${process.pid}-${++n}`;
}

/** Runs a boto3 snippet (with `s3`, `json`, `botocore`, `err` in scope) that prints one JSON value last. */
async function py<R = any>(code: string): Promise<R> {
  const r = await boto3(s, ERR_HELPER + code);
  assert.equal(r.code, 0, `python failed (exit ${r.code})\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  const lines = r.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]!) as R;
}

const ERR_HELPER = `
import urllib.request, urllib.error, time, base64, hashlib
def err(fn):
    try:
        fn()
    except botocore.exceptions.ClientError as e:
        return {'code': e.response['Error'].get('Code'), 'status': e.response['ResponseMetadata']['HTTPStatusCode'],
                'message': e.response['Error'].get('Message')}
    return {'code': None}
def fetch(url):
    try:
        with urllib.request.urlopen(url) as r:
            return {'status': r.status, 'body': r.read().decode()}
    except urllib.error.HTTPError as e:
        return {'status': e.code, 'body': e.read().decode()}
`;

before(async () => {
  s = await startTestServer();
  sdk = sdkClient(s);
});

after(async () => {
  sdk?.destroy();
  await s?.destroy();
});

describe('ListObjectsV2 with an empty ContinuationToken', () => {
  test('lists from the start and echoes the empty token', T, async () => {
    const b = bucket('emptytoken');
    const r = await py(`
s3.create_bucket(Bucket=${JSON.stringify(b)})
for k in ['a', 'b', 'c']:
    s3.put_object(Bucket=${JSON.stringify(b)}, Key=k, Body=b'x')
e = err(lambda: s3.list_objects_v2(Bucket=${JSON.stringify(b)}, ContinuationToken=''))
r = s3.list_objects_v2(Bucket=${JSON.stringify(b)}, ContinuationToken='') if e['code'] is None else {}
print(json.dumps({'err': e, 'token': r.get('ContinuationToken'), 'keys': [o['Key'] for o in r.get('Contents', [])]}))
`);
    assert.equal(r.err.code, null, `refused: ${JSON.stringify(r.err)}`);
    assert.equal(r.token, '');
    assert.deepEqual(r.keys, ['a', 'b', 'c']);
  });
});

describe('encoding-type=url', () => {
  const keys = ['asdf+b', 'foo+1/bar', 'foo/bar', 'quux ab/abc', 'quux/abc', 'test_file(3).png', 'tilde~x.txt', 'ünï'];

  test('keys, prefixes, delimiter and markers are percent-encoded as S3 does (space is %20, never +)', T, async () => {
    const b = bucket('enc');
    const B = JSON.stringify(b);
    // An EncodingType the caller sets itself is not decoded by botocore: the raw values show.
    const r = await py(`
s3.create_bucket(Bucket=${B})
for k in ${JSON.stringify(keys)}:
    s3.put_object(Bucket=${B}, Key=k, Body=b'x')
v1 = s3.list_objects(Bucket=${B}, Delimiter='/', EncodingType='url')
v1m = s3.list_objects(Bucket=${B}, Delimiter='/', EncodingType='url', Marker='asdf+b', MaxKeys=1)
v2 = s3.list_objects_v2(Bucket=${B}, Delimiter=' ', EncodingType='url', StartAfter='a b', Prefix='qu')
vv = s3.list_object_versions(Bucket=${B}, EncodingType='url', KeyMarker='asdf+b', MaxKeys=1, Prefix='')
print(json.dumps({
  'v1': {'keys': [o['Key'] for o in v1.get('Contents', [])], 'prefixes': [p['Prefix'] for p in v1.get('CommonPrefixes', [])], 'delimiter': v1.get('Delimiter')},
  'v1m': {'marker': v1m.get('Marker'), 'next': v1m.get('NextMarker'), 'prefixes': [p['Prefix'] for p in v1m.get('CommonPrefixes', [])]},
  'v2': {'delimiter': v2.get('Delimiter'), 'startAfter': v2.get('StartAfter'), 'prefixes': [p['Prefix'] for p in v2.get('CommonPrefixes', [])], 'keys': [o['Key'] for o in v2.get('Contents', [])]},
  'vv': {'keyMarker': vv.get('KeyMarker'), 'next': vv.get('NextKeyMarker'), 'keys': [o['Key'] for o in vv.get('Versions', [])]},
}))
`);
    assert.deepEqual(r.v1.keys, ['asdf%2Bb', 'test_file%283%29.png', 'tilde~x.txt', '%C3%BCn%C3%AF']);
    assert.deepEqual(r.v1.prefixes, ['foo%2B1/', 'foo/', 'quux%20ab/', 'quux/']);
    assert.equal(r.v1.delimiter, '/');
    assert.deepEqual(r.v1m, { marker: 'asdf%2Bb', next: 'foo%2B1/', prefixes: ['foo%2B1/'] });
    assert.deepEqual(r.v2, { delimiter: '%20', startAfter: 'a%20b', prefixes: ['quux%20'], keys: ['quux/abc'] });
    assert.deepEqual(r.vv, { keyMarker: 'asdf%2Bb', next: 'foo%2B1/bar', keys: ['foo%2B1/bar'] });
  });

  test('boto3 (which asks for url encoding itself) gets keys, prefixes and a newline prefix back intact', T, async () => {
    const b = bucket('enc2');
    const B = JSON.stringify(b);
    const r = await py(`
s3.create_bucket(Bucket=${B})
for k in ${JSON.stringify(keys)} + ['line\\nbreak']:
    s3.put_object(Bucket=${B}, Key=k, Body=b'x')
v1 = s3.list_objects(Bucket=${B}, Delimiter='/')
nl1 = s3.list_objects(Bucket=${B}, Prefix='\\n')
nl2 = s3.list_objects_v2(Bucket=${B}, Prefix='\\n')
nl3 = s3.list_object_versions(Bucket=${B}, Prefix='\\n')
lb = s3.list_objects_v2(Bucket=${B}, Prefix='line\\n')
print(json.dumps({'keys': [o['Key'] for o in v1.get('Contents', [])], 'prefixes': [p['Prefix'] for p in v1.get('CommonPrefixes', [])],
  'nl': [nl1.get('Prefix'), nl2.get('Prefix'), nl3.get('Prefix')], 'nlEmpty': [len(x.get('Contents', [])) for x in (nl1, nl2)],
  'lb': [o['Key'] for o in lb.get('Contents', [])]}))
`);
    assert.deepEqual(r.keys, ['asdf+b', 'line\nbreak', 'test_file(3).png', 'tilde~x.txt', 'ünï']);
    assert.deepEqual(r.prefixes, ['foo+1/', 'foo/', 'quux ab/', 'quux/']);
    assert.deepEqual(r.nl, ['\n', '\n', '\n']);
    assert.deepEqual(r.nlEmpty, [0, 0]);
    assert.deepEqual(r.lb, ['line\nbreak']);
  });
});

describe('Content-Encoding', () => {
  test('"deflate, gzip" is stored and returned byte-for-byte (boto3)', T, async () => {
    const b = bucket('ce');
    const r = await py(`
s3.create_bucket(Bucket=${JSON.stringify(b)})
s3.put_object(Bucket=${JSON.stringify(b)}, Key='k', Body=b'data', ContentEncoding='deflate, gzip')
h = s3.head_object(Bucket=${JSON.stringify(b)}, Key='k')
g = s3.get_object(Bucket=${JSON.stringify(b)}, Key='k')
print(json.dumps([h.get('ContentEncoding'), g.get('ContentEncoding')]))
`);
    assert.deepEqual(r, ['deflate, gzip', 'deflate, gzip']);
  });

  test('with aws-chunked stripped from it, the rest is kept as sent (SDK streaming upload, raw aws-chunked)', T, async () => {
    const b = bucket('ce2');
    await py(`s3.create_bucket(Bucket=${JSON.stringify(b)})\nprint(1)`);
    // The SDK sends a stream of known length with a trailing checksum: aws-chunked.
    await sdk.send(new PutObjectCommand({ Bucket: b, Key: 's', Body: Readable.from([Buffer.from('streamed')]), ContentLength: 8, ContentEncoding: 'deflate, gzip' }));
    const h = await sdk.send(new HeadObjectCommand({ Bucket: b, Key: 's' }));
    assert.equal(h.ContentEncoding, 'deflate, gzip');
    for (const sent of ['aws-chunked, deflate, gzip', 'deflate, aws-chunked, gzip', 'deflate, gzip,aws-chunked']) {
      // An unsigned aws-chunked body (STREAMING-UNSIGNED-PAYLOAD-TRAILER, no trailer sent).
      const chunked = Buffer.from('5\r\nhello\r\n0\r\n\r\n');
      const put = await signedRawRequest(s, {
        method: 'PUT', host: `127.0.0.1:${s.port}`, path: `/${b}/raw`, body: chunked,
        headers: { 'content-encoding': sent, 'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER', 'x-amz-decoded-content-length': '5', 'content-length': String(chunked.length) },
      });
      assert.equal(put.status, 200, put.body.toString());
      const head = await sdk.send(new HeadObjectCommand({ Bucket: b, Key: 'raw' }));
      assert.equal(head.ContentEncoding, 'deflate, gzip', `sent ${sent}`);
    }
  });
});

describe('presigned URL expiry', () => {
  test('a negative or elapsed expiry → 403 AccessDenied, never 400', T, async () => {
    const b = bucket('presign');
    const r = await py(`
s3.create_bucket(Bucket=${JSON.stringify(b)})
s3.put_object(Bucket=${JSON.stringify(b)}, Key='k', Body=b'x')
neg = fetch(s3.generate_presigned_url('get_object', Params={'Bucket': ${JSON.stringify(b)}, 'Key': 'k'}, ExpiresIn=-7200))
short = s3.generate_presigned_url('get_object', Params={'Bucket': ${JSON.stringify(b)}, 'Key': 'k'}, ExpiresIn=1)
deadline = time.time() + 30
while True:
    el = fetch(short)
    if el['status'] != 200 or time.time() > deadline:
        break
    time.sleep(0.2)
print(json.dumps({'neg': neg, 'elapsed': el}))
`);
    for (const [what, res] of Object.entries(r) as Array<[string, { status: number; body: string }]>) {
      assert.equal(res.status, 403, `${what}: ${res.body}`);
      assert.match(res.body, /<Code>AccessDenied<\/Code>/, what);
      assert.match(res.body, /<Message>Request has expired<\/Message>/, what);
    }
  });
});

describe('x-amz-tagging', () => {
  test('"foo=bar&bar" keeps both tags (a key without "=" has an empty value)', T, async () => {
    const b = bucket('tags');
    const r = await py(`
s3.create_bucket(Bucket=${JSON.stringify(b)})
s3.put_object(Bucket=${JSON.stringify(b)}, Key='k', Body=b'x', Tagging='foo=bar&bar')
print(json.dumps(sorted([[t['Key'], t['Value']] for t in s3.get_object_tagging(Bucket=${JSON.stringify(b)}, Key='k')['TagSet']])))
`);
    assert.deepEqual(r, [['bar', ''], ['foo', 'bar']]);
  });
});

describe('x-amz-version-id on a bucket that never had versioning', () => {
  test('PutObject and CompleteMultipartUpload send no version id header at all', T, async () => {
    const b = bucket('nover');
    const r = await py(`
B = ${JSON.stringify(b)}
s3.create_bucket(Bucket=B)
p = s3.put_object(Bucket=B, Key='k', Body=b'x')
u = s3.create_multipart_upload(Bucket=B, Key='m')
part = s3.upload_part(Bucket=B, Key='m', UploadId=u['UploadId'], PartNumber=1, Body=b'y')
c = s3.complete_multipart_upload(Bucket=B, Key='m', UploadId=u['UploadId'], MultipartUpload={'Parts': [{'PartNumber': 1, 'ETag': part['ETag']}]})
hdr = lambda r: r['ResponseMetadata']['HTTPHeaders'].get('x-amz-version-id')
print(json.dumps({'put': hdr(p), 'complete': hdr(c), 'putField': p.get('VersionId'), 'completeField': c.get('VersionId')}))
`);
    assert.deepEqual(r, { put: null, complete: null, putField: null, completeField: null });
  });
});

describe('wrong checksum values', () => {
  test('a wrong x-amz-checksum-sha256 or -crc64nvme → 400 BadDigest; a malformed one → InvalidRequest', T, async () => {
    const b = bucket('digest');
    const r = await py(`
B = ${JSON.stringify(b)}
s3.create_bucket(Bucket=B)
other = base64.b64encode(hashlib.sha256(b'other').digest()).decode()
wrong = err(lambda: s3.put_object(Bucket=B, Key='k', Body=b'data', ChecksumSHA256=other))
bad = err(lambda: s3.put_object(Bucket=B, Key='k', Body=b'data', ChecksumSHA256='not-a-digest'))
print(json.dumps({'wrong': wrong, 'bad': bad}))
`);
    assert.equal(r.wrong.status, 400, JSON.stringify(r.wrong));
    assert.equal(r.wrong.code, 'BadDigest');
    assert.equal(r.bad.status, 400, JSON.stringify(r.bad));
    assert.equal(r.bad.code, 'InvalidRequest');
    // boto3 cannot send CRC64NVME without awscrt: a signed raw request carries it.
    const put = (value: string) => signedRawRequest(s, {
      method: 'PUT', host: `127.0.0.1:${s.port}`, path: `/${b}/n`, body: 'data',
      headers: { 'x-amz-checksum-crc64nvme': value, 'x-amz-sdk-checksum-algorithm': 'CRC64NVME' },
    });
    const wrong = await put('AAAAAAAAAAA=');
    assert.equal(wrong.status, 400, wrong.body.toString());
    assert.match(wrong.body.toString(), /<Code>BadDigest<\/Code>/);
    const bad = await put('AAAA');
    assert.equal(bad.status, 400, bad.body.toString());
    assert.match(bad.body.toString(), /<Code>InvalidRequest<\/Code>/);
  });
});

describe('Expect headers other than 100-continue', () => {
  test('an empty or numeric Expect on PutObject and CreateBucket is ignored (no 417)', T, async () => {
    for (const expect of ['', '5', '100']) {
      const b = bucket('expect');
      const host = `127.0.0.1:${s.port}`;
      const cb = await signedRawRequest(s, { method: 'PUT', host, path: `/${b}`, headers: { expect }, body: '' });
      assert.equal(cb.status, 200, `CreateBucket with Expect "${expect}": ${cb.body.toString()}`);
      const put = await signedRawRequest(s, { method: 'PUT', host, path: `/${b}/k`, headers: { expect }, body: 'hello' });
      assert.equal(put.status, 200, `PutObject with Expect "${expect}": ${put.body.toString()}`);
      const got = await rawRequest(s, { method: 'GET', path: `/${b}/k` });
      assert.notEqual(got.status, 417);
      const r = await py(`print(json.dumps(s3.get_object(Bucket=${JSON.stringify(b)}, Key='k')['Body'].read().decode()))`);
      assert.equal(r, 'hello');
    }
  });
});

/** Shard files on the server's disks (committed data only; temporary files excluded). */
async function shardFiles(): Promise<number> {
  let n = 0;
  const walk = async (dir: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (e.isDirectory()) await walk(path.join(dir, e.name));
      else n++;
    }
  };
  for (const d of s.disks) await walk(path.join(d, 'shards'));
  return n;
}

describe('suite cleanup: delete every bucket as conformance suites do', () => {
  test('unfinished uploads, versions and delete markers left behind; list versions, delete them, delete the bucket: nothing stuck, no data left', { timeout: 300_000 }, async () => {
    const baseline = await shardFiles();
    const prefix = `cleanup-${process.pid}-`;
    // What test suites leave behind: buckets in every versioning state, objects, versions,
    // delete markers, and multipart uploads never completed nor aborted (with parts big
    // enough to be stored as shard files, not inline).
    const setup = await py(`
P = ${JSON.stringify(prefix)}
part = b'p' * (1024 * 1024 + 7)
def uploads(b, n):
    for i in range(n):
        u = s3.create_multipart_upload(Bucket=b, Key='mp/%d' % i)
        s3.upload_part(Bucket=b, Key='mp/%d' % i, UploadId=u['UploadId'], PartNumber=1, Body=part)
        s3.upload_part(Bucket=b, Key='mp/%d' % i, UploadId=u['UploadId'], PartNumber=2, Body=b'tail')
s3.create_bucket(Bucket=P + 'uploads-only'); uploads(P + 'uploads-only', 3)
s3.create_bucket(Bucket=P + 'plain'); uploads(P + 'plain', 2)
for i in range(3): s3.put_object(Bucket=P + 'plain', Key='obj/%d' % i, Body=part)
s3.create_bucket(Bucket=P + 'versioned')
s3.put_bucket_versioning(Bucket=P + 'versioned', VersioningConfiguration={'Status': 'Enabled'})
for i in range(3): s3.put_object(Bucket=P + 'versioned', Key='k', Body=part)
s3.delete_object(Bucket=P + 'versioned', Key='k')
s3.delete_object(Bucket=P + 'versioned', Key='gone')
uploads(P + 'versioned', 2)
s3.create_bucket(Bucket=P + 'suspended')
s3.put_bucket_versioning(Bucket=P + 'suspended', VersioningConfiguration={'Status': 'Enabled'})
s3.put_object(Bucket=P + 'suspended', Key='k', Body=part)
s3.put_bucket_versioning(Bucket=P + 'suspended', VersioningConfiguration={'Status': 'Suspended'})
s3.put_object(Bucket=P + 'suspended', Key='k', Body=b'null version')
s3.delete_object(Bucket=P + 'suspended', Key='k')
uploads(P + 'suspended', 1)
print(json.dumps(sorted(b['Name'] for b in s3.list_buckets()['Buckets'] if b['Name'].startswith(P))))
`);
    assert.equal(setup.length, 4);
    assert.ok((await shardFiles()) > baseline, 'the setup stored shard files');
    // The cleanup code of s3-tests-like suites: versions and delete markers deleted in
    // batches, uploads never looked at, then DeleteBucket.
    const r = await py(`
P = ${JSON.stringify(prefix)}
out = {}
for b in [x['Name'] for x in s3.list_buckets()['Buckets'] if x['Name'].startswith(P)]:
    for page in s3.get_paginator('list_object_versions').paginate(Bucket=b):
        objs = [{'Key': v['Key'], 'VersionId': v['VersionId']} for v in page.get('Versions', []) + page.get('DeleteMarkers', [])]
        if objs:
            s3.delete_objects(Bucket=b, Delete={'Objects': objs, 'Quiet': True})
    out[b] = err(lambda: s3.delete_bucket(Bucket=b))
left = [x['Name'] for x in s3.list_buckets()['Buckets'] if x['Name'].startswith(P)]
# A bucket of the same name starts empty: no upload of the old one shows up again.
s3.create_bucket(Bucket=P + 'uploads-only')
again = s3.list_multipart_uploads(Bucket=P + 'uploads-only').get('Uploads', [])
s3.delete_bucket(Bucket=P + 'uploads-only')
print(json.dumps({'results': out, 'left': left, 'again': len(again)}))
`);
    for (const [b, res] of Object.entries(r.results)) assert.equal((res as { code: string | null }).code, null, `DeleteBucket ${b}: ${JSON.stringify(res)}`);
    assert.deepEqual(r.left, []);
    assert.equal(r.again, 0);
    // The parts' data went to the garbage queue with the uploads: every shard file goes.
    const deadline = Date.now() + 60_000;
    let now = await shardFiles();
    while (now > baseline && Date.now() < deadline) {
      await new Promise((res) => setTimeout(res, 200));
      now = await shardFiles();
    }
    assert.equal(now, baseline, 'shard files of the deleted uploads, versions and objects are removed');
  });
});
