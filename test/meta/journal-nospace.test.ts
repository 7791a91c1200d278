// A journal append on a filesystem with too little room: the write comes back short (part of
// the record on disk), the append fails as "no space" (so the write gets 507, and the disk is
// not taken for failed), and the part that went down is cut off again, so the segment ends
// with whole records only. Uses a real (tiny) tmpfs; needs root, and fails without it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, stat, statfs, truncate } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fillUntilFull, mountTmpfs, unmountTmpfs } from '../helpers/tmpfs.js';
import { Disk } from '../../src/disk/disk.js';
import { isNoSpace } from '../../src/disk/space.js';
import { DiskJournal } from '../../src/meta/journal/disk-journal.js';

test('a journal append that runs out of space fails as no-space and leaves whole records only', { timeout: 30_000 }, async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tessera-jnospace-'));
  mountTmpfs(dir, 1);
  try {
    const disk = new Disk(dir, 0);
    const journal = new DiskJournal(disk);
    await journal.append({ epoch: 1, seq: 1 }, Buffer.alloc(1000, 1));
    // Fill the filesystem, then give back one page: the next 64 KiB record fits only in part.
    const filler = path.join(dir, 'filler');
    const size = await fillUntilFull(filler, 64 * 1024);
    await truncate(filler, size - 4096);
    const f = await statfs(dir);
    assert.ok(f.bavail * f.bsize > 0 && f.bavail * f.bsize < 64 * 1024, 'a little room left');

    const err = await journal.append({ epoch: 1, seq: 2 }, Buffer.alloc(64 * 1024, 2)).then(() => undefined, (e: unknown) => e);
    assert.ok(err, 'the append failed');
    assert.ok(isNoSpace(err), `a no-space error: ${String(err)}`);
    const [segment] = (await readdir(path.join(dir, 'meta'))).filter((n) => n.endsWith('.log'));
    assert.equal((await stat(path.join(dir, 'meta', segment!))).size, 1000, 'the partial record was cut off');
    assert.equal(disk.online, true);

    // Room again: appends go on (in a new segment).
    await rm(filler);
    await journal.append({ epoch: 1, seq: 3 }, Buffer.alloc(1000, 3));
    await journal.close();
  } finally {
    unmountTmpfs(dir);
    await rm(dir, { recursive: true, force: true });
  }
});
