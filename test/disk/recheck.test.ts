// A full disk is not a failed one: the periodic disk check must not take a disk offline
// because its filesystem has no room (ENOSPC) for the directories it re-creates.
//
// Needs root (mount). A failing mount fails the test: it must not pass by not running.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { openDiskSet, recheckDisk } from '../../src/disk/disk-set.js';

test('a disk whose filesystem is full (no inode left for tmp/) stays online through a recheck', { timeout: 60_000 }, async () => {
  const root = await mkdtemp(path.join(os.tmpdir(), 'tessera-recheck-'));
  const dir = path.join(root, 'disk1');
  await mkdir(dir);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m,nr_inodes=64', 'tmpfs', dir]);
  try {
    const set = await openDiskSet([dir]);
    const d = set.disks[0]!;
    assert.equal(d.online, true);
    assert.equal(await recheckDisk(d, set.deploymentId, 1), 'ok');
    // tmp/ gone (an operator cleaning up) and every inode taken: re-creating it gets ENOSPC.
    await rm(d.tmpDir, { recursive: true });
    let filled = 0;
    for (;;) {
      try {
        await writeFile(path.join(dir, `fill${filled}`), '');
        filled++;
      } catch (e) {
        assert.equal((e as NodeJS.ErrnoException).code, 'ENOSPC');
        break;
      }
    }
    assert.ok(filled > 0);
    assert.notEqual(await recheckDisk(d, set.deploymentId, 1), 'offline');
    assert.equal(d.online, true);
  } finally {
    execFileSync('umount', [dir]);
    await rm(root, { recursive: true, force: true });
  }
});
