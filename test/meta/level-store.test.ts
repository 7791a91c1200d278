import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { LevelMetaStore } from '../../src/meta/level-store.js';
import type { MetaOp } from '../../src/meta/types.js';
import { metaStoreContract } from './contract.js';
import { putObjectOps, version } from './fixtures.js';

async function makeLevel() {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tessera-meta-'));
  const store = new LevelMetaStore(dir);
  await store.open();
  const cleanup = async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  };
  return { store, dir, cleanup };
}

metaStoreContract('LevelMetaStore', makeLevel);

async function withLevel(fn: (s: LevelMetaStore, dir: string) => Promise<void>): Promise<void> {
  const { store, dir, cleanup } = await makeLevel();
  try {
    await fn(store, dir);
  } finally {
    await cleanup();
  }
}

async function batchInChunks(s: LevelMetaStore, ops: MetaOp[], size = 5000): Promise<void> {
  for (let i = 0; i < ops.length; i += size) await s.batch(ops.slice(i, i + size));
}

describe('LevelMetaStore', () => {
  it('listing with a delimiter seeks past common prefixes instead of scanning them', () => withLevel(async (s) => {
    const keys = Array.from({ length: 20_000 }, (_, i) => `big/${String(i).padStart(5, '0')}`);
    await batchInChunks(s, [...keys, 'zz'].flatMap((k) => putObjectOps('b', k)));
    await s.batch([{ type: 'putUpload', upload: { bucket: 'b', key: 'big/1', uploadId: 'u', initiated: 1, headers: {}, userMeta: {} } }]);

    const steps = async <T>(fn: () => Promise<T>): Promise<[T, number]> => {
      const before = s.stats.iteratorSteps;
      const result = await fn();
      return [result, s.stats.iteratorSteps - before];
    };
    const [cur, curSteps] = await steps(() => s.listCurrent('b', { delimiter: '/', maxKeys: 1000 }));
    assert.deepEqual([cur.commonPrefixes, cur.objects.map((o) => o.key), cur.isTruncated], [['big/'], ['zz'], false]);
    assert.ok(curSteps < 50, `listCurrent took ${curSteps} steps`);

    const [inside, insideSteps] = await steps(() => s.listCurrent('b', { delimiter: '/', startAfter: 'big/00005', maxKeys: 1000 }));
    assert.deepEqual(inside.objects.map((o) => o.key), ['zz']);
    assert.ok(insideSteps < 50, `listCurrent from inside the group took ${insideSteps} steps`);

    const [ver, verSteps] = await steps(() => s.listVersions('b', { delimiter: '/', maxKeys: 1000 }));
    assert.deepEqual([ver.commonPrefixes, ver.versions.map((v) => v.key)], [['big/'], ['zz']]);
    assert.ok(verSteps < 50, `listVersions took ${verSteps} steps`);

    const [, hasSteps] = await steps(() => s.bucketHasObjects('b'));
    assert.ok(hasSteps <= 3, `bucketHasObjects took ${hasSteps} steps`);

    // Without a delimiter a page reads what it returns, plus one entry to know it is truncated.
    const [page, pageSteps] = await steps(() => s.listCurrent('b', { maxKeys: 1000 }));
    assert.equal(page.isTruncated, true);
    assert.ok(pageSteps <= 1001, `a 1000-key page took ${pageSteps} steps`);
  }));

  it('merges concurrent batches into few synced writes', () => withLevel(async (s) => {
    const before = s.stats.batchesWritten;
    await Promise.all(Array.from({ length: 200 }, (_, i) => s.batch(putObjectOps('b', `k${i}`))));
    const writes = s.stats.batchesWritten - before;
    assert.ok(writes <= 3, `200 concurrent batches took ${writes} writes`);
    assert.equal((await s.listCurrent('b', { maxKeys: 1000 })).objects.length, 200);
  }));

  it('a failed write rejects every caller merged into it and writes none of them', () => withLevel(async (s) => {
    // Reach the private LevelDB handle to make exactly the second write fail (the store writes
    // through chained batches).
    type Chained = { write: (...args: unknown[]) => Promise<void>; close: () => Promise<void> };
    const db = (s as unknown as { db: { batch: () => Chained } }).db;
    const real = db.batch.bind(db);
    let calls = 0;
    db.batch = () => {
      const batch = real();
      const write = batch.write.bind(batch);
      batch.write = async (...args: unknown[]) => {
        calls++;
        if (calls === 2) {
          await batch.close();
          throw new Error('disk on fire');
        }
        return write(...args);
      };
      return batch;
    };
    const first = s.batch(putObjectOps('b', 'first')); // in flight while the next three queue
    const merged = ['x', 'y', 'z'].map((k) => s.batch(putObjectOps('b', k)));
    await first;
    const results = await Promise.allSettled(merged);
    assert.deepEqual(results.map((r) => r.status), ['rejected', 'rejected', 'rejected']);
    assert.equal(calls, 2, 'the three callers went out as one write');
    await s.batch(putObjectOps('b', 'after'));
    assert.deepEqual((await s.listCurrent('b', { maxKeys: 10 })).objects.map((o) => o.key), ['after', 'first']);
    assert.equal(await s.getVersion('b', 'x', 'v1'), undefined);
  }));

  it('a new store on the same directory sees every acknowledged batch, even those in flight at close', () => withLevel(async (s, dir) => {
    const pending = Array.from({ length: 50 }, (_, i) => s.batch(putObjectOps('b', `k${i}`)));
    await s.close(); // waits for accepted batches
    await Promise.all(pending);
    await assert.rejects(s.batch(putObjectOps('b', 'late')), /closed/);
    const again = new LevelMetaStore(dir);
    await again.open();
    try {
      assert.equal((await again.listCurrent('b', { maxKeys: 1000 })).objects.length, 50);
    } finally {
      await again.close();
    }
    await s.open();
  }));

  it('a versionIdMarker that no longer exists resumes at the first version of keyMarker', () => withLevel(async (s) => {
    await s.batch([1, 2, 3].map((n) => ({ type: 'putVersion', version: version('b', 'k', n) }) as MetaOp));
    await s.batch([{ type: 'putVersion', version: version('b', 'l', 1) }]);
    const r = await s.listVersions('b', { keyMarker: 'k', versionIdMarker: 'gone', maxKeys: 10 });
    assert.deepEqual(r.versions.map((v) => `${v.key}@${v.versionId}`), ['k@v3', 'k@v2', 'k@v1', 'l@v1']);
  }));
});
