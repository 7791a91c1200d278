// Removes a bucket with everything in it: every version and delete marker, every unfinished
// upload, then the bucket itself. Embedded mode's reset() uses it between tests, so it is
// built for speed on small buckets: one metadata batch per page of up to 1000 versions
// (not one DELETE per version), and the data goes to the garbage queue in that same batch,
// exactly as a DELETE queues it, so shards are removed afterwards by the garbage collector
// and a crash in between leaves nothing half done (start-up drains the queue again).

import { isS3Error } from '../errors.js';
import type { DataLayout, MetaOp } from '../meta/types.js';
import type { ObjectStore } from './store.js';

/** Versions removed per metadata batch (also the listing page size). */
const PAGE = 1000;

/** How often a bucket that another writer keeps filling is emptied again before giving up. */
const ATTEMPTS = 10;

/**
 * Deletes the bucket and all it holds. A bucket that is already gone is not an error. Writes
 * racing it either land before it (and are removed with it) or find NoSuchBucket afterwards.
 */
export async function removeBucket(store: ObjectStore, name: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await emptyBucket(store, name);
      // DeleteBucket checks emptiness under its own gate and aborts the unfinished uploads.
      await store.deleteBucket(name);
      return;
    } catch (e) {
      if (isS3Error(e) && e.code === 'NoSuchBucket') return;
      // A write that committed between emptying and deleting: empty it again.
      if (isS3Error(e) && e.code === 'BucketNotEmpty' && attempt < ATTEMPTS) continue;
      throw e;
    }
  }
}

/**
 * Deletes every version and delete marker in the bucket; returns how many. Runs with the
 * bucket's gate closed (no PUT, DELETE or Complete in flight or starting on it) and holds the
 * lock of every key of a page while that page is removed, so a tag or ACL rewrite of a version
 * cannot put back a record this just deleted.
 */
export async function emptyBucket(store: ObjectStore, name: string): Promise<number> {
  let removed = 0;
  await store.locks.run(`bucket\0${name}`, () =>
    store.bucketGate.closed(name, async () => {
      await store.getBucket(name);
      for (;;) {
        // Always the first page: the previous one is gone.
        const page = await store.meta.listVersions(name, { maxKeys: PAGE });
        if (page.versions.length === 0) break;
        const keys = [...new Set(page.versions.map((v) => v.key))];
        await withKeyLocks(store, name, keys, async () => {
          const ops: MetaOp[] = [];
          const data: DataLayout[] = [];
          for (const v of page.versions) {
            ops.push({ type: 'delVersion', bucket: name, key: v.key, versionId: v.versionId });
            if (v.data) data.push(v.data);
          }
          for (const key of keys) ops.push({ type: 'setCurrent', bucket: name, key, version: null });
          if (data.length) ops.push(store.garbageOp(data));
          await store.meta.batch(ops);
        });
        removed += page.versions.length;
        if (!page.isTruncated) break;
      }
    }),
  );
  if (removed > 0) void store.garbage.kick();
  return removed;
}

/** Runs fn holding the object-layer lock of each key (taken in the given, sorted, order). */
async function withKeyLocks<T>(store: ObjectStore, bucket: string, keys: readonly string[], fn: () => Promise<T>, i = 0): Promise<T> {
  if (i === keys.length) return fn();
  return store.locks.run(`${bucket}\0${keys[i]}`, () => withKeyLocks(store, bucket, keys, fn, i + 1));
}
