// The MetaStore contract: every backend must pass these tests.
//
//   metaStoreContract('level', async () => ({ store, cleanup }));
//
// `make` returns a fresh, OPEN, empty store; `cleanup` closes it (if still open) and removes
// its files. Tests may close() and open() the store again to check durability.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { BucketRecord, MetaOp, MetaStore } from '../../src/meta/types.js';
import {
  type MakeStore, part, putObjectOps, putObjects, sortKey, upload, version, withStore,
} from './fixtures.js';
import { listingContract } from './contract-listing.js';

export function metaStoreContract(name: string, make: MakeStore): void {
  describe(`MetaStore contract: ${name}`, () => {
    recordContract(make);
    batchContract(make);
    listingContract(make);
  });
}

const bucket = (name: string, created = 1): BucketRecord => ({ name, created, region: 'us-east-1', versioning: 'Unversioned' });

async function reopen(store: MetaStore): Promise<void> {
  await store.close();
  await store.open();
}

function recordContract(make: MakeStore): void {
  describe('records', () => {
    it('buckets: put, get, list by name, delete', () => withStore(make, async (s) => {
      assert.equal(await s.getBucket('b'), undefined);
      assert.deepEqual(await s.listBuckets(), []);
      const tagged: BucketRecord = { ...bucket('b2'), versioning: 'Enabled', tags: { team: 'x' } };
      await s.batch([{ type: 'putBucket', bucket: tagged }, { type: 'putBucket', bucket: bucket('b') }, { type: 'putBucket', bucket: bucket('a-1') }]);
      assert.deepEqual(await s.getBucket('b2'), tagged);
      assert.deepEqual((await s.listBuckets()).map((b) => b.name), ['a-1', 'b', 'b2']);
      await s.batch([{ type: 'putBucket', bucket: { ...bucket('b'), versioning: 'Suspended' } }]);
      assert.equal((await s.getBucket('b'))?.versioning, 'Suspended');
      await s.batch([{ type: 'delBucket', name: 'b' }]);
      assert.equal(await s.getBucket('b'), undefined);
      assert.deepEqual((await s.listBuckets()).map((b) => b.name), ['a-1', 'b2']);
    }));

    it('bucketHasObjects: a current record or a version (uploads do not count); never a neighbour whose name extends it', () => withStore(make, async (s) => {
      assert.equal(await s.bucketHasObjects('b'), false);
      await s.batch(putObjectOps('b2', 'k'));
      await s.batch([{ type: 'putUpload', upload: upload('b2', 'u', 'up1') }]);
      assert.equal(await s.bucketHasObjects('b'), false, 'content of b2 is not content of b');
      assert.equal(await s.bucketHasObjects('b2'), true);

      await s.batch([{ type: 'setCurrent', bucket: 'b', key: 'k', version: version('b', 'k', 1) }]);
      assert.equal(await s.bucketHasObjects('b'), true, 'current record');
      await s.batch([{ type: 'setCurrent', bucket: 'b', key: 'k', version: null }]);
      assert.equal(await s.bucketHasObjects('b'), false);

      await s.batch([{ type: 'putVersion', version: version('b', 'k', 1, { isDeleteMarker: true }) }]);
      assert.equal(await s.bucketHasObjects('b'), true, 'a lone delete marker is content');
      await s.batch([{ type: 'delVersion', bucket: 'b', key: 'k', versionId: 'v1' }]);
      assert.equal(await s.bucketHasObjects('b'), false);

      await s.batch([{ type: 'putUpload', upload: upload('b', 'k', 'up2') }]);
      assert.equal(await s.bucketHasObjects('b'), false, 'an upload is not an object');
      await s.batch([{ type: 'delUpload', bucket: 'b', key: 'k', uploadId: 'up2' }]);
      assert.equal(await s.bucketHasObjects('b'), false);
    }));

    it('current records: set, replace, clear', () => withStore(make, async (s) => {
      assert.equal(await s.getCurrent('b', 'k'), undefined);
      await s.batch([{ type: 'setCurrent', bucket: 'b', key: 'k', version: version('b', 'k', 1) }]);
      assert.deepEqual(await s.getCurrent('b', 'k'), version('b', 'k', 1));
      await s.batch([{ type: 'setCurrent', bucket: 'b', key: 'k', version: version('b', 'k', 2) }]);
      assert.equal((await s.getCurrent('b', 'k'))?.versionId, 'v2');
      assert.equal(await s.getCurrent('b2', 'k'), undefined);
      await s.batch([{ type: 'setCurrent', bucket: 'b', key: 'k', version: null }]);
      assert.equal(await s.getCurrent('b', 'k'), undefined);
      await s.batch([{ type: 'setCurrent', bucket: 'b', key: 'k', version: null }]); // clearing twice is fine
    }));

    it('versions: get by id, latest, newest first, delete (idempotent)', () => withStore(make, async (s) => {
      const marker = version('b', 'k', 3, { isDeleteMarker: true, size: 0 });
      delete marker.data;
      await s.batch([
        { type: 'putVersion', version: version('b', 'k', 2) },
        { type: 'putVersion', version: version('b', 'k', 1) },
        { type: 'putVersion', version: marker },
        { type: 'putVersion', version: version('b', 'k/', 9) }, // a key that extends k
      ]);
      assert.deepEqual(await s.getVersion('b', 'k', 'v2'), version('b', 'k', 2));
      assert.equal(await s.getVersion('b', 'k', 'v9'), undefined);
      assert.equal(await s.getVersion('b', 'nope', 'v1'), undefined);
      assert.deepEqual(await s.getLatestVersion('b', 'k'), marker);
      assert.deepEqual((await s.listKeyVersions('b', 'k', 100)).map((v) => v.versionId), ['v3', 'v2', 'v1']);
      assert.deepEqual((await s.listKeyVersions('b', 'k', 2)).map((v) => v.versionId), ['v3', 'v2']);
      assert.deepEqual(await s.listKeyVersions('b', 'k', 0), []);
      assert.equal(await s.getLatestVersion('b', 'other'), undefined);

      await s.batch([{ type: 'delVersion', bucket: 'b', key: 'k', versionId: 'v3' }]);
      assert.equal(await s.getVersion('b', 'k', 'v3'), undefined);
      assert.equal((await s.getLatestVersion('b', 'k'))?.versionId, 'v2');
      await s.batch([{ type: 'delVersion', bucket: 'b', key: 'k', versionId: 'v3' }]);
      assert.deepEqual((await s.listKeyVersions('b', 'k/', 10)).map((v) => v.versionId), ['v9']);
    }));

    it("versions: a new 'null' version replaces the previous one", () => withStore(make, async (s) => {
      const nullV = (n: number) => version('b', 'k', n, { versionId: 'null' });
      await s.batch([{ type: 'putVersion', version: nullV(1) }]);
      await s.batch([{ type: 'putVersion', version: version('b', 'k', 2) }]);
      await s.batch([{ type: 'putVersion', version: nullV(3) }]);
      assert.deepEqual((await s.listKeyVersions('b', 'k', 10)).map((v) => [v.versionId, v.sortKey]), [
        ['null', sortKey(3)], ['v2', sortKey(2)],
      ]);
      assert.deepEqual(await s.getVersion('b', 'k', 'null'), nullV(3));

      // Twice in one batch, then again with the same sort key (a rewrite in place).
      await s.batch([{ type: 'putVersion', version: nullV(4) }, { type: 'putVersion', version: nullV(5) }]);
      await s.batch([{ type: 'putVersion', version: nullV(5) }]);
      assert.deepEqual((await s.listKeyVersions('b', 'k', 10)).map((v) => v.versionId), ['null', 'v2']);
      assert.equal((await s.getLatestVersion('b', 'k'))?.sortKey, sortKey(5));
      const page = await s.listVersions('b', { maxKeys: 10 });
      assert.deepEqual(page.versions.map((v) => v.sortKey), [sortKey(5), sortKey(2)]);

      await s.batch([{ type: 'delVersion', bucket: 'b', key: 'k', versionId: 'null' }]);
      assert.equal(await s.getVersion('b', 'k', 'null'), undefined);
      assert.deepEqual((await s.listKeyVersions('b', 'k', 10)).map((v) => v.versionId), ['v2']);
      await s.batch([{ type: 'putVersion', version: nullV(6) }]);
      assert.deepEqual((await s.listKeyVersions('b', 'k', 10)).map((v) => v.versionId), ['null', 'v2']);
    }));

    it('inline data: raw bytes round-trip', () => withStore(make, async (s) => {
      const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
      await s.batch([{ type: 'putInline', dataId: 'd1', data: bytes }, { type: 'putInline', dataId: 'empty', data: Buffer.alloc(0) }]);
      bytes[0] = 99; // the store must have kept its own copy
      assert.deepEqual(await s.getInline('d1'), Buffer.from(Array.from({ length: 256 }, (_, i) => i)));
      assert.deepEqual(await s.getInline('empty'), Buffer.alloc(0));
      assert.equal(await s.getInline('d2'), undefined);
      await s.batch([{ type: 'delInline', dataId: 'd1' }]);
      assert.equal(await s.getInline('d1'), undefined);
    }));

    it('uploads: put, get, delete, expiry by age across buckets', () => withStore(make, async (s) => {
      await s.batch([
        { type: 'putUpload', upload: upload('b', 'k', 'u1', 3000) },
        { type: 'putUpload', upload: upload('b2', 'k', 'u2', 1000) },
        { type: 'putUpload', upload: upload('b', 'j', 'u3', 2000) },
        { type: 'putUpload', upload: { ...upload('b', 'z', 'u4', 5000), checksumAlgorithm: 'CRC32C', checksumType: 'COMPOSITE', tags: { a: 'b' } } },
      ]);
      assert.deepEqual(await s.getUpload('b', 'k', 'u1'), upload('b', 'k', 'u1', 3000));
      assert.equal(await s.getUpload('b', 'j', 'u1'), undefined);
      assert.equal((await s.getUpload('b', 'z', 'u4'))?.checksumType, 'COMPOSITE');
      const ids = async (before: number, limit = 100) => (await s.listUploadsOlderThan(before, limit)).map((u) => u.uploadId);
      assert.deepEqual(await ids(3000), ['u2', 'u3'], 'strictly before, oldest first');
      assert.deepEqual(await ids(3001), ['u2', 'u3', 'u1']);
      assert.deepEqual(await ids(1e13, 2), ['u2', 'u3']);
      assert.deepEqual(await ids(0), []);

      await s.batch([{ type: 'delUpload', bucket: 'b2', key: 'k', uploadId: 'u2' }]);
      assert.equal(await s.getUpload('b2', 'k', 'u2'), undefined);
      assert.deepEqual(await ids(3001), ['u3', 'u1']);
      // Re-putting an upload with another initiation time moves it in the age order.
      await s.batch([{ type: 'putUpload', upload: upload('b', 'k', 'u1', 100) }]);
      assert.deepEqual(await ids(3001), ['u1', 'u3']);
      assert.deepEqual(await ids(1e13), ['u1', 'u3', 'u4']);
    }));

    it('parts: numeric order, after the marker, bounded, per upload', () => withStore(make, async (s) => {
      await s.batch([10000, 2, 100, 1, 10, 3].map((n) => ({ type: 'putPart', part: part('up1', n) }) as MetaOp));
      await s.batch([{ type: 'putPart', part: part('up10', 1) }, { type: 'putPart', part: part('up', 7) }]);
      const nums = async (marker: number, max: number) => (await s.listParts('up1', marker, max)).map((p) => p.partNumber);
      assert.deepEqual(await nums(0, 1000), [1, 2, 3, 10, 100, 10000]);
      assert.deepEqual(await nums(2, 2), [3, 10]);
      assert.deepEqual(await nums(3, 1000), [10, 100, 10000]);
      assert.deepEqual(await nums(10000, 1000), []);
      assert.deepEqual(await nums(0, 0), []);
      assert.deepEqual(await s.getPart('up1', 100), part('up1', 100));
      assert.equal(await s.getPart('up1', 4), undefined);
      await s.batch([{ type: 'putPart', part: { ...part('up1', 2), etag: 'again' } }, { type: 'delPart', uploadId: 'up1', partNumber: 10 }]);
      assert.equal((await s.getPart('up1', 2))?.etag, 'again');
      assert.deepEqual(await nums(0, 1000), [1, 2, 3, 100, 10000]);
      assert.deepEqual((await s.listParts('up', 0, 10)).map((p) => p.partNumber), [7]);
    }));

    it('garbage queue: id order, bounded, delete', () => withStore(make, async (s) => {
      const entry = (id: string) => ({ id, enqueued: 1, layouts: [part('u', 1).data, { kind: 'parts' as const, size: 1, parts: [part('u', 2)] }] });
      await s.batch(['g3', 'g1', 'g2'].map((id) => ({ type: 'putGarbage', entry: entry(id) }) as MetaOp));
      assert.deepEqual((await s.listGarbage(10)).map((g) => g.id), ['g1', 'g2', 'g3']);
      assert.deepEqual(await s.listGarbage(1), [entry('g1')]);
      await s.batch([{ type: 'delGarbage', id: 'g1' }]);
      assert.deepEqual((await s.listGarbage(10)).map((g) => g.id), ['g2', 'g3']);
    }));

    it('everything survives close and open', () => withStore(make, async (s) => {
      await s.batch([
        { type: 'putBucket', bucket: bucket('b') },
        ...putObjectOps('b', 'k', 1),
        { type: 'putVersion', version: version('b', 'k', 2, { versionId: 'null' }) },
        { type: 'putInline', dataId: 'd', data: Buffer.from('hi') },
        { type: 'putUpload', upload: upload('b', 'k', 'u', 5) },
        { type: 'putPart', part: part('u', 1) },
        { type: 'putGarbage', entry: { id: 'g', enqueued: 1, layouts: [] } },
      ]);
      await reopen(s);
      assert.deepEqual(await s.getBucket('b'), bucket('b'));
      assert.deepEqual(await s.getCurrent('b', 'k'), version('b', 'k', 1));
      assert.deepEqual(await s.getVersion('b', 'k', 'null'), version('b', 'k', 2, { versionId: 'null' }));
      assert.deepEqual(await s.getInline('d'), Buffer.from('hi'));
      assert.deepEqual(await s.listUploadsOlderThan(6, 10), [upload('b', 'k', 'u', 5)]);
      assert.deepEqual(await s.listParts('u', 0, 10), [part('u', 1)]);
      assert.deepEqual((await s.listGarbage(10)).map((g) => g.id), ['g']);
      // The null version index survived too: a new null version still replaces the old one.
      await s.batch([{ type: 'putVersion', version: version('b', 'k', 3, { versionId: 'null' }) }]);
      assert.deepEqual((await s.listKeyVersions('b', 'k', 10)).map((v) => v.versionId), ['null', 'v1']);
    }));
  });
}

function batchContract(make: MakeStore): void {
  describe('batches', () => {
    it('a batch with one invalid op writes nothing and rejects', () => withStore(make, async (s) => {
      const invalid: MetaOp[][] = [
        [{ type: 'setCurrent', bucket: 'b', key: 'bad\0key', version: null }],
        [{ type: 'putVersion', version: version('b', 'bad\0key', 9) }],
        [{ type: 'putPart', part: part('u', -1) }],
        [{ type: 'putInline', dataId: '', data: Buffer.from('x') }],
        [{ type: 'putBucket', bucket: bucket('') }],
        [{ type: 'nonsense' } as unknown as MetaOp],
      ];
      for (const bad of invalid) {
        const ops: MetaOp[] = [
          { type: 'putBucket', bucket: bucket('b') },
          ...putObjectOps('b', 'k'),
          { type: 'putInline', dataId: 'd', data: Buffer.from('x') },
          { type: 'putVersion', version: version('b', 'k', 5, { versionId: 'null' }) },
          ...bad,
          { type: 'putGarbage', entry: { id: 'g', enqueued: 1, layouts: [] } },
        ];
        await assert.rejects(s.batch(ops), `rejects ${JSON.stringify(bad)}`);
        assert.equal(await s.getBucket('b'), undefined);
        assert.equal(await s.getCurrent('b', 'k'), undefined);
        assert.equal(await s.getVersion('b', 'k', 'v1'), undefined);
        assert.equal(await s.getVersion('b', 'k', 'null'), undefined);
        assert.equal(await s.getInline('d'), undefined);
        assert.deepEqual(await s.listGarbage(10), []);
        assert.equal(await s.bucketHasObjects('b'), false);
      }
      await s.batch([]); // an empty batch is fine
    }));

    it('an invalid batch among concurrent ones fails alone', () => withStore(make, async (s) => {
      const results = await Promise.allSettled([
        s.batch(putObjectOps('b', 'a')),
        s.batch([...putObjectOps('b', 'bad'), { type: 'setCurrent', bucket: 'b', key: '', version: null }]),
        s.batch(putObjectOps('b', 'c')),
      ]);
      assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled']);
      assert.ok(await s.getCurrent('b', 'a'));
      assert.equal(await s.getCurrent('b', 'bad'), undefined);
      assert.equal(await s.getVersion('b', 'bad', 'v1'), undefined);
      assert.ok(await s.getCurrent('b', 'c'));
    }));

    it('200 concurrent batches all commit, in order, and survive reopening', () => withStore(make, async (s) => {
      const calls = Array.from({ length: 200 }, (_, i) => s.batch([
        ...putObjectOps('b', `key-${i}`, i + 1),
        { type: 'putPart', part: part(`up-${i}`, 1) },
        // Every caller rewrites the same key: the last caller's op must win.
        { type: 'setCurrent', bucket: 'b', key: 'shared', version: version('b', 'shared', i + 1) },
        // …and replaces the same null version: exactly one null version may remain.
        { type: 'putVersion', version: version('b', 'shared', i + 1, { versionId: 'null' }) },
      ]));
      await Promise.all(calls);
      const check = async () => {
        for (let i = 0; i < 200; i++) {
          assert.equal((await s.getCurrent('b', `key-${i}`))?.versionId, `v${i + 1}`);
          assert.ok(await s.getPart(`up-${i}`, 1));
        }
        assert.equal((await s.getCurrent('b', 'shared'))?.versionId, 'v200');
        const shared = await s.listKeyVersions('b', 'shared', 1000);
        assert.deepEqual(shared.map((v) => [v.versionId, v.sortKey]), [['null', sortKey(200)]]);
        const all = await s.listCurrent('b', { maxKeys: 1000 });
        assert.equal(all.objects.length, 201);
      };
      await check();
      await reopen(s);
      await check();
    }));

    it('batches issued one after another see each other (read-modify-write of the null index)', () => withStore(make, async (s) => {
      const first = s.batch([{ type: 'putVersion', version: version('b', 'k', 1, { versionId: 'null' }) }]);
      const second = s.batch([{ type: 'delVersion', bucket: 'b', key: 'k', versionId: 'null' }]);
      const third = s.batch([{ type: 'putVersion', version: version('b', 'k', 3, { versionId: 'null' }) }]);
      await Promise.all([first, second, third]);
      assert.deepEqual((await s.listKeyVersions('b', 'k', 10)).map((v) => v.sortKey), [sortKey(3)]);
      await putObjects(s, 'b', ['x']);
      assert.equal((await s.listVersions('b', { maxKeys: 10 })).versions.length, 2);
    }));
  });
}
