// Verifies every shard file of one object without changing anything (the `admin scan` job):
// each file must exist, have exactly the size its layout and trailer imply, and every block
// (data and parity alike) must match the CRC32C stored before it. Unlike the read path, which
// stops at the first bad block of a shard, this reads every block of every shard so the report
// can say what is wrong where. One block buffer per call: the caller leases it (verifyLeaseBytes).

import fs from 'node:fs/promises';
import type { Disk } from '../disk/disk.js';
import type { ShardLayout } from '../meta/types.js';
import { crc32c } from './bitrot.js';
import { CRC_BYTES, decodeTrailerTail, shardBlockLength, shardBlockOffset, shardDataLength, stripeCount } from './layout.js';

export type ShardProblemKind = 'missing' | 'corrupt' | 'size' | 'offline';

export interface ShardProblem {
  shard: number;
  /** Index of the disk (0-based) in the configured list. */
  disk: number;
  problem: ShardProblemKind;
  /** Corrupt: the first bad block (stripe number) and how many blocks are bad. */
  block?: number;
  badBlocks?: number;
  detail: string;
}

export interface VerifyResult {
  problems: ShardProblem[];
  bytesRead: number;
}

const TRAILER_TAIL = 8;

/** Bytes of buffer verifyShards holds at once for this layout. */
export function verifyLeaseBytes(layout: ShardLayout): number {
  return CRC_BYTES + Math.min(layout.blockSize, layout.size === 0 ? 0 : shardBlockLength(layout, 0)) + TRAILER_TAIL;
}

export async function verifyShards(disks: Disk[], layout: ShardLayout): Promise<VerifyResult> {
  const problems: ShardProblem[] = [];
  let bytesRead = 0;
  const n = layout.k + layout.m;
  const stripes = stripeCount(layout);
  const dataLength = shardDataLength(layout);
  const buf = Buffer.allocUnsafe(Math.max(TRAILER_TAIL, verifyLeaseBytes(layout)));
  for (let i = 0; i < n; i++) {
    const diskIndex = layout.distribution[i]!;
    const disk = disks[diskIndex]!;
    const report = (problem: ShardProblemKind, detail: string, extra: Partial<ShardProblem> = {}) =>
      problems.push({ shard: i, disk: diskIndex, problem, detail, ...extra });
    if (!disk.online) {
      report('offline', `disk ${disk.root} is offline`);
      continue;
    }
    const fh = await openShard(disk, layout.dataId);
    if (!fh) {
      report('missing', 'shard file not found');
      continue;
    }
    try {
      const size = (await fh.stat()).size;
      // The trailer's length sits in the file's last 8 bytes.
      let expected: number | undefined;
      if (size >= dataLength + TRAILER_TAIL) {
        const { bytesRead: got } = await fh.read(buf, 0, TRAILER_TAIL, size - TRAILER_TAIL);
        bytesRead += got;
        const jsonLength = got === TRAILER_TAIL ? decodeTrailerTail(buf.subarray(0, TRAILER_TAIL)) : undefined;
        if (jsonLength !== undefined) expected = dataLength + jsonLength + TRAILER_TAIL;
      }
      if (expected === undefined) report('size', `${size} bytes: too short for ${dataLength} bytes of blocks and a trailer, or the trailer is damaged`);
      else if (size !== expected) report('size', `${size} bytes, expected ${expected}`);
      let firstBad = -1;
      let bad = 0;
      for (let s = 0; s < stripes; s++) {
        const len = CRC_BYTES + shardBlockLength(layout, s);
        const { bytesRead: got } = await fh.read(buf, 0, len, shardBlockOffset(layout, s));
        bytesRead += got;
        if (got < len || crc32c(buf.subarray(CRC_BYTES, len)) !== buf.readUInt32BE(0)) {
          if (firstBad < 0) firstBad = s;
          bad++;
        }
      }
      if (bad > 0) report('corrupt', `${bad} of ${stripes} block(s) fail their CRC32C, first at block ${firstBad}`, { block: firstBad, badBlocks: bad });
    } catch (e) {
      report('missing', `unreadable: ${(e as Error).message}`);
    } finally {
      await fh.close().catch(() => undefined);
    }
  }
  return { problems, bytesRead };
}

/** A shard is in shards/ once published, or still in tmp/ between commit and rename. */
async function openShard(disk: Disk, dataId: string): Promise<fs.FileHandle | undefined> {
  for (const file of [disk.shardPath(dataId), disk.tmpPath(dataId)]) {
    try {
      return await fs.open(file, 'r');
    } catch {
      /* try the next place */
    }
  }
  return undefined;
}
