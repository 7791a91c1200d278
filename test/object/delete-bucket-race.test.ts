// DeleteBucket racing writes into the bucket: a write either lands before the bucket is looked
// at (and DeleteBucket is then 409 BucketNotEmpty) or after it is gone (NoSuchBucket). Nothing
// may be left behind in a deleted bucket, where it would reappear in a new bucket of the name.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { Readable } from 'node:stream';
import os from 'node:os';
import path from 'node:path';
import { openEngine } from '../../src/object/engine.js';
import { S3Error } from '../../src/errors.js';

const expected = (codes: string[]) => (e: unknown) => {
  if (e instanceof S3Error && codes.includes(e.code)) return e.code;
  throw e;
};

test('writes racing DeleteBucket never leave objects, delete markers or uploads in a deleted bucket', { timeout: 300_000 }, async () => {
  const root = await mkdtemp(path.join(os.tmpdir(), 'tessera-delrace-'));
  const e = await openEngine({
    disks: [1, 2, 3, 4].map((i) => path.join(root, `disk${i}`)),
    metaDir: path.join(root, 'meta'),
    parity: 2,
    inlineThreshold: 4096,
    diskCheckIntervalMs: 60_000,
  });
  const outcomes = new Map<string, number>();
  try {
    for (let round = 0; round < 60; round++) {
      const b = `race-${round}`;
      await e.store.createBucket(b, 'us-east-1');
      if (round % 2) await e.store.setVersioning(b, 'Enabled');
      const writes: Array<Promise<unknown>> = [];
      for (let i = 0; i < 12; i++) {
        const body = Buffer.alloc(i % 3 === 0 ? 20_000 : 100, i);
        writes.push(e.store.putObject(b, `k${i}`, Readable.from([body]), { expectedSize: body.length }).catch(expected(['NoSuchBucket'])));
        if (i % 4 === 1) writes.push(e.store.deleteObject(b, `m${i}`).catch(expected(['NoSuchBucket'])));
        if (i % 4 === 2) writes.push(e.store.multipart.create(b, `u${i}`, { headers: {}, userMeta: {} }).catch(expected(['NoSuchBucket'])));
        // DeleteBucket somewhere in the middle of the writes.
        if (i === round % 12) writes.push(e.store.deleteBucket(b).then(() => 'deleted', expected(['BucketNotEmpty'])));
      }
      const results = await Promise.all(writes);
      const deleted = results.includes('deleted');
      outcomes.set(deleted ? 'deleted' : 'not empty', (outcomes.get(deleted ? 'deleted' : 'not empty') ?? 0) + 1);
      if (!deleted) continue;
      // The bucket is gone: a new one of the same name starts empty.
      await e.store.createBucket(b, 'us-east-1');
      const left = (await e.store.listVersions(b, { maxKeys: 100 })).versions.map((v) => `${v.key}${v.isDeleteMarker ? ' (delete marker)' : ''}`);
      assert.deepEqual(left, [], `round ${round}: objects or delete markers left in the deleted bucket (outcomes: ${results.map((r) => (typeof r === 'string' ? r : 'written')).join(', ')})`);
      assert.deepEqual((await e.store.meta.listUploads(b, { maxUploads: 10 })).uploads.map((u) => u.key), [], `round ${round}: uploads left in the deleted bucket`);
    }
    assert.ok((outcomes.get('deleted') ?? 0) > 0, `some deletes won the race: ${JSON.stringify([...outcomes])}`);
  } finally {
    await e.close();
    await rm(root, { recursive: true, force: true, maxRetries: 10 });
  }
});
