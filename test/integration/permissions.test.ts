// Data and metadata at rest belong to the server's user alone: every directory Tessera makes
// is 0700 and every file 0600, whatever the umask (the test runs the server under umask 000,
// where anything created without an explicit mode would be world-readable), and directories
// left 0755 by an older version are tightened at start-up.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, CreateMultipartUploadCommand, PutObjectCommand, UploadPartCommand } from '@aws-sdk/client-s3';
import { startTestServer } from '../helpers/server.js';
import { sdkClient } from '../helpers/clients.js';
import { patternBuffer } from '../helpers/data.js';

const mode = async (p: string) => (await stat(p)).mode & 0o777;

/** Every path under `dir` (itself included), directories and files. */
async function walk(dir: string): Promise<{ dirs: string[]; files: string[] }> {
  const out = { dirs: [dir], files: [] as string[] };
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      const sub = await walk(p);
      out.dirs.push(...sub.dirs);
      out.files.push(...sub.files);
    } else {
      out.files.push(p);
    }
  }
  return out;
}

function loose(paths: string[], modes: number[], want: number): string[] {
  return paths.flatMap((p, i) => (modes[i] === want ? [] : [`${p} ${modes[i]!.toString(8)}`]));
}

test('disk and metadata directories are 0700 and every file in them 0600, even under umask 000', { timeout: 60_000 }, async () => {
  const root = await mkdtemp(path.join(os.tmpdir(), 'tessera-perm-'));
  const umask = process.umask(0);
  try {
    const srv = await startTestServer({ root, env: { TESSERA_META_DIR: path.join(root, 'meta') } });
    assert.equal(process.umask(0), 0, 'the server must not change the process umask');
    try {
      const s3 = sdkClient(srv);
      await s3.send(new CreateBucketCommand({ Bucket: 'perm' }));
      await s3.send(new PutObjectCommand({ Bucket: 'perm', Key: 'big', Body: patternBuffer(600_000, 3) }));
      await s3.send(new PutObjectCommand({ Bucket: 'perm', Key: 'small', Body: 'inline' }));
      const up = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'perm', Key: 'mp' }));
      const part = await s3.send(new UploadPartCommand({ Bucket: 'perm', Key: 'mp', UploadId: up.UploadId, PartNumber: 1, Body: patternBuffer(300_000, 4) }));
      // Left open on purpose: its part's shard files stay on the disks.
      assert.ok(part.ETag);
      s3.destroy();

      for (const disk of srv.disks) {
        const { dirs, files } = await walk(disk);
        assert.deepEqual(loose(dirs, await Promise.all(dirs.map(mode)), 0o700), [], `directories of ${disk}`);
        assert.deepEqual(loose(files, await Promise.all(files.map(mode)), 0o600), [], `files of ${disk}`);
        // What the assertion covered: shard files, the format file and the metadata journal.
        assert.ok(files.some((f) => f.includes(`${path.sep}shards${path.sep}`)), `shard files on ${disk}`);
        assert.ok(files.some((f) => f.endsWith('format.json')));
        assert.ok(files.some((f) => f.includes(`${path.sep}meta${path.sep}`)), `journal files on ${disk}`);
      }
      // The metadata directory holds inline objects (in LevelDB) and the credentials file.
      const { dirs, files } = await walk(path.join(root, 'meta'));
      assert.deepEqual(loose(dirs, await Promise.all(dirs.map(mode)), 0o700), [], 'directories of the metadata directory');
      assert.deepEqual(loose(files, await Promise.all(files.map(mode)), 0o600), [], 'files of the metadata directory');
      assert.ok(files.some((f) => f.endsWith('.ldb') || f.endsWith('.log')), `LevelDB files in ${files.join(', ')}`);
    } finally {
      await srv.stop();
    }
  } finally {
    process.umask(umask);
    await rm(root, { recursive: true, force: true });
  }
});

test('directories left 0755 (an older version) are made 0700 at start-up, and LevelDB files 0600', { timeout: 60_000 }, async () => {
  const root = await mkdtemp(path.join(os.tmpdir(), 'tessera-perm-old-'));
  try {
    const env = { TESSERA_META_DIR: path.join(root, 'meta') };
    let srv = await startTestServer({ root, env });
    const s3 = sdkClient(srv);
    await s3.send(new CreateBucketCommand({ Bucket: 'old' }));
    await s3.send(new PutObjectCommand({ Bucket: 'old', Key: 'big', Body: patternBuffer(600_000, 5) }));
    s3.destroy();
    await srv.stop();

    // What an older version left behind: everything open to other users.
    for (const top of [...srv.disks, path.join(root, 'meta')]) {
      const { dirs, files } = await walk(top);
      for (const d of dirs) await chmod(d, 0o755);
      for (const f of files) await chmod(f, 0o644);
    }

    srv = await startTestServer({ root, env });
    try {
      const dirs = [...srv.disks, ...srv.disks.map((d) => path.join(d, 'shards')), ...srv.disks.map((d) => path.join(d, 'tmp')), path.join(root, 'meta'), path.join(root, 'meta', 'leveldb')];
      for (const disk of srv.disks) for (const sub of await readdir(path.join(disk, 'shards'))) dirs.push(path.join(disk, 'shards', sub));
      assert.deepEqual(loose(dirs, await Promise.all(dirs.map(mode)), 0o700), []);
      const leveldb = path.join(root, 'meta', 'leveldb');
      const levelFiles = (await readdir(leveldb)).map((n) => path.join(leveldb, n));
      assert.deepEqual(loose(levelFiles, await Promise.all(levelFiles.map(mode)), 0o600), []);
    } finally {
      await srv.destroy();
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
