// A journal append on a filesystem with too little room: the write comes back short (part of
// the record on disk), the append fails as "no space" (so the write gets 507, and the disk is
// not taken for failed), and the part that went down is cut off again, so the segment ends
// with whole records only. Uses a real (tiny) tmpfs; needs root, and fails without it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, open, readdir, rm, stat, statfs } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Disk } from '../../src/disk/disk.js';
import { isNoSpace } from '../../src/disk/space.js';
import { DiskJournal } from '../../src/meta/journal/disk-journal.js';

test('a journal append that runs out of space fails as no-space and leaves whole records only', { timeout: 30_000 }, async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tessera-jnospace-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir]);
  try {
    const disk = new Disk(dir, 0);
    const journal = new DiskJournal(disk);
    await journal.append({ epoch: 1, seq: 1 }, Buffer.alloc(1000, 1));
    // Fill the filesystem, then give back one page: the next 64 KiB record fits only in part.
    const filler = path.join(dir, 'filler');
    const fh = await open(filler, 'w');
    let size = 0;
    try {
      for (;;) size += (await fh.write(Buffer.alloc(64 * 1024))).bytesWritten;
    } catch (e) {
      assert.equal((e as NodeJS.ErrnoException).code, 'ENOSPC');
    }
    await fh.truncate(size - 4096);
    await fh.close();
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
    execFileSync('umount', [dir]);
    await rm(dir, { recursive: true, force: true });
  }
});
