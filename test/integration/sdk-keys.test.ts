// Object keys with awkward characters must round-trip exactly through the AWS SDK v3:
// PutObject, GetObject, HeadObject, ListObjectsV2 (plain and EncodingType url), CopyObject,
// DeleteObject. Also the 1024-byte key limit.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  CopyObjectCommand,
  CreateBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { TestServer } from '../helpers/server.js';
import { sdkClient, useSuiteServer } from '../helpers/clients.js';
import { expectS3Error, md5hex, rawRequest, uniqueBucket } from './sdk-helpers.js';

let server: TestServer;
let s3: S3Client;

useSuiteServer((srv, client) => {
  server = srv;
  s3 = client;
});

const AWKWARD: Array<[string, string]> = [
  ['spaces', 'with some spaces.txt'],
  ['plus', 'a+b+c'],
  ['plus and space', 'a+b c+d'],
  ['percent', '100%'],
  ['percent escape lookalike', '50%20off'],
  ['literal %2F', 'a%2Fb'],
  ['encoded-looking unicode', '%C3%A9'],
  ['e acute', 'café/é.txt'],
  ['decomposed e acute (NFD, must not be normalised)', 'cafe\u0301'],
  ['japanese', '日本語/ファイル.txt'],
  ['emoji', 'emoji-😀/🎉.bin'],
  ['dot dot slash', '../x'],
  ['middle dot segments', 'a/./b/../c'],
  ['single dot', '.'],
  ['double dot', '..'],
  ['leading slash', '/leading'],
  ['double slash', '//double'],
  ['inner double slash', 'a//b///c'],
  ['trailing slash', 'dir/'],
  ['question mark', 'a?b'],
  ['hash', 'a#b'],
  ['ampersand equals', 'a&b=c'],
  ['semicolon colon comma', 'a;b:c,d'],
  ['quotes', `it's "quoted"`],
  ['xml specials', '<tag attr="1">&amp;</tag>'],
  ['brackets braces', '[x]{y}(z)'],
  ['tilde star bang', '~*!@$'],
  ['backslash', 'back\\slash'],
  ['caret pipe backtick', '^|`'],
  ['tab', 'tab\there'],
  ['newline', 'line1\nline2'],
  ['carriage return', 'cr\rhere'],
  ['only spaces', '   '],
  ['unicode line separator', 'ls\u2028ps\u2029'],
];

describe('awkward keys round-trip', () => {
  let b: string;
  before(async () => {
    b = uniqueBucket('keys');
    await s3.send(new CreateBucketCommand({ Bucket: b }));
  });

  for (const [name, key] of AWKWARD) {
    test(`${name}: ${JSON.stringify(key)}`, async () => {
      const body = `body of ${key}`;
      const put = await s3.send(new PutObjectCommand({ Bucket: b, Key: key, Body: body }));
      assert.equal(put.ETag, `"${md5hex(body)}"`);

      const g = await s3.send(new GetObjectCommand({ Bucket: b, Key: key }));
      assert.equal(await g.Body!.transformToString(), body);
      const h = await s3.send(new HeadObjectCommand({ Bucket: b, Key: key }));
      assert.equal(h.ContentLength, Buffer.byteLength(body));

      // Listed under exactly this key, with a prefix of the key itself.
      const l = await s3.send(new ListObjectsV2Command({ Bucket: b, Prefix: key }));
      assert.ok(l.Contents?.some((o) => o.Key === key), `listed: ${JSON.stringify(l.Contents?.map((o) => o.Key))}`);
      assert.equal(l.Contents?.[0].Key, key, 'the key itself sorts first among keys with it as prefix');
      // The JS SDK v3 does not decode EncodingType=url replies (boto3 does); the caller decodes
      // them as form encoding, and must get the key back exactly.
      const lu = await s3.send(new ListObjectsV2Command({ Bucket: b, Prefix: key, EncodingType: 'url' }));
      assert.equal(lu.EncodingType, 'url');
      assert.equal(decodeFormUrl(lu.Contents![0].Key!), key, 'EncodingType url decodes back to the same key');
      assert.equal(decodeFormUrl(lu.Prefix!), key, 'the echoed Prefix is encoded too');
      assert.match(lu.Contents![0].Key!, /^[A-Za-z0-9.\-_~\/%]*$/, 'only URL-safe characters in an encoded key');
      const l1 = await s3.send(new ListObjectsCommand({ Bucket: b, Prefix: key }));
      assert.equal(l1.Contents?.[0].Key, key);

      // A presigned GET works for it too. Sent raw: fetch and curl would resolve "." and ".."
      // segments of the URL before sending it (and so ask for another key).
      const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: b, Key: key }), { expiresIn: 60 });
      const rawPath = url.slice(server.endpoint.length);
      const f = await rawRequest(server, { method: 'GET', path: rawPath, headers: { Host: new URL(server.endpoint).host } });
      assert.equal(f.status, 200, f.body.toString());
      assert.equal(f.body.toString(), body);

      // Copy it to a name derived from it, and back from there.
      const copyKey = `copy/${key}`;
      await s3.send(new CopyObjectCommand({ Bucket: b, Key: copyKey, CopySource: `${b}/${encodeURIComponent(key)}` }));
      const gc = await s3.send(new GetObjectCommand({ Bucket: b, Key: copyKey }));
      assert.equal(await gc.Body!.transformToString(), body);

      const d = await s3.send(new DeleteObjectCommand({ Bucket: b, Key: copyKey }));
      assert.equal(d.$metadata.httpStatusCode, 204);
      await expectS3Error(s3.send(new HeadObjectCommand({ Bucket: b, Key: copyKey })), 'NotFound', 404);
      // The original is untouched by deleting the copy.
      assert.equal((await s3.send(new HeadObjectCommand({ Bucket: b, Key: key }))).ContentLength, Buffer.byteLength(body));
    });
  }

  test('all of them listed together: exact keys, in UTF-8 byte order, nothing extra', async () => {
    const all = await listAll(b);
    const expected = AWKWARD.map(([, k]) => k).sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    assert.deepEqual(all, expected);
  });

  test('keys that differ only by encoding-like spelling are different objects', async () => {
    const b2 = uniqueBucket('distinct');
    await s3.send(new CreateBucketCommand({ Bucket: b2 }));
    const keys = ['a b', 'a+b', 'a%20b', 'a%2Bb', 'a/b', 'a%2Fb', 'a//b', '/a/b'];
    for (const k of keys) await s3.send(new PutObjectCommand({ Bucket: b2, Key: k, Body: k }));
    for (const k of keys) {
      const g = await s3.send(new GetObjectCommand({ Bucket: b2, Key: k }));
      assert.equal(await g.Body!.transformToString(), k, `content of ${k}`);
    }
    assert.deepEqual(await listAll(b2), [...keys].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y))));
    const del = await s3.send(new DeleteObjectsCommand({ Bucket: b2, Delete: { Objects: keys.map((Key) => ({ Key })) } }));
    assert.deepEqual(del.Deleted?.map((d) => d.Key), keys);
    assert.deepEqual(await listAll(b2), []);
  });
});

describe('key length', () => {
  let b: string;
  before(async () => {
    b = uniqueBucket('keylen');
    await s3.send(new CreateBucketCommand({ Bucket: b }));
  });

  test('a key of exactly 1024 bytes works (ASCII and multi-byte)', async () => {
    for (const key of ['k'.repeat(1024), 'é'.repeat(512), 'dir/'.repeat(255) + 'last']) {
      assert.equal(Buffer.byteLength(key), 1024);
      await s3.send(new PutObjectCommand({ Bucket: b, Key: key, Body: 'long' }));
      const g = await s3.send(new GetObjectCommand({ Bucket: b, Key: key }));
      assert.equal(await g.Body!.transformToString(), 'long');
      const l = await s3.send(new ListObjectsV2Command({ Bucket: b, Prefix: key }));
      assert.equal(l.Contents?.[0].Key, key);
    }
  });

  test('1025 bytes → 400 KeyTooLongError, nothing stored', async () => {
    for (const key of ['k'.repeat(1025), 'é'.repeat(512) + 'x']) {
      assert.equal(Buffer.byteLength(key), 1025);
      await expectS3Error(s3.send(new PutObjectCommand({ Bucket: b, Key: key, Body: 'x' })), 'KeyTooLongError', 400);
      await expectS3Error(s3.send(new CopyObjectCommand({ Bucket: b, Key: key, CopySource: `${b}/${'k'.repeat(1024)}` })), 'KeyTooLongError', 400);
    }
    const l = await s3.send(new ListObjectsV2Command({ Bucket: b, Prefix: 'k'.repeat(1025) }));
    assert.equal(l.KeyCount, 0);
  });

  test('a key S3 cannot hold is a 400 on reads and deletes too, never a 500', async () => {
    for (const key of ['a\u0000b', 'k'.repeat(1025)]) {
      const code = key.length > 1024 ? 'KeyTooLongError' : 'InvalidArgument';
      await expectS3Error(s3.send(new GetObjectCommand({ Bucket: b, Key: key })), code, 400);
      await expectS3Error(s3.send(new DeleteObjectCommand({ Bucket: b, Key: key })), code, 400);
      await expectS3Error(s3.send(new CopyObjectCommand({ Bucket: b, Key: 'dst', CopySource: `${b}/${encodeURIComponent(key)}` })), code, 400);
    }
  });
});

async function listAll(bucket: string): Promise<string[]> {
  const out: string[] = [];
  let token: string | undefined;
  do {
    const r = await s3.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
    for (const o of r.Contents ?? []) out.push(o.Key!);
    token = r.NextContinuationToken;
  } while (token);
  return out;
}

/** Inverse of S3's encoding-type=url (form encoding: '+' is a space). */
function decodeFormUrl(s: string): string {
  return decodeURIComponent(s.replace(/\+/g, ' '));
}
