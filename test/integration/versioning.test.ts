// Bucket versioning against a real server (temp disks, real LevelDB, HTTP on port 0) with the
// AWS SDK for JavaScript v3 (default settings), aws-cli and raw signed requests. The reference
// is Amazon S3's documented behaviour: version ids on every write, delete markers, GET/HEAD/
// DELETE by version id, null versions (before enabling and while suspended), DeleteObjects with
// version ids, ListObjectVersions paging, concurrent writers, and space reclaimed on disk.

import assert from 'node:assert/strict';
import { access } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetBucketVersioningCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  type ListObjectVersionsCommandInput,
} from '@aws-sdk/client-s3';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { aws, sdkClient, type RunResult, useSuiteServer } from '../helpers/clients.js';
import { bodyBytes, expectS3Error, expectStatusError, md5hex, patternBuffer, signedRawRequest, uniqueBucket, xmlField } from './sdk-helpers.js';

let server: TestServer;
let s3: S3Client;

useSuiteServer((srv, client) => {
  server = srv;
  s3 = client;
});

// ------------------------------------------------------------------------------- helpers

async function newBucket(tag: string, versioning?: 'Enabled' | 'Suspended'): Promise<string> {
  const b = uniqueBucket(tag);
  await s3.send(new CreateBucketCommand({ Bucket: b }));
  if (versioning) await setVersioning(b, versioning);
  return b;
}

async function setVersioning(bucket: string, status: 'Enabled' | 'Suspended'): Promise<void> {
  await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: status } }));
}

async function put(bucket: string, key: string, body: string | Buffer): Promise<string | undefined> {
  const r = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
  return r.VersionId;
}

async function getText(bucket: string, key: string, versionId?: string): Promise<string> {
  const r = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, VersionId: versionId }));
  return (await bodyBytes(r.Body)).toString('utf8');
}

function header(err: { $response?: { headers?: Record<string, string> } }, name: string): string | undefined {
  return err.$response?.headers?.[name];
}

/** One entry of ListObjectVersions in document order (versions and delete markers interleaved). */
interface Entry {
  kind: 'Version' | 'DeleteMarker';
  key: string;
  versionId: string;
  isLatest: boolean;
  etag?: string;
  size?: number;
}

interface RawPage {
  entries: Entry[];
  commonPrefixes: string[];
  isTruncated: boolean;
  nextKeyMarker?: string;
  nextVersionIdMarker?: string;
  xml: string;
}

const unescape = (s: string) => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');

/**
 * ListObjectVersions through a signed raw request, parsed in document order: the SDK splits
 * Versions and DeleteMarkers into two arrays and so loses the order between them.
 */
async function rawListVersions(bucket: string, params: Record<string, string> = {}): Promise<RawPage> {
  const qs = ['versions', ...Object.entries(params).map(([k, v]) => `${k}=${encodeURIComponent(v)}`)].join('&');
  const r = await signedRawRequest(server, { method: 'GET', host: `127.0.0.1:${server.port}`, path: `/${bucket}?${qs}` });
  const xml = r.body.toString('utf8');
  assert.equal(r.status, 200, xml);
  const entries: Entry[] = [];
  for (const m of xml.matchAll(/<(Version|DeleteMarker)>([\s\S]*?)<\/\1>/g)) {
    const inner = m[2];
    const e: Entry = {
      kind: m[1] as Entry['kind'],
      key: unescape(xmlField(inner, 'Key') ?? ''),
      versionId: xmlField(inner, 'VersionId') ?? '',
      isLatest: xmlField(inner, 'IsLatest') === 'true',
    };
    if (e.kind === 'Version') {
      e.etag = unescape(xmlField(inner, 'ETag') ?? '');
      e.size = Number(xmlField(inner, 'Size'));
    }
    entries.push(e);
  }
  const commonPrefixes = [...xml.matchAll(/<CommonPrefixes><Prefix>([\s\S]*?)<\/Prefix><\/CommonPrefixes>/g)].map((m) => unescape(m[1]));
  const page: RawPage = { entries, commonPrefixes, isTruncated: xmlField(xml, 'IsTruncated') === 'true', xml };
  const nk = xmlField(xml, 'NextKeyMarker');
  const nv = xmlField(xml, 'NextVersionIdMarker');
  if (nk !== undefined) page.nextKeyMarker = unescape(nk);
  if (nv !== undefined) page.nextVersionIdMarker = nv;
  return page;
}

/** Every version of the bucket (or of one key), following the markers page by page. */
async function allVersions(bucket: string, o: { prefix?: string; pageSize?: number } = {}): Promise<Entry[]> {
  const out: Entry[] = [];
  let keyMarker: string | undefined;
  let versionIdMarker: string | undefined;
  for (let page = 0; page < 100_000; page++) {
    const params: Record<string, string> = { 'max-keys': String(o.pageSize ?? 1000) };
    if (o.prefix !== undefined) params.prefix = o.prefix;
    if (keyMarker !== undefined) params['key-marker'] = keyMarker;
    if (versionIdMarker !== undefined) params['version-id-marker'] = versionIdMarker;
    const r = await rawListVersions(bucket, params);
    out.push(...r.entries);
    if (!r.isTruncated) return out;
    keyMarker = r.nextKeyMarker;
    versionIdMarker = r.nextVersionIdMarker;
  }
  throw new Error('listing did not end');
}

async function versionsOf(bucket: string, key: string): Promise<Entry[]> {
  return (await allVersions(bucket, { prefix: key })).filter((e) => e.key === key);
}

async function currentKeys(bucket: string): Promise<string[]> {
  const r = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
  return (r.Contents ?? []).map((c) => c.Key!);
}

async function pool<T>(items: T[], concurrency: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) {
        const i = next++;
        await fn(items[i], i);
      }
    }),
  );
}

async function exists(p: string): Promise<boolean> {
  try {
    await access(p);
    return true;
  } catch {
    return false;
  }
}

function show(r: RunResult): string {
  return `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;
}

// ------------------------------------------------------------------------- bucket state

describe('GetBucketVersioning / PutBucketVersioning', () => {
  test('never enabled → no Status; Enabled; Suspended; Enabled again', async () => {
    const b = await newBucket('state');
    const r0 = await s3.send(new GetBucketVersioningCommand({ Bucket: b }));
    assert.equal(r0.Status, undefined);
    assert.equal(r0.MFADelete, undefined);
    await setVersioning(b, 'Enabled');
    assert.equal((await s3.send(new GetBucketVersioningCommand({ Bucket: b }))).Status, 'Enabled');
    await setVersioning(b, 'Suspended');
    assert.equal((await s3.send(new GetBucketVersioningCommand({ Bucket: b }))).Status, 'Suspended');
    await setVersioning(b, 'Enabled');
    assert.equal((await s3.send(new GetBucketVersioningCommand({ Bucket: b }))).Status, 'Enabled');
  });

  test('MFADelete Enabled is refused with 501 NotImplemented and the state is unchanged', async () => {
    const b = await newBucket('mfa');
    await expectS3Error(
      s3.send(new PutBucketVersioningCommand({ Bucket: b, MFA: '123456 654321', VersioningConfiguration: { Status: 'Enabled', MFADelete: 'Enabled' } })),
      'NotImplemented',
      501,
    );
    assert.equal((await s3.send(new GetBucketVersioningCommand({ Bucket: b }))).Status, undefined);
    await setVersioning(b, 'Suspended');
    await expectS3Error(
      s3.send(new PutBucketVersioningCommand({ Bucket: b, VersioningConfiguration: { Status: 'Enabled', MFADelete: 'Enabled' } })),
      'NotImplemented',
      501,
    );
    assert.equal((await s3.send(new GetBucketVersioningCommand({ Bucket: b }))).Status, 'Suspended');
    // MFADelete Disabled is what every bucket has: accepted.
    await s3.send(new PutBucketVersioningCommand({ Bucket: b, VersioningConfiguration: { Status: 'Enabled', MFADelete: 'Disabled' } }));
    assert.equal((await s3.send(new GetBucketVersioningCommand({ Bucket: b }))).Status, 'Enabled');
  });

  test('GetBucketVersioning / PutBucketVersioning on a missing bucket → 404 NoSuchBucket', async () => {
    const b = uniqueBucket('missing');
    await expectS3Error(s3.send(new GetBucketVersioningCommand({ Bucket: b })), 'NoSuchBucket', 404);
    await expectS3Error(s3.send(new PutBucketVersioningCommand({ Bucket: b, VersioningConfiguration: { Status: 'Enabled' } })), 'NoSuchBucket', 404);
  });
});

// ------------------------------------------------------------------------ enabled bucket

describe('versioning Enabled', () => {
  test('PUT, COPY and multipart Complete each return a distinct x-amz-version-id', async () => {
    const b = await newBucket('ids', 'Enabled');
    const ids: string[] = [];
    const p = await s3.send(new PutObjectCommand({ Bucket: b, Key: 'k', Body: 'one' }));
    assert.ok(p.VersionId && p.VersionId !== 'null', 'PUT version id');
    ids.push(p.VersionId);
    const c = await s3.send(new CopyObjectCommand({ Bucket: b, Key: 'k2', CopySource: `${b}/k` }));
    assert.ok(c.VersionId && c.VersionId !== 'null', 'COPY version id');
    assert.equal(c.CopySourceVersionId, p.VersionId, 'x-amz-copy-source-version-id');
    ids.push(c.VersionId);
    const c2 = await s3.send(new CopyObjectCommand({ Bucket: b, Key: 'k', CopySource: `${b}/k`, MetadataDirective: 'REPLACE', Metadata: { x: '1' } }));
    assert.ok(c2.VersionId);
    ids.push(c2.VersionId);
    const up = await s3.send(new CreateMultipartUploadCommand({ Bucket: b, Key: 'k' }));
    const part = await s3.send(new UploadPartCommand({ Bucket: b, Key: 'k', UploadId: up.UploadId, PartNumber: 1, Body: 'multipart body' }));
    const done = await s3.send(new CompleteMultipartUploadCommand({ Bucket: b, Key: 'k', UploadId: up.UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] } }));
    assert.ok(done.VersionId && done.VersionId !== 'null', 'Complete version id');
    ids.push(done.VersionId);
    assert.equal(new Set(ids).size, ids.length, `distinct: ${ids.join(', ')}`);

    const vs = await versionsOf(b, 'k');
    assert.deepEqual(vs.map((v) => v.versionId), [done.VersionId, c2.VersionId, p.VersionId], 'newest first');
    assert.equal(await getText(b, 'k'), 'multipart body');
    assert.equal(await getText(b, 'k', p.VersionId), 'one');
    assert.equal(await getText(b, 'k', c2.VersionId), 'one');
    const h = await s3.send(new HeadObjectCommand({ Bucket: b, Key: 'k' }));
    assert.equal(h.VersionId, done.VersionId, 'HEAD names the current version');
  });

  test('overwrite 3 times: 3 versions newest-first, one IsLatest, each readable by id', async () => {
    const b = await newBucket('ow', 'Enabled');
    const ids: (string | undefined)[] = [];
    for (const body of ['v1', 'v2-longer', 'v3-longest!']) ids.push(await put(b, 'obj', body));
    const r = await s3.send(new ListObjectVersionsCommand({ Bucket: b }));
    assert.equal(r.DeleteMarkers, undefined);
    const vs = r.Versions ?? [];
    assert.deepEqual(vs.map((v) => v.VersionId), [...ids].reverse());
    assert.deepEqual(vs.map((v) => v.IsLatest), [true, false, false]);
    assert.deepEqual(vs.map((v) => v.Size), [11, 9, 2]);
    assert.deepEqual(vs.map((v) => v.ETag), ['v3-longest!', 'v2-longer', 'v1'].map((s) => `"${md5hex(s)}"`));
    assert.ok(vs.every((v) => v.Key === 'obj' && v.StorageClass === 'STANDARD'));
    for (const [i, body] of ['v1', 'v2-longer', 'v3-longest!'].entries()) {
      const g = await s3.send(new GetObjectCommand({ Bucket: b, Key: 'obj', VersionId: ids[i] }));
      assert.equal((await bodyBytes(g.Body)).toString(), body);
      assert.equal(g.VersionId, ids[i]);
      const h = await s3.send(new HeadObjectCommand({ Bucket: b, Key: 'obj', VersionId: ids[i] }));
      assert.equal(h.ContentLength, body.length);
      assert.equal(h.VersionId, ids[i]);
    }
    assert.equal(await getText(b, 'obj'), 'v3-longest!');
  });

  test('DELETE without version id creates a delete marker; GET/HEAD → 404 with x-amz-delete-marker', async () => {
    const b = await newBucket('dm', 'Enabled');
    const v1 = await put(b, 'doc', 'first');
    const v2 = await put(b, 'doc', 'second');
    await put(b, 'other', 'stays');
    const d = await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'doc' }));
    assert.equal(d.$metadata.httpStatusCode, 204);
    assert.equal(d.DeleteMarker, true);
    assert.ok(d.VersionId && d.VersionId !== 'null' && d.VersionId !== v2 && d.VersionId !== v1);
    const marker = d.VersionId;

    const g = await expectS3Error(s3.send(new GetObjectCommand({ Bucket: b, Key: 'doc' })), 'NoSuchKey', 404);
    assert.equal(header(g, 'x-amz-delete-marker'), 'true');
    assert.equal(header(g, 'x-amz-version-id'), marker);
    const h = await expectStatusError(s3.send(new HeadObjectCommand({ Bucket: b, Key: 'doc' })), 404);
    assert.equal(header(h, 'x-amz-delete-marker'), 'true');

    // The key is gone from ListObjectsV2, all three entries remain in ListObjectVersions.
    assert.deepEqual(await currentKeys(b), ['other']);
    const vs = await versionsOf(b, 'doc');
    assert.deepEqual(vs.map((e) => [e.kind, e.versionId, e.isLatest]), [
      ['DeleteMarker', marker, true],
      ['Version', v2, false],
      ['Version', v1, false],
    ]);
    const sdk = await s3.send(new ListObjectVersionsCommand({ Bucket: b, Prefix: 'doc' }));
    assert.equal(sdk.DeleteMarkers?.length, 1);
    assert.equal(sdk.DeleteMarkers?.[0].VersionId, marker);
    assert.equal(sdk.DeleteMarkers?.[0].IsLatest, true);

    // Old versions are still readable by id.
    assert.equal(await getText(b, 'doc', v1), 'first');
    assert.equal(await getText(b, 'doc', v2), 'second');

    // A delete marker addressed by id: GET and HEAD → 405 MethodNotAllowed.
    const gm = await expectS3Error(s3.send(new GetObjectCommand({ Bucket: b, Key: 'doc', VersionId: marker })), 'MethodNotAllowed', 405);
    assert.equal(header(gm, 'x-amz-delete-marker'), 'true');
    const hm = await expectStatusError(s3.send(new HeadObjectCommand({ Bucket: b, Key: 'doc', VersionId: marker })), 405);
    assert.equal(header(hm, 'x-amz-delete-marker'), 'true');
    assert.ok(header(hm, 'last-modified'), 'Last-Modified on 405 for a delete marker');

    // A raw (signed) GET shows the same headers and an S3 XML body.
    const raw = await signedRawRequest(server, { method: 'GET', host: `127.0.0.1:${server.port}`, path: `/${b}/doc` });
    assert.equal(raw.status, 404);
    assert.equal(raw.headers['x-amz-delete-marker'], 'true');
    assert.equal(xmlField(raw.body.toString(), 'Code'), 'NoSuchKey');

    // A second DELETE adds a second marker.
    const d2 = await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'doc' }));
    assert.equal(d2.DeleteMarker, true);
    assert.notEqual(d2.VersionId, marker);
    const rm2 = await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'doc', VersionId: d2.VersionId }));
    assert.equal(rm2.DeleteMarker, true, 'deleting a marker by id reports DeleteMarker');
    assert.equal(rm2.VersionId, d2.VersionId);

    // DELETE ?versionId=<marker> removes the marker: the previous version is current again.
    const rm = await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'doc', VersionId: marker }));
    assert.equal(rm.$metadata.httpStatusCode, 204);
    assert.equal(rm.VersionId, marker);
    assert.equal(await getText(b, 'doc'), 'second');
    assert.deepEqual(await currentKeys(b), ['doc', 'other']);
    const after = await versionsOf(b, 'doc');
    assert.deepEqual(after.map((e) => [e.kind, e.versionId, e.isLatest]), [
      ['Version', v2, true],
      ['Version', v1, false],
    ]);
  });

  test('DELETE ?versionId of a real version removes it permanently; the next becomes current', async () => {
    const b = await newBucket('perm', 'Enabled');
    const v1 = await put(b, 'k', 'one');
    const v2 = await put(b, 'k', 'two');
    const v3 = await put(b, 'k', 'three');

    // A version in the middle: gone for good, current unchanged.
    const d = await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'k', VersionId: v2 }));
    assert.equal(d.$metadata.httpStatusCode, 204);
    assert.equal(d.VersionId, v2);
    assert.notEqual(d.DeleteMarker, true);
    await expectS3Error(s3.send(new GetObjectCommand({ Bucket: b, Key: 'k', VersionId: v2 })), 'NoSuchVersion', 404);
    assert.equal(await getText(b, 'k'), 'three');
    assert.deepEqual((await versionsOf(b, 'k')).map((e) => [e.versionId, e.isLatest]), [[v3, true], [v1, false]]);

    // The latest: the next one becomes current.
    await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'k', VersionId: v3 }));
    assert.equal(await getText(b, 'k'), 'one');
    const h = await s3.send(new HeadObjectCommand({ Bucket: b, Key: 'k' }));
    assert.equal(h.VersionId, v1);
    assert.deepEqual((await versionsOf(b, 'k')).map((e) => [e.versionId, e.isLatest]), [[v1, true]]);
    const lo = await s3.send(new ListObjectsV2Command({ Bucket: b }));
    assert.deepEqual(lo.Contents?.map((c) => [c.Key, c.Size, c.ETag]), [['k', 3, `"${md5hex('one')}"`]]);

    // Deleting the same version id again is idempotent (204).
    const again = await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'k', VersionId: v3 }));
    assert.equal(again.$metadata.httpStatusCode, 204);

    // The last one: the key is gone everywhere.
    await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'k', VersionId: v1 }));
    await expectS3Error(s3.send(new GetObjectCommand({ Bucket: b, Key: 'k' })), 'NoSuchKey', 404);
    assert.deepEqual(await currentKeys(b), []);
    assert.deepEqual(await versionsOf(b, 'k'), []);
  });

  test('latest version removed when the one below it is a delete marker → key stays deleted', async () => {
    const b = await newBucket('under', 'Enabled');
    const v1 = await put(b, 'k', 'one');
    const m = (await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'k' }))).VersionId;
    const v3 = await put(b, 'k', 'three');
    assert.deepEqual(await currentKeys(b), ['k']);
    await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'k', VersionId: v3 }));
    assert.deepEqual(await currentKeys(b), [], 'latest is now a delete marker');
    const g = await expectS3Error(s3.send(new GetObjectCommand({ Bucket: b, Key: 'k' })), 'NoSuchKey', 404);
    assert.equal(header(g, 'x-amz-delete-marker'), 'true');
    assert.deepEqual((await versionsOf(b, 'k')).map((e) => [e.kind, e.versionId, e.isLatest]), [
      ['DeleteMarker', m, true],
      ['Version', v1, false],
    ]);
  });

  test('unknown well-formed version id → 404 NoSuchVersion; malformed → 400 InvalidArgument', async () => {
    const b = await newBucket('badid', 'Enabled');
    const v = await put(b, 'k', 'data');
    assert.ok(v);
    // Same shape as a real id, but never issued.
    const unknown = v.replace(/[0-9a-f]$/, (c) => (c === '0' ? '1' : '0'));
    await expectS3Error(s3.send(new GetObjectCommand({ Bucket: b, Key: 'k', VersionId: unknown })), 'NoSuchVersion', 404);
    await expectStatusError(s3.send(new HeadObjectCommand({ Bucket: b, Key: 'k', VersionId: unknown })), 404);
    await expectS3Error(s3.send(new GetObjectCommand({ Bucket: b, Key: 'k', VersionId: 'null' })), 'NoSuchVersion', 404);
    await expectS3Error(s3.send(new GetObjectCommand({ Bucket: b, Key: 'k', VersionId: 'zzz' })), 'InvalidArgument', 400);
    await expectStatusError(s3.send(new HeadObjectCommand({ Bucket: b, Key: 'k', VersionId: 'zzz' })), 400);
    await expectS3Error(s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'k', VersionId: 'zzz' })), 'InvalidArgument', 400);
    // The version id of another key does not address this one.
    const other = await put(b, 'other', 'x');
    await expectS3Error(s3.send(new GetObjectCommand({ Bucket: b, Key: 'k', VersionId: other })), 'NoSuchVersion', 404);
    assert.equal(await getText(b, 'k'), 'data');
  });

  test('empty version id → 400 InvalidArgument; ?versionId=null in a never-versioned bucket reads the object', async () => {
    const b = await newBucket('emptyid', 'Enabled');
    await put(b, 'k', 'data');
    const r = await signedRawRequest(server, { method: 'GET', host: `127.0.0.1:${server.port}`, path: `/${b}/k?versionId=` });
    assert.equal(r.status, 400, r.body.toString());
    assert.equal(xmlField(r.body.toString(), 'Code'), 'InvalidArgument');
    const u = await newBucket('unver');
    await put(u, 'k', 'plain');
    assert.equal(await getText(u, 'k', 'null'), 'plain');
    const g = await s3.send(new GetObjectCommand({ Bucket: u, Key: 'k' }));
    await bodyBytes(g.Body);
    assert.equal(g.VersionId, undefined, 'no x-amz-version-id from a never-versioned bucket');
  });

  test('a bucket holding only old versions or delete markers is not empty', async () => {
    const b = await newBucket('notempty', 'Enabled');
    const v = await put(b, 'k', 'x');
    const m = (await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'k' }))).VersionId;
    assert.deepEqual(await currentKeys(b), []);
    await expectS3Error(s3.send(new DeleteBucketCommand({ Bucket: b })), 'BucketNotEmpty', 409);
    await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'k', VersionId: v }));
    await expectS3Error(s3.send(new DeleteBucketCommand({ Bucket: b })), 'BucketNotEmpty', 409);
    await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'k', VersionId: m }));
    await s3.send(new DeleteBucketCommand({ Bucket: b }));
  });

  test('ListObjectsV2 never shows a key whose latest version is a delete marker', async () => {
    const b = await newBucket('lov2', 'Enabled');
    for (const k of ['a', 'b', 'c', 'd/1', 'd/2']) await put(b, k, k);
    await put(b, 'b', 'b again');
    await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'b' }));
    await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'd/1' }));
    await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'never-existed' }));
    assert.deepEqual(await currentKeys(b), ['a', 'c', 'd/2']);
    const withDelim = await s3.send(new ListObjectsV2Command({ Bucket: b, Delimiter: '/' }));
    assert.deepEqual(withDelim.Contents?.map((c) => c.Key), ['a', 'c']);
    assert.deepEqual(withDelim.CommonPrefixes?.map((p) => p.Prefix), ['d/']);
    // A key with only a delete marker is listed by ListObjectVersions.
    const m = await versionsOf(b, 'never-existed');
    assert.deepEqual(m.map((e) => [e.kind, e.isLatest]), [['DeleteMarker', true]]);
    // Deleting every marker of d/1 brings it back; d/ with only d/2 deleted disappears.
    await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'd/2' }));
    const d1 = await versionsOf(b, 'd/1');
    await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'd/1', VersionId: d1[0].versionId }));
    assert.deepEqual(await currentKeys(b), ['a', 'c', 'd/1']);
  });

  test('restore: CopyObject from key?versionId=X onto the same key makes X current again', async () => {
    const b = await newBucket('restore', 'Enabled');
    const v1 = await put(b, 'doc', 'good content');
    const v2 = await put(b, 'doc', 'bad content');
    const c = await s3.send(new CopyObjectCommand({ Bucket: b, Key: 'doc', CopySource: `${b}/doc?versionId=${v1}` }));
    assert.ok(c.VersionId);
    assert.notEqual(c.VersionId, v1);
    assert.notEqual(c.VersionId, v2);
    assert.equal(c.CopySourceVersionId, v1);
    assert.equal(c.CopyObjectResult?.ETag, `"${md5hex('good content')}"`);
    assert.equal(await getText(b, 'doc'), 'good content');
    const vs = await versionsOf(b, 'doc');
    assert.deepEqual(vs.map((e) => [e.versionId, e.isLatest]), [[c.VersionId, true], [v2, false], [v1, false]]);
    assert.equal(await getText(b, 'doc', v2), 'bad content');
    assert.equal(await getText(b, 'doc', v1), 'good content');

    // Restoring from behind a delete marker works the same way.
    await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'doc' }));
    const c2 = await s3.send(new CopyObjectCommand({ Bucket: b, Key: 'doc', CopySource: `${b}/doc?versionId=${v2}` }));
    assert.equal(await getText(b, 'doc'), 'bad content');
    assert.equal((await versionsOf(b, 'doc'))[0].versionId, c2.VersionId);

    // A delete marker cannot be a copy source; an unknown version id is NoSuchVersion.
    const m = (await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'doc' }))).VersionId;
    await expectS3Error(s3.send(new CopyObjectCommand({ Bucket: b, Key: 'x', CopySource: `${b}/doc?versionId=${m}` })), 'InvalidRequest', 400);
    await expectS3Error(s3.send(new CopyObjectCommand({ Bucket: b, Key: 'x', CopySource: `${b}/doc` })), 'NoSuchKey', 404);
  });
});

// ---------------------------------------------------------------------- null versions

describe('null versions and versioning Suspended', () => {
  test('objects written before versioning was enabled are the "null" version', async () => {
    const b = await newBucket('pre');
    const unv = await s3.send(new PutObjectCommand({ Bucket: b, Key: 'old', Body: 'before' }));
    assert.equal(unv.VersionId, undefined, 'no version id from a never-versioned bucket');
    const r0 = await s3.send(new ListObjectVersionsCommand({ Bucket: b }));
    assert.deepEqual(r0.Versions?.map((v) => [v.Key, v.VersionId, v.IsLatest]), [['old', 'null', true]]);

    await setVersioning(b, 'Enabled');
    const v2 = await put(b, 'old', 'after');
    assert.ok(v2 && v2 !== 'null');
    const vs = await versionsOf(b, 'old');
    assert.deepEqual(vs.map((e) => [e.versionId, e.isLatest]), [[v2, true], ['null', false]]);
    assert.equal(await getText(b, 'old', 'null'), 'before');
    const h = await s3.send(new HeadObjectCommand({ Bucket: b, Key: 'old', VersionId: 'null' }));
    assert.equal(h.VersionId, 'null');
    assert.equal(await getText(b, 'old'), 'after');

    // Deleting the null version by id removes exactly it.
    const d = await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'old', VersionId: 'null' }));
    assert.equal(d.VersionId, 'null');
    assert.deepEqual((await versionsOf(b, 'old')).map((e) => e.versionId), [v2]);
    await expectS3Error(s3.send(new GetObjectCommand({ Bucket: b, Key: 'old', VersionId: 'null' })), 'NoSuchVersion', 404);
  });

  test('Suspended: PUTs get version "null" and replace only the previous null version', async () => {
    const b = await newBucket('susp');
    await put(b, 'k', 'null-1'); // the null version, from before versioning
    await setVersioning(b, 'Enabled');
    const v1 = await put(b, 'k', 'enabled-1');
    const v2 = await put(b, 'k', 'enabled-2');
    await setVersioning(b, 'Suspended');

    const p = await s3.send(new PutObjectCommand({ Bucket: b, Key: 'k', Body: 'null-2' }));
    // S3 names the null version as "null" (or not at all): never a generated id.
    assert.ok(p.VersionId === undefined || p.VersionId === 'null', `PUT version id: ${p.VersionId}`);
    let vs = await versionsOf(b, 'k');
    assert.deepEqual(vs.map((e) => [e.versionId, e.isLatest]), [['null', true], [v2, false], [v1, false]], 'old null replaced, others stay');
    assert.equal(await getText(b, 'k'), 'null-2');
    assert.equal(await getText(b, 'k', 'null'), 'null-2');
    const h = await s3.send(new HeadObjectCommand({ Bucket: b, Key: 'k' }));
    assert.equal(h.VersionId, 'null');

    // Another PUT replaces it again; the enabled-era versions are untouched.
    await put(b, 'k', 'null-3');
    vs = await versionsOf(b, 'k');
    assert.deepEqual(vs.map((e) => [e.versionId, e.isLatest]), [['null', true], [v2, false], [v1, false]]);
    assert.equal(await getText(b, 'k'), 'null-3');
    assert.equal(await getText(b, 'k', v1), 'enabled-1');
    assert.equal(await getText(b, 'k', v2), 'enabled-2');

    // COPY in a suspended bucket also writes the null version.
    await s3.send(new CopyObjectCommand({ Bucket: b, Key: 'k', CopySource: `${b}/k?versionId=${v1}` }));
    vs = await versionsOf(b, 'k');
    assert.deepEqual(vs.map((e) => e.versionId), ['null', v2, v1]);
    assert.equal(await getText(b, 'k'), 'enabled-1');

    // A new key in a suspended bucket gets only the null version.
    await put(b, 'fresh', 'x');
    await put(b, 'fresh', 'y');
    assert.deepEqual((await versionsOf(b, 'fresh')).map((e) => [e.versionId, e.isLatest]), [['null', true]]);
    assert.equal(await getText(b, 'fresh'), 'y');
  });

  test('Suspended: DELETE creates a null delete marker that replaces the null version', async () => {
    const b = await newBucket('suspdel', 'Enabled');
    const v1 = await put(b, 'k', 'enabled-1');
    await setVersioning(b, 'Suspended');
    await put(b, 'k', 'null-data');
    const d = await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'k' }));
    assert.equal(d.DeleteMarker, true);
    assert.equal(d.VersionId, 'null');
    let vs = await versionsOf(b, 'k');
    assert.deepEqual(vs.map((e) => [e.kind, e.versionId, e.isLatest]), [
      ['DeleteMarker', 'null', true],
      ['Version', v1, false],
    ]);
    const g = await expectS3Error(s3.send(new GetObjectCommand({ Bucket: b, Key: 'k' })), 'NoSuchKey', 404);
    assert.equal(header(g, 'x-amz-delete-marker'), 'true');
    assert.deepEqual(await currentKeys(b), []);

    // A second DELETE replaces the null marker: still one marker.
    await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'k' }));
    vs = await versionsOf(b, 'k');
    assert.deepEqual(vs.map((e) => [e.kind, e.versionId]), [['DeleteMarker', 'null'], ['Version', v1]]);

    // Removing the null marker by id brings the enabled-era version back.
    await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'k', VersionId: 'null' }));
    assert.equal(await getText(b, 'k'), 'enabled-1');

    // A PUT after the marker replaces it with a null object version.
    await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'k' }));
    await put(b, 'k', 'revived');
    vs = await versionsOf(b, 'k');
    assert.deepEqual(vs.map((e) => [e.kind, e.versionId, e.isLatest]), [['Version', 'null', true], ['Version', v1, false]]);
    assert.equal(await getText(b, 'k'), 'revived');
  });
});

// ------------------------------------------------------------------------ DeleteObjects

describe('DeleteObjects with versions', () => {
  test('per-key VersionId deletes versions and markers; without one a marker is created', async () => {
    const b = await newBucket('multi', 'Enabled');
    const a1 = await put(b, 'a', 'a1');
    const a2 = await put(b, 'a', 'a2');
    const b1 = await put(b, 'b', 'b1');
    const cm = (await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'c' }))).VersionId;
    const r = await s3.send(new DeleteObjectsCommand({
      Bucket: b,
      Delete: {
        Objects: [
          { Key: 'a', VersionId: a1 },
          { Key: 'b' },
          { Key: 'c', VersionId: cm },
          { Key: 'a', VersionId: 'zzz' }, // malformed: an error entry for this key only
        ],
      },
    }));
    const deleted = r.Deleted ?? [];
    assert.equal(deleted.length, 3, JSON.stringify(r));
    const byKey = new Map(deleted.map((d) => [`${d.Key}`, d]));
    assert.equal(byKey.get('a')?.VersionId, a1);
    assert.notEqual(byKey.get('a')?.DeleteMarker, true);
    assert.equal(byKey.get('b')?.VersionId, undefined);
    assert.equal(byKey.get('b')?.DeleteMarker, true);
    assert.ok(byKey.get('b')?.DeleteMarkerVersionId && byKey.get('b')?.DeleteMarkerVersionId !== 'null');
    assert.equal(byKey.get('c')?.VersionId, cm);
    assert.equal(byKey.get('c')?.DeleteMarker, true);
    assert.equal(byKey.get('c')?.DeleteMarkerVersionId, cm);
    assert.deepEqual(r.Errors?.map((e) => [e.Key, e.VersionId]), [['a', 'zzz']]);
    assert.ok(r.Errors?.[0].Code && r.Errors[0].Message);

    assert.deepEqual((await versionsOf(b, 'a')).map((e) => e.versionId), [a2]);
    const bv = await versionsOf(b, 'b');
    assert.deepEqual(bv.map((e) => [e.kind, e.versionId]), [['DeleteMarker', byKey.get('b')!.DeleteMarkerVersionId], ['Version', b1]]);
    assert.deepEqual(await versionsOf(b, 'c'), []);
    assert.deepEqual(await currentKeys(b), ['a']);
  });

  test('Suspended bucket: a delete without version id reports the null delete marker', async () => {
    const b = await newBucket('multisusp', 'Suspended');
    await put(b, 'k', 'x');
    const r = await s3.send(new DeleteObjectsCommand({ Bucket: b, Delete: { Objects: [{ Key: 'k' }] } }));
    assert.equal(r.Deleted?.[0].DeleteMarker, true);
    assert.equal(r.Deleted?.[0].DeleteMarkerVersionId, 'null');
    assert.deepEqual((await versionsOf(b, 'k')).map((e) => [e.kind, e.versionId]), [['DeleteMarker', 'null']]);
  });
});

// ------------------------------------------------------------------- ListObjectVersions

describe('ListObjectVersions', () => {
  let b: string;
  /** key → version ids newest first. */
  const model = new Map<string, string[]>();

  before(async () => {
    // 'a' and 'c' start with a null version written before versioning was enabled, so paging
    // also resumes after version-id-marker=null.
    b = await newBucket('lov');
    await put(b, 'a', 'a#null');
    await put(b, 'c', 'c#null');
    await setVersioning(b, 'Enabled');
    const keys = ['a', 'b/1', 'b/2', 'b/c/3', 'c', 'd e&f', 'é/x'];
    for (const k of keys) {
      const ids: string[] = k === 'a' || k === 'c' ? ['null'] : [];
      for (let i = 0; i < 3; i++) ids.unshift((await put(b, k, `${k}#${i}`))!);
      model.set(k, ids);
    }
  });

  const expected = (filter: (k: string) => boolean = () => true) =>
    [...model.entries()]
      .filter(([k]) => filter(k))
      .sort(([x], [y]) => Buffer.compare(Buffer.from(x), Buffer.from(y)))
      .flatMap(([k, ids]) => ids.map((id) => [k, id]));

  test('everything, in key order then newest first', async () => {
    const r = await s3.send(new ListObjectVersionsCommand({ Bucket: b }));
    assert.equal(r.IsTruncated, false);
    assert.deepEqual(r.Versions?.map((v) => [v.Key, v.VersionId]), expected());
    assert.equal(r.Versions?.filter((v) => v.IsLatest).length, model.size);
    assert.equal(r.MaxKeys, 1000);
    assert.equal(r.Name, b);
  });

  test('prefix', async () => {
    const r = await s3.send(new ListObjectVersionsCommand({ Bucket: b, Prefix: 'b/' }));
    assert.deepEqual(r.Versions?.map((v) => [v.Key, v.VersionId]), expected((k) => k.startsWith('b/')));
    assert.equal(r.Prefix, 'b/');
    const none = await s3.send(new ListObjectVersionsCommand({ Bucket: b, Prefix: 'zzz' }));
    assert.equal(none.Versions, undefined);
    assert.equal(none.IsTruncated, false);
  });

  test('delimiter and CommonPrefixes', async () => {
    const r = await s3.send(new ListObjectVersionsCommand({ Bucket: b, Delimiter: '/' }));
    assert.deepEqual(r.Versions?.map((v) => [v.Key, v.VersionId]), expected((k) => !k.includes('/')));
    assert.deepEqual(r.CommonPrefixes?.map((p) => p.Prefix), ['b/', 'é/']);
    assert.equal(r.Delimiter, '/');
    const sub = await s3.send(new ListObjectVersionsCommand({ Bucket: b, Prefix: 'b/', Delimiter: '/' }));
    assert.deepEqual(sub.Versions?.map((v) => v.Key), ['b/1', 'b/1', 'b/1', 'b/2', 'b/2', 'b/2']);
    assert.deepEqual(sub.CommonPrefixes?.map((p) => p.Prefix), ['b/c/']);
  });

  test('max-keys and key-marker / version-id-marker paging (page size 1..8)', async () => {
    const want = expected();
    for (const size of [1, 2, 3, 5, 8]) {
      const got: string[][] = [];
      let km: string | undefined;
      let vm: string | undefined;
      let pages = 0;
      for (;;) {
        const r = await s3.send(new ListObjectVersionsCommand({ Bucket: b, MaxKeys: size, KeyMarker: km, VersionIdMarker: vm }));
        pages++;
        const vs = r.Versions ?? [];
        assert.ok(vs.length <= size);
        got.push(...vs.map((v) => [v.Key!, v.VersionId!]));
        // IsLatest is right even for a page that starts in the middle of a key's versions.
        for (const v of vs) assert.equal(v.IsLatest, model.get(v.Key!)![0] === v.VersionId, `IsLatest of ${v.Key} ${v.VersionId}`);
        if (!r.IsTruncated) break;
        assert.equal(vs.length, size);
        assert.equal(r.NextKeyMarker, vs.at(-1)!.Key);
        assert.equal(r.NextVersionIdMarker, vs.at(-1)!.VersionId);
        km = r.NextKeyMarker;
        vm = r.NextVersionIdMarker;
        assert.ok(pages < 100);
      }
      assert.deepEqual(got, want, `page size ${size}`);
      assert.equal(pages, Math.ceil(want.length / size), `pages at size ${size}`);
    }
  });

  test('key-marker alone starts after every version of that key', async () => {
    const r = await s3.send(new ListObjectVersionsCommand({ Bucket: b, KeyMarker: 'b/2' }));
    assert.deepEqual(r.Versions?.map((v) => [v.Key, v.VersionId]), expected((k) => Buffer.compare(Buffer.from(k), Buffer.from('b/2')) > 0));
    assert.equal(r.KeyMarker, 'b/2');
    const mid = await s3.send(new ListObjectVersionsCommand({ Bucket: b, KeyMarker: 'b/2', VersionIdMarker: model.get('b/2')![0] }));
    assert.deepEqual(mid.Versions?.slice(0, 2).map((v) => [v.Key, v.VersionId, v.IsLatest]), model.get('b/2')!.slice(1).map((id) => ['b/2', id, false]));
    assert.equal(mid.VersionIdMarker, model.get('b/2')![0]);
  });

  test('delimiter paging: a common prefix counts once and NextKeyMarker is the prefix', async () => {
    const seen: string[] = [];
    const prefixes: string[] = [];
    let km: string | undefined;
    let vm: string | undefined;
    for (let i = 0; i < 50; i++) {
      const r = await s3.send(new ListObjectVersionsCommand({ Bucket: b, Delimiter: '/', MaxKeys: 2, KeyMarker: km, VersionIdMarker: vm }));
      seen.push(...(r.Versions ?? []).map((v) => `${v.Key}@${v.VersionId}`));
      prefixes.push(...(r.CommonPrefixes ?? []).map((p) => p.Prefix!));
      assert.ok((r.Versions?.length ?? 0) + (r.CommonPrefixes?.length ?? 0) <= 2);
      if (!r.IsTruncated) break;
      km = r.NextKeyMarker;
      vm = r.NextVersionIdMarker;
    }
    assert.deepEqual(seen, expected((k) => !k.includes('/')).map(([k, v]) => `${k}@${v}`));
    assert.deepEqual(prefixes, ['b/', 'é/']);
  });

  test('paging resumes after version-id-marker=null', async () => {
    const r = await s3.send(new ListObjectVersionsCommand({ Bucket: b, KeyMarker: 'a', VersionIdMarker: 'null', MaxKeys: 2 }));
    assert.deepEqual(r.Versions?.map((v) => [v.Key, v.VersionId]), expected((k) => k === 'b/1').slice(0, 2));
    const r2 = await s3.send(new ListObjectVersionsCommand({ Bucket: b, KeyMarker: 'c', VersionIdMarker: model.get('c')![2], MaxKeys: 1 }));
    assert.deepEqual(r2.Versions?.map((v) => [v.Key, v.VersionId, v.IsLatest]), [['c', 'null', false]]);
    assert.equal(r2.IsTruncated, true);
  });

  test('max-keys=0 → empty, not truncated; version-id-marker without key-marker → 400', async () => {
    const r = await s3.send(new ListObjectVersionsCommand({ Bucket: b, MaxKeys: 0 }));
    assert.equal(r.Versions, undefined);
    assert.equal(r.IsTruncated, false);
    await expectS3Error(s3.send(new ListObjectVersionsCommand({ Bucket: b, VersionIdMarker: model.get('a')![0] })), 'InvalidArgument', 400);
    // A version-id marker that cannot be a version id: "Invalid version id specified".
    await expectS3Error(s3.send(new ListObjectVersionsCommand({ Bucket: b, KeyMarker: 'a', VersionIdMarker: 'zzz' })), 'InvalidArgument', 400);
  });

  test('encoding-type=url encodes keys, prefixes and markers', async () => {
    const input: ListObjectVersionsCommandInput = { Bucket: b, EncodingType: 'url', Delimiter: '/', KeyMarker: 'c' };
    const r = await s3.send(new ListObjectVersionsCommand(input));
    assert.equal(r.EncodingType, 'url');
    // S3 percent-encodes (space → %20, '/' kept); the SDK hands the keys over as sent.
    assert.deepEqual([...new Set(r.Versions?.map((v) => v.Key))], ['d%20e%26f']);
    assert.deepEqual(r.CommonPrefixes?.map((p) => p.Prefix), ['%C3%A9/']);
    const raw = await rawListVersions(b, { 'encoding-type': 'url', prefix: 'd e', 'max-keys': '1' });
    assert.equal(xmlField(raw.xml, 'Prefix'), 'd%20e');
    assert.equal(raw.entries[0].key, 'd%20e%26f');
    assert.equal(raw.nextKeyMarker, 'd%20e%26f');
    // Without encoding-type, XML escaping only.
    const plain = await rawListVersions(b, { prefix: 'd e' });
    assert.deepEqual([...new Set(plain.entries.map((e) => e.key))], ['d e&f']);
  });

  test('aws-cli: list-object-versions (paginated), get-object --version-id, delete-object --version-id, put-bucket-versioning', async () => {
    const cb = uniqueBucket('cli');
    await s3.send(new CreateBucketCommand({ Bucket: cb }));
    const en = await aws(server, ['s3api', 'put-bucket-versioning', '--bucket', cb, '--versioning-configuration', 'Status=Enabled']);
    assert.equal(en.code, 0, show(en));
    const gv = await aws(server, ['s3api', 'get-bucket-versioning', '--bucket', cb]);
    assert.equal(JSON.parse(gv.stdout).Status, 'Enabled', show(gv));
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.unshift((await put(cb, 'dir/file name+1.txt', `body ${i}`))!);
    const marker = (await s3.send(new DeleteObjectCommand({ Bucket: cb, Key: 'dir/file name+1.txt' }))).VersionId!;
    await put(cb, 'z', 'z');

    // --page-size 2 makes the cli follow NextKeyMarker/NextVersionIdMarker itself.
    const lv = await aws(server, ['s3api', 'list-object-versions', '--bucket', cb, '--page-size', '2']);
    assert.equal(lv.code, 0, show(lv));
    const out = JSON.parse(lv.stdout) as { Versions: Array<{ Key: string; VersionId: string; IsLatest: boolean }>; DeleteMarkers: Array<{ Key: string; VersionId: string; IsLatest: boolean }> };
    assert.deepEqual(out.Versions.filter((v) => v.Key !== 'z').map((v) => [v.Key, v.VersionId, v.IsLatest]), ids.map((id) => ['dir/file name+1.txt', id, false]));
    assert.deepEqual(out.DeleteMarkers.map((v) => [v.Key, v.VersionId, v.IsLatest]), [['dir/file name+1.txt', marker, true]]);

    const file = `${server.root}/cli-get.out`;
    const go = await aws(server, ['s3api', 'get-object', '--bucket', cb, '--key', 'dir/file name+1.txt', '--version-id', ids[2], file]);
    assert.equal(go.code, 0, show(go));
    assert.equal(JSON.parse(go.stdout).VersionId, ids[2]);
    const { readFile } = await import('node:fs/promises');
    assert.equal(await readFile(file, 'utf8'), 'body 2');

    const gm = await aws(server, ['s3api', 'get-object', '--bucket', cb, '--key', 'dir/file name+1.txt', '--version-id', marker, file]);
    assert.notEqual(gm.code, 0);
    assert.match(gm.stderr, /MethodNotAllowed|405/, show(gm));

    const dm = await aws(server, ['s3api', 'delete-object', '--bucket', cb, '--key', 'dir/file name+1.txt', '--version-id', marker]);
    assert.equal(dm.code, 0, show(dm));
    assert.deepEqual(JSON.parse(dm.stdout), { DeleteMarker: true, VersionId: marker });
    assert.equal(await getText(cb, 'dir/file name+1.txt'), 'body 4');

    const dv = await aws(server, ['s3api', 'delete-object', '--bucket', cb, '--key', 'dir/file name+1.txt', '--version-id', ids[0]]);
    assert.equal(dv.code, 0, show(dv));
    assert.equal(JSON.parse(dv.stdout).VersionId, ids[0]);
    assert.equal(await getText(cb, 'dir/file name+1.txt'), 'body 3');

    const su = await aws(server, ['s3api', 'put-bucket-versioning', '--bucket', cb, '--versioning-configuration', 'Status=Suspended']);
    assert.equal(su.code, 0, show(su));
    assert.equal((await s3.send(new GetBucketVersioningCommand({ Bucket: cb }))).Status, 'Suspended');
    const mfa = await aws(server, ['s3api', 'put-bucket-versioning', '--bucket', cb, '--versioning-configuration', 'Status=Enabled,MFADelete=Enabled', '--mfa', 'arn:aws:iam::123456789012:mfa/x 123456']);
    assert.notEqual(mfa.code, 0);
    assert.match(mfa.stderr, /NotImplemented/, show(mfa));
    assert.equal((await s3.send(new GetBucketVersioningCommand({ Bucket: cb }))).Status, 'Suspended');
  });
});

// ------------------------------------------------------------------- scale and concurrency

describe('ListObjectVersions over 10,000 versions', () => {
  test('pages of 100 list every version exactly once, in key order then newest first', { timeout: 180_000 }, async () => {
    const started = Date.now();
    const b = await newBucket('big', 'Enabled');
    const KEYS = 10;
    const PER_KEY = 1000;
    const keys = Array.from({ length: KEYS }, (_, i) => `key-${String(i).padStart(2, '0')}`);
    // Tasks interleave keys, so up to 16 writers race on the same key too.
    const tasks = Array.from({ length: KEYS * PER_KEY }, (_, i) => ({ key: keys[i % KEYS], n: Math.floor(i / KEYS) }));
    // Real-time order: a PUT acknowledged before another one started must be listed as older.
    let clock = 0;
    const acked = new Map<string, { id: string; start: number; end: number; body: string }[]>(keys.map((k) => [k, []]));
    await pool(tasks, 16, async ({ key, n }) => {
      const start = clock++;
      const body = `${key}/${n}`;
      const r = await s3.send(new PutObjectCommand({ Bucket: b, Key: key, Body: body }));
      assert.ok(r.VersionId && r.VersionId !== 'null');
      acked.get(key)!.push({ id: r.VersionId, start, end: clock++, body });
    });
    const wrote = Date.now();

    const listed: Entry[] = [];
    let km: string | undefined;
    let vm: string | undefined;
    let pages = 0;
    for (;;) {
      const params: Record<string, string> = { 'max-keys': '100' };
      if (km !== undefined) params['key-marker'] = km;
      if (vm !== undefined) params['version-id-marker'] = vm;
      const r = await rawListVersions(b, params);
      pages++;
      listed.push(...r.entries);
      if (!r.isTruncated) {
        assert.ok(r.entries.length <= 100);
        break;
      }
      assert.equal(r.entries.length, 100);
      assert.equal(r.nextKeyMarker, r.entries.at(-1)!.key);
      assert.equal(r.nextVersionIdMarker, r.entries.at(-1)!.versionId);
      km = r.nextKeyMarker;
      vm = r.nextVersionIdMarker;
      assert.ok(pages <= 101, 'too many pages');
    }
    assert.equal(listed.length, KEYS * PER_KEY);
    assert.ok(pages === 100 || pages === 101, `pages: ${pages}`);

    // Key order, every acknowledged version exactly once, exactly one IsLatest (the first).
    const ids = new Set(listed.map((e) => e.versionId));
    assert.equal(ids.size, listed.length, 'no version listed twice');
    for (const [ki, key] of keys.entries()) {
      const run = listed.slice(ki * PER_KEY, (ki + 1) * PER_KEY);
      assert.ok(run.every((e) => e.key === key && e.kind === 'Version'), `versions of ${key} are contiguous and in key order`);
      assert.deepEqual(run.map((e) => e.isLatest), run.map((_, i) => i === 0), `IsLatest of ${key}`);
      const model = acked.get(key)!;
      assert.deepEqual(new Set(run.map((e) => e.versionId)), new Set(model.map((m) => m.id)), `versions of ${key}`);
      // Newest first: for every pair where A was acknowledged before B started, B is listed before A.
      const pos = new Map(run.map((e, i) => [e.versionId, i]));
      const byEnd = [...model].sort((x, y) => x.end - y.end);
      const byStart = [...model].sort((x, y) => x.start - y.start);
      // Walk the PUTs by start time; every PUT finished before it started must be listed after it.
      let j = 0;
      let minPosOfFinished = Infinity; // smallest listing position of PUTs that ended before this one started
      for (const m of byStart) {
        while (j < byEnd.length && byEnd[j].end < m.start) {
          minPosOfFinished = Math.min(minPosOfFinished, pos.get(byEnd[j].id)!);
          j++;
        }
        assert.ok(pos.get(m.id)! < minPosOfFinished, `${key}: ${m.id} must be newer than every version acknowledged before it was sent`);
      }
      // The current object is the IsLatest version.
      const latest = model.find((m) => m.id === run[0].versionId)!;
      assert.equal(await getText(b, key), latest.body);
    }
    const total = Date.now() - started;
    assert.ok(total < 60_000, `took ${total} ms (write ${wrote - started} ms)`);
  });
});

describe('concurrent writers on one key', () => {
  test('16 parallel PUTs × 5 rounds: every acknowledged version once, one IsLatest, GET = latest', async () => {
    const b = await newBucket('race', 'Enabled');
    const bodies = new Map<string, string>();
    for (let round = 0; round < 5; round++) {
      const results = await Promise.all(
        Array.from({ length: 16 }, async (_, i) => {
          const body = `round ${round} writer ${i} ${'x'.repeat(i * 7)}`;
          const r = await s3.send(new PutObjectCommand({ Bucket: b, Key: 'hot', Body: body }));
          return { id: r.VersionId!, body };
        }),
      );
      for (const r of results) {
        assert.ok(r.id && !bodies.has(r.id), `distinct version id ${r.id}`);
        bodies.set(r.id, r.body);
      }
      const vs = await versionsOf(b, 'hot');
      assert.equal(vs.length, bodies.size, `round ${round}: version count`);
      assert.deepEqual(new Set(vs.map((v) => v.versionId)), new Set(bodies.keys()), `round ${round}: listed = acknowledged`);
      assert.equal(vs.filter((v) => v.isLatest).length, 1);
      assert.equal(vs[0].isLatest, true);
      const latestBody = bodies.get(vs[0].versionId)!;
      const g = await s3.send(new GetObjectCommand({ Bucket: b, Key: 'hot' }));
      assert.equal(g.VersionId, vs[0].versionId);
      assert.equal((await bodyBytes(g.Body)).toString(), latestBody);
      const lo = await s3.send(new ListObjectsV2Command({ Bucket: b }));
      assert.equal(lo.Contents?.[0].ETag, `"${md5hex(latestBody)}"`);
      // Every version still reads back its own bytes.
      for (const v of vs.slice(0, 16)) assert.equal(await getText(b, 'hot', v.versionId), bodies.get(v.versionId));
    }
  });
});

describe('concurrent mixed operations', () => {
  test('PUTs, delete markers and version deletes racing on two keys keep listing, current and GET consistent', async () => {
    const b = await newBucket('mixed', 'Enabled');
    const keys = ['p', 'q'];
    const live = new Map<string, { key: string; body?: string }>(); // acknowledged, not deleted
    const gone = new Set<string>();
    let seed = 12345;
    const rand = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    const ops = Array.from({ length: 400 }, (_, i) => ({ i, op: rand(10), key: keys[rand(2)] }));
    await pool(ops, 16, async ({ i, op, key }) => {
      if (op < 6) {
        const body = `${key}:${i}`;
        const r = await s3.send(new PutObjectCommand({ Bucket: b, Key: key, Body: body }));
        live.set(r.VersionId!, { key, body });
      } else if (op < 8) {
        const r = await s3.send(new DeleteObjectCommand({ Bucket: b, Key: key }));
        assert.equal(r.DeleteMarker, true);
        live.set(r.VersionId!, { key });
      } else {
        const candidates = [...live].filter(([, v]) => v.key === key);
        if (candidates.length === 0) return;
        const [id] = candidates[rand(candidates.length)];
        live.delete(id);
        await s3.send(new DeleteObjectCommand({ Bucket: b, Key: key, VersionId: id }));
        gone.add(id);
      }
    });
    const current = new Set(await currentKeys(b));
    for (const key of keys) {
      const vs = await versionsOf(b, key);
      const expectIds = [...live].filter(([, v]) => v.key === key).map(([id]) => id);
      assert.deepEqual(new Set(vs.map((v) => v.versionId)), new Set(expectIds), `${key}: listed = acknowledged − deleted`);
      assert.ok(vs.every((v) => !gone.has(v.versionId)));
      assert.equal(vs.filter((v) => v.isLatest).length, vs.length > 0 ? 1 : 0);
      const latest = vs[0];
      if (latest && latest.kind === 'Version') {
        assert.ok(current.has(key), `${key} is listed by ListObjectsV2`);
        const g = await s3.send(new GetObjectCommand({ Bucket: b, Key: key }));
        assert.equal(g.VersionId, latest.versionId);
        assert.equal((await bodyBytes(g.Body)).toString(), live.get(latest.versionId)!.body);
      } else {
        assert.ok(!current.has(key), `${key} is hidden from ListObjectsV2`);
        await expectS3Error(s3.send(new GetObjectCommand({ Bucket: b, Key: key })), 'NoSuchKey', 404);
      }
    }
  });
});

// ------------------------------------------------------------------------------ restart

describe('versions survive a restart', () => {
  test('versions, delete markers, null versions and the versioning state are durable', async () => {
    const first = await startTestServer();
    let second: TestServer | undefined;
    const c1 = sdkClient(first);
    try {
      const b = uniqueBucket('restart');
      await c1.send(new CreateBucketCommand({ Bucket: b }));
      await c1.send(new PutObjectCommand({ Bucket: b, Key: 'k', Body: 'null version' }));
      await c1.send(new PutBucketVersioningCommand({ Bucket: b, VersioningConfiguration: { Status: 'Enabled' } }));
      const v1 = (await c1.send(new PutObjectCommand({ Bucket: b, Key: 'k', Body: patternBuffer(200 * 1024, 5) }))).VersionId!;
      const m = (await c1.send(new DeleteObjectCommand({ Bucket: b, Key: 'k' }))).VersionId!;
      const w = (await c1.send(new PutObjectCommand({ Bucket: b, Key: 'w', Body: 'w' }))).VersionId!;
      c1.destroy();
      await first.stop();

      second = await startTestServer({ root: first.root });
      const c2 = sdkClient(second);
      try {
        assert.equal((await c2.send(new GetBucketVersioningCommand({ Bucket: b }))).Status, 'Enabled');
        const r = await c2.send(new ListObjectVersionsCommand({ Bucket: b }));
        assert.deepEqual(r.Versions?.map((v) => [v.Key, v.VersionId, v.IsLatest]), [['k', v1, false], ['k', 'null', false], ['w', w, true]]);
        assert.deepEqual(r.DeleteMarkers?.map((v) => [v.Key, v.VersionId, v.IsLatest]), [['k', m, true]]);
        await expectS3Error(c2.send(new GetObjectCommand({ Bucket: b, Key: 'k' })), 'NoSuchKey', 404);
        const g = await c2.send(new GetObjectCommand({ Bucket: b, Key: 'k', VersionId: v1 }));
        assert.ok((await bodyBytes(g.Body)).equals(patternBuffer(200 * 1024, 5)));
        const n = await c2.send(new GetObjectCommand({ Bucket: b, Key: 'k', VersionId: 'null' }));
        assert.equal((await bodyBytes(n.Body)).toString(), 'null version');
        // New versions after the restart are still newer than the old ones.
        const v3 = (await c2.send(new PutObjectCommand({ Bucket: b, Key: 'k', Body: 'after restart' }))).VersionId!;
        const lv = await c2.send(new ListObjectVersionsCommand({ Bucket: b, Prefix: 'k' }));
        assert.deepEqual(lv.Versions?.map((v) => [v.VersionId, v.IsLatest]), [[v3, true], [v1, false], ['null', false]]);
      } finally {
        c2.destroy();
      }
    } finally {
      c1.destroy();
      await first.stop();
      await second?.destroy();
    }
  });
});

// ----------------------------------------------------------------------------------- space

describe('space is reclaimed', () => {
  const SIZE = 300 * 1024; // above the 128 KiB inline threshold: erasure-coded shard files

  async function shardFiles(dataId: string): Promise<boolean[]> {
    return Promise.all(server.disks.map((d) => exists(`${d}/shards/${dataId.slice(0, 2)}/${dataId}`)));
  }

  async function dataIdOf(bucket: string, key: string, versionId: string): Promise<string> {
    const v = await server.started.engine.store.meta.getVersion(bucket, key, versionId);
    assert.ok(v?.data && v.data.kind === 'shards', `version ${versionId} is erasure-coded`);
    return v.data.dataId;
  }

  test('DELETE ?versionId removes the shard files of that version from every disk', async () => {
    const b = await newBucket('space', 'Enabled');
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const body = patternBuffer(SIZE, i + 11);
      ids.push((await put(b, 'big', body))!);
    }
    const dataIds = await Promise.all(ids.map((id) => dataIdOf(b, 'big', id)));
    assert.equal(new Set(dataIds).size, 3);
    for (const d of dataIds) assert.deepEqual(await shardFiles(d), server.disks.map(() => true), `shards of ${d} before`);

    // A delete marker frees nothing.
    const marker = (await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'big' }))).VersionId!;
    await server.started.engine.store.settle();
    for (const d of dataIds) assert.deepEqual(await shardFiles(d), server.disks.map(() => true));

    await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'big', VersionId: ids[0] }));
    await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'big', VersionId: ids[2] }));
    await server.started.engine.store.settle();
    assert.deepEqual(await shardFiles(dataIds[0]), server.disks.map(() => false), 'v1 shards gone');
    assert.deepEqual(await shardFiles(dataIds[2]), server.disks.map(() => false), 'v3 shards gone');
    assert.deepEqual(await shardFiles(dataIds[1]), server.disks.map(() => true), 'v2 shards kept');

    await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'big', VersionId: marker }));
    const g = await s3.send(new GetObjectCommand({ Bucket: b, Key: 'big' }));
    assert.ok((await bodyBytes(g.Body)).equals(patternBuffer(SIZE, 12)), 'v2 reads back bit-exact');
    assert.equal((await server.started.engine.store.meta.listGarbage(10)).length, 0, 'garbage queue drained');
  });

  test('a Suspended PUT frees the data of the null version it replaces, and only that', async () => {
    const b = await newBucket('spacenull');
    await put(b, 'k', patternBuffer(SIZE, 21)); // null version
    const nullData = await dataIdOf(b, 'k', 'null');
    await setVersioning(b, 'Enabled');
    const v = (await put(b, 'k', patternBuffer(SIZE, 22)))!;
    const vData = await dataIdOf(b, 'k', v);
    await setVersioning(b, 'Suspended');
    await put(b, 'k', patternBuffer(SIZE, 23));
    const newNull = await dataIdOf(b, 'k', 'null');
    await server.started.engine.store.settle();
    assert.deepEqual(await shardFiles(nullData), server.disks.map(() => false), 'replaced null version freed');
    assert.deepEqual(await shardFiles(vData), server.disks.map(() => true));
    assert.deepEqual(await shardFiles(newNull), server.disks.map(() => true));
    // A null delete marker replaces the null version: its data is freed too.
    await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'k' }));
    await server.started.engine.store.settle();
    assert.deepEqual(await shardFiles(newNull), server.disks.map(() => false), 'null version replaced by a marker freed');
    assert.deepEqual(await shardFiles(vData), server.disks.map(() => true));
  });
});
