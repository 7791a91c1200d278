// Writes one erasure-coded object: stripes in, k + m temporary shard files out. Nothing is
// visible until the object layer commits the metadata; then `publish` moves files into place.

import { promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { Disk, fsyncDir } from '../disk/disk.js';
import { S3Error } from '../errors.js';
import { crc32c } from './bitrot.js';
import { createCodec } from './index-codec.js';
import type { ErasureCodec } from './codec.js';
import { encodeTrailer, CRC_BYTES, type ShardTrailer } from './layout.js';
import { writeQuorum } from './quorum.js';

export interface ShardWriterOptions {
  disks: Disk[];
  dataId: string;
  k: number;
  m: number;
  blockSize: number;
  distribution: number[];
  /** What the shard trailers say about the content (everything but size and shard index). */
  describe: Omit<ShardTrailer, 'size' | 'shardIndex' | 'dataId' | 'k' | 'm' | 'blockSize'>;
}

export class ShardWriter {
  private readonly codec: ErasureCodec;
  private readonly files: (FileHandle | undefined)[];
  private readonly positions: number[];
  private size = 0;
  private closed = false;
  private readonly parity: Buffer[];

  private constructor(private readonly o: ShardWriterOptions, files: (FileHandle | undefined)[]) {
    this.codec = createCodec(o.k, o.m);
    this.files = files;
    this.positions = files.map(() => 0);
    this.parity = Array.from({ length: o.m }, () => Buffer.allocUnsafe(o.blockSize));
  }

  static async open(o: ShardWriterOptions): Promise<ShardWriter> {
    const n = o.k + o.m;
    const files = await Promise.all(
      Array.from({ length: n }, async (_, i) => {
        const disk = o.disks[o.distribution[i]];
        if (!disk.online) return undefined;
        try {
          return await fsp.open(disk.tmpPath(o.dataId), 'w');
        } catch {
          return undefined;
        }
      }),
    );
    const w = new ShardWriter(o, files);
    w.checkQuorum();
    return w;
  }

  get healthyShards(): number {
    return this.files.filter((f) => f !== undefined).length;
  }

  private checkQuorum(): void {
    if (this.healthyShards < writeQuorum(this.o.k, this.o.m)) {
      throw new S3Error('InsufficientWriteQuorum', `Only ${this.healthyShards} of ${this.o.k + this.o.m} disks accepted the write; ${writeQuorum(this.o.k, this.o.m)} are needed.`);
    }
  }

  /**
   * Encodes and writes one stripe. `data` holds at most k × blockSize bytes; every stripe but
   * the last must be full. The buffer may be reused by the caller once the promise resolves.
   */
  async writeStripe(data: Buffer): Promise<void> {
    const { k, m, blockSize } = this.o;
    if (data.length === 0) return;
    if (data.length > k * blockSize) throw new Error('stripe larger than k × blockSize');
    const len = Math.ceil(data.length / k);
    let blocks: Buffer[];
    if (len * k === data.length) {
      blocks = Array.from({ length: k }, (_, i) => data.subarray(i * len, (i + 1) * len));
    } else {
      // Short last stripe: pad to k equal blocks with zeros (the padding is never returned).
      const padded = Buffer.alloc(len * k);
      data.copy(padded);
      blocks = Array.from({ length: k }, (_, i) => padded.subarray(i * len, (i + 1) * len));
    }
    const parity = this.parity.map((p) => p.subarray(0, len));
    if (m > 0) this.codec.encode(blocks, parity);
    const all = [...blocks, ...parity];
    this.size += data.length;
    await Promise.all(
      all.map(async (block, i) => {
        const fh = this.files[i];
        if (!fh) return;
        const head = Buffer.allocUnsafe(CRC_BYTES);
        head.writeUInt32BE(crc32c(block), 0);
        try {
          await writeAll(fh, [head, block], this.positions[i]);
          this.positions[i] += CRC_BYTES + block.length;
        } catch {
          this.dropShard(i);
        }
      }),
    );
    this.checkQuorum();
  }

  private dropShard(i: number): void {
    const fh = this.files[i];
    this.files[i] = undefined;
    fh?.close().catch(() => undefined);
  }

  /** Appends trailers and fsyncs every shard file and the tmp directories. Returns the shard count written. */
  async finish(): Promise<number> {
    const o = this.o;
    await Promise.all(
      this.files.map(async (fh, i) => {
        if (!fh) return;
        const trailer = encodeTrailer({ ...o.describe, dataId: o.dataId, size: this.size, k: o.k, m: o.m, blockSize: o.blockSize, shardIndex: i });
        try {
          await writeAll(fh, [trailer], this.positions[i]);
          await fh.sync();
          await fh.close();
          this.files[i] = undefined;
          await fsyncDir(path.dirname(o.disks[o.distribution[i]].tmpPath(o.dataId)));
          this.written[i] = true;
        } catch {
          this.dropShard(i);
        }
      }),
    );
    this.closed = true;
    const n = this.written.filter(Boolean).length;
    if (n < writeQuorum(o.k, o.m)) {
      await this.abort();
      throw new S3Error('InsufficientWriteQuorum');
    }
    return n;
  }

  private readonly written: boolean[] = [];

  get bytesWritten(): number {
    return this.size;
  }

  /** Moves the finished shard files from tmp/ into shards/ (after the metadata commit). */
  async publish(): Promise<void> {
    await publishShards(this.o.disks, this.o.dataId, this.o.distribution);
  }

  /** Closes and deletes every temporary file (the write failed or was refused). */
  async abort(): Promise<void> {
    const o = this.o;
    await Promise.all(
      this.files.map(async (fh) => {
        await fh?.close().catch(() => undefined);
      }),
    );
    this.files.fill(undefined);
    this.closed = true;
    await Promise.all(o.distribution.map((d) => fsp.unlink(o.disks[d].tmpPath(o.dataId)).catch(() => undefined)));
  }
}

/** Renames tmp/<dataId> to shards/xx/<dataId> on each disk that has it. Idempotent. */
export async function publishShards(disks: Disk[], dataId: string, distribution: number[]): Promise<void> {
  await Promise.all(
    distribution.map(async (d) => {
      const disk = disks[d];
      try {
        await disk.ensureShardDir(dataId);
        await fsp.rename(disk.tmpPath(dataId), disk.shardPath(dataId));
        await fsyncDir(path.dirname(disk.shardPath(dataId)));
      } catch {
        // Missing tmp file (disk failed during the write, or already published): the reader
        // also looks in tmp/, and healing rebuilds what is missing.
      }
    }),
  );
}

async function writeAll(fh: FileHandle, bufs: Buffer[], position: number): Promise<void> {
  let pos = position;
  for (const b of bufs) {
    let off = 0;
    while (off < b.length) {
      const { bytesWritten } = await fh.write(b, off, b.length - off, pos);
      off += bytesWritten;
      pos += bytesWritten;
    }
  }
}
