// Heal and scan jobs at the object layer: a scan names a shard of the wrong size and changes
// nothing; a heal waits for memory from the budget like any request; one job at a time.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, truncate } from 'node:fs/promises';
import { Readable } from 'node:stream';
import os from 'node:os';
import path from 'node:path';
import { openEngine, type Engine } from '../../src/object/engine.js';
import { JobRunningError } from '../../src/object/maintenance.js';
import { patternBuffer } from '../helpers/data.js';
import type { ShardLayout } from '../../src/meta/types.js';

async function withEngine(memoryBudget: number, fn: (e: Engine) => Promise<void>, scannerBytesPerSecond = 0): Promise<void> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'tessera-jobs-'));
  const e = await openEngine({
    disks: [1, 2, 3, 4].map((i) => path.join(root, `disk${i}`)),
    metaDir: path.join(root, 'meta'),
    parity: 2,
    blockSize: 64 * 1024,
    inlineThreshold: 1024,
    scannerBytesPerSecond,
    // The background pass must not start during these tests.
    scannerStartDelayMs: 600_000,
    diskCheckIntervalMs: 60_000,
    memoryBudget,
  });
  try {
    await fn(e);
  } finally {
    await e.close();
    await rm(root, { recursive: true, force: true, maxRetries: 10 });
  }
}

async function put(e: Engine, key: string, size: number): Promise<ShardLayout> {
  const data = patternBuffer(size, size % 251);
  const v = await e.store.putObject('b', key, Readable.from([data]), { expectedSize: data.length });
  return v.data as ShardLayout;
}

test('scan reports a truncated shard as the wrong size and leaves it; heal then rewrites it', { timeout: 60_000 }, async () => {
  await withEngine(64 * 1024 * 1024, async (e) => {
    await e.store.createBucket('b', 'us-east-1');
    const l = await put(e, 'k', 300_000);
    await put(e, 'other', 5000);
    const file = e.store.disks[l.distribution[1]!]!.shardPath(l.dataId);
    const full = (await readFile(file)).length;
    await truncate(file, full - 3);
    const jobs = e.upkeep.jobs;
    await jobs.start('scan');
    await jobs.idle();
    const s = jobs.status('scan')!;
    assert.equal(s.state, 'done');
    assert.deepEqual(s.total, { objects: 2, bytes: 305_000 });
    assert.deepEqual([s.objectsChecked, s.bytesChecked], [2, 305_000]);
    assert.equal(s.damage.length, 1);
    assert.deepEqual([s.damage[0]!.key, s.damage[0]!.shard, s.damage[0]!.disk, s.damage[0]!.problem], ['k', 1, l.distribution[1]! + 1, 'size']);
    assert.match(s.damage[0]!.detail, new RegExp(`${full - 3} bytes`));
    assert.equal((await readFile(file)).length, full - 3, 'scan changed nothing');

    await jobs.start('heal');
    await jobs.idle();
    assert.deepEqual([jobs.status('heal')!.objectsHealed, jobs.status('heal')!.shardsRebuilt], [1, 1]);
    assert.equal((await readFile(file)).length, full);
  });
});

test('a heal waits for its buffers from the memory budget; a second job is refused while one runs', { timeout: 60_000 }, async () => {
  await withEngine(1024 * 1024, async (e) => {
    await e.store.createBucket('b', 'us-east-1');
    const l = await put(e, 'k', 200_000);
    await rm(e.store.disks[l.distribution[0]!]!.shardPath(l.dataId));
    // Everything leased, as by requests in flight.
    const held = await e.store.memory.acquire(1024 * 1024);
    const jobs = e.upkeep.jobs;
    await jobs.start('heal');
    await assert.rejects(jobs.start('scan'), JobRunningError);
    await new Promise((r) => setTimeout(r, 500));
    const waiting = jobs.status('heal')!;
    assert.equal(waiting.state, 'running');
    assert.equal(waiting.objectsChecked, 0, 'no object healed while the budget is spent');
    assert.ok(e.store.memory.waiting >= 1);
    held.release();
    await jobs.idle();
    const done = jobs.status('heal')!;
    assert.deepEqual([done.state, done.objectsHealed], ['done', 1]);
    assert.ok(e.store.memory.highWater <= 1024 * 1024 + 1, 'the heal stayed within the budget');
    assert.equal(e.store.memory.inUse, 0);
  });
});

test('pacing: a heal reads at 64 MiB/s at least (the scanner rate when higher), a scan at the scanner rate, an admin rate wins', { timeout: 60_000 }, async () => {
  const MiB = 1024 * 1024;
  await withEngine(64 * MiB, async (e) => {
    await e.store.createBucket('b', 'us-east-1');
    await put(e, 'k', 1000);
    const jobs = e.upkeep.jobs;
    const rateOf = async (kind: 'heal' | 'scan', scope = {}) => {
      const s = await jobs.start(kind, scope);
      await jobs.idle();
      return s.bytesPerSecond;
    };
    assert.equal(await rateOf('scan'), 8 * MiB);
    assert.equal(await rateOf('heal'), 64 * MiB);
    assert.equal(await rateOf('heal', { bytesPerSecond: MiB }), MiB);
    assert.equal(await rateOf('scan', { bytesPerSecond: 0 }), 0);
  }, 8 * MiB);
  await withEngine(64 * MiB, async (e) => {
    await e.store.createBucket('b', 'us-east-1');
    const jobs = e.upkeep.jobs;
    assert.equal((await jobs.start('heal')).bytesPerSecond, 64 * MiB);
    await jobs.idle();
    assert.equal((await jobs.start('scan')).bytesPerSecond, 64 * MiB, 'scanner off: a scan is paced at 64 MiB/s');
    await jobs.idle();
  }, 0);
  await withEngine(64 * MiB, async (e) => {
    await e.store.createBucket('b', 'us-east-1');
    assert.equal((await e.upkeep.jobs.start('heal')).bytesPerSecond, 200 * MiB, 'a scanner rate above 64 MiB/s paces heals too');
    await e.upkeep.jobs.idle();
  }, 200 * MiB);
});
