// Whole objects are never buffered: a 2 GiB stream, generated on the fly, is written and read
// back through the engine while resident memory grows by less than 64 MiB.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { Transform } from 'node:stream';
import { openEngine } from '../../src/object/engine.js';
import { patternStream } from '../helpers/data.js';

const SIZE = 2 * 1024 ** 3;
const LIMIT = 64 * 1024 * 1024;

test('2 GiB written and read back with bounded memory', { timeout: 600_000 }, async () => {
  const root = await mkdtemp(path.join(os.tmpdir(), 'tessera-mem-'));
  const e = await openEngine({ disks: [1, 2, 3, 4].map((i) => path.join(root, `disk${i}`)), metaDir: path.join(root, 'meta'), parity: 2 });
  try {
    await e.store.createBucket('mem', 'us-east-1');
    // Warm up first (V8's heap and Node's buffers settle at their working size), so the
    // growth measured below is what the object's size adds, which must be nothing.
    const warm = await e.store.putObject('mem', 'warm', patternStream(128 * 1024 * 1024, 4), { expectedSize: 128 * 1024 * 1024 });
    for await (const _ of e.store.openData(warm)) void _;
    const base = process.memoryUsage().rss;
    let peak = base;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
    try {
      const inHash = createHash('md5');
      const tap = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          inHash.update(chunk);
          cb(null, chunk);
        },
      });
      const t0 = Date.now();
      const v = await e.store.putObject('mem', 'big', patternStream(SIZE, 5).pipe(tap), { expectedSize: SIZE });
      const t1 = Date.now();
      process.stdout.write(`# after write: RSS growth ${((peak - base) / 2 ** 20).toFixed(1)} MiB\n`);
      assert.equal(v.size, SIZE);
      assert.equal(v.etag, inHash.digest('hex'));
      const outHash = createHash('md5');
      let n = 0;
      for await (const c of e.store.openData(v)) {
        outHash.update(c as Buffer);
        n += (c as Buffer).length;
      }
      const t2 = Date.now();
      assert.equal(n, SIZE);
      assert.equal(outHash.digest('hex'), v.etag);
      const growth = peak - base;
      process.stdout.write(`# 2 GiB: write ${(SIZE / 1e6 / ((t1 - t0) / 1000)).toFixed(0)} MB/s, read ${(SIZE / 1e6 / ((t2 - t1) / 1000)).toFixed(0)} MB/s, RSS growth ${(growth / 2 ** 20).toFixed(1)} MiB\n`);
      assert.ok(growth < LIMIT, `RSS grew by ${(growth / 2 ** 20).toFixed(1)} MiB`);
    } finally {
      clearInterval(sampler);
    }
  } finally {
    await e.close();
    await rm(root, { recursive: true, force: true });
  }
});
