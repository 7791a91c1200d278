// Reads an erasure-coded object or a byte range of it. The code is systematic: while the data
// shards are healthy they are read directly, and parity is only read to reconstruct a missing
// or corrupt block. Memory is bounded by one stripe per request.

import { promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { Disk } from '../disk/disk.js';
import { S3Error } from '../errors.js';
import type { ShardLayout } from '../meta/types.js';
import { crc32c } from './bitrot.js';
import { createCodec } from './index-codec.js';
import { CRC_BYTES, shardBlockLength, shardBlockOffset, stripeCount, stripeDataBytes } from './layout.js';

export type DamageReport = (dataId: string, shardIndex: number, reason: 'missing' | 'corrupt') => void;

/** Lazily opened read handles on the shard files of one object. */
export class ShardFiles {
  private readonly handles = new Map<number, Promise<FileHandle | undefined>>();
  readonly bad = new Set<number>();

  constructor(private readonly disks: Disk[], private readonly layout: ShardLayout, private readonly onDamage?: DamageReport) {}

  private open(i: number): Promise<FileHandle | undefined> {
    let p = this.handles.get(i);
    if (!p) {
      const disk = this.disks[this.layout.distribution[i]];
      p = (async () => {
        if (!disk.online) return undefined;
        // A shard lives in shards/ once published; between the metadata commit and the
        // rename (or after a crash there) it is still in tmp/.
        for (const file of [disk.shardPath(this.layout.dataId), disk.tmpPath(this.layout.dataId)]) {
          try {
            return await fsp.open(file, 'r');
          } catch {
            /* try the next place */
          }
        }
        return undefined;
      })();
      this.handles.set(i, p);
    }
    return p;
  }

  /** Reads and verifies block i of stripe s; undefined when missing or corrupt. */
  async readBlock(i: number, s: number): Promise<Buffer | undefined> {
    if (this.bad.has(i)) return undefined;
    const fh = await this.open(i);
    if (!fh) return this.markBad(i, 'missing');
    const len = shardBlockLength(this.layout, s);
    const buf = Buffer.allocUnsafe(CRC_BYTES + len);
    let got = 0;
    try {
      while (got < buf.length) {
        const { bytesRead } = await fh.read(buf, got, buf.length - got, shardBlockOffset(this.layout, s) + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
    } catch {
      return this.markBad(i, 'missing');
    }
    if (got < buf.length) return this.markBad(i, 'corrupt');
    const block = buf.subarray(CRC_BYTES);
    if (crc32c(block) !== buf.readUInt32BE(0)) return this.markBad(i, 'corrupt');
    return block;
  }

  private markBad(i: number, reason: 'missing' | 'corrupt'): undefined {
    this.bad.add(i);
    this.onDamage?.(this.layout.dataId, i, reason);
    return undefined;
  }

  /**
   * Returns the k data blocks of stripe s (reconstructing from parity when needed), or only
   * the ones in `want` when they are all healthy.
   */
  async readStripe(s: number, want: number[]): Promise<Buffer[]> {
    const { k, m } = this.layout;
    const blocks: (Buffer | undefined)[] = new Array(k + m).fill(undefined);
    await Promise.all(want.map(async (i) => { blocks[i] = await this.readBlock(i, s); }));
    if (want.every((i) => blocks[i] !== undefined)) return blocks as Buffer[];

    // Reconstruct: gather k healthy blocks, reading more shards as needed.
    for (let i = 0; i < k + m && blocks.filter(Boolean).length < k; i++) {
      if (blocks[i] !== undefined || this.bad.has(i)) continue;
      blocks[i] = await this.readBlock(i, s);
    }
    const present = blocks.map((b) => b !== undefined);
    if (present.filter(Boolean).length < k) {
      throw new S3Error('InsufficientReadQuorum', `Only ${present.filter(Boolean).length} of ${k + m} shards are readable; ${k} are needed.`);
    }
    const len = shardBlockLength(this.layout, s);
    const shards = blocks.map((b) => b ?? Buffer.alloc(len));
    createCodec(k, m).reconstruct(shards, present);
    return shards;
  }

  async close(): Promise<void> {
    for (const p of this.handles.values()) {
      const fh = await p.catch(() => undefined);
      await fh?.close().catch(() => undefined);
    }
    this.handles.clear();
  }
}

/**
 * Yields the bytes [start, end] (inclusive) of the object, one stripe's worth at a time.
 * Only stripes (and, when healthy, only data blocks) covering the range are read.
 */
export async function* readShardRange(
  disks: Disk[],
  layout: ShardLayout,
  start: number,
  end: number,
  onDamage?: DamageReport,
): AsyncGenerator<Buffer> {
  if (end < start || layout.size === 0) return;
  const { k, blockSize } = layout;
  const stripeBytes = k * blockSize;
  const files = new ShardFiles(disks, layout, onDamage);
  try {
    const first = Math.floor(start / stripeBytes);
    const last = Math.min(Math.floor(end / stripeBytes), stripeCount(layout) - 1);
    for (let s = first; s <= last; s++) {
      const base = s * stripeBytes;
      const len = shardBlockLength(layout, s);
      const from = Math.max(start, base) - base;
      const to = Math.min(end + 1, base + stripeDataBytes(layout, s)) - base; // exclusive
      const firstBlock = Math.floor(from / len);
      const lastBlock = Math.floor((to - 1) / len);
      const want: number[] = [];
      for (let i = firstBlock; i <= lastBlock; i++) want.push(i);
      const blocks = await files.readStripe(s, want);
      // Yield block slices as they are: concatenating would copy every stripe once more.
      for (let i = firstBlock; i <= lastBlock; i++) {
        const b0 = i * len;
        yield blocks[i].subarray(Math.max(from, b0) - b0, Math.min(to, b0 + len) - b0);
      }
    }
  } finally {
    await files.close();
  }
}
