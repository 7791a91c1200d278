// Background upkeep: the scanner finds and repairs damage nobody has read, the disk monitor
// notices a wiped disk while running and heals onto it, and usage reports each disk.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile, stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import os from 'node:os';
import path from 'node:path';
import { openEngine, type Engine } from '../../src/object/engine.js';
import { healShards } from '../../src/erasure/heal.js';
import { patternBuffer, collect } from '../helpers/data.js';
import type { ShardLayout } from '../../src/meta/types.js';

async function waitFor(what: string, cond: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function withEngine(opts: { scanner?: number; scannerStartMs?: number; scannerIntervalMs?: number; diskCheckMs?: number }, fn: (e: Engine, root: string) => Promise<void>): Promise<void> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'tessera-upkeep-'));
  const e = await openEngine({
    disks: [1, 2, 3, 4].map((i) => path.join(root, `disk${i}`)),
    metaDir: path.join(root, 'meta'),
    parity: 2,
    blockSize: 64 * 1024,
    inlineThreshold: 1024,
    scannerBytesPerSecond: opts.scanner ?? 0,
    scannerStartDelayMs: opts.scannerStartMs,
    scannerPassIntervalMs: opts.scannerIntervalMs,
    diskCheckIntervalMs: opts.diskCheckMs ?? 60_000,
  });
  try {
    await fn(e, root);
  } finally {
    await e.close();
    await rm(root, { recursive: true, force: true, maxRetries: 10 });
  }
}

test('the background scanner loop finds and repairs a corrupt shard that no one reads, at its set pace', { timeout: 120_000 }, async () => {
  // The loop itself runs (its first pass starts at once here instead of after 30 s): nothing
  // but the scanner reads the object.
  const rate = 2 * 1024 * 1024;
  await withEngine({ scanner: rate, scannerStartMs: 300, scannerIntervalMs: 100 }, async (e) => {
    await e.store.createBucket('scan', 'us-east-1');
    const objects: Array<{ v: Awaited<ReturnType<typeof e.store.putObject>>; data: Buffer }> = [];
    for (let i = 0; i < 4; i++) {
      const data = patternBuffer(1024 * 1024, 11 + i);
      objects.push({ v: await e.store.putObject('scan', `cold${i}`, Readable.from([data]), { expectedSize: data.length }), data });
    }
    const l = objects[2]!.v.data as ShardLayout;
    const file = e.store.disks[l.distribution[3]].shardPath(l.dataId);
    const buf = await readFile(file);
    buf[10] ^= 0xff;
    await writeFile(file, buf);
    // Wait for the loop to finish a pass that started after the damage.
    const passesBefore = e.upkeep.scan.passes;
    const deadline = Date.now() + 90_000;
    while (e.upkeep.scan.passes < passesBefore + 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.ok(e.upkeep.scan.passes >= passesBefore + 2, `the scanner loop finished passes (${e.upkeep.scan.passes})`);
    assert.ok(e.upkeep.lastScan, 'the loop reports its last pass');
    // Repaired on the disk, by the loop alone.
    assert.deepEqual((await healShards(e.store.disks, l, { bucket: 'scan', key: 'cold2' })).damaged, []);
    for (const o of objects) assert.ok((await collect(e.store.openData(o.v))).equals(o.data));
    // Paced: a pass reads at least the data shards of 4 MiB; at 2 MiB/s that is over a second.
    const bytes = e.upkeep.lastScan!.bytesScanned;
    assert.ok(bytes >= 2 * 1024 * 1024, `a pass read the shards (${bytes} bytes)`);
  });
});

test('a pass is paced: reading at a low rate takes as long as the rate says', { timeout: 120_000 }, async () => {
  const rate = 1024 * 1024;
  await withEngine({ scanner: rate, scannerStartMs: 1000, scannerIntervalMs: 60_000 }, async (e) => {
    await e.store.createBucket('pace', 'us-east-1');
    for (let i = 0; i < 3; i++) await e.store.putObject('pace', `o${i}`, Readable.from([patternBuffer(1024 * 1024, i)]), { expectedSize: 1024 * 1024 });
    // The pass's own duration: from when it is seen running (a little after it started, which
    // only makes the check stricter) to its end.
    const deadline = Date.now() + 90_000;
    let startSeen = 0;
    while (e.upkeep.scan.passes < 1 && Date.now() < deadline) {
      if (!startSeen && e.upkeep.scan.running) startSeen = Date.now();
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(e.upkeep.scan.passes, 1);
    assert.ok(startSeen > 0, 'the pass was seen running');
    const bytes = e.upkeep.lastScan!.bytesScanned;
    assert.ok(bytes >= 3 * 1024 * 1024, `the pass read what was written (${bytes} bytes)`);
    const elapsed = e.upkeep.scan.lastPassEnd! - startSeen;
    // The pacer sleeps bytes/rate after reading them: the pass cannot be faster than that.
    assert.ok(elapsed >= (bytes / rate) * 1000 * 0.8 - 50, `${bytes} bytes in ${elapsed} ms at ${rate} B/s`);
  });
});

test('a disk wiped while running is reformatted and healed by the disk monitor', { timeout: 60_000 }, async () => {
  await withEngine({ diskCheckMs: 200 }, async (e, root) => {
    await e.store.createBucket('wipe', 'us-east-1');
    const layouts: ShardLayout[] = [];
    for (let i = 0; i < 5; i++) {
      const v = await e.store.putObject('wipe', `o${i}`, Readable.from([patternBuffer(200_000, i)]), { expectedSize: 200_000 });
      layouts.push(v.data as ShardLayout);
    }
    const disk2 = path.join(root, 'disk2');
    await rm(disk2, { recursive: true, force: true, maxRetries: 10 });
    await waitFor('disk2 healed', async () => {
      for (const l of layouts) {
        try {
          await stat(e.store.disks[1].shardPath(l.dataId));
        } catch {
          return false;
        }
      }
      return true;
    });
    const usage = await e.usage();
    assert.equal(usage.length, 4);
    for (const u of usage) {
      assert.equal(u.online, true);
      assert.ok((u.totalBytes ?? 0) > 0 && (u.freeBytes ?? -1) >= 0, JSON.stringify(u));
    }
  });
});

test('usage reports an unusable disk as offline', async () => {
  await withEngine({}, async (e) => {
    e.store.disks[2].online = false;
    const usage = await e.usage();
    assert.equal(usage[2].online, false);
    assert.equal(usage[2].totalBytes, undefined);
    assert.equal(usage[0].online, true);
  });
});
