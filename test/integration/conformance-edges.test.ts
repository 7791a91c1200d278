// The edge behaviours that S3 conformance suites and clients trip over (issue 14), each checked
// with a real client at its default settings: boto3 (python3 subprocess) or the AWS SDK v3.
// Each snippet prints one JSON document last; the assertions are here in TypeScript.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
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
