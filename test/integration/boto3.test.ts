// boto3 (python3 subprocess) against a real server, with its default settings apart from what
// test/helpers/clients.ts configures (SigV4, path addressing, our credentials). Each snippet
// prints one JSON document; the assertions are here in TypeScript.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { boto3 } from '../helpers/clients.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let s: TestServer;
let work: string;
const B = 'boto-bucket';

/** Runs a boto3 snippet (with `s3`, `json`, `botocore` in scope) that prints one JSON value last. */
async function py<T = any>(code: string): Promise<T> {
  const r = await boto3(s, `B = ${JSON.stringify(B)}\n${code}`, { cwd: work });
  assert.equal(r.code, 0, `python failed (exit ${r.code})\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  const lines = r.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]) as T;
}

/** Python helper: the S3 error code and HTTP status of a ClientError raised by `fn`. */
const ERR_HELPER = `
def err(fn):
    try:
        fn()
    except botocore.exceptions.ClientError as e:
        return {'code': e.response['Error'].get('Code'), 'status': e.response['ResponseMetadata']['HTTPStatusCode'],
                'message': e.response['Error'].get('Message'), 'requestId': e.response['ResponseMetadata'].get('RequestId')}
    return {'code': None}
`;

function crc32Base64(data: Buffer): string {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(zlib.crc32(data) >>> 0);
  return b.toString('base64');
}

before(async () => {
  s = await startTestServer();
  work = await mkdtemp(path.join(os.tmpdir(), 'tessera-boto3-'));
});

after(async () => {
  await s?.destroy();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('boto3', () => {
  test('create_bucket, head_bucket, list_buckets', async () => {
    const r = await py(`
s3.create_bucket(Bucket=B)
h = s3.head_bucket(Bucket=B)
names = [b['Name'] for b in s3.list_buckets()['Buckets']]
print(json.dumps({'status': h['ResponseMetadata']['HTTPStatusCode'], 'names': names}))
`);
    assert.equal(r.status, 200);
    assert.ok(r.names.includes(B));
  });

  test('put_object sends x-amz-checksum-crc32 as a header; get_object(ChecksumMode=ENABLED) returns it', async () => {
    const data = Buffer.from('hello from boto3, with a checksum\n'.repeat(10));
    const r = await py(`
sent = {}
def capture(request, **kw):
    sent.update({k.lower(): (v.decode() if isinstance(v, bytes) else v) for k, v in request.headers.items()})
s3.meta.events.register('before-send.s3.PutObject', capture)
body = ${JSON.stringify(data.toString())}.encode()
p = s3.put_object(Bucket=B, Key='sum/hello.txt', Body=body, Metadata={'Owner': 'boto'}, ContentType='text/x-boto')
g = s3.get_object(Bucket=B, Key='sum/hello.txt', ChecksumMode='ENABLED')
content = g['Body'].read()
plain = s3.head_object(Bucket=B, Key='sum/hello.txt')
print(json.dumps({
  'sentChecksum': sent.get('x-amz-checksum-crc32'), 'sentSha': sent.get('x-amz-content-sha256'),
  'sentEncoding': sent.get('content-encoding'),
  'putEtag': p['ETag'], 'putCrc': p.get('ChecksumCRC32'),
  'getCrc': g.get('ChecksumCRC32'), 'getType': g.get('ChecksumType'), 'same': content == body,
  'contentType': g['ContentType'], 'meta': g['Metadata'], 'plainCrc': plain.get('ChecksumCRC32'),
}))
`);
    const crc = crc32Base64(data);
    assert.equal(r.sentChecksum, crc, 'boto3 over plain HTTP sends the checksum as a header');
    assert.notEqual(r.sentEncoding, 'aws-chunked');
    assert.equal(r.putEtag, `"${createHash('md5').update(data).digest('hex')}"`);
    assert.equal(r.putCrc, crc);
    assert.equal(r.getCrc, crc);
    assert.equal(r.getType, 'FULL_OBJECT');
    assert.equal(r.same, true);
    assert.equal(r.contentType, 'text/x-boto');
    assert.deepEqual(r.meta, { owner: 'boto' });
    assert.equal(r.plainCrc, null, 'no checksum without ChecksumMode');
  });

  test('a wrong x-amz-checksum-crc32 is refused with BadDigest and nothing is stored', async () => {
    // botocore's legacy retry mode retries BadDigest with back-off (~10 s); one attempt is enough here.
    const r = await py(`${ERR_HELPER}
import botocore.config
once = boto3.client('s3', endpoint_url=s3.meta.endpoint_url, config=botocore.config.Config(retries={'total_max_attempts': 1}))
e = err(lambda: once.put_object(Bucket=B, Key='sum/bad.txt', Body=b'some data', ChecksumCRC32='AAAAAA=='))
h = err(lambda: s3.head_object(Bucket=B, Key='sum/bad.txt'))
print(json.dumps({'put': e, 'head': h}))
`);
    assert.equal(r.put.code, 'BadDigest');
    assert.equal(r.put.status, 400);
    assert.equal(r.head.status, 404);
  });

  test('get_object with Range, head_object', async () => {
    const r = await py(`
data = bytes(range(256)) * 40
s3.put_object(Bucket=B, Key='range/bin', Body=data)
a = s3.get_object(Bucket=B, Key='range/bin', Range='bytes=100-199')
b = s3.get_object(Bucket=B, Key='range/bin', Range='bytes=10000-')
c = s3.get_object(Bucket=B, Key='range/bin', Range='bytes=-16')
h = s3.head_object(Bucket=B, Key='range/bin')
print(json.dumps({
  'a': [a['ResponseMetadata']['HTTPStatusCode'], a['ContentRange'], a['ContentLength'], a['Body'].read() == data[100:200]],
  'b': [b['ContentRange'], b['Body'].read() == data[10000:]],
  'c': [c['ContentRange'], c['Body'].read() == data[-16:]],
  'head': [h['ContentLength'], h['ETag'], h['AcceptRanges'], h['ContentType']],
}))
`);
    assert.deepEqual(r.a, [206, 'bytes 100-199/10240', 100, true]);
    assert.deepEqual(r.b, ['bytes 10000-10239/10240', true]);
    assert.deepEqual(r.c, ['bytes 10224-10239/10240', true]);
    assert.equal(r.head[0], 10240);
    assert.match(r.head[1], /^"[0-9a-f]{32}"$/);
    assert.equal(r.head[2], 'bytes');
    assert.equal(r.head[3], 'binary/octet-stream');
  });

  test('list_objects_v2 paginator over 1,200 keys; delete_objects in batches of 1,000', async () => {
    const r = await py(`
from concurrent.futures import ThreadPoolExecutor
keys = ['many/%05d' % i for i in range(1200)]
with ThreadPoolExecutor(10) as ex:
    list(ex.map(lambda k: s3.put_object(Bucket=B, Key=k, Body=k.encode()), keys))
pag = s3.get_paginator('list_objects_v2')
pages = list(pag.paginate(Bucket=B, Prefix='many/'))
got = [o['Key'] for p in pages for o in p.get('Contents', [])]
small = list(pag.paginate(Bucket=B, Prefix='many/', PaginationConfig={'PageSize': 500}))
got_small = [o['Key'] for p in small for o in p.get('Contents', [])]
v1 = list(s3.get_paginator('list_objects').paginate(Bucket=B, Prefix='many/', PaginationConfig={'PageSize': 700}))
got_v1 = [o['Key'] for p in v1 for o in p.get('Contents', [])]
start = s3.list_objects_v2(Bucket=B, Prefix='many/', StartAfter='many/01100')
d1 = s3.delete_objects(Bucket=B, Delete={'Objects': [{'Key': k} for k in keys[:1000]]})
d2 = s3.delete_objects(Bucket=B, Delete={'Objects': [{'Key': k} for k in keys[1000:]], 'Quiet': True})
left = s3.list_objects_v2(Bucket=B, Prefix='many/')
print(json.dumps({
  'pageSizes': [len(p.get('Contents', [])) for p in pages], 'truncated': [p['IsTruncated'] for p in pages],
  'keyCounts': [p['KeyCount'] for p in pages],
  'allKeys': got == keys, 'n': len(got),
  'smallSizes': [len(p.get('Contents', [])) for p in small], 'smallKeys': got_small == keys,
  'v1Sizes': [len(p.get('Contents', [])) for p in v1], 'v1Keys': got_v1 == keys,
  'startAfter': [o['Key'] for o in start['Contents']][:2] + [start['KeyCount']],
  'deleted1': len(d1.get('Deleted', [])), 'errors1': len(d1.get('Errors', [])),
  'deleted2': len(d2.get('Deleted', [])), 'errors2': len(d2.get('Errors', [])),
  'left': left['KeyCount'],
}))
`);
    assert.equal(r.n, 1200);
    assert.equal(r.allKeys, true, 'every key once, in order');
    assert.deepEqual(r.pageSizes, [1000, 200]);
    assert.deepEqual(r.truncated, [true, false]);
    assert.deepEqual(r.keyCounts, [1000, 200]);
    assert.deepEqual(r.smallSizes, [500, 500, 200]);
    assert.equal(r.smallKeys, true);
    assert.deepEqual(r.v1Sizes, [700, 500]);
    assert.equal(r.v1Keys, true);
    assert.deepEqual(r.startAfter, ['many/01101', 'many/01102', 99]);
    assert.equal(r.deleted1, 1000);
    assert.equal(r.errors1, 0);
    assert.equal(r.deleted2, 0, 'Quiet lists no successes');
    assert.equal(r.errors2, 0);
    assert.equal(r.left, 0);
  });

  test('awkward keys round-trip through put, list (v1 and v2), get, copy and delete_objects', async () => {
    const r = await py(`${ERR_HELPER}
import botocore.config
keys = ["odd/a&b<c>\\"d'e", "odd/tab\\there", "odd/nl\\nhere", "odd/cr\\rhere", "odd/sp ace/+plus/%25pct", "odd/emoji/\\U0001F600",
        "odd/dots/../x", "odd//double//slash", "odd/q?mark#hash=1&x", "odd/ctl\\x01char"]
for k in keys:
    s3.put_object(Bucket=B, Key=k, Body=k.encode())
v2 = [o['Key'] for o in s3.list_objects_v2(Bucket=B, Prefix='odd/')['Contents']]
v1 = [o['Key'] for o in s3.list_objects(Bucket=B, Prefix='odd/')['Contents']]
bodies_ok = all(s3.get_object(Bucket=B, Key=k)['Body'].read() == k.encode() for k in keys)
s3.copy_object(Bucket=B, Key='odd-copy', CopySource={'Bucket': B, 'Key': "odd/q?mark#hash=1&x"})
copied = s3.get_object(Bucket=B, Key='odd-copy')['Body'].read() == "odd/q?mark#hash=1&x".encode()
# A raw control character cannot be carried by XML 1.0: S3 refuses the document (MalformedXML).
once = boto3.client('s3', endpoint_url=s3.meta.endpoint_url, config=botocore.config.Config(retries={'total_max_attempts': 1}))
ctl = err(lambda: once.delete_objects(Bucket=B, Delete={'Objects': [{'Key': 'odd/ctl\\x01char'}, {'Key': 'odd/tab\\there'}]}))
still = [o['Key'] for o in s3.list_objects_v2(Bucket=B, Prefix='odd/')['Contents']]
printable = [k for k in keys if k != 'odd/ctl\\x01char']
d = s3.delete_objects(Bucket=B, Delete={'Objects': [{'Key': k} for k in printable]})
s3.delete_object(Bucket=B, Key='odd/ctl\\x01char')
left = s3.list_objects_v2(Bucket=B, Prefix='odd/')['KeyCount']
print(json.dumps({'keys': sorted(keys), 'v2': sorted(v2), 'v1': sorted(v1), 'bodies': bodies_ok, 'copied': copied,
  'ctl': ctl, 'still': len(still), 'deleted': sorted(x['Key'] for x in d.get('Deleted', [])), 'printable': sorted(printable),
  'errors': d.get('Errors'), 'left': left}))
`);
    assert.deepEqual(r.v2, r.keys);
    assert.deepEqual(r.v1, r.keys);
    assert.equal(r.bodies, true);
    assert.equal(r.copied, true);
    assert.equal(r.ctl.code, 'MalformedXML');
    assert.equal(r.ctl.status, 400);
    assert.equal(r.still, r.keys.length, 'the refused DeleteObjects deleted nothing');
    assert.deepEqual(r.deleted, r.printable);
    assert.equal(r.errors, null);
    assert.equal(r.left, 0);
  });

  test('copy_object (COPY and REPLACE metadata)', async () => {
    const r = await py(`
s3.put_object(Bucket=B, Key='copy/src', Body=b'copy me', Metadata={'a': '1'}, ContentType='text/plain')
c1 = s3.copy_object(Bucket=B, Key='copy/dst1', CopySource={'Bucket': B, 'Key': 'copy/src'})
c2 = s3.copy_object(Bucket=B, Key='copy/dst2', CopySource=B + '/copy/src', MetadataDirective='REPLACE', Metadata={'b': '2'}, ContentType='application/json')
h1 = s3.head_object(Bucket=B, Key='copy/dst1')
h2 = s3.head_object(Bucket=B, Key='copy/dst2')
src = s3.head_object(Bucket=B, Key='copy/src')
print(json.dumps({
  'etag1': c1['CopyObjectResult']['ETag'], 'srcEtag': src['ETag'], 'h1': [h1['Metadata'], h1['ContentType'], h1['ETag']],
  'h2': [h2['Metadata'], h2['ContentType']], 'body': s3.get_object(Bucket=B, Key='copy/dst2')['Body'].read().decode(),
}))
`);
    assert.equal(r.etag1, r.srcEtag);
    assert.deepEqual(r.h1, [{ a: '1' }, 'text/plain', r.srcEtag]);
    assert.deepEqual(r.h2, [{ b: '2' }, 'application/json']);
    assert.equal(r.body, 'copy me');
  });

  test('upload_fileobj / upload_file / download_fileobj with small files', async () => {
    const file = path.join(work, 'upload.bin');
    const data = Buffer.alloc(100_000, 'xyz');
    await writeFile(file, data);
    const r = await py(`
with open('upload.bin', 'rb') as f:
    s3.upload_fileobj(f, B, 'up/fileobj.bin')
s3.upload_file('upload.bin', B, 'up/file.bin', ExtraArgs={'Metadata': {'via': 'upload_file'}})
buf = io.BytesIO()
s3.download_fileobj(B, 'up/fileobj.bin', buf)
s3.download_file(B, 'up/file.bin', 'downloaded.bin')
with open('upload.bin', 'rb') as f:
    orig = f.read()
with open('downloaded.bin', 'rb') as f:
    down = f.read()
h = s3.head_object(Bucket=B, Key='up/file.bin', ChecksumMode='ENABLED')
print(json.dumps({'fileobj': buf.getvalue() == orig, 'file': down == orig, 'meta': h['Metadata'], 'len': h['ContentLength'], 'etag': h['ETag'], 'crc': h.get('ChecksumCRC32')}))
`);
    assert.equal(r.fileobj, true);
    assert.equal(r.file, true);
    assert.deepEqual(r.meta, { via: 'upload_file' });
    assert.equal(r.len, data.length);
    assert.equal(r.etag, `"${createHash('md5').update(data).digest('hex')}"`);
    // s3transfer asks for a CRC32 by default; when it is sent it must round-trip.
    if (r.crc !== null && r.crc !== undefined) assert.equal(r.crc, crc32Base64(data));
  });

  test('generate_presigned_url for PUT and GET, fetched with urllib', async () => {
    const r = await py(`
import urllib.request, urllib.error
put_url = s3.generate_presigned_url('put_object', Params={'Bucket': B, 'Key': 'presigned/obj.txt'}, ExpiresIn=300)
req = urllib.request.Request(put_url, data=b'uploaded via presigned PUT', method='PUT')
put_status = urllib.request.urlopen(req).status
get_url = s3.generate_presigned_url('get_object', Params={'Bucket': B, 'Key': 'presigned/obj.txt'}, ExpiresIn=300)
resp = urllib.request.urlopen(get_url)
got = resp.read().decode()
over = s3.generate_presigned_url('get_object', Params={'Bucket': B, 'Key': 'presigned/obj.txt', 'ResponseContentType': 'text/x-over'}, ExpiresIn=60)
over_type = urllib.request.urlopen(over).headers['Content-Type']
# A presigned GET used for another key is refused.
bad_status, bad_body = None, ''
try:
    urllib.request.urlopen(get_url.replace('presigned/obj.txt', 'presigned/other.txt'))
except urllib.error.HTTPError as e:
    bad_status, bad_body = e.code, e.read().decode()
print(json.dumps({'put': put_status, 'get': got, 'sig': 'X-Amz-Signature=' in get_url, 'over': over_type, 'bad': [bad_status, bad_body]}))
`);
    assert.equal(r.put, 200);
    assert.equal(r.get, 'uploaded via presigned PUT');
    assert.equal(r.sig, true, 'SigV4 presigned URL');
    assert.equal(r.over, 'text/x-over');
    assert.equal(r.bad[0], 403);
    assert.match(r.bad[1], /<Code>SignatureDoesNotMatch<\/Code>/);
  });

  test('ClientError codes: NoSuchKey, NoSuchBucket, InvalidBucketName, PreconditionFailed', async () => {
    const r = await py(`${ERR_HELPER}
s3.put_object(Bucket=B, Key='cond/exists', Body=b'1')
out = {
  'noSuchKey': err(lambda: s3.get_object(Bucket=B, Key='cond/missing')),
  'noSuchBucket': err(lambda: s3.get_object(Bucket='no-such-boto-bucket', Key='k')),
  'noSuchBucketList': err(lambda: s3.list_objects_v2(Bucket='no-such-boto-bucket')),
  'invalidName': err(lambda: s3.create_bucket(Bucket='Invalid_Bucket_Name')),
  'precondition': err(lambda: s3.put_object(Bucket=B, Key='cond/exists', Body=b'2', IfNoneMatch='*')),
  'headMissing': err(lambda: s3.head_object(Bucket=B, Key='cond/missing')),
  'ifMatch': err(lambda: s3.get_object(Bucket=B, Key='cond/exists', IfMatch='"0123456789abcdef0123456789abcdef"')),
}
out['createIfAbsent'] = s3.put_object(Bucket=B, Key='cond/new', Body=b'3', IfNoneMatch='*')['ResponseMetadata']['HTTPStatusCode']
out['unchanged'] = s3.get_object(Bucket=B, Key='cond/exists')['Body'].read().decode()
print(json.dumps(out))
`);
    assert.equal(r.noSuchKey.code, 'NoSuchKey');
    assert.equal(r.noSuchKey.status, 404);
    assert.ok(r.noSuchKey.requestId, 'request id reaches the client');
    assert.equal(r.noSuchBucket.code, 'NoSuchBucket');
    assert.equal(r.noSuchBucketList.code, 'NoSuchBucket');
    assert.equal(r.invalidName.code, 'InvalidBucketName');
    assert.equal(r.invalidName.status, 400);
    assert.equal(r.precondition.code, 'PreconditionFailed');
    assert.equal(r.precondition.status, 412);
    assert.equal(r.headMissing.code, '404');
    assert.equal(r.ifMatch.code, 'PreconditionFailed');
    assert.equal(r.createIfAbsent, 200);
    assert.equal(r.unchanged, '1', 'the refused conditional PUT changed nothing');
  });
});
