// Checkpoints of the metadata index: every record of the index at one point of the journal,
// stored erasure-coded on the disks like object data (same shard files, block CRCs, parity
// and healing). With a checkpoint on the disks, the journal before its point can be dropped.
//
// Stream format: "TCP1", then per record: key length u32, value length u32, key, value.

import { Readable } from 'node:stream';
import type { Disk } from '../disk/disk.js';
import { readShardRange } from '../erasure/reader.js';
import type { ShardLayout } from '../meta/types.js';
import { ingest } from './ingest.js';

const MAGIC = Buffer.from('TCP1');
/** Records are handed to the erasure writer in chunks of about this size. */
const CHUNK_BYTES = 1024 * 1024;
/** The trailer of every checkpoint shard file names this bucket, so a look at a disk can tell. */
export const CHECKPOINT_BUCKET = '.tessera-meta';

export async function writeCheckpointData(
  entries: AsyncIterable<[Buffer, Buffer]>,
  o: { disks: Disk[]; k: number; m: number; blockSize: number; dataId: string; name: string },
): Promise<ShardLayout> {
  const body = Readable.from(frames(entries), { objectMode: false });
  const got = await ingest(body, {
    disks: o.disks,
    k: o.k,
    m: o.m,
    blockSize: o.blockSize,
    inlineThreshold: -1,
    dataId: o.dataId,
    describe: { bucket: CHECKPOINT_BUCKET, key: o.name },
    maxSize: Number.MAX_SAFE_INTEGER,
    checksumAlgorithms: [],
  });
  if (!got.writer || got.layout.kind !== 'shards') throw new Error('checkpoint: expected an erasure-coded layout');
  await got.writer.publish();
  return got.layout;
}

async function* frames(entries: AsyncIterable<[Buffer, Buffer]>): AsyncGenerator<Buffer> {
  let parts: Buffer[] = [MAGIC];
  let size = MAGIC.length;
  for await (const [k, v] of entries) {
    const head = Buffer.allocUnsafe(8);
    head.writeUInt32BE(k.length, 0);
    head.writeUInt32BE(v.length, 4);
    parts.push(head, k, v);
    size += 8 + k.length + v.length;
    if (size >= CHUNK_BYTES) {
      yield Buffer.concat(parts, size);
      parts = [];
      size = 0;
    }
  }
  if (size > 0) yield Buffer.concat(parts, size);
}

/** The checkpoint's records, in batches of about `batchBytes`, read and checked through the erasure layer. */
export async function* readCheckpointData(disks: Disk[], layout: ShardLayout, batchBytes = 4 * 1024 * 1024): AsyncGenerator<Array<[Buffer, Buffer]>> {
  let pending = Buffer.alloc(0);
  let sawMagic = false;
  let batch: Array<[Buffer, Buffer]> = [];
  let batchSize = 0;
  for await (const chunk of readShardRange(disks, layout, 0, layout.size - 1)) {
    pending = pending.length ? Buffer.concat([pending, chunk]) : Buffer.from(chunk);
    let at = 0;
    if (!sawMagic) {
      if (pending.length < MAGIC.length) continue;
      if (!pending.subarray(0, MAGIC.length).equals(MAGIC)) throw new Error('checkpoint: not a Tessera checkpoint');
      sawMagic = true;
      at = MAGIC.length;
    }
    while (at + 8 <= pending.length) {
      const kl = pending.readUInt32BE(at);
      const vl = pending.readUInt32BE(at + 4);
      if (at + 8 + kl + vl > pending.length) break;
      const k = pending.subarray(at + 8, at + 8 + kl);
      const v = pending.subarray(at + 8 + kl, at + 8 + kl + vl);
      batch.push([k, v]);
      batchSize += kl + vl + 16;
      at += 8 + kl + vl;
    }
    pending = pending.subarray(at);
    if (batchSize >= batchBytes) {
      yield batch;
      batch = [];
      batchSize = 0;
    }
  }
  if (!sawMagic || pending.length > 0) throw new Error('checkpoint: truncated');
  if (batch.length) yield batch;
}

export async function removeCheckpointData(disks: Disk[], layout: ShardLayout): Promise<void> {
  await Promise.all(layout.distribution.map((d) => disks[d]?.removeShard(layout.dataId).catch(() => undefined)));
}
