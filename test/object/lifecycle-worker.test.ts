// The lifecycle worker on a real engine (temp disks, real LevelDB), driven directly: it keeps to
// its pace, and with small batches it saves its cursor as it goes, so a worker stopped after K
// actions is resumed by another one that starts after the last key fully handled, skips
// nothing and repeats nothing.

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { crc32c } from '../../src/erasure/bitrot.js';
import type { LifecycleRule, MetaOp, ObjectVersion } from '../../src/meta/types.js';
import { openEngine, type Engine } from '../../src/object/engine.js';
import { LIFECYCLE_STATE, LifecycleWorker } from '../../src/object/lifecycle-worker.js';

const DAY = 86_400_000;

/** `keys` keys of `perKey` versions each (oldest first), written `ageMs` ago, straight into the store. */
async function fill(e: Engine, bucket: string, keys: number, perKey: number, ageMs: number): Promise<void> {
  const store = e.store;
  for (let k = 0; k < keys; k++) {
    const ops: MetaOp[] = [];
    let newest: ObjectVersion | undefined;
    for (let i = 0; i < perKey; i++) {
      const data = Buffer.from(`${k}/${i}`);
      const dataId = store.ids.dataId();
      const sortKey = store.ids.versionSortKey();
      newest = {
        bucket, key: `key${String(k).padStart(4, '0')}`, versionId: perKey > 1 ? sortKey : 'null', sortKey,
        isDeleteMarker: false, lastModified: Date.now() - ageMs + i, size: data.length, etag: '0'.repeat(32),
        headers: {}, userMeta: {}, data: { kind: 'inline', dataId, size: data.length, crc32c: crc32c(data) },
      };
      ops.push({ type: 'putInline', dataId, data }, { type: 'putVersion', version: newest });
    }
    ops.push({ type: 'setCurrent', bucket, key: newest!.key, version: newest! });
    await store.meta.batch(ops);
  }
}

const rule = (r: Partial<LifecycleRule>): LifecycleRule => ({ id: 'r', enabled: true, filter: { form: 'filter' }, ...r });

describe('lifecycle worker', { timeout: 120_000 }, () => {
  let root: string;
  let engine: Engine;
  before(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'tessera-lc-worker-'));
    engine = await openEngine({
      disks: [1, 2, 3, 4].map((i) => path.join(root, `disk${i}`)),
      metaDir: path.join(root, 'meta'),
      parity: 2,
      lifecycle: { startDelayMs: 3_600_000 }, // the engine's own worker stays out of the way
    });
  });
  after(async () => {
    await engine.close();
    await rm(root, { recursive: true, force: true });
  });

  test('keeps to objects_per_second', async () => {
    await engine.store.createBucket('paced', 'us-east-1');
    await fill(engine, 'paced', 3000, 1, 0);
    await engine.store.updateBucket('paced', { lifecycle: [rule({ expiration: { days: 365 } })] });
    const w = new LifecycleWorker(engine.store, { objectsPerSecond: 2000, batchSize: 250 });
    const t0 = Date.now();
    assert.equal(await w.runPass(), true);
    const seconds = (Date.now() - t0) / 1000;
    assert.equal(w.stats.lastPassExamined, 3000);
    assert.ok(seconds >= 1.2, `3000 objects at 2000/s took only ${seconds} s`);
    assert.equal(w.stats.actions.expire_current, 0);
    await engine.store.updateBucket('paced', { lifecycle: undefined });
  });

  test('a worker stopped after K actions is resumed from its saved cursor', async () => {
    await engine.store.createBucket('resume', 'us-east-1');
    await engine.store.setVersioning('resume', 'Enabled');
    const KEYS = 40;
    await fill(engine, 'resume', KEYS, 3, 10 * DAY);
    await engine.store.updateBucket('resume', { lifecycle: [rule({ noncurrentExpiration: { noncurrentDays: 1 } })] });
    const first = new LifecycleWorker(engine.store, { batchSize: 7 });
    first.stopAfterActions(25);
    assert.equal(await first.runPass(), false, 'the pass was cut short');
    assert.equal(first.stats.actions.expire_noncurrent, 25);
    const cursor = (await engine.store.meta.getWorkerState(LIFECYCLE_STATE)) as { bucket: string; phase: string; afterKey?: string };
    assert.equal(cursor.bucket, 'resume');
    assert.equal(cursor.phase, 'versions');
    assert.ok(cursor.afterKey, 'a cursor was saved');
    // What the next worker should see: every version of the keys after the cursor.
    let after = 0;
    for (let pos: { key: string; sortKey?: string } | undefined = { key: cursor.afterKey! }; ;) {
      const page = await engine.store.meta.scanVersions('resume', pos, 1000);
      after += page.length;
      if (page.length < 1000) break;
      pos = { key: page.at(-1)!.key, sortKey: page.at(-1)!.sortKey };
    }

    const second = new LifecycleWorker(engine.store, { batchSize: 7 });
    assert.equal(await second.runPass(), true);
    assert.equal(second.stats.lastPassExamined, after, 'resumed after the last key fully handled');
    assert.equal(first.stats.actions.expire_noncurrent + second.stats.actions.expire_noncurrent, 2 * KEYS, 'every noncurrent version expired exactly once');
    assert.equal(await engine.store.meta.getWorkerState(LIFECYCLE_STATE), undefined, 'a finished pass leaves no cursor');
    const left = await engine.store.meta.scanVersions('resume', undefined, 1000);
    assert.equal(left.length, KEYS);
    for (const v of left) assert.equal((await engine.store.meta.getCurrent('resume', v.key))?.sortKey, v.sortKey, `${v.key} keeps its current version`);
  });
});
