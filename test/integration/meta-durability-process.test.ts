// Metadata durability through the real `tessera server` process and the AWS SDK: the metadata
// directory is deleted, corrupted or replaced by an older copy while the server is stopped,
// and after a restart every listing, version, tag set, upload and byte is what it was.
// `tessera admin meta verify|rebuild` are run as users run them.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, readdir, rename, rm } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import path from 'node:path';
import {
  S3Client, CreateBucketCommand, PutBucketVersioningCommand, PutBucketTaggingCommand, GetBucketTaggingCommand,
  GetBucketVersioningCommand, PutObjectCommand, GetObjectCommand, DeleteObjectCommand, PutObjectTaggingCommand,
  GetObjectTaggingCommand, ListBucketsCommand, ListObjectsV2Command, ListObjectVersionsCommand,
  CreateMultipartUploadCommand, UploadPartCommand, CompleteMultipartUploadCommand, ListMultipartUploadsCommand,
  ListPartsCommand,
} from '@aws-sdk/client-s3';
import { freePort, spawnServer, type ChildServer } from '../helpers/process-server.js';
import { TEST_ACCESS_KEY, TEST_SECRET_KEY } from '../helpers/server.js';
import { flipBytes } from '../helpers/meta-fixture.js';
import { patternBuffer } from '../helpers/data.js';

const T = { timeout: 90_000 };
const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const PLAIN = 'plain';
const VER = 'versioned';
const KiB = 1024;
const MiB = 1024 * KiB;
// Inline (< 128 KiB, the default threshold) and erasure-coded sizes.
const SIZES = [0, 10, 5 * KiB, 100 * KiB, 300 * KiB, 3 * MiB];

const md5 = (b: Uint8Array) => createHash('md5').update(b).digest('hex');
const iso = (d: Date | undefined) => d?.toISOString();

function client(endpoint: string): S3Client {
  return new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: TEST_ACCESS_KEY, secretAccessKey: TEST_SECRET_KEY }, maxAttempts: 1 });
}

/** A stopped server's directories, started and stopped on one port. */
class Deployment {
  srv: ChildServer | undefined;
  s3!: S3Client;
  constructor(readonly root: string, readonly port: number) {}
  async start(): Promise<string> {
    this.srv = await spawnServer(this.root, this.port);
    this.s3 = client(this.srv.endpoint);
    return this.srv.output();
  }
  async stop(): Promise<void> {
    const srv = this.srv!;
    this.srv = undefined;
    this.s3.destroy();
    srv.child.kill('SIGTERM');
    assert.equal(await srv.exited, 0, `the server stops cleanly on SIGTERM:\n${srv.output()}`);
  }
  get leveldb(): string {
    return path.join(this.root, 'meta', 'leveldb');
  }
}

async function withDeployment(fn: (d: Deployment) => Promise<void>): Promise<void> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'tessera-metaproc-'));
  const d = new Deployment(root, await freePort());
  try {
    await fn(d);
  } finally {
    if (d.srv) {
      d.srv.child.kill('SIGKILL');
      await d.srv.exited;
    }
    await rm(root, { recursive: true, force: true });
  }
}

interface Upload {
  key: string;
  uploadId: string;
  etags: string[];
  parts: Buffer[];
}

/** What each write acknowledged: bucket/key → MD5 of the current bytes. */
type Expected = Map<string, string>;

async function put(s3: S3Client, expected: Expected, Bucket: string, Key: string, body: Buffer, extra: { ContentType?: string; Metadata?: Record<string, string> } = {}) {
  const r = await s3.send(new PutObjectCommand({ Bucket, Key, Body: body, ...extra }));
  expected.set(`${Bucket}/${Key}`, md5(body));
  return r;
}

async function startUpload(s3: S3Client, Bucket: string, Key: string, parts: Buffer[]): Promise<Upload> {
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key, ContentType: 'application/x-test' }));
  const etags: string[] = [];
  for (const [i, Body] of parts.entries()) {
    etags.push((await s3.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: i + 1, Body }))).ETag!);
  }
  return { key: Key, uploadId: UploadId!, etags, parts };
}

async function completeUpload(s3: S3Client, u: Upload, expected: Expected): Promise<void> {
  await s3.send(new CompleteMultipartUploadCommand({
    Bucket: PLAIN, Key: u.key, UploadId: u.uploadId,
    MultipartUpload: { Parts: u.etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) },
  }));
  const got = await s3.send(new GetObjectCommand({ Bucket: PLAIN, Key: u.key }));
  const sum = md5(await got.Body!.transformToByteArray());
  assert.equal(sum, md5(Buffer.concat(u.parts)), 'the completed upload reads back as its parts in order');
  expected.set(`${PLAIN}/${u.key}`, sum);
}

/**
 * Two buckets (one versioned, one tagged), inline and erasure-coded objects, versions of a
 * key, a delete marker, object and version tags, an unfinished two-part multipart upload.
 */
async function writeFirst(s3: S3Client, expected: Expected): Promise<Upload> {
  await s3.send(new CreateBucketCommand({ Bucket: PLAIN }));
  await s3.send(new CreateBucketCommand({ Bucket: VER }));
  await s3.send(new PutBucketVersioningCommand({ Bucket: VER, VersioningConfiguration: { Status: 'Enabled' } }));
  await s3.send(new PutBucketTaggingCommand({ Bucket: PLAIN, Tagging: { TagSet: [{ Key: 'team', Value: 'storage' }, { Key: 'env', Value: 'test' }] } }));
  for (const [i, size] of SIZES.entries()) {
    await put(s3, expected, PLAIN, `dir/obj-${size}`, patternBuffer(size, 100 + i), i === 2 ? { ContentType: 'text/x-five', Metadata: { who: 'first' } } : {});
  }
  await s3.send(new PutObjectTaggingCommand({ Bucket: PLAIN, Key: 'dir/obj-10', Tagging: { TagSet: [{ Key: 'color', Value: 'blue' }] } }));
  let firstDoc: string | undefined;
  for (let g = 0; g < 3; g++) {
    const r = await put(s3, expected, VER, 'doc', patternBuffer(1000 + g, 200 + g));
    firstDoc ??= r.VersionId;
    await put(s3, expected, VER, 'big', patternBuffer(300 * KiB + g, 300 + g));
  }
  await s3.send(new PutObjectTaggingCommand({ Bucket: VER, Key: 'doc', VersionId: firstDoc, Tagging: { TagSet: [{ Key: 'v', Value: 'one' }] } }));
  await put(s3, expected, VER, 'gone', patternBuffer(50, 7));
  await s3.send(new DeleteObjectCommand({ Bucket: VER, Key: 'gone' })); // a delete marker on top
  expected.delete(`${VER}/gone`);
  return startUpload(s3, PLAIN, 'big-upload', [patternBuffer(5 * MiB, 400), patternBuffer(3000, 401)]);
}

/** New objects, an overwrite, deletes, new tags, the first upload completed and a new one started. */
async function writeSecond(s3: S3Client, expected: Expected, first: Upload): Promise<Upload> {
  await put(s3, expected, PLAIN, 'new/small', patternBuffer(777, 500));
  await put(s3, expected, PLAIN, 'new/large', patternBuffer(400 * KiB, 501));
  await put(s3, expected, PLAIN, 'dir/obj-10', patternBuffer(20, 502)); // overwrite: its tags go with it
  await s3.send(new DeleteObjectCommand({ Bucket: PLAIN, Key: `dir/obj-${5 * KiB}` }));
  expected.delete(`${PLAIN}/dir/obj-${5 * KiB}`);
  await s3.send(new PutObjectTaggingCommand({ Bucket: PLAIN, Key: 'dir/obj-0', Tagging: { TagSet: [{ Key: 'phase', Value: 'two' }] } }));
  await s3.send(new PutBucketTaggingCommand({ Bucket: PLAIN, Tagging: { TagSet: [{ Key: 'team', Value: 'storage' }, { Key: 'phase', Value: 'two' }] } }));
  await put(s3, expected, VER, 'doc', patternBuffer(2000, 503));
  const vs = await s3.send(new ListObjectVersionsCommand({ Bucket: VER }));
  const oldest = vs.Versions!.filter((v) => v.Key === 'big').at(-1)!;
  await s3.send(new DeleteObjectCommand({ Bucket: VER, Key: 'big', VersionId: oldest.VersionId })); // permanently
  const marker = vs.DeleteMarkers!.find((m) => m.Key === 'gone')!;
  await s3.send(new DeleteObjectCommand({ Bucket: VER, Key: 'gone', VersionId: marker.VersionId })); // 'gone' is back
  expected.set(`${VER}/gone`, md5(patternBuffer(50, 7)));
  await completeUpload(s3, first, expected);
  return startUpload(s3, PLAIN, 'second-upload', [patternBuffer(1000, 600)]);
}

type State = Record<string, unknown>;

/** Everything a client can see: listings, versions, tags, uploads, and the MD5 of every version's bytes. */
async function capture(s3: S3Client): Promise<State> {
  const state: State = {};
  const lb = await s3.send(new ListBucketsCommand({}));
  state.buckets = lb.Buckets?.map((b) => [b.Name, iso(b.CreationDate)]);
  const current: Record<string, string> = {};
  for (const Bucket of [PLAIN, VER]) {
    const b: State = (state[Bucket] = {});
    b.versioning = (await s3.send(new GetBucketVersioningCommand({ Bucket }))).Status ?? 'never enabled';
    b.tags = await s3.send(new GetBucketTaggingCommand({ Bucket })).then((r) => r.TagSet, (e: Error) => e.name);
    const objects = (await s3.send(new ListObjectsV2Command({ Bucket }))).Contents ?? [];
    b.objects = objects.map((o) => ({ Key: o.Key, ETag: o.ETag, Size: o.Size, LastModified: iso(o.LastModified) }));
    const vs = await s3.send(new ListObjectVersionsCommand({ Bucket }));
    b.versions = (vs.Versions ?? []).map((v) => ({ Key: v.Key, VersionId: v.VersionId, IsLatest: v.IsLatest, ETag: v.ETag, Size: v.Size, LastModified: iso(v.LastModified) }));
    b.deleteMarkers = (vs.DeleteMarkers ?? []).map((m) => ({ Key: m.Key, VersionId: m.VersionId, IsLatest: m.IsLatest, LastModified: iso(m.LastModified) }));
    const reads: Array<[string, string | undefined]> = objects.map((o) => [o.Key!, undefined]);
    if (Bucket === VER) for (const v of vs.Versions ?? []) reads.push([v.Key!, v.VersionId]);
    const data: State = (b.data = {});
    for (const [Key, VersionId] of reads) {
      const g = await s3.send(new GetObjectCommand({ Bucket, Key, VersionId }));
      const sum = md5(await g.Body!.transformToByteArray());
      const tags = (await s3.send(new GetObjectTaggingCommand({ Bucket, Key, VersionId }))).TagSet;
      data[`${Key}@${VersionId ?? 'current'}`] = { md5: sum, ETag: g.ETag, VersionId: g.VersionId, LastModified: iso(g.LastModified), ContentType: g.ContentType, Metadata: g.Metadata, tags };
      if (!VersionId) current[`${Bucket}/${Key}`] = sum;
    }
    const ups = (await s3.send(new ListMultipartUploadsCommand({ Bucket }))).Uploads ?? [];
    b.uploads = [];
    for (const u of ups) {
      const parts = (await s3.send(new ListPartsCommand({ Bucket, Key: u.Key, UploadId: u.UploadId }))).Parts ?? [];
      (b.uploads as unknown[]).push({
        Key: u.Key, UploadId: u.UploadId, Initiated: iso(u.Initiated),
        parts: parts.map((p) => ({ PartNumber: p.PartNumber, ETag: p.ETag, Size: p.Size, LastModified: iso(p.LastModified) })),
      });
    }
  }
  state.current = current;
  return state;
}

/** The capture itself must show what was written, or comparing two captures proves little. */
function assertShows(state: State, expected: Expected, uploads: Upload[]): void {
  assert.deepEqual(state.current, Object.fromEntries(expected));
  const plain = state[PLAIN] as { uploads: Array<{ UploadId: string; parts: Array<{ ETag: string }> }> };
  assert.deepEqual(plain.uploads.map((u) => [u.UploadId, u.parts.map((p) => p.ETag)]), uploads.map((u) => [u.uploadId, u.etags]));
}

const REBUILT = /metadata index not trusted: .*rebuilding it from the disks[\s\S]*metadata rebuilt from the disks in \d+ ms/;

/** Runs `tessera admin meta …` with the server's configuration; returns the exit code and the parsed JSON. */
function admin(d: Deployment, cmd: 'verify' | 'rebuild'): Promise<{ code: number | null; out: Record<string, unknown>; raw: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [MAIN, 'admin', 'meta', cmd, '--json'], {
      cwd: d.root,
      env: {
        ...process.env,
        TESSERA_ADDRESS: `127.0.0.1:${d.port}`,
        TESSERA_DISKS: [1, 2, 3, 4].map((i) => path.join(d.root, `disk${i}`)).join(','),
        TESSERA_META_DIR: path.join(d.root, 'meta'),
        TESSERA_ROOT_ACCESS_KEY: TEST_ACCESS_KEY,
        TESSERA_ROOT_SECRET_KEY: TEST_SECRET_KEY,
        TESSERA_LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    p.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    p.on('error', reject);
    p.on('exit', (code) => {
      const raw = `exit ${code}\nstdout: ${stdout}\nstderr: ${stderr}`;
      try {
        const lines = stdout.trim().split('\n');
        assert.equal(lines.length, 1, `one JSON object on stdout: ${raw}`);
        resolve({ code, out: JSON.parse(lines[0]!) as Record<string, unknown>, raw });
      } catch (e) {
        reject(new Error(`${(e as Error).message}\n${raw}`));
      }
    });
  });
}

test('a deleted metadata directory: the server rebuilds everything from the disks', T, async () => {
  await withDeployment(async (d) => {
    await d.start();
    const expected: Expected = new Map();
    const upload = await writeFirst(d.s3, expected);
    const before = await capture(d.s3);
    assertShows(before, expected, [upload]);
    await d.stop();
    await rm(path.join(d.root, 'meta'), { recursive: true, force: true });
    await sleep(1100); // a rebuild that stamped times anew would show in LastModified (whole seconds)
    const log = await d.start();
    assert.match(log, REBUILT);
    assert.deepEqual(await capture(d.s3), before);
    await completeUpload(d.s3, upload, expected);
    await d.stop();
  });
});

test('flipped bytes in the LevelDB table and log files: the server rebuilds everything from the disks', T, async () => {
  await withDeployment(async (d) => {
    await d.start();
    const expected: Expected = new Map();
    const upload = await writeFirst(d.s3, expected);
    await d.stop();
    // LevelDB turns its log into a table file when reopened; a write afterwards makes a new log.
    let log = await d.start();
    assert.doesNotMatch(log, /not trusted/, 'a cleanly stopped index is trusted');
    await put(d.s3, expected, PLAIN, 'late', patternBuffer(100, 3));
    const before = await capture(d.s3);
    assertShows(before, expected, [upload]);
    await d.stop();
    const hit = await flipBytes(d.leveldb, /\.(ldb|log)$/);
    assert.ok(hit.some((n) => n.endsWith('.ldb')) && hit.some((n) => n.endsWith('.log')), `flipped ${hit.join(', ')} in ${(await readdir(d.leveldb)).join(', ')}`);
    log = await d.start();
    assert.match(log, REBUILT);
    assert.deepEqual(await capture(d.s3), before);
    await completeUpload(d.s3, upload, expected);
    await d.stop();
  });
});

test('an older copy of the metadata directory: nothing acknowledged since the copy is lost', T, async () => {
  await withDeployment(async (d) => {
    await d.start();
    const expected: Expected = new Map();
    const first = await writeFirst(d.s3, expected);
    await d.stop();
    await cp(path.join(d.root, 'meta'), path.join(d.root, 'backup'), { recursive: true });
    await d.start();
    const second = await writeSecond(d.s3, expected, first);
    const after = await capture(d.s3);
    assertShows(after, expected, [second]);
    const tags = (after[PLAIN] as { data: Record<string, { tags: unknown }> }).data;
    assert.deepEqual(tags['dir/obj-10@current']!.tags, [], 'an overwrite drops the old tags');
    assert.deepEqual(tags['dir/obj-0@current']!.tags, [{ Key: 'phase', Value: 'two' }]);
    await d.stop();
    await rm(path.join(d.root, 'meta'), { recursive: true, force: true });
    await rename(path.join(d.root, 'backup'), path.join(d.root, 'meta'));
    const log = await d.start();
    assert.match(log, /metadata index caught up with \d+ journal record|metadata rebuilt from the disks/, 'the old copy is brought up to date');
    assert.deepEqual(await capture(d.s3), after);
    await completeUpload(d.s3, second, expected);
    await d.stop();
  });
});

test('tessera admin meta verify finds a corrupt index, rebuild mends it, and the server serves the data', T, async () => {
  await withDeployment(async (d) => {
    await d.start();
    const expected: Expected = new Map();
    const upload = await writeFirst(d.s3, expected);
    const before = await capture(d.s3);
    await d.stop();
    let v = await admin(d, 'verify');
    assert.equal(v.code, 0, v.raw);
    assert.equal(v.out.ok, true, v.raw);
    assert.deepEqual(v.out.problems, [], v.raw);
    const hit = await flipBytes(d.leveldb, /\.(ldb|log)$/);
    assert.ok(hit.length > 0, 'there is an index file to corrupt');
    v = await admin(d, 'verify');
    assert.equal(v.code, 1, v.raw);
    assert.equal(v.out.ok, false, v.raw);
    assert.ok(Array.isArray(v.out.problems) && v.out.problems.length > 0, v.raw);
    const r = await admin(d, 'rebuild');
    assert.equal(r.code, 0, r.raw);
    assert.equal(r.out.action, 'rebuilt', r.raw);
    v = await admin(d, 'verify');
    assert.equal(v.code, 0, v.raw);
    assert.equal(v.out.ok, true, v.raw);
    const log = await d.start();
    assert.doesNotMatch(log, /not trusted/, 'the rebuilt index is trusted as it is');
    assert.deepEqual(await capture(d.s3), before);
    await completeUpload(d.s3, upload, expected);
    await d.stop();
  });
});
