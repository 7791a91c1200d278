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

async function withEngine(opts: { scanner?: number; diskCheckMs?: number }, fn: (e: Engine, root: string) => Promise<void>): Promise<void> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'tessera-upkeep-'));
  const e = await openEngine({
    disks: [1, 2, 3, 4].map((i) => path.join(root, `disk${i}`)),
    metaDir: path.join(root, 'meta'),
    parity: 2,
    blockSize: 64 * 1024,
    inlineThreshold: 1024,
    scannerBytesPerSecond: opts.scanner ?? 0,
    diskCheckIntervalMs: opts.diskCheckMs ?? 60_000,
  });
  try {
    await fn(e, root);
  } finally {
    await e.close();
    await rm(root, { recursive: true, force: true, maxRetries: 10 });
  }
}

test('the background scanner repairs a corrupt shard that no one reads', { timeout: 60_000 }, async () => {
  // The scanner waits 30 s after start-up before its first pass; drive one pass directly at
  // its own pace instead, which is what the loop runs.
  await withEngine({}, async (e) => {
    await e.store.createBucket('scan', 'us-east-1');
    const data = patternBuffer(300_000, 11);
    const v = await e.store.putObject('scan', 'cold', Readable.from([data]), { expectedSize: data.length });
    const l = v.data as ShardLayout;
    const file = e.store.disks[l.distribution[3]].shardPath(l.dataId);
    const buf = await readFile(file);
    buf[10] ^= 0xff;
    await writeFile(file, buf);
    assert.deepEqual((await healShards(e.store.disks, l, { bucket: 'scan', key: 'cold' })).damaged, [3]);
    // healShards above already repaired it; corrupt again and let the scan loop find it.
    const again = await readFile(file);
    again[20] ^= 0xff;
    await writeFile(file, again);
    const { heal } = await import('../../src/object/healing.js');
    let paced = 0;
    const p = await heal(e.store, { pace: async (bytes) => void (paced += bytes) });
    assert.equal(p.shardsRebuilt, 1);
    assert.ok(paced > 0, 'the scanner reports bytes read to its pacer');
    assert.deepEqual((await healShards(e.store.disks, l, { bucket: 'scan', key: 'cold' })).damaged, []);
    assert.ok((await collect(e.store.openData(v))).equals(data));
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
