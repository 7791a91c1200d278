// Rebuilds missing or corrupt shard files of one object from the healthy ones: verify every
// block of every shard, then rewrite each damaged shard whole (temp file, fsync, rename).

import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { Disk, fsyncDir } from '../disk/disk.js';
import { PRIVATE_FILE_MODE } from '../util/private-files.js';
import type { ShardLayout } from '../meta/types.js';
import { crc32c } from './bitrot.js';
import { createCodec } from './index-codec.js';
import { CRC_BYTES, encodeTrailer, stripeCount, type ShardTrailer } from './layout.js';
import { ShardFiles } from './reader.js';

export interface HealResult {
  /** Shard indices that were damaged. */
  damaged: number[];
  /** Of those, the ones with a block that failed its checksum (bit rot), not merely missing. */
  corrupt: number[];
  /** Shard indices rewritten. */
  rebuilt: number[];
  bytesRead: number;
}

export async function healShards(
  disks: Disk[],
  layout: ShardLayout,
  describe: Omit<ShardTrailer, 'size' | 'shardIndex' | 'dataId' | 'k' | 'm' | 'blockSize'>,
  /** Shards to rewrite even if their blocks check out (a verify found the wrong size or a bad trailer). */
  force: number[] = [],
): Promise<HealResult> {
  const { k, m } = layout;
  const n = k + m;
  const stripes = stripeCount(layout);
  let bytesRead = 0;

  // Pass 1: verify every block of every shard.
  const corrupt: number[] = [];
  const check = new ShardFiles(disks, layout, (_id, i, reason) => {
    if (reason === 'corrupt') corrupt.push(i);
  });
  try {
    for (let s = 0; s < stripes; s++) {
      for (let i = 0; i < n; i++) {
        const b = await check.readBlock(i, s);
        if (b) bytesRead += b.length;
      }
    }
    // An empty object has no blocks: its shard files must still exist (they carry the trailer).
    if (stripes === 0) {
      for (let i = 0; i < n; i++) {
        const d = disks[layout.distribution[i]];
        const exists = await fsp.access(d.shardPath(layout.dataId)).then(() => true, () => fsp.access(d.tmpPath(layout.dataId)).then(() => true, () => false));
        if (!exists) check.bad.add(i);
      }
    }
  } finally {
    await check.close();
  }
  for (const i of force) check.bad.add(i);
  const damaged = [...check.bad].sort((a, b) => a - b);
  const targets = damaged.filter((i) => disks[layout.distribution[i]].online);
  if (targets.length === 0) return { damaged, corrupt, rebuilt: [], bytesRead };

  // Pass 2: reconstruct every stripe and write the damaged shards anew.
  const codec = createCodec(k, m);
  const src = new ShardFiles(disks, layout);
  for (const i of damaged) src.bad.add(i);
  const tmpName = `${layout.dataId}.heal`;
  const outs = new Map<number, fsp.FileHandle>();
  try {
    for (const i of targets) {
      const d = disks[layout.distribution[i]];
      await d.ensureDirs();
      outs.set(i, await fsp.open(path.join(d.tmpDir, tmpName), 'w', PRIVATE_FILE_MODE));
    }
    const pos = new Map<number, number>(targets.map((i) => [i, 0]));
    for (let s = 0; s < stripes; s++) {
      const data = await src.readStripe(s, Array.from({ length: k }, (_, i) => i));
      const len = data[0].length;
      bytesRead += len * k;
      const parity = Array.from({ length: m }, () => Buffer.alloc(len));
      if (m > 0) codec.encode(data.slice(0, k), parity);
      const all = [...data.slice(0, k), ...parity];
      for (const i of targets) {
        const head = Buffer.allocUnsafe(CRC_BYTES);
        head.writeUInt32BE(crc32c(all[i]), 0);
        const fh = outs.get(i)!;
        const p = pos.get(i)!;
        await fh.writev([head, all[i]], p);
        pos.set(i, p + CRC_BYTES + len);
      }
    }
    for (const i of targets) {
      const fh = outs.get(i)!;
      const trailer = encodeTrailer({ ...describe, dataId: layout.dataId, size: layout.size, k, m, blockSize: layout.blockSize, shardIndex: i });
      await fh.writev([trailer], pos.get(i)!);
      await fh.sync();
      await fh.close();
      outs.delete(i);
      const d = disks[layout.distribution[i]];
      await d.ensureShardDir(layout.dataId);
      await fsp.rename(path.join(d.tmpDir, tmpName), d.shardPath(layout.dataId));
      await fsp.unlink(d.tmpPath(layout.dataId)).catch(() => undefined);
      await fsyncDir(path.dirname(d.shardPath(layout.dataId)));
    }
  } finally {
    for (const fh of outs.values()) await fh.close().catch(() => undefined);
    for (const i of outs.keys()) await fsp.unlink(path.join(disks[layout.distribution[i]].tmpDir, tmpName)).catch(() => undefined);
    await src.close();
  }
  return { damaged, corrupt, rebuilt: targets, bytesRead };
}
