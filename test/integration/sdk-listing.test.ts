// ListObjectsV2 and ListObjects (V1) through the AWS SDK v3: prefix, delimiter and common
// prefixes, MaxKeys, pagination over 2,500 keys, StartAfter, EncodingType url, FetchOwner,
// KeyCount, Marker / NextMarker.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  CreateBucketCommand,
  ListObjectsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  paginateListObjectsV2,
} from '@aws-sdk/client-s3';
import type { TestServer } from '../helpers/server.js';
import { sdkClient, useSuiteServer } from '../helpers/clients.js';
import { expectS3Error, md5hex, uniqueBucket } from './sdk-helpers.js';

let server: TestServer;
let s3: S3Client;

useSuiteServer((srv, client) => {
  server = srv;
  s3 = client;
});

const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));

async function putAll(bucket: string, keys: string[], concurrency = 24): Promise<void> {
  const queue = [...keys];
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let k = queue.shift(); k !== undefined; k = queue.shift()) {
        await s3.send(new PutObjectCommand({ Bucket: bucket, Key: k, Body: k }));
      }
    }),
  );
}

async function bucketWith(tag: string, keys: string[]): Promise<string> {
  const b = uniqueBucket(tag);
  await s3.send(new CreateBucketCommand({ Bucket: b }));
  await putAll(b, keys);
  return b;
}

describe('ListObjectsV2 basics', () => {
  const keys = [
    'a.txt',
    'b/1.txt',
    'b/2.txt',
    'b/c/3.txt',
    'b/c/4.txt',
    'b/d/5.txt',
    'bz',
    'dir1/x',
    'dir2/y',
    'dir2/z/deep',
    'photos/2024/jan/1.jpg',
    'photos/2024/feb/2.jpg',
    'photos/2025/mar/3.jpg',
    'z|pipe|1',
    'z|pipe|2',
  ];
  let b: string;
  before(async () => {
    b = await bucketWith('lsv2', keys);
  });

  test('no arguments: every key, byte order, Size/ETag/LastModified/StorageClass, KeyCount, no Owner', async () => {
    const r = await s3.send(new ListObjectsV2Command({ Bucket: b }));
    assert.equal(r.$metadata.httpStatusCode, 200);
    assert.equal(r.Name, b);
    assert.equal(r.KeyCount, keys.length);
    assert.equal(r.MaxKeys, 1000);
    assert.equal(r.IsTruncated, false);
    assert.equal(r.NextContinuationToken, undefined);
    assert.deepEqual(r.Contents?.map((o) => o.Key), [...keys].sort(byteOrder));
    for (const o of r.Contents!) {
      assert.equal(o.Size, Buffer.byteLength(o.Key!));
      assert.equal(o.ETag, `"${md5hex(o.Key!)}"`);
      assert.ok(o.LastModified instanceof Date && Math.abs(o.LastModified.getTime() - Date.now()) < 120_000);
      assert.equal(o.StorageClass, 'STANDARD');
      assert.equal(o.Owner, undefined, 'V2 lists owners only with FetchOwner');
    }
  });

  test('FetchOwner: every entry has the owner', async () => {
    const r = await s3.send(new ListObjectsV2Command({ Bucket: b, FetchOwner: true, MaxKeys: 3 }));
    assert.equal(r.Contents?.length, 3);
    for (const o of r.Contents!) assert.ok(o.Owner?.ID && o.Owner.ID.length > 0);
  });

  test('Prefix narrows the listing and is echoed', async () => {
    const r = await s3.send(new ListObjectsV2Command({ Bucket: b, Prefix: 'b/c/' }));
    assert.equal(r.Prefix, 'b/c/');
    assert.deepEqual(r.Contents?.map((o) => o.Key), ['b/c/3.txt', 'b/c/4.txt']);
    assert.equal(r.KeyCount, 2);
    const none = await s3.send(new ListObjectsV2Command({ Bucket: b, Prefix: 'nothing-here/' }));
    assert.equal(none.KeyCount, 0);
    assert.equal(none.Contents, undefined);
    assert.equal(none.IsTruncated, false);
  });

  test('Delimiter "/": top-level keys and CommonPrefixes; KeyCount counts both', async () => {
    const r = await s3.send(new ListObjectsV2Command({ Bucket: b, Delimiter: '/' }));
    assert.equal(r.Delimiter, '/');
    assert.deepEqual(r.Contents?.map((o) => o.Key), ['a.txt', 'bz', 'z|pipe|1', 'z|pipe|2']);
    assert.deepEqual(r.CommonPrefixes?.map((p) => p.Prefix), ['b/', 'dir1/', 'dir2/', 'photos/']);
    assert.equal(r.KeyCount, 8);
  });

  test('Prefix + Delimiter: one level below the prefix', async () => {
    const r = await s3.send(new ListObjectsV2Command({ Bucket: b, Prefix: 'b/', Delimiter: '/' }));
    assert.deepEqual(r.Contents?.map((o) => o.Key), ['b/1.txt', 'b/2.txt']);
    assert.deepEqual(r.CommonPrefixes?.map((p) => p.Prefix), ['b/c/', 'b/d/']);
    const p2 = await s3.send(new ListObjectsV2Command({ Bucket: b, Prefix: 'photos/2024/', Delimiter: '/' }));
    assert.equal(p2.Contents, undefined);
    assert.deepEqual(p2.CommonPrefixes?.map((p) => p.Prefix), ['photos/2024/feb/', 'photos/2024/jan/']);
    // A prefix that does not end at a delimiter groups by what follows it.
    const p3 = await s3.send(new ListObjectsV2Command({ Bucket: b, Prefix: 'dir', Delimiter: '/' }));
    assert.deepEqual(p3.CommonPrefixes?.map((p) => p.Prefix), ['dir1/', 'dir2/']);
  });

  test('a delimiter other than "/" (and longer than one character)', async () => {
    const r = await s3.send(new ListObjectsV2Command({ Bucket: b, Prefix: 'z', Delimiter: '|' }));
    assert.deepEqual(r.CommonPrefixes?.map((p) => p.Prefix), ['z|']);
    assert.equal(r.Contents, undefined);
    const r2 = await s3.send(new ListObjectsV2Command({ Bucket: b, Delimiter: '/2' }));
    assert.deepEqual(r2.CommonPrefixes?.map((p) => p.Prefix), ['b/2', 'photos/2']);
  });

  test('MaxKeys truncates; the token continues exactly after; MaxKeys 0 lists nothing', async () => {
    const all = [...keys].sort(byteOrder);
    const p1 = await s3.send(new ListObjectsV2Command({ Bucket: b, MaxKeys: 4 }));
    assert.equal(p1.MaxKeys, 4);
    assert.equal(p1.KeyCount, 4);
    assert.equal(p1.IsTruncated, true);
    assert.ok(p1.NextContinuationToken);
    assert.deepEqual(p1.Contents?.map((o) => o.Key), all.slice(0, 4));
    const p2 = await s3.send(new ListObjectsV2Command({ Bucket: b, MaxKeys: 4, ContinuationToken: p1.NextContinuationToken }));
    assert.equal(p2.ContinuationToken, p1.NextContinuationToken, 'the token is echoed');
    assert.deepEqual(p2.Contents?.map((o) => o.Key), all.slice(4, 8));
    const z = await s3.send(new ListObjectsV2Command({ Bucket: b, MaxKeys: 0 }));
    assert.equal(z.KeyCount, 0);
    assert.equal(z.Contents, undefined);
  });

  test('MaxKeys above 1000 is served as 1000', async () => {
    const r = await s3.send(new ListObjectsV2Command({ Bucket: b, MaxKeys: 5000 }));
    assert.equal(r.KeyCount, keys.length);
    assert.ok(r.MaxKeys === 1000 || r.MaxKeys === 5000, `MaxKeys ${r.MaxKeys}`);
  });

  test('pagination with a delimiter: common prefixes count toward MaxKeys and are not repeated', async () => {
    const seenKeys: string[] = [];
    const seenPrefixes: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const r = await s3.send(new ListObjectsV2Command({ Bucket: b, Delimiter: '/', MaxKeys: 2, ContinuationToken: token }));
      assert.ok((r.KeyCount ?? 0) <= 2);
      assert.equal(r.KeyCount, (r.Contents?.length ?? 0) + (r.CommonPrefixes?.length ?? 0));
      for (const o of r.Contents ?? []) seenKeys.push(o.Key!);
      for (const p of r.CommonPrefixes ?? []) seenPrefixes.push(p.Prefix!);
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
      if (r.IsTruncated) assert.ok(token, 'a truncated page has a NextContinuationToken');
      pages++;
    } while (token && pages < 20);
    assert.deepEqual(seenKeys, ['a.txt', 'bz', 'z|pipe|1', 'z|pipe|2']);
    assert.deepEqual(seenPrefixes, ['b/', 'dir1/', 'dir2/', 'photos/']);
    assert.equal(pages, 4);
  });

  test('StartAfter: keys strictly after it, echoed; a StartAfter between keys works', async () => {
    const all = [...keys].sort(byteOrder);
    const r = await s3.send(new ListObjectsV2Command({ Bucket: b, StartAfter: 'b/c/4.txt' }));
    assert.equal(r.StartAfter, 'b/c/4.txt');
    assert.deepEqual(r.Contents?.map((o) => o.Key), all.slice(all.indexOf('b/c/4.txt') + 1));
    const r2 = await s3.send(new ListObjectsV2Command({ Bucket: b, StartAfter: 'c' }));
    assert.deepEqual(r2.Contents?.map((o) => o.Key), all.filter((k) => byteOrder(k, 'c') > 0));
    const r3 = await s3.send(new ListObjectsV2Command({ Bucket: b, StartAfter: '~~~' }));
    assert.equal(r3.KeyCount, 0);
    // With a delimiter, a StartAfter inside a common prefix yields only later groups and keys.
    // (Whether the group holding StartAfter itself is repeated is not pinned down here.)
    const r4 = await s3.send(new ListObjectsV2Command({ Bucket: b, StartAfter: 'b/c/3.txt', Prefix: 'b/', Delimiter: '/' }));
    const groups = r4.CommonPrefixes?.map((p) => p.Prefix) ?? [];
    assert.ok(groups.includes('b/d/'), `groups ${groups}`);
    assert.ok(groups.every((g) => g === 'b/c/' || g === 'b/d/'));
    assert.equal(r4.Contents, undefined);
    // StartAfter equal to a common prefix skips that whole group (how V1 NextMarker works).
    const r5 = await s3.send(new ListObjectsV2Command({ Bucket: b, StartAfter: 'b/c/', Prefix: 'b/', Delimiter: '/' }));
    assert.deepEqual(r5.CommonPrefixes?.map((p) => p.Prefix), ['b/d/']);
  });

  test('paginateListObjectsV2 (the SDK paginator) walks it all', async () => {
    const got: string[] = [];
    for await (const page of paginateListObjectsV2({ client: s3, pageSize: 3 }, { Bucket: b })) {
      for (const o of page.Contents ?? []) got.push(o.Key!);
    }
    assert.deepEqual(got, [...keys].sort(byteOrder));
  });

  test('bad arguments: negative MaxKeys, bad encoding type, a forged continuation token', async () => {
    await expectS3Error(s3.send(new ListObjectsV2Command({ Bucket: b, MaxKeys: -1 })), 'InvalidArgument', 400);
    await expectS3Error(s3.send(new ListObjectsV2Command({ Bucket: b, EncodingType: 'base64' as 'url' })), 'InvalidArgument', 400);
    await expectS3Error(s3.send(new ListObjectsV2Command({ Bucket: b, ContinuationToken: 'not a token!' })), 'InvalidArgument', 400);
  });
});

describe('byte order and EncodingType url', () => {
  // UTF-16 order and UTF-8 byte order differ for characters above U+FFFF vs U+E000..U+FFFF.
  const keys = ['ascii', 'Zed', 'zed', 'é', 'ｆ-fullwidth', '😀-emoji', '日本', '\u0001ctrl', 'a b', 'a+b', 'a%b', 'a/b', 'a&b', 'a<b>'];
  let b: string;
  before(async () => {
    b = await bucketWith('order', keys);
  });

  test('listing order is UTF-8 byte order (not UTF-16 code unit order)', async () => {
    const r = await s3.send(new ListObjectsV2Command({ Bucket: b }));
    const got = r.Contents?.map((o) => o.Key) ?? [];
    assert.deepEqual(got, [...keys].sort(byteOrder));
    assert.ok(got.indexOf('ｆ-fullwidth') < got.indexOf('😀-emoji'));
  });

  test('EncodingType url: keys, prefix, delimiter and common prefixes come back percent-encoded (space %20)', async () => {
    const r = await s3.send(new ListObjectsV2Command({ Bucket: b, EncodingType: 'url' }));
    assert.equal(r.EncodingType, 'url');
    const decoded = r.Contents!.map((o) => decodeFormUrl(o.Key!));
    assert.deepEqual(decoded, [...keys].sort(byteOrder));
    const enc = Object.fromEntries(r.Contents!.map((o) => [decodeFormUrl(o.Key!), o.Key!]));
    assert.equal(enc['a b'], 'a%20b');
    assert.equal(enc['a+b'], 'a%2Bb');
    assert.equal(enc['é'], '%C3%A9');
    assert.equal(enc['a/b'], 'a/b');
    assert.equal(enc['\u0001ctrl'], '%01ctrl');

    const d = await s3.send(new ListObjectsV2Command({ Bucket: b, EncodingType: 'url', Prefix: 'a', Delimiter: ' ' }));
    assert.equal(d.Prefix, 'a');
    assert.equal(d.Delimiter, '%20');
    assert.deepEqual(d.CommonPrefixes?.map((p) => p.Prefix), ['a%20']);

    const v1 = await s3.send(new ListObjectsCommand({ Bucket: b, EncodingType: 'url', Prefix: 'é' }));
    assert.equal(v1.Prefix, 'é'); // ListObjects v1 echoes its Prefix unencoded, as S3 does
    assert.deepEqual(v1.Contents?.map((o) => o.Key), ['%C3%A9']);
  });
});

describe('2,500 keys', () => {
  const N = 2500;
  const keys = Array.from({ length: N }, (_, i) => `many/${String(i).padStart(5, '0')}-${(i * 7919) % 1000}`);
  let b: string;
  before(async () => {
    b = await bucketWith('many', keys);
  });

  test('ContinuationToken pagination (default 1000 per page): no gaps, no duplicates, byte order', async () => {
    const got: string[] = [];
    const pageSizes: number[] = [];
    let token: string | undefined;
    do {
      const r = await s3.send(new ListObjectsV2Command({ Bucket: b, ContinuationToken: token }));
      pageSizes.push(r.KeyCount ?? 0);
      for (const o of r.Contents ?? []) got.push(o.Key!);
      token = r.NextContinuationToken;
      assert.equal(r.IsTruncated, token !== undefined);
    } while (token);
    assert.deepEqual(pageSizes, [1000, 1000, 500]);
    assert.equal(new Set(got).size, N, 'no duplicates');
    assert.deepEqual(got, [...keys].sort(byteOrder));
  });

  test('odd page size (333) with a prefix: no gaps, no duplicates', async () => {
    const got: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const r = await s3.send(new ListObjectsV2Command({ Bucket: b, Prefix: 'many/0', MaxKeys: 333, ContinuationToken: token }));
      for (const o of r.Contents ?? []) got.push(o.Key!);
      token = r.NextContinuationToken;
      pages++;
    } while (token);
    const expected = keys.filter((k) => k.startsWith('many/0')).sort(byteOrder);
    assert.equal(got.length, expected.length);
    assert.deepEqual(got, expected);
    assert.equal(pages, Math.ceil(expected.length / 333));
  });

  test('ListObjects V1 without delimiter: the caller pages with the last key as Marker', async () => {
    const got: string[] = [];
    let marker: string | undefined;
    for (;;) {
      const r = await s3.send(new ListObjectsCommand({ Bucket: b, Marker: marker, MaxKeys: 700 }));
      if (marker) assert.equal(r.Marker, marker);
      for (const o of r.Contents ?? []) got.push(o.Key!);
      if (!r.IsTruncated) break;
      assert.equal(r.NextMarker, undefined, 'S3 sends NextMarker only when a delimiter was given');
      marker = r.Contents![r.Contents!.length - 1].Key;
    }
    assert.deepEqual(got, [...keys].sort(byteOrder));
  });
});

describe('ListObjects (V1)', () => {
  const keys = ['a/1', 'a/2', 'b/1', 'c', 'd/1', 'd/2', 'e'];
  let b: string;
  before(async () => {
    b = await bucketWith('v1', keys);
  });

  test('Marker, Prefix, MaxKeys, owner always listed', async () => {
    const r = await s3.send(new ListObjectsCommand({ Bucket: b, Marker: 'b/1' }));
    assert.equal(r.Marker, 'b/1');
    assert.deepEqual(r.Contents?.map((o) => o.Key), ['c', 'd/1', 'd/2', 'e']);
    for (const o of r.Contents!) assert.ok(o.Owner?.ID, 'V1 always lists the owner');
    assert.equal(r.IsTruncated, false);
    const p = await s3.send(new ListObjectsCommand({ Bucket: b, Prefix: 'd/', MaxKeys: 1 }));
    assert.deepEqual(p.Contents?.map((o) => o.Key), ['d/1']);
    assert.equal(p.IsTruncated, true);
  });

  test('with a delimiter: NextMarker pages through keys and common prefixes', async () => {
    const seen: string[] = [];
    let marker: string | undefined;
    let pages = 0;
    for (;;) {
      const r = await s3.send(new ListObjectsCommand({ Bucket: b, Delimiter: '/', MaxKeys: 2, Marker: marker }));
      for (const o of r.Contents ?? []) seen.push(o.Key!);
      for (const p of r.CommonPrefixes ?? []) seen.push(p.Prefix!);
      pages++;
      if (!r.IsTruncated) {
        assert.equal(r.NextMarker, undefined);
        break;
      }
      assert.ok(r.NextMarker, 'a truncated V1 page with a delimiter has NextMarker');
      marker = r.NextMarker;
      assert.ok(pages < 10);
    }
    assert.deepEqual(seen.sort(byteOrder), ['a/', 'b/', 'c', 'd/', 'e']);
    assert.equal(pages, 3);
  });
});

/** Inverse of S3's encoding-type=url (percent-encoding; botocore uses unquote_plus, also fine). */
function decodeFormUrl(s: string): string {
  return decodeURIComponent(s.replace(/\+/g, ' '));
}
