// Start-up recovery after a crash. A temporary shard file is either
//  - referenced by committed metadata (the crash hit between the commit and the rename):
//    it is moved into place, or
//  - not referenced (the crash hit before the commit, or the write failed): it is removed.
// Then the garbage queue is drained. Together this keeps the commit protocol's promises:
// nothing half-written becomes visible, nothing acknowledged is lost, no space leaks.

import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Disk } from '../disk/disk.js';
import { decodeTrailerTail, type ShardTrailer } from '../erasure/layout.js';
import { publishShards } from '../erasure/writer.js';
import type { MetaStore, ShardLayout } from '../meta/types.js';
import { layoutsOf } from './garbage.js';
import type { ObjectStore } from './store.js';

export interface RecoveryReport {
  published: number;
  removed: number;
}

export async function recoverTemporaryFiles(store: ObjectStore): Promise<RecoveryReport> {
  const report: RecoveryReport = { published: 0, removed: 0 };
  for (const disk of store.disks) {
    if (!disk.online) continue;
    let names: string[];
    try {
      names = await fsp.readdir(disk.tmpDir);
    } catch {
      continue;
    }
    for (const name of names) {
      const file = path.join(disk.tmpDir, name);
      const layout = /^[0-9a-f]{32}$/.test(name) ? await referencedLayout(store.meta, file, name) : undefined;
      if (layout) {
        await publishShards(store.disks, name, layout.distribution);
        report.published++;
      } else {
        await fsp.rm(file, { force: true, recursive: true });
        report.removed++;
      }
    }
  }
  await store.garbage.drain();
  return report;
}

async function readTrailer(file: string): Promise<ShardTrailer | undefined> {
  const fh = await fsp.open(file, 'r').catch(() => undefined);
  if (!fh) return undefined;
  try {
    const { size } = await fh.stat();
    if (size < 8) return undefined;
    const tail = Buffer.alloc(8);
    await fh.read(tail, 0, 8, size - 8);
    const len = decodeTrailerTail(tail);
    if (len === undefined || len > size - 8) return undefined;
    const json = Buffer.alloc(len);
    await fh.read(json, 0, len, size - 8 - len);
    return JSON.parse(json.toString('utf8')) as ShardTrailer;
  } catch {
    return undefined;
  } finally {
    await fh.close();
  }
}

/** The committed layout that names this data id, if any. */
async function referencedLayout(meta: MetaStore, file: string, dataId: string): Promise<ShardLayout | undefined> {
  const t = await readTrailer(file);
  if (!t || t.dataId !== dataId) return undefined;
  const match = (l: ReturnType<typeof layoutsOf>[number]) => (l.kind === 'shards' && l.dataId === dataId ? l : undefined);
  if (t.uploadId !== undefined && t.partNumber !== undefined) {
    const part = await meta.getPart(t.uploadId, t.partNumber);
    const l = part && match(part.data);
    if (l) return l;
  }
  for (const v of await meta.listKeyVersions(t.bucket, t.key, 100_000)) {
    for (const l of layoutsOf(v.data)) {
      const hit = match(l);
      if (hit) return hit;
    }
  }
  return undefined;
}

export type { Disk };
