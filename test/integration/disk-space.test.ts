// Full disks, for real: each disk directory is its own small tmpfs. With a reserve, writes
// (PutObject, an aws-chunked or chunked body of unknown size, CopyObject) are refused with 507
// XTesseraStorageFull before their data is written, nothing half-written stays behind, reads
// go on, and writes come back once objects are deleted. Without a reserve, a disk that fills
// up in the middle of a write (ENOSPC) fails just that write, cleanly, and stays online; a
// journal append that finds every disk full fails the write the same way.
//
// Needs root (mount). A failing mount fails the test: it must not pass by not running.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, readdir, rm, statfs, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CopyObjectCommand, CreateBucketCommand, DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { fillUntilFull, mountTmpfs, unmountTmpfs } from '../helpers/tmpfs.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { aws, sdkClient } from '../helpers/clients.js';
import { assertXmlError, bodyBytes, expectS3Error, patternBuffer, signedChunkedPut, sleep } from './sdk-helpers.js';
import { layoutsOf } from '../../src/object/garbage.js';
import { scanJournals } from '../../src/meta/journal/scan.js';

const MiB = 1024 * 1024;
const mounted: string[] = [];

after(async () => {
  for (const dir of mounted.splice(0)) unmountTmpfs(dir, true);
});

/** A root with disk1..4, each a tmpfs of the given size (MiB). */
async function tmpfsDisks(sizesMiB: number[]): Promise<string> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'tessera-space-'));
  for (let i = 0; i < sizesMiB.length; i++) {
    const dir = path.join(root, `disk${i + 1}`);
    await mkdir(dir);
    mountTmpfs(dir, sizesMiB[i]!);
    mounted.push(dir);
  }
  return root;
}

async function unmountAll(root: string): Promise<void> {
  for (const dir of mounted.filter((d) => d.startsWith(root + path.sep))) {
    unmountTmpfs(dir);
    mounted.splice(mounted.indexOf(dir), 1);
  }
  await rm(root, { recursive: true, force: true });
}

async function filesIn(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch {
    return [];
  }
}

/** Temporary files on every disk (the tmp/ directories), format-file leftovers aside. */
async function tempFiles(s: TestServer): Promise<string[]> {
  const out: string[] = [];
  for (const d of s.disks) for (const f of await filesIn(path.join(d, 'tmp'))) out.push(`${d}/tmp/${f}`);
  return out;
}

/** Shard files on the disks that no committed object (or the metadata checkpoint) names. */
async function orphanShards(s: TestServer, bucket: string): Promise<string[]> {
  const store = s.started.engine.store;
  // Data that deletes and aborted uploads queued for removal goes first.
  await store.settle();
  const known = new Set<string>();
  const page = await store.listObjects(bucket, { maxKeys: 1000 });
  for (const o of page.objects) {
    const v = await store.resolve(bucket, o.key);
    for (const l of layoutsOf(v.data)) known.add(l.dataId);
  }
  const cp = s.started.engine.metaIndex.checkpoint;
  if (cp) known.add((cp.layout as { dataId: string }).dataId);
  const out: string[] = [];
  for (const d of s.disks) {
    for (const sub of await filesIn(path.join(d, 'shards'))) {
      for (const f of await filesIn(path.join(d, 'shards', sub))) if (!known.has(f)) out.push(`${d}/shards/${sub}/${f}`);
    }
  }
  return out;
}

async function keys(s3: S3Client, bucket: string): Promise<string[]> {
  const r = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
  return (r.Contents ?? []).map((o) => o.Key!).sort();
}

async function freeBytes(dir: string): Promise<number> {
  const f = await statfs(dir);
  return f.bavail * f.bsize;
}

test('a disk reserve refuses writes before their data is written; reads go on; writes resume once space is freed', { timeout: 120_000 }, async () => {
  const root = await tmpfsDisks([48, 48, 48, 48]);
  const s = await startTestServer({ root, env: { TESSERA_DISK_RESERVE: '8MiB' } });
  try {
    const s3 = sdkClient(s);
    const bucket = 'full';
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const small = patternBuffer(1000, 3);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'small', Body: small }));

    // 12 MiB objects put 6 MiB (and a little) on each disk: 40 MiB above the reserve hold six.
    // Ten at once: the bytes promised to writes in flight count, so they cannot all pass the
    // check against the same free space.
    const big = patternBuffer(12 * MiB, 5);
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) => s3.send(new PutObjectCommand({ Bucket: bucket, Key: `obj-${i}`, Body: big }))),
    );
    const storedKeys: string[] = [];
    results.forEach((r, i) => {
      if (r.status === 'fulfilled') return void storedKeys.push(`obj-${i}`);
      const err = r.reason as { name?: string; $metadata?: { httpStatusCode?: number } };
      assert.equal(err.name, 'XTesseraStorageFull', String(r.reason));
      assert.equal(err.$metadata?.httpStatusCode, 507);
    });
    const stored = storedKeys.length;
    assert.ok(stored >= 4 && stored <= 6, `${stored} objects stored before the refusal`);
    for (const d of s.disks) assert.ok((await freeBytes(d)) >= 8 * MiB, `${d} kept its reserve (${await freeBytes(d)} bytes free)`);
    // One more, alone, is refused too.
    await expectS3Error(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'one-more', Body: big })), 'XTesseraStorageFull', 507);

    // The same refusal, as S3 XML, for a body of unknown size (checked as its stripes come)
    // and for a copy; then neither temp files nor shards of them are left.
    const raw = await signedChunkedPut(s, `/${bucket}/chunked`, patternBuffer(MiB, 7), 16 * MiB);
    assertXmlError(raw, 'XTesseraStorageFull', 507);
    await expectS3Error(s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'copy', CopySource: `${bucket}/${storedKeys[0]}` })), 'XTesseraStorageFull', 507);
    await expectS3Error(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'again', Body: big })), 'XTesseraStorageFull', 507);
    // aws-cli uploads it in parts: UploadPart is refused the same way, and aws-cli says so.
    const file = path.join(root, 'big.bin');
    await writeFile(file, big);
    const cli = await aws(s, ['s3', 'cp', file, `s3://${bucket}/cli`]);
    assert.notEqual(cli.code, 0);
    assert.match(cli.stderr, /XTesseraStorageFull/);

    const expected = ['small', ...storedKeys].sort();
    assert.deepEqual(await keys(s3, bucket), expected, 'only the acknowledged writes are listed');
    assert.deepEqual(await tempFiles(s), [], 'no temporary files');
    assert.deepEqual(await orphanShards(s, bucket), [], 'no shard files that nothing names');

    // Reads keep working, every disk is online.
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: storedKeys[0] }));
    assert.ok((await bodyBytes(got.Body)).equals(big));
    const gotSmall = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'small' }));
    assert.ok((await bodyBytes(gotSmall.Body)).equals(small));
    assert.ok((await s.started.engine.usage()).every((u) => u.online), 'no disk taken offline');

    // Deleting frees space (the garbage queue removes the shards): writes come back, no restart.
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: storedKeys[0] }));
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: storedKeys[1] }));
    const until = Date.now() + 15_000;
    for (;;) {
      try {
        await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'after', Body: big }));
        break;
      } catch (e) {
        if ((e as { name?: string }).name !== 'XTesseraStorageFull' || Date.now() > until) throw e;
        await sleep(200);
      }
    }
    const back = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'after' }));
    assert.ok((await bodyBytes(back.Body)).equals(big));
    s3.destroy();
  } finally {
    await s.stop();
    await unmountAll(root);
  }
});

test('without a reserve, ENOSPC in the middle of a write aborts it cleanly and the disk stays online', { timeout: 120_000 }, async () => {
  // disk4 is much smaller than the others: a 24 MiB object's 12 MiB shard does not fit on it.
  const root = await tmpfsDisks([48, 48, 48, 8]);
  let s = await startTestServer({ root, env: { TESSERA_DISK_RESERVE: '0' } });
  const fillers: string[] = [];
  try {
    const s3 = sdkClient(s);
    const bucket = 'enospc';
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const small = patternBuffer(1000, 3);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'small', Body: small }));

    await expectS3Error(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'too-big', Body: patternBuffer(24 * MiB, 9) })), 'XTesseraStorageFull', 507);
    assert.deepEqual(await keys(s3, bucket), ['small']);
    assert.deepEqual(await tempFiles(s), [], 'the aborted write left no temporary files');
    assert.deepEqual(await orphanShards(s, bucket), []);
    assert.ok(s.started.engine.store.disks.every((d) => d.online), 'a full disk is not a failed disk');
    assert.ok((await freeBytes(s.disks[3]!)) > 6 * MiB, 'the partial shard on the small disk was removed');

    // The small disk still takes its shards of the next write.
    const mid = patternBuffer(4 * MiB, 11);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'mid', Body: mid }));
    const v = await s.started.engine.store.resolve(bucket, 'mid');
    const dataId = layoutsOf(v.data)[0]!.dataId;
    assert.ok((await filesIn(path.join(s.disks[3]!, 'shards', dataId.slice(0, 2)))).includes(dataId), 'disk4 holds a shard of the new object');

    // Every disk completely full: the journal cannot take even a small object's record. That
    // write fails the same way, nothing of it is committed, and reads still work.
    for (const d of s.disks) {
      const f = path.join(d, 'filler');
      fillers.push(f);
      await fillUntilFull(f);
    }
    await expectS3Error(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'tiny', Body: 'x' })), 'XTesseraStorageFull', 507);
    await expectS3Error(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'mid2', Body: mid })), 'XTesseraStorageFull', 507);
    assert.deepEqual(await keys(s3, bucket), ['mid', 'small']);
    assert.deepEqual(await tempFiles(s), []);
    const gotMid = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'mid' }));
    assert.ok((await bodyBytes(gotMid.Body)).equals(mid));
    assert.ok(s.started.engine.store.disks.every((d) => d.online));

    // Space back: writes work again, without a restart.
    for (const f of fillers.splice(0)) await unlink(f);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'tiny', Body: 'x' }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'mid2', Body: mid }));
    assert.deepEqual(await keys(s3, bucket), ['mid', 'mid2', 'small', 'tiny']);
    const gotTiny = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'tiny' }));
    assert.equal((await bodyBytes(gotTiny.Body)).toString(), 'x');
    // The journals on the disks carry no damaged (half-written) record, and a restart finds
    // exactly the acknowledged objects.
    assert.equal((await scanJournals(s.started.engine.store.disks)).damaged, 0);
    s3.destroy();
    await s.stop();
    s = await startTestServer({ root, env: { TESSERA_DISK_RESERVE: '0' } });
    const again = sdkClient(s);
    assert.deepEqual(await keys(again, bucket), ['mid', 'mid2', 'small', 'tiny']);
    assert.equal(s.started.engine.metaIndex.report.damagedRecords, 0);
    again.destroy();
  } finally {
    for (const f of fillers) await unlink(f).catch(() => undefined);
    await s.stop();
    await unmountAll(root);
  }
});
