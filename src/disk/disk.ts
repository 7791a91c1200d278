// One local disk (a directory). It holds only its format file, shard files and its own
// temporary files, so it can be replaced by a blank directory at any time.
//
//   <root>/format.json           which deployment and which slot this disk belongs to
//   <root>/tmp/<dataId>          shard files being written or not yet moved into place
//   <root>/shards/<xx>/<dataId>  committed shard files (xx = first two chars of the id)
//
// Shard files are named by generated ids, never by object keys.

import { promises as fsp, constants as fsc } from 'node:fs';
import path from 'node:path';
import { mkdirPrivate, makePrivateQuietly, makePrivateWithEntries, PRIVATE_FILE_MODE } from '../util/private-files.js';

export interface DiskFormat {
  format: 'tessera-disk';
  version: 1;
  deploymentId: string;
  diskId: string;
  /** Position of this disk in the set (0-based) and the size of the set. */
  index: number;
  count: number;
}

export class Disk {
  /** False while the directory is unusable (removed, unreadable); reads and writes skip it. */
  online = true;
  format: DiskFormat | undefined;

  constructor(readonly root: string, readonly index: number) {}

  get tmpDir(): string { return path.join(this.root, 'tmp'); }
  get formatPath(): string { return path.join(this.root, 'format.json'); }

  shardPath(dataId: string): string {
    return path.join(this.root, 'shards', dataId.slice(0, 2), dataId);
  }

  tmpPath(dataId: string): string {
    return path.join(this.tmpDir, dataId);
  }

  async readFormat(): Promise<DiskFormat | undefined> {
    let text: string;
    try {
      text = await fsp.readFile(this.formatPath, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
    const f = JSON.parse(text) as DiskFormat;
    if (f.format !== 'tessera-disk') throw new Error(`${this.formatPath} is not a Tessera format file`);
    return f;
  }

  /** Writes the format file atomically (temp + fsync + rename + dir fsync). */
  async writeFormat(f: DiskFormat): Promise<void> {
    await mkdirPrivate(this.root, true);
    await this.ensureDirs();
    const tmp = path.join(this.tmpDir, `format.${process.pid}.${Date.now()}`);
    await writeFileSynced(tmp, JSON.stringify(f, null, 2) + '\n');
    await fsp.rename(tmp, this.formatPath);
    await fsyncDir(this.root);
    this.format = f;
  }

  /**
   * Creates tmp/ and shards/ inside the disk, never the disk directory itself: a disk that
   * vanished (wiped, unmounted) must not silently come back as an empty directory that looks
   * like it; only an explicit (re)format creates the root. Also takes group and other
   * permissions off the root and these two (a disk made by an older version was 0755).
   */
  async ensureDirs(): Promise<void> {
    await makePrivateQuietly(this.root);
    for (const dir of [this.tmpDir, path.join(this.root, 'shards')]) {
      await mkdirPrivate(dir);
      await makePrivateQuietly(dir);
    }
  }

  /**
   * Start-up: tightens the shard fan-out directories (shards/xx, at most 256) made by an older
   * version. Shard files inside are not visited: a 0700 disk root already keeps others out,
   * and a walk over every shard would make start-up as slow as the disk is full.
   */
  async makeShardDirsPrivate(): Promise<void> {
    await makePrivateWithEntries(path.join(this.root, 'shards'));
  }

  async ensureShardDir(dataId: string): Promise<void> {
    await mkdirPrivate(path.dirname(this.shardPath(dataId)));
  }

  /** Removes a shard wherever it is (committed or still temporary). Missing is fine. */
  async removeShard(dataId: string): Promise<void> {
    await unlinkIfExists(this.shardPath(dataId));
    await unlinkIfExists(this.tmpPath(dataId));
  }

  /** Used and free bytes of the file system holding this disk. */
  async usage(): Promise<{ totalBytes: number; freeBytes: number; usedBytes: number }> {
    const s = await fsp.statfs(this.root);
    const total = s.blocks * s.bsize;
    const free = s.bavail * s.bsize;
    return { totalBytes: total, freeBytes: free, usedBytes: total - s.bfree * s.bsize };
  }

  /** True when the directory is there and writable, and still carries our format file. */
  async probe(): Promise<boolean> {
    try {
      await fsp.access(this.root, fsc.R_OK | fsc.W_OK);
      const f = await this.readFormat();
      return f !== undefined && this.format !== undefined && f.diskId === this.format.diskId;
    } catch {
      return false;
    }
  }
}

export async function unlinkIfExists(p: string): Promise<void> {
  try {
    await fsp.unlink(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}

export async function writeFileSynced(p: string, data: string | Buffer): Promise<void> {
  const fh = await fsp.open(p, 'w', PRIVATE_FILE_MODE);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Makes a directory's entries (a create or rename inside it) durable. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await fsp.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
