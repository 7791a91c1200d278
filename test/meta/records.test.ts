import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { currentKey } from '../../src/meta/keys.js';
import { LevelMetaStore } from '../../src/meta/level-store.js';
import { decodeCurrent, decodeListed, encodeCurrent } from '../../src/meta/records.js';
import type { ObjectVersion } from '../../src/meta/types.js';
import { version } from './fixtures.js';

describe('current record encoding', () => {
  it('round-trips the full version and lists its fields from the header alone', () => {
    const plain = version('b', 'k', 1);
    const rich: ObjectVersion = {
      ...version('b', 'dir/ü', 2),
      storageClass: 'STANDARD_IA',
      checksum: { algorithm: 'CRC32C', value: 'AAAAAA==', type: 'FULL_OBJECT' },
      etag: 'abc-3',
    };
    for (const v of [plain, rich]) {
      const raw = encodeCurrent(v);
      assert.equal(raw[0], 0x01);
      assert.deepEqual(decodeCurrent(raw), v);
      const listed = decodeListed(v.key, raw.toString('utf8'));
      assert.deepEqual(listed, {
        key: v.key,
        lastModified: v.lastModified,
        size: v.size,
        etag: v.etag,
        ...(v.storageClass ? { storageClass: v.storageClass } : {}),
        ...(v.checksum ? { checksum: { algorithm: v.checksum.algorithm, type: v.checksum.type } } : {}),
      });
    }
  });

  it('falls back to plain JSON when a listed field cannot sit in the header', () => {
    const odd = version('b', 'k', 1, { etag: 'tab\there' });
    const raw = encodeCurrent(odd);
    assert.equal(raw.toString('utf8'), JSON.stringify(odd));
    assert.deepEqual(decodeCurrent(raw), odd);
    assert.equal(decodeListed('k', raw.toString('utf8')).etag, 'tab\there');
  });

  it('reads current records written as plain JSON (the earlier layout)', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'tessera-records-'));
    const s = new LevelMetaStore(dir);
    await s.open();
    try {
      const v = version('b', 'legacy', 1, { storageClass: 'GLACIER' });
      // Reach the private LevelDB handle to write a record the way earlier versions did.
      const db = (s as unknown as { db: { put: (k: Buffer, v: Buffer) => Promise<void> } }).db;
      await db.put(currentKey('b', 'legacy'), Buffer.from(JSON.stringify(v), 'utf8'));
      await s.batch([{ type: 'setCurrent', bucket: 'b', key: 'new', version: version('b', 'new', 2) }]);
      assert.deepEqual(await s.getCurrent('b', 'legacy'), v);
      const listed = await s.listCurrent('b', { maxKeys: 10 });
      assert.deepEqual(listed.objects.map((o) => [o.key, o.etag, o.size, o.lastModified, o.storageClass]), [
        ['legacy', v.etag, v.size, v.lastModified, 'GLACIER'],
        ['new', v.etag, 3, 1_700_000_000_002, undefined],
      ]);
    } finally {
      await s.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
