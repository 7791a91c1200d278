// The free-space reserve's arithmetic: percent and byte reserves, claims that see each other
// without waiting for a new statfs, filesystems shared by several disks, and what a finished
// or failed write leaves counted until the next reading.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fitsAboveReserve, reserveBytes, SpaceGuard, STORAGE_FULL, type FsReading } from '../../src/disk/space.js';
import { spaceNeeds } from '../../src/object/ingest.js';
import { S3Error } from '../../src/errors.js';
import type { Disk } from '../../src/disk/disk.js';

const MiB = 1024 * 1024;

test('reserve: a percentage of the size, rounded up, or a fixed size', { timeout: 5000 }, () => {
  assert.equal(reserveBytes({ percent: 2 }, 100 * MiB), 2 * MiB);
  assert.equal(reserveBytes({ percent: 2.5 }, 1001), 26);
  assert.equal(reserveBytes({ percent: 0 }, 100 * MiB), 0);
  assert.equal(reserveBytes({ bytes: 5 * MiB }, 100 * MiB), 5 * MiB);
  // Exactly down to the reserve fits; one byte more does not.
  assert.equal(fitsAboveReserve({ bytes: 10 }, 1000, 100, 0, 90), true);
  assert.equal(fitsAboveReserve({ bytes: 10 }, 1000, 100, 0, 91), false);
  assert.equal(fitsAboveReserve({ bytes: 10 }, 1000, 100, 50, 41), false);
  assert.equal(fitsAboveReserve({ percent: 10 }, 1000, 150, 0, 50), true);
  assert.equal(fitsAboveReserve({ percent: 10 }, 1000, 150, 0, 51), false);
});

/** A guard over fake filesystems whose readings a test sets (and counts). */
function fakeGuard(fss: Record<string, FsReading>, reserve = { bytes: 10 * MiB }) {
  const clock = { now: 0 };
  let reads = 0;
  const guard = new SpaceGuard(Object.keys(fss), {
    reserve,
    cacheMs: 1000,
    now: () => clock.now,
    source: async (dir) => {
      reads++;
      const r = fss[dir];
      if (!r) throw Object.assign(new Error('gone'), { code: 'ENOENT' });
      return { ...r };
    },
  });
  return { guard, clock, reads: () => reads };
}

async function refused(p: Promise<unknown>): Promise<void> {
  await assert.rejects(p, (e: unknown) => e instanceof S3Error && e.code === STORAGE_FULL && e.status === 507);
}

test('claims in flight count against each other before any new reading', { timeout: 5000 }, async () => {
  const { guard, reads } = fakeGuard({ a: { dev: 1, totalBytes: 100 * MiB, freeBytes: 50 * MiB } });
  const c1 = await guard.claim([20 * MiB]);
  const c2 = await guard.claim([20 * MiB]);
  // 50 - 40 = 10 MiB left, all of it reserve: one byte more is refused, even concurrently.
  const racing = await Promise.allSettled([guard.claim([1]), guard.claim([1])]);
  assert.deepEqual(racing.map((r) => r.status), ['rejected', 'rejected']);
  c1.release(false);
  const c3 = await guard.claim([20 * MiB]);
  await refused(guard.claim([1]));
  // A refusal reads the filesystem again (space may just have been freed) rather than trust the cache.
  assert.ok(reads() >= 2);
  c2.release(false);
  c3.release(false);
});

test('a finished write stays counted until a reading taken after it; a failed one does not', { timeout: 5000 }, async () => {
  const fss = { a: { dev: 1, totalBytes: 100 * MiB, freeBytes: 50 * MiB } };
  const { guard, clock } = fakeGuard(fss);
  const done = await guard.claim([30 * MiB]);
  // Its bytes are on the disk now, but the cached reading predates them: still counted.
  done.release(true);
  assert.equal(guard.headroom()[0], 10 * MiB);
  // A reading taken after they landed has them (the disk really has 20 MiB free now).
  fss.a.freeBytes = 20 * MiB;
  clock.now += 2000;
  const c = await guard.claim([5 * MiB]);
  assert.equal(guard.headroom()[0], 5 * MiB);
  // A failed write's files are removed: its claim just goes.
  c.release(false);
  assert.equal(guard.headroom()[0], 10 * MiB);
  // Space freed (objects deleted) within the cache time: the refusal reads again and sees it.
  fss.a.freeBytes = 80 * MiB;
  const big = await guard.claim([60 * MiB]);
  big.release(false);
  await refused(guard.claim([71 * MiB]));
});

test('disks that share a filesystem add up; an unreadable location is not checked', { timeout: 5000 }, async () => {
  const { guard } = fakeGuard({
    d1: { dev: 7, totalBytes: 100 * MiB, freeBytes: 40 * MiB },
    d2: { dev: 7, totalBytes: 100 * MiB, freeBytes: 40 * MiB },
    d3: { dev: 8, totalBytes: 100 * MiB, freeBytes: 90 * MiB },
  });
  // 2 × 16 MiB on dev 7 leaves 8 MiB < 10 MiB reserve, though each alone would fit.
  await refused(guard.claim([16 * MiB, 16 * MiB, 1]));
  const ok = await guard.claim([15 * MiB, 15 * MiB, 70 * MiB]);
  ok.release(false);
  const { guard: g2 } = fakeGuard({ d1: { dev: 1, totalBytes: 100 * MiB, freeBytes: 50 * MiB } });
  // Location 1 (say, the metadata directory) is not there: nothing to check on it.
  const c = await g2.claim([1 * MiB, 500 * MiB]);
  c.release(false);
});

test('a claim grows stripe by stripe and is refused at the stripe that would cross', { timeout: 5000 }, async () => {
  const { guard } = fakeGuard({ a: { dev: 1, totalBytes: 100 * MiB, freeBytes: 30 * MiB } });
  const c = await guard.claim([1 * MiB]);
  for (let i = 0; i < 19; i++) await c.grow([1 * MiB]);
  await refused(c.grow([1 * MiB]));
  c.release(false);
  // Released: the same space is there again.
  (await guard.claim([20 * MiB])).release(false);
});

test('what a write needs per disk: shard blocks with their CRCs, or inline data in the journal', { timeout: 5000 }, () => {
  const disks = [0, 1, 2, 3].map((i) => ({ online: i !== 3, index: i }) as unknown as Disk);
  const geo = { disks, k: 2, blockSize: MiB };
  const dist = [1, 2, 3, 0];
  const shards = spaceNeeds(geo, dist, 10 * MiB, false);
  assert.equal(shards.length, 5);
  // 10 MiB over k = 2: five 1 MiB blocks per shard, each after a 4-byte CRC, plus overheads.
  const blocks = 5 * (MiB + 4);
  for (const i of [0, 1, 2]) assert.ok(shards[i]! > blocks && shards[i]! < blocks + 64 * 1024, `disk ${i}: ${shards[i]}`);
  assert.equal(shards[3], 0, 'an offline disk needs nothing');
  assert.ok(shards[4]! > 0 && shards[4]! < 64 * 1024, 'metadata: a journal record');
  const inline = spaceNeeds(geo, dist, 1000, true);
  assert.ok(inline[0]! >= 1000 && inline[4]! >= 1000);
});
