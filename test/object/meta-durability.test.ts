// Metadata durability through the storage engine with real disks and real LevelDB: the index
// in the metadata directory can be lost, corrupted, replaced by an old copy or by another
// deployment's, and every record comes back from the journal and checkpoints on the disks.

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, readdir, rename, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { openEngine, type Engine, type EngineOptions } from '../../src/object/engine.js';
import { collect, patternBuffer } from '../helpers/data.js';
import { dumpIndex, flipBytes, put, writeFixture, type Fixture } from '../helpers/meta-fixture.js';
import { S3Error } from '../../src/errors.js';
import { journalDir } from '../../src/meta/journal/disk-journal.js';
import type { ShardLayout } from '../../src/meta/types.js';

const T = { timeout: 120_000 };

function options(root: string, extra: Partial<EngineOptions> = {}): EngineOptions {
  return {
    disks: [1, 2, 3, 4].map((i) => path.join(root, `disk${i}`)),
    metaDir: path.join(root, 'meta', 'leveldb'),
    parity: 2,
    blockSize: 64 * 1024,
    inlineThreshold: 4096,
    diskCheckIntervalMs: 60_000,
    ...extra,
  };
}

async function withRoot(fn: (root: string) => Promise<void>): Promise<void> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'tessera-metadur-'));
  try {
    await fn(root);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

async function openEngineDisks(root: string) {
  const { openDiskSet } = await import('../../src/disk/disk-set.js');
  return (await openDiskSet([1, 2, 3, 4].map((i) => path.join(root, `disk${i}`)))).disks;
}

function sameMap(a: Map<string, string>, b: Map<string, string>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (b.get(k) !== v) return false;
  return true;
}

/** Starts an engine on `root`, checks it comes up holding exactly `expected` (and how), closes it. */
async function startAndExpect(root: string, expected: Map<string, string>, action?: string): Promise<void> {
  const e = await openEngine(options(root));
  try {
    if (action) assert.equal(e.metaIndex.report.action, action, e.metaIndex.report.reason);
    assert.deepEqual(await dumpIndex(e.metaIndex.meta), expected);
  } finally {
    await e.close();
  }
}

async function until(cond: () => boolean, what: string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The index once background work (garbage removal) is done: what a restart finds. */
async function settledDump(e: Engine): Promise<Map<string, string>> {
  await e.store.settle();
  return dumpIndex(e.metaIndex.meta);
}

async function readAll(e: Engine, f: Fixture): Promise<void> {
  for (const [name, data] of f.current) {
    const [bucket, ...rest] = name.split('/');
    const v = await e.store.resolve(bucket!, rest.join('/'));
    const got = await collect(e.store.openData(v));
    assert.ok(got.equals(data), `${name} reads back bit-exact`);
  }
}

async function completeUpload(e: Engine, f: Fixture, bucket = 'plain0'): Promise<void> {
  const v = await e.store.multipart.complete(bucket, 'big-upload', f.uploadId, f.partEtags.map((etag, i) => ({ partNumber: i + 1, etag })));
  const got = await collect(e.store.openData(v));
  assert.ok(got.equals(Buffer.concat(f.partData)), 'the completed upload holds both parts');
}

describe('metadata durability (engine)', () => {
  test('a deleted metadata directory is rebuilt record for record from the disks', T, async () => {
    await withRoot(async (root) => {
      let e = await openEngine(options(root));
      const f = await writeFixture(e);
      const before = await settledDump(e);
      await e.close();
      await rm(path.join(root, 'meta'), { recursive: true, force: true });
      const logs: string[] = [];
      e = await openEngine(options(root, { log: (m) => logs.push(m) }));
      try {
        assert.equal(e.metaIndex.report.action, 'rebuilt');
        assert.deepEqual(await dumpIndex(e.metaIndex.meta), before);
        assert.ok(logs.some((l) => /rebuilt from the disks/.test(l)), logs.join('\n'));
        await readAll(e, f);
        const tags = (await e.store.resolve('plain0', 'dir/obj-10')).tags;
        assert.deepEqual(tags, { color: 'blue' });
        await completeUpload(e, f);
      } finally {
        await e.close();
      }
    });
  });

  test('with checkpoints and compaction, a rebuild gives the same index and the journal stays bounded', T, async () => {
    await withRoot(async (root) => {
      let e = await openEngine(options(root, { metaCheckpointBytes: 1 }));
      const f0 = await writeFixture(e, 0);
      await e.metaIndex.writeCheckpoint();
      const f1 = await writeFixture(e, 1); // after the checkpoint: only in the journal
      await e.metaIndex.writeCheckpoint();
      await put(e, 'plain1', 'after-second-checkpoint', patternBuffer(123, 5));
      const before = await settledDump(e);
      await e.close();
      // Only the newest checkpoint's shard files and the segments after it remain.
      for (const d of [1, 2, 3, 4]) {
        const segs = (await readdir(journalDir({ root: path.join(root, `disk${d}`) } as never))).filter((n) => n.endsWith('.log'));
        assert.ok(segs.length <= 2, `disk${d} keeps ${segs.length} journal segments`);
      }
      await rm(path.join(root, 'meta'), { recursive: true, force: true });
      e = await openEngine(options(root));
      try {
        assert.equal(e.metaIndex.report.action, 'rebuilt');
        assert.ok(e.metaIndex.report.loaded > 0, 'records came from the checkpoint');
        assert.deepEqual(await dumpIndex(e.metaIndex.meta), before);
        await readAll(e, f0);
        await readAll(e, f1);
        await completeUpload(e, f1, 'plain1');
      } finally {
        await e.close();
      }
    });
  });

  test('flipped bytes in LevelDB table and log files are found and the index is rebuilt', T, async () => {
    await withRoot(async (root) => {
      let e = await openEngine(options(root));
      const f = await writeFixture(e);
      const before = await settledDump(e);
      await e.close();
      // Reopen once so LevelDB compacts its log into a table file, then write a little more
      // so there is a log too.
      e = await openEngine(options(root));
      await put(e, 'plain0', 'late', patternBuffer(100, 3));
      const withLate = await settledDump(e);
      await e.close();
      const dir = path.join(root, 'meta', 'leveldb');
      const hit = await flipBytes(dir, /\.(ldb|log)$/);
      assert.ok(hit.some((n) => n.endsWith('.ldb')) && hit.some((n) => n.endsWith('.log')), `flipped ${hit.join(', ')}`);
      e = await openEngine(options(root));
      try {
        assert.equal(e.metaIndex.report.action, 'rebuilt', e.metaIndex.report.reason);
        assert.ok(e.metaIndex.report.movedTo, 'the untrusted directory is kept aside');
        assert.deepEqual(await dumpIndex(e.metaIndex.meta), withLate);
        assert.ok(before.size < withLate.size);
        await readAll(e, f);
      } finally {
        await e.close();
      }
    });
  });

  test('an older copy of the metadata directory (a restored backup) loses nothing written since', T, async () => {
    await withRoot(async (root) => {
      let e = await openEngine(options(root));
      await writeFixture(e, 0);
      await e.close();
      await cp(path.join(root, 'meta'), path.join(root, 'backup'), { recursive: true });
      e = await openEngine(options(root));
      const f1 = await writeFixture(e, 1);
      await e.store.deleteObject('plain0', 'dir/obj-10');
      const latest = await settledDump(e);
      await e.close();
      await rm(path.join(root, 'meta'), { recursive: true, force: true });
      await rename(path.join(root, 'backup'), path.join(root, 'meta'));
      e = await openEngine(options(root));
      try {
        assert.equal(e.metaIndex.report.action, 'caught-up');
        assert.deepEqual(await dumpIndex(e.metaIndex.meta), latest);
        await readAll(e, f1);
        await assert.rejects(e.store.resolve('plain0', 'dir/obj-10'), (err: S3Error) => err.code === 'NoSuchKey');
      } finally {
        await e.close();
      }
    });
  });

  test('a backup older than the newest checkpoint is rebuilt from the checkpoint', T, async () => {
    await withRoot(async (root) => {
      let e = await openEngine(options(root));
      await writeFixture(e, 0);
      await e.close();
      await cp(path.join(root, 'meta'), path.join(root, 'backup'), { recursive: true });
      e = await openEngine(options(root));
      await writeFixture(e, 1);
      await e.metaIndex.writeCheckpoint();
      await put(e, 'plain1', 'x', patternBuffer(10, 1));
      const latest = await settledDump(e);
      await e.close();
      await rm(path.join(root, 'meta'), { recursive: true, force: true });
      await rename(path.join(root, 'backup'), path.join(root, 'meta'));
      await startAndExpect(root, latest, 'rebuilt');
    });
  });

  test("another deployment's metadata directory is never used", T, async () => {
    await withRoot(async (root) => {
      const other = path.join(root, 'other');
      let e = await openEngine(options(other));
      await writeFixture(e, 9);
      await e.close();
      e = await openEngine(options(root));
      const f = await writeFixture(e, 0);
      const mine = await settledDump(e);
      await e.close();
      await rm(path.join(root, 'meta'), { recursive: true, force: true });
      await cp(path.join(other, 'meta'), path.join(root, 'meta'), { recursive: true });
      e = await openEngine(options(root));
      try {
        assert.equal(e.metaIndex.report.action, 'rebuilt');
        assert.match(e.metaIndex.report.reason ?? '', /another deployment/);
        assert.deepEqual(await dumpIndex(e.metaIndex.meta), mine);
        await readAll(e, f);
      } finally {
        await e.close();
      }
    });
  });

  test('a disk offline during overwrites and deletes comes back stale and never rolls metadata back', T, async () => {
    await withRoot(async (root) => {
      let e = await openEngine(options(root));
      await e.store.createBucket('b', 'us-east-1');
      for (let i = 0; i < 20; i++) await put(e, 'b', `k${i}`, patternBuffer(100 + i, i));
      // Disk 4 fails while the server runs (the monitor, which would notice it, is slowed down).
      e.store.disks[3]!.online = false;
      const expect = new Map<string, Buffer | undefined>();
      for (let i = 0; i < 20; i++) {
        if (i % 3 === 0) {
          await e.store.deleteObject('b', `k${i}`);
          expect.set(`k${i}`, undefined);
        } else {
          const d = patternBuffer(3000 + i, 1000 + i);
          await put(e, 'b', `k${i}`, d);
          expect.set(`k${i}`, d);
        }
      }
      const latest = await settledDump(e);
      await e.close();
      // Two worst cases for the stale disk, on two copies of the same disks:
      //  A: the index is gone too, so everything comes from the journals, disk 4's among them;
      //  B: also disks 1 and 2 are lost: the stale disk 4 is half of what is left.
      const copy = await mkdtemp(path.join(os.tmpdir(), 'tessera-metadur-b-'));
      try {
        for (const d of [3, 4]) await cp(path.join(root, `disk${d}`), path.join(copy, `disk${d}`), { recursive: true });
        await rm(path.join(root, 'meta'), { recursive: true, force: true });
        e = await openEngine(options(root));
        try {
          assert.deepEqual(await dumpIndex(e.metaIndex.meta), latest);
          for (const [key, d] of expect) {
            if (d === undefined) await assert.rejects(e.store.resolve('b', key), (err: S3Error) => err.code === 'NoSuchKey');
            else assert.ok((await collect(e.store.openData(await e.store.resolve('b', key)))).equals(d), key);
          }
        } finally {
          await e.close();
        }
        e = await openEngine(options(copy));
        try {
          assert.deepEqual(await dumpIndex(e.metaIndex.meta), latest, 'disks 3 and 4 alone give the newest metadata');
          for (const [key, d] of expect) {
            if (d === undefined) await assert.rejects(e.store.resolve('b', key), (err: S3Error) => err.code === 'NoSuchKey');
            else assert.ok((await collect(e.store.openData(await e.store.resolve('b', key)))).equals(d), key);
          }
        } finally {
          await e.close();
        }
      } finally {
        await rm(copy, { recursive: true, force: true });
      }
    });
  });

  test('an index from before the journal existed is adopted and put on the disks', T, async () => {
    await withRoot(async (root) => {
      const { LevelMetaStore } = await import('../../src/meta/level-store.js');
      let e = await openEngine(options(root));
      const f = await writeFixture(e);
      const before = await settledDump(e);
      await e.close();
      // Strip what the journal added: the state record and every journal file.
      const m = new LevelMetaStore(path.join(root, 'meta', 'leveldb'));
      await m.open();
      await (m as unknown as { db: { del(k: Buffer): Promise<void> } }).db.del(Buffer.from('Z\0state'));
      await m.close();
      for (const d of [1, 2, 3, 4]) await rm(path.join(root, `disk${d}`, 'meta'), { recursive: true, force: true });
      e = await openEngine(options(root));
      assert.equal(e.metaIndex.report.action, 'adopted');
      await e.close();
      await rm(path.join(root, 'meta'), { recursive: true, force: true });
      e = await openEngine(options(root));
      try {
        assert.equal(e.metaIndex.report.action, 'rebuilt');
        assert.deepEqual(await dumpIndex(e.metaIndex.meta), before);
        await readAll(e, f);
      } finally {
        await e.close();
      }
    });
  });

  test('history missing on every disk: an intact, current index is kept and checkpointed back onto the disks', T, async () => {
    await withRoot(async (root) => {
      let e = await openEngine(options(root));
      await writeFixture(e, 0);
      await e.close();
      e = await openEngine(options(root)); // a second epoch, in new segments
      await put(e, 'plain0', 'second-epoch', patternBuffer(10, 1));
      const before = await settledDump(e);
      await e.close();
      // The first epoch's segments vanish from every disk (more damage than the quorum covers).
      for (const d of [1, 2, 3, 4]) {
        const dir = path.join(root, `disk${d}`, 'meta');
        const segs = (await readdir(dir)).filter((n) => n.endsWith('.log')).sort();
        await rm(path.join(dir, segs[0]!));
      }
      const backup = path.join(root, 'meta-copy');
      await cp(path.join(root, 'meta'), backup, { recursive: true });
      e = await openEngine(options(root));
      try {
        assert.equal(e.metaIndex.report.action, 'current');
        assert.deepEqual(await dumpIndex(e.metaIndex.meta), before);
        assert.equal(e.metaIndex.needsCheckpoint, true);
        await e.metaIndex.writeCheckpoint();
      } finally {
        await e.close();
      }
      // The checkpoint made the disks whole again: the index can go.
      await rm(path.join(root, 'meta'), { recursive: true, force: true });
      await startAndExpect(root, before, 'rebuilt');
    });
  });

  test('the scanner finds bit rot in the journal, the checkpoint and the index, and repairs each', T, async () => {
    await withRoot(async (root) => {
      const e = await openEngine(options(root));
      try {
        const f = await writeFixture(e, 0);
        await e.metaIndex.writeCheckpoint();
        await writeFixture(e, 1); // a journal tail after the checkpoint
        const good = await settledDump(e);
        // Rot on the disks: bytes flipped in a journal segment and in a checkpoint shard file.
        const disk = e.store.disks[0]!;
        const segs = (await readdir(journalDir(disk))).filter((n) => n.endsWith('.log'));
        assert.ok(segs.length > 0);
        const flippedJournal = await flipBytes(journalDir(disk), new RegExp(`^${segs.at(-1)!.replace('.', '\\.')}$`));
        assert.equal(flippedJournal.length, 1);
        const cp = e.metaIndex.checkpoint!.layout as ShardLayout;
        const holder = e.store.disks[cp.distribution[0]!]!;
        const shard = holder.shardPath(cp.dataId);
        assert.equal((await flipBytes(path.dirname(shard), new RegExp(`^${cp.dataId}$`))).length, 1);
        // Rot in the index that LevelDB itself would not notice: a value changed behind its back.
        const db = (e.metaIndex.meta as unknown as { db: { put(k: Buffer, v: Buffer): Promise<void> } }).db;
        const someKey = Buffer.from([...good.keys()].find((k) => Buffer.from(k, 'hex').toString().startsWith('B'))!, 'hex');
        await db.put(someKey, Buffer.from('{"name":"rotten"}'));

        const r = await e.metaIndex.verifyOnline();
        assert.equal(r.indexOk, false, 'the changed index record is found');
        assert.equal(r.indexRepaired, true);
        assert.ok(r.journalDamaged >= 1, `damaged journal records found: ${r.journalDamaged}`);
        assert.ok(r.shardsRebuilt >= 1, 'the checkpoint shard is rebuilt');
        assert.deepEqual(await dumpIndex(e.metaIndex.meta), good, 'the repaired index is the committed one');
        await readAll(e, f);
        await put(e, 'plain0', 'after-repair', patternBuffer(10, 4)); // writes go on
        const again = await e.metaIndex.verifyOnline();
        assert.deepEqual({ ...again }, { indexOk: true, indexRepaired: false, checkpointOk: true, journalDamaged: 0, shardsRebuilt: 0 });
      } finally {
        await e.close();
      }
    });
  });

  test('an epoch record that reached one disk only (a start that failed) does not outrank later acknowledged writes', T, async () => {
    await withRoot(async (root) => {
      let e = await openEngine(options(root));
      await writeFixture(e, 0);
      const head = e.metaIndex.journal.head;
      await e.close();
      // A start that saw only disk 1 opened a high epoch there and then failed.
      const { DiskJournal } = await import('../../src/meta/journal/disk-journal.js');
      const { encodeRecord, Kind } = await import('../../src/meta/journal/record.js');
      const lone = new DiskJournal((await openEngineDisks(root))[0]!);
      const id = { epoch: 2 ** 40, seq: head.seq + 1 };
      await lone.append(id, encodeRecord({ kind: Kind.Epoch, id, prev: head, digest: { count: 0, bytes: 0, sum: 0 } }, Buffer.from('{}')));
      await lone.close();
      // The next start does not see disk 1 (its format file unreadable), so its epoch is lower.
      const format = path.join(root, 'disk1', 'format.json');
      await rename(format, `${format}.away`);
      await mkdir(format);
      e = await openEngine(options(root));
      assert.equal(e.store.disks[0]!.online, false);
      assert.ok(e.metaIndex.journal.currentEpoch < id.epoch);
      await put(e, 'plain0', 'acknowledged-later', patternBuffer(100, 2));
      const latest = await settledDump(e);
      await e.close();
      await rm(format, { recursive: true });
      await rename(`${format}.away`, format);
      await rm(path.join(root, 'meta'), { recursive: true, force: true });
      e = await openEngine(options(root));
      try {
        assert.equal(e.store.disks[0]!.online, true);
        assert.deepEqual(await dumpIndex(e.metaIndex.meta), latest);
      } finally {
        await e.close();
      }
    });
  });

  test('a checkpoint never copies an index that reads back wrong: it is repaired instead, and the journal kept', T, async () => {
    await withRoot(async (root) => {
      let e = await openEngine(options(root));
      await writeFixture(e, 0);
      const good = await settledDump(e);
      const db = (e.metaIndex.meta as unknown as { db: { put(k: Buffer, v: Buffer): Promise<void> } }).db;
      await db.put(Buffer.from([...good.keys()][0]!, 'hex'), Buffer.from('rotten'));
      await assert.rejects(e.metaIndex.writeCheckpoint(), /read back wrong/);
      const deadline = Date.now() + 10_000;
      while (Date.now() < deadline && !sameMap(await dumpIndex(e.metaIndex.meta), good)) await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(await dumpIndex(e.metaIndex.meta), good, 'the index was repaired from the journal');
      await e.close();
      await rm(path.join(root, 'meta'), { recursive: true, force: true });
      await startAndExpect(root, good);
    });
  });

  test('too few of the existing disks to know the newest metadata: the start is refused', T, async () => {
    await withRoot(async (root) => {
      let e = await openEngine(options(root));
      await writeFixture(e, 0);
      await e.close();
      for (const d of [1, 2, 3]) await rm(path.join(root, `disk${d}`), { recursive: true, force: true });
      await assert.rejects(openEngine(options(root)), /needed to be sure the metadata is the newest/);
    });
  });

  test('the journal outgrowing the checkpoint threshold gets a checkpoint on its own', T, async () => {
    await withRoot(async (root) => {
      const e = await openEngine(options(root, { metaCheckpointBytes: 1 }));
      try {
        await writeFixture(e, 0);
        await until(() => e.metaIndex.checkpoint !== undefined, 'a checkpoint');
        assert.ok(e.metaIndex.journal.bytesSinceCheckpoint < 1024 * 1024);
      } finally {
        await e.close();
      }
    });
  });

  test('a disk wiped while the server runs gets the metadata back through a checkpoint', T, async () => {
    await withRoot(async (root) => {
      let e = await openEngine(options(root, { diskCheckIntervalMs: 50 }));
      await writeFixture(e, 0);
      // The running engine may create a file in it meanwhile (ENOTEMPTY): rm retries then.
      await rm(path.join(root, 'disk4'), { recursive: true, force: true, maxRetries: 10, retryDelay: 20 });
      await until(() => e.metaIndex.checkpoint !== undefined, 'a checkpoint after the wipe');
      const latest = await settledDump(e);
      const cp = e.metaIndex.checkpoint!.layout as ShardLayout;
      await stat(e.store.disks[3]!.shardPath(cp.dataId)); // the new disk holds its shard
      await e.close();
      // Disks 1 and 2 lost too: the wiped-and-refilled disk 4 with disk 3 must hold everything.
      for (const d of ['disk1', 'disk2', 'meta']) await rm(path.join(root, d), { recursive: true, force: true });
      e = await openEngine(options(root));
      try {
        assert.deepEqual(await dumpIndex(e.metaIndex.meta), latest);
      } finally {
        await e.close();
      }
    });
  });

  test('a journal record is on write-quorum disks before the write is acknowledged', T, async () => {
    await withRoot(async (root) => {
      const e = await openEngine(options(root));
      try {
        await e.store.createBucket('b', 'us-east-1');
        // Two of four disks gone: 2 < quorum 3, so a commit must fail, not be acknowledged.
        e.store.disks[0]!.online = false;
        e.store.disks[1]!.online = false;
        await assert.rejects(put(e, 'b', 'k', patternBuffer(10, 1)), (err: S3Error) => err.code === 'InsufficientWriteQuorum');
        await assert.rejects(e.store.resolve('b', 'k'), (err: S3Error) => err.code === 'NoSuchKey');
        e.store.disks[0]!.online = true;
        e.store.disks[1]!.online = true;
        await put(e, 'b', 'k2', patternBuffer(10, 2));
        assert.ok((await stat(path.join(root, 'disk1', 'meta'))).isDirectory());
      } finally {
        await e.close();
      }
    });
  });
});

void Readable;
