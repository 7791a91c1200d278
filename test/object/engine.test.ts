// The storage engine with real temp directories and real LevelDB: objects of many sizes round
// trip bit-exact; up to m wiped disks or corrupted shard files still read back exactly and are
// healed; m+1 lost disks give the quorum error, never wrong bytes.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, readdir, readFile, writeFile, stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { openEngine, type Engine } from '../../src/object/engine.js';
import { heal } from '../../src/object/healing.js';
import { S3Error } from '../../src/errors.js';
import { collect, patternBuffer } from '../helpers/data.js';
import type { ShardLayout } from '../../src/meta/types.js';

const BLOCK = 64 * 1024; // small blocks: many stripes with little data
const INLINE = 4 * 1024;

async function open(root: string, disks = 4, parity = 2): Promise<Engine> {
  return openEngine({
    disks: Array.from({ length: disks }, (_, i) => path.join(root, `disk${i + 1}`)),
    metaDir: path.join(root, 'meta'),
    parity,
    blockSize: BLOCK,
    inlineThreshold: INLINE,
    diskCheckIntervalMs: 60_000,
  });
}

async function put(e: Engine, bucket: string, key: string, data: Buffer) {
  return e.store.putObject(bucket, key, Readable.from([data]), { expectedSize: data.length });
}

async function get(e: Engine, bucket: string, key: string, start?: number, end?: number): Promise<Buffer> {
  const v = await e.store.resolve(bucket, key);
  return collect(e.store.openData(v, start, end));
}

const k = 2;
const SIZES = [0, 1, 100, INLINE, INLINE + 1, BLOCK - 1, BLOCK, BLOCK + 1, k * BLOCK - 1, k * BLOCK, k * BLOCK + 1, 5 * k * BLOCK + 12345, 3 * 1024 * 1024 + 7];

describe('storage engine, 4 disks, 2 data + 2 parity', () => {
  let root: string;
  let e: Engine;
  const objects = new Map<string, Buffer>();

  before(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'tessera-engine-'));
    e = await open(root);
    await e.store.createBucket('bkt', 'us-east-1');
    for (const [i, size] of SIZES.entries()) {
      const data = patternBuffer(size, i + 1);
      objects.set(`obj-${size}`, data);
      const v = await put(e, 'bkt', `obj-${size}`, data);
      assert.equal(v.size, size);
      assert.equal(v.etag, createHash('md5').update(data).digest('hex'));
    }
  });

  after(async () => {
    await e.close();
    await rm(root, { recursive: true, force: true });
  });

  test('every size reads back bit-exact, whole and in ranges', async () => {
    for (const [key, data] of objects) {
      assert.ok((await get(e, 'bkt', key)).equals(data), key);
      if (data.length > 2) {
        const ranges: [number, number][] = [[0, 0], [1, data.length - 2], [data.length - 1, data.length - 1], [Math.floor(data.length / 3), Math.floor(data.length / 2)]];
        for (const [s, t] of ranges) assert.ok((await get(e, 'bkt', key, s, t)).equals(data.subarray(s, t + 1)), `${key} ${s}-${t}`);
      }
    }
  });

  test('small objects are inline, larger ones are shards spread over every disk', async () => {
    const small = await e.store.resolve('bkt', `obj-${INLINE}`);
    assert.equal(small.data?.kind, 'inline');
    const big = await e.store.resolve('bkt', `obj-${INLINE + 1}`);
    assert.equal(big.data?.kind, 'shards');
    const l = big.data as ShardLayout;
    assert.deepEqual([...l.distribution].sort(), [0, 1, 2, 3]);
    for (const d of e.store.disks) await stat(d.shardPath(l.dataId));
  });

  test('shard files are named by generated ids, never by keys', async () => {
    await put(e, 'bkt', '../../escape attempt', patternBuffer(INLINE * 3, 9));
    for (const d of e.store.disks) {
      for (const sub of await readdir(path.join(d.root, 'shards'))) {
        for (const f of await readdir(path.join(d.root, 'shards', sub))) assert.match(f, /^[0-9a-f]{32}$/);
      }
    }
    await e.store.deleteObject('bkt', '../../escape attempt');
  });

  test('two wiped disks: every object still reads back exactly; heal rebuilds the shards on them', async () => {
    for (const i of [0, 2]) {
      await rm(e.store.disks[i].root, { recursive: true, force: true, maxRetries: 10 });
    }
    for (const [key, data] of objects) assert.ok((await get(e, 'bkt', key)).equals(data), `degraded read of ${key}`);
    // Repairs queued by the degraded reads cannot write to the vanished disks.
    await e.store.heals.idle();
    // The monitor would notice the blank disks; do what it does, now.
    await e.upkeep.stop();
    const { recheckDisk } = await import('../../src/disk/disk-set.js');
    for (const i of [0, 2]) assert.equal(await recheckDisk(e.store.disks[i], e.deploymentId, 4), 'reformatted');
    const p = await heal(e.store);
    assert.equal(p.errors, 0);
    // Degraded reads queued repairs too, which could not run before the disks were formatted.
    assert.equal(p.shardsRebuilt, 2 * SIZES.filter((s) => s > INLINE).length, `rebuilt ${p.shardsRebuilt}`);
    for (const [key] of objects) {
      const v = await e.store.resolve('bkt', key);
      if (v.data?.kind !== 'shards') continue;
      for (const i of [0, 2]) await stat(e.store.disks[i].shardPath(v.data.dataId));
    }
    // A second pass finds nothing left to do.
    assert.equal((await heal(e.store)).shardsRebuilt, 0);
    // And with the two OTHER disks gone, the healed shards alone serve every object.
    for (const i of [1, 3]) e.store.disks[i].online = false;
    try {
      for (const [key, data] of objects) assert.ok((await get(e, 'bkt', key)).equals(data), `read from healed disks of ${key}`);
    } finally {
      for (const i of [1, 3]) e.store.disks[i].online = true;
    }
  });

  test('flipped bytes in shard files are detected, corrected on read, and healed', async () => {
    const key = `obj-${5 * k * BLOCK + 12345}`;
    const v = await e.store.resolve('bkt', key);
    const l = v.data as ShardLayout;
    // Corrupt one byte in the first stripe of data shard 0 and one in the last stripe of data shard 1.
    for (const [shard, offset] of [[0, 100], [1, -20]] as const) {
      const file = e.store.disks[l.distribution[shard]].shardPath(l.dataId);
      const buf = await readFile(file);
      const at = offset >= 0 ? offset : buf.length + offset - 200;
      buf[at] ^= 0x5a;
      await writeFile(file, buf);
    }
    assert.ok((await get(e, 'bkt', key)).equals(objects.get(key)!));
    await e.store.heals.idle();
    const p = await heal(e.store, { bucket: 'bkt', key });
    assert.equal(p.shardsRebuilt, 0, 'the read already queued and ran the repair');
    // Every shard verifies clean again.
    const { healShards } = await import('../../src/erasure/heal.js');
    assert.deepEqual((await healShards(e.store.disks, l, { bucket: 'bkt', key })).damaged, []);
  });

  test('three lost disks: InsufficientReadQuorum, never wrong bytes', async () => {
    for (const i of [0, 1, 2]) e.store.disks[i].online = false;
    try {
      await assert.rejects(get(e, 'bkt', `obj-${3 * 1024 * 1024 + 7}`), (err: unknown) => err instanceof S3Error && err.code === 'InsufficientReadQuorum');
      await assert.rejects(put(e, 'bkt', 'nope', patternBuffer(INLINE * 4)), (err: unknown) => err instanceof S3Error && err.code === 'InsufficientWriteQuorum');
      await assert.rejects(e.store.resolve('bkt', 'nope'), (err: unknown) => err instanceof S3Error && err.code === 'NoSuchKey');
    } finally {
      for (const i of [0, 1, 2]) e.store.disks[i].online = true;
    }
  });

  test('overwrite and delete free the old data (no files leak)', async () => {
    const data = patternBuffer(BLOCK * 5, 77);
    const v1 = await put(e, 'bkt', 'churn', data);
    const v2 = await put(e, 'bkt', 'churn', patternBuffer(BLOCK * 6, 78));
    await e.store.settle();
    const l1 = v1.data as ShardLayout;
    const l2 = v2.data as ShardLayout;
    for (const d of e.store.disks) {
      await assert.rejects(stat(d.shardPath(l1.dataId)));
      await stat(d.shardPath(l2.dataId));
    }
    await e.store.deleteObject('bkt', 'churn');
    await e.store.settle();
    for (const d of e.store.disks) await assert.rejects(stat(d.shardPath(l2.dataId)));
    assert.deepEqual(await e.store.meta.listGarbage(10), []);
  });
});

describe('engine layouts', () => {
  for (const [n, m] of [[1, 0], [2, 1], [3, 1], [6, 2], [8, 4]] as const) {
    test(`${n} disks with parity ${m}: round trip and survive ${m} lost disk(s)`, async () => {
      const root = await mkdtemp(path.join(os.tmpdir(), 'tessera-layout-'));
      const e = await open(root, n, m);
      try {
        await e.store.createBucket('bkt', 'us-east-1');
        const data = patternBuffer(BLOCK * (n - m) * 3 + 999, n);
        await put(e, 'bkt', 'x', data);
        assert.ok((await get(e, 'bkt', 'x')).equals(data));
        for (let i = 0; i < m; i++) e.store.disks[i].online = false;
        assert.ok((await get(e, 'bkt', 'x')).equals(data));
      } finally {
        await e.close();
        await rm(root, { recursive: true, force: true });
      }
    });
  }

  test('a disk from another deployment or in the wrong slot stops start-up', async () => {
    const a = await mkdtemp(path.join(os.tmpdir(), 'tessera-set-a-'));
    const b = await mkdtemp(path.join(os.tmpdir(), 'tessera-set-b-'));
    try {
      (await open(a)).close();
      await new Promise((r) => setTimeout(r, 50));
      const eb = await open(b);
      await eb.close();
      const { openDiskSet } = await import('../../src/disk/disk-set.js');
      await assert.rejects(openDiskSet([path.join(a, 'disk1'), path.join(b, 'disk2'), path.join(a, 'disk3'), path.join(a, 'disk4')]), /another deployment/);
      await assert.rejects(openDiskSet([path.join(a, 'disk2'), path.join(a, 'disk1'), path.join(a, 'disk3'), path.join(a, 'disk4')]), /slot/);
    } finally {
      await rm(a, { recursive: true, force: true });
      await rm(b, { recursive: true, force: true });
    }
  });
});
