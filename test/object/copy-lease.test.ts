// A copy's read side runs on the lease the copy took with its write side (object/read.ts,
// copyReadLease). An encrypted multipart source is read part after part, one data stream per
// part, all on that one lease: each stream's extra read-ahead must go back when the stream
// ends, or the copy's lease grows by a run per part and starves every other request.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { openEngine } from '../../src/object/engine.js';
import { MIN_PART_SIZE } from '../../src/object/multipart.js';

test('copying an encrypted multipart object: the memory held does not grow with its part count', { timeout: 120_000 }, async () => {
  const root = await mkdtemp(path.join(os.tmpdir(), 'tessera-copy-lease-'));
  const e = await openEngine({
    disks: [1, 2, 3, 4].map((i) => path.join(root, `disk${i}`)),
    metaDir: path.join(root, 'meta'),
    parity: 2,
    diskCheckIntervalMs: 60_000,
    memoryBudget: 1024 * 1024 * 1024,
    masterKey: randomBytes(32),
  });
  try {
    const s = e.store;
    await s.createBucket('b', 'us-east-1');
    const part = Buffer.alloc(MIN_PART_SIZE, 7);
    /** Writes an SSE-S3 object of `parts` parts, copies it; the budget's high-water mark after. */
    const copyHighWater = async (parts: number): Promise<number> => {
      const key = `src${parts}`;
      const up = await s.multipart.create('b', key, { headers: {}, userMeta: {}, encryption: { mode: 'S3' } });
      const done = [];
      for (let n = 1; n <= parts; n++) {
        const p = await s.multipart.uploadPart('b', key, up.uploadId, n, Readable.from([part]), { expectedSize: part.length });
        done.push({ partNumber: n, etag: p.etag });
      }
      const v = await s.multipart.complete('b', key, up.uploadId, done);
      assert.equal(v.sse?.mode, 'S3');
      await s.putObject('b', `copy${parts}`, s.openData(v), { expectedSize: v.size, encryption: { mode: 'S3' } });
      assert.equal(s.memory.inUse, 0, 'everything leased is given back');
      return s.memory.highWater;
    };
    // The high-water mark only rises: a 6-part copy after a 1-part one (same part size, same
    // stripe pipeline depth) must not take it higher.
    const one = await copyHighWater(1);
    const many = await copyHighWater(6);
    assert.equal(many, one, `the 6-part copy raised the high-water mark from ${one} to ${many} bytes`);
  } finally {
    await e.close();
    await rm(root, { recursive: true, force: true });
  }
});
