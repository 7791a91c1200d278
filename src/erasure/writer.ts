// Writes one erasure-coded object: stripes in, k + m temporary shard files out. Nothing is
// visible until the object layer commits the metadata; then `publish` moves files into place.
//
// Encoding and disk writes overlap: `writeStripe` encodes a stripe and queues its writes, and
// up to `ShardWriter.DEPTH` stripes may have writes in flight at once (each with its own set
// of parity buffers), so stripe n+1 is encoded, checksummed and queued while stripe n is still
// being written, and the thread pool never runs dry between two stripes. Each shard's CRC32C
// and block go down in one positioned writev on a raw file descriptor. A shard whose write
// fails is dropped (its file closed once nothing is in flight on it, and removed); when fewer
// than the write quorum remain, the stripe fails with InsufficientWriteQuorum.
//
// A full filesystem (ENOSPC, EDQUOT) is different: the disk is fine, there is just no room,
// and writing on with fewer shards would leave an object that healing cannot complete either.
// The whole write fails with XTesseraStorageFull, and the caller's abort() removes every file.

import fs, { promises as fsp } from 'node:fs';
import path from 'node:path';
import { Disk, fsyncDir } from '../disk/disk.js';
import { isNoSpace, storageFullError } from '../disk/space.js';
import { PRIVATE_FILE_MODE } from '../util/private-files.js';
import { S3Error, slowDown } from '../errors.js';
import { isResourceError } from '../util/process-errors.js';
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
  /**
   * Parity buffer sets to start with (stripes that may be in flight at once), 1..DEPTH; default
   * DEPTH. A caller under a memory budget starts with what it leased and adds more with addSlot().
   */
  slots?: number;
}

/** One temporary shard file. */
interface Shard {
  fd: number;
  /** Operations (writes, flushes) queued or running on fd; it is only closed when this is 0. */
  busy: number;
  /** A write failed: the shard no longer counts, and fd closes when `busy` drops to 0. */
  dropped: boolean;
  /** Set once the fd is closed (or closing). */
  closed?: Promise<void>;
  /** Bytes written since the last early flush started. */
  unsynced: number;
  /** An early flush (fdatasync) in flight. */
  sync?: Promise<void>;
}

/**
 * Early flushing. Nothing else makes the kernel write a fresh shard file out before the final
 * fsync (background writeback waits for ~10% of memory to be dirty, or 30 s), so that fsync
 * would find the whole object still in memory and wait for all of it. Instead, a shard that
 * has this many new bytes gets an fdatasync in the background, so the device works while the
 * rest arrives, and the fsync before the commit finds little left to do. Few run at once
 * (process-wide): each holds a thread of the pool that the writes need too.
 */
const EARLY_SYNC_BYTES = 4 * 1024 * 1024;
const MAX_EARLY_SYNCS = 1;
let earlySyncs = 0;

/** Per in-flight stripe: parity blocks and the CRC heads of every shard block. */
interface StripeSlot {
  parity: Buffer[];
  heads: Buffer;
  /** Zero-padded copy of a short last stripe (blocks at 4-byte aligned offsets). */
  pad?: Buffer;
}

/**
 * Parity buffer sets kept between writers, up to this many bytes: fresh memory costs a page
 * fault per 4 KiB on first touch, which is measurable at these sizes.
 */
const SLOT_POOL_MAX_BYTES = 16 * 1024 * 1024;
const slotPool = new Map<string, StripeSlot[]>();
let slotPoolBytes = 0;

function slotBytes(m: number, blockSize: number): number {
  return m * blockSize;
}

function takeSlot(k: number, m: number, blockSize: number): StripeSlot {
  const pooled = slotPool.get(`${k}+${m}/${blockSize}`)?.pop();
  if (pooled) {
    slotPoolBytes -= slotBytes(m, blockSize);
    return pooled;
  }
  return {
    parity: Array.from({ length: m }, () => Buffer.allocUnsafe(blockSize)),
    heads: Buffer.allocUnsafe(CRC_BYTES * (k + m)),
  };
}

function returnSlots(k: number, m: number, blockSize: number, slots: StripeSlot[]): void {
  const key = `${k}+${m}/${blockSize}`;
  for (const slot of slots) {
    if (slotPoolBytes + slotBytes(m, blockSize) > SLOT_POOL_MAX_BYTES) return;
    slot.pad = undefined;
    let list = slotPool.get(key);
    if (!list) slotPool.set(key, (list = []));
    list.push(slot);
    slotPoolBytes += slotBytes(m, blockSize);
  }
}

export class ShardWriter {
  /** How many stripes may have writes in flight at once (one parity buffer set each). */
  static readonly DEPTH = 2;

  private readonly codec: ErasureCodec;
  private readonly shards: (Shard | undefined)[];
  private readonly freeSlots: StripeSlot[] = [];
  private slotCount = 0;
  /** Completion of every stripe whose writes were queued and have not settled yet. */
  private readonly inflight = new Set<Promise<void>>();
  /** Next stripe's index; stripe s starts at s × (CRC_BYTES + blockSize) in every shard file. */
  private stripes = 0;
  /** End of the block area (where the trailer goes). */
  private end = 0;
  private size = 0;
  private shortStripeSeen = false;
  private closed = false;
  private readonly written: boolean[] = [];
  /**
   * Set when a write failed because the process ran out of descriptors or memory: no disk is
   * to blame, so the whole write is refused (503 SlowDown) instead of going on degraded.
   */
  private exhausted = false;
  /** Some shard's filesystem was full: the write as a whole fails (see the top of the file). */
  private noSpace = false;

  private constructor(private readonly o: ShardWriterOptions, fds: (number | undefined)[]) {
    this.codec = createCodec(o.k, o.m);
    this.shards = fds.map((fd) => (fd === undefined ? undefined : { fd, busy: 0, dropped: false, unsynced: 0 }));
    const slots = Math.max(1, Math.min(ShardWriter.DEPTH, o.slots ?? ShardWriter.DEPTH));
    for (let s = 0; s < slots; s++) this.freeSlots.push(takeSlot(o.k, o.m, o.blockSize));
    this.slotCount = slots;
  }

  /** One more parity buffer set (up to DEPTH), so one more stripe may be in flight. */
  addSlot(): void {
    if (this.closed || this.slotCount >= ShardWriter.DEPTH) return;
    this.freeSlots.push(takeSlot(this.o.k, this.o.m, this.o.blockSize));
    this.slotCount++;
  }

  /** Bytes of one parity buffer set (what a slot costs a memory budget). */
  static slotBytes(k: number, m: number, blockSize: number): number {
    return m * blockSize + CRC_BYTES * (k + m);
  }

  /** Hands the parity buffers to the next writer; only once no write can use them any more. */
  private recycleSlots(): void {
    returnSlots(this.o.k, this.o.m, this.o.blockSize, this.freeSlots.splice(0));
  }

  static async open(o: ShardWriterOptions): Promise<ShardWriter> {
    const n = o.k + o.m;
    let exhausted = false;
    let noSpace = false;
    const fds = await Promise.all(
      Array.from({ length: n }, async (_, i) => {
        const disk = o.disks[o.distribution[i]!]!;
        if (!disk.online) return undefined;
        try {
          return await openFd(disk.tmpPath(o.dataId));
        } catch (e) {
          if (isResourceError(e)) exhausted = true;
          // Out of inodes, or no block left for the directory entry.
          if (isNoSpace(e)) noSpace = true;
          return undefined;
        }
      }),
    );
    const w = new ShardWriter(o, fds);
    w.exhausted = exhausted;
    w.noSpace = noSpace;
    try {
      w.checkQuorum();
    } catch (e) {
      await w.abort();
      throw e;
    }
    return w;
  }

  get healthyShards(): number {
    let n = 0;
    for (const s of this.shards) if (s && !s.dropped) n++;
    return n;
  }

  private checkQuorum(): void {
    if (this.exhausted) throw outOfResources();
    if (this.noSpace) throw storageFullError();
    if (this.healthyShards < writeQuorum(this.o.k, this.o.m)) {
      throw new S3Error('InsufficientWriteQuorum', `Only ${this.healthyShards} of ${this.o.k + this.o.m} disks accepted the write; ${writeQuorum(this.o.k, this.o.m)} are needed.`);
    }
  }

  /**
   * Encodes one stripe and queues its writes; resolves when they are done (rejects with
   * InsufficientWriteQuorum when too few shards remain). `data` holds at most k × blockSize
   * bytes; every stripe but the last must be full. The caller must not touch `data` until the
   * promise settles, and may have at most DEPTH stripes unsettled.
   * Encoding happens before this returns, so stripes are encoded in call order.
   */
  writeStripe(data: Buffer): Promise<void> {
    const { k, m, blockSize } = this.o;
    if (this.closed) return Promise.reject(new Error('ShardWriter: writeStripe after finish or abort'));
    if (data.length === 0) return Promise.resolve();
    if (data.length > k * blockSize) return Promise.reject(new Error('ShardWriter: stripe larger than k × blockSize'));
    if (this.shortStripeSeen) return Promise.reject(new Error('ShardWriter: only the last stripe may be short'));
    const slot = this.freeSlots.pop();
    if (!slot) return Promise.reject(new Error(`ShardWriter: more than ${this.slotCount} stripes in flight`));

    if (data.length < k * blockSize) this.shortStripeSeen = true;
    const len = Math.ceil(data.length / k);
    let blocks: Buffer[];
    if (len * k === data.length && (len & 3) === 0) {
      blocks = Array.from({ length: k }, (_, i) => data.subarray(i * len, (i + 1) * len));
    } else {
      // Short last stripe: k equal blocks, zero-padded (the padding is never returned), each
      // placed at a 4-byte aligned offset so the encoder's word loop applies.
      const stride = (len + 3) & ~3;
      const pad = Buffer.alloc(stride * k);
      for (let i = 0; i < k && i * len < data.length; i++) data.copy(pad, i * stride, i * len, Math.min((i + 1) * len, data.length));
      slot.pad = pad;
      blocks = Array.from({ length: k }, (_, i) => pad.subarray(i * stride, i * stride + len));
    }
    const parity = slot.parity.map((p) => p.subarray(0, len));
    if (m > 0) this.codec.encode(blocks, parity);
    const all = blocks.concat(parity);
    const position = this.stripes * (CRC_BYTES + blockSize);
    this.stripes++;
    this.size += data.length;
    this.end = position + CRC_BYTES + len;

    const writes: Promise<void>[] = [];
    for (let i = 0; i < all.length; i++) {
      const shard = this.shards[i];
      if (!shard || shard.dropped) continue;
      const block = all[i]!;
      const head = slot.heads.subarray(i * CRC_BYTES, (i + 1) * CRC_BYTES);
      head.writeUInt32BE(crc32c(block), 0);
      writes.push(this.shardWrite(i, shard, [head, block], position));
    }
    const done = Promise.all(writes).then(() => {
      slot.pad = undefined;
      this.freeSlots.push(slot);
      this.checkQuorum();
    });
    this.inflight.add(done);
    const forget = () => this.inflight.delete(done);
    done.then(forget, forget);
    return done;
  }

  /** Writes `bufs` at `position` of shard i; a failure drops the shard (never rejects). */
  private shardWrite(i: number, shard: Shard, bufs: Buffer[], position: number): Promise<void> {
    shard.busy++;
    return writevAll(shard.fd, bufs, position).then(
      () => {
        for (const b of bufs) shard.unsynced += b.length;
        this.release(shard);
        if (shard.unsynced >= EARLY_SYNC_BYTES) this.earlySync(i, shard);
      },
      (e: unknown) => {
        if (isResourceError(e)) this.exhausted = true;
        if (isNoSpace(e)) this.noSpace = true;
        this.release(shard);
        this.dropShard(i);
      },
    );
  }

  /**
   * Starts an fdatasync of shard i in the background (see EARLY_SYNC_BYTES). A failure drops
   * the shard: Linux reports a writeback error to one fsync only, so the final fsync might
   * not see it again.
   */
  private earlySync(i: number, shard: Shard): void {
    if (shard.sync || shard.dropped || this.closed || earlySyncs >= MAX_EARLY_SYNCS) return;
    earlySyncs++;
    shard.busy++;
    shard.unsynced = 0;
    shard.sync = fdatasyncFd(shard.fd).then(
      () => {
        earlySyncs--;
        shard.sync = undefined;
        this.release(shard);
      },
      (e: unknown) => {
        earlySyncs--;
        shard.sync = undefined;
        if (isResourceError(e)) this.exhausted = true;
        if (isNoSpace(e)) this.noSpace = true;
        this.release(shard);
        this.dropShard(i);
      },
    );
  }

  /** Every early flush in flight (they never reject). */
  private syncsSettled(): Promise<unknown> {
    return Promise.all(this.shards.map((s) => s?.sync));
  }

  private release(shard: Shard): void {
    shard.busy--;
    if (shard.dropped && shard.busy === 0) void this.closeShard(shard);
  }

  private dropShard(i: number): void {
    const shard = this.shards[i];
    if (!shard || shard.dropped) return;
    shard.dropped = true;
    if (shard.busy === 0) void this.closeShard(shard);
  }

  private closeShard(shard: Shard): Promise<void> {
    shard.closed ??= closeFd(shard.fd).catch(() => undefined);
    return shard.closed;
  }

  /** Waits until no stripe has writes in flight; rethrows the first stripe failure. */
  private async drain(): Promise<void> {
    const results = await Promise.allSettled([...this.inflight]);
    for (const r of results) if (r.status === 'rejected') throw r.reason;
  }

  /** Appends trailers and fsyncs every shard file and the tmp directories. Returns the shard count written. */
  async finish(): Promise<number> {
    const o = this.o;
    await this.drain();
    this.closed = true;
    this.recycleSlots();
    await this.syncsSettled();
    await Promise.all(
      this.shards.map(async (shard, i) => {
        if (!shard || shard.dropped) return;
        const trailer = encodeTrailer({ ...o.describe, dataId: o.dataId, size: this.size, k: o.k, m: o.m, blockSize: o.blockSize, shardIndex: i });
        shard.busy++;
        try {
          await writevAll(shard.fd, [trailer], this.end);
          await fsyncFd(shard.fd);
        } catch (e) {
          if (isResourceError(e)) this.exhausted = true;
          if (isNoSpace(e)) this.noSpace = true;
          this.release(shard);
          this.dropShard(i);
          return;
        }
        this.release(shard);
        try {
          await closeFd(shard.fd);
          shard.closed = Promise.resolve();
          this.shards[i] = undefined;
          // The directory entry of the new file must be durable too before the commit.
          await fsyncDir(path.dirname(o.disks[o.distribution[i]!]!.tmpPath(o.dataId)));
          this.written[i] = true;
        } catch (e) {
          if (isResourceError(e)) this.exhausted = true;
          this.shards[i] = undefined;
        }
      }),
    );
    const n = this.written.filter(Boolean).length;
    if (this.exhausted) {
      await this.abort();
      throw outOfResources();
    }
    if (this.noSpace) {
      await this.abort();
      throw storageFullError();
    }
    if (n < writeQuorum(o.k, o.m)) {
      await this.abort();
      throw new S3Error('InsufficientWriteQuorum');
    }
    // A shard dropped on the way holds a partial file: remove it (best effort, the disk may be gone).
    await Promise.all(
      o.distribution.slice(0, o.k + o.m).map(async (d, i) => {
        if (!this.written[i]) await fsp.unlink(o.disks[d]!.tmpPath(o.dataId)).catch(() => undefined);
      }),
    );
    return n;
  }

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
    this.closed = true;
    // Let queued writes finish first: a descriptor must not be closed (and its number reused)
    // while the thread pool may still write through it.
    await Promise.allSettled([...this.inflight]);
    this.recycleSlots();
    await this.syncsSettled();
    await Promise.all(
      this.shards.map(async (shard, i) => {
        if (!shard) return;
        shard.dropped = true;
        this.shards[i] = undefined;
        await this.closeShard(shard);
      }),
    );
    await Promise.all(o.distribution.map((d) => fsp.unlink(o.disks[d]!.tmpPath(o.dataId)).catch(() => undefined)));
  }
}

/** Renames tmp/<dataId> to shards/xx/<dataId> on each disk that has it. Idempotent. */
export async function publishShards(disks: Disk[], dataId: string, distribution: number[]): Promise<void> {
  await Promise.all(
    distribution.map(async (d) => {
      const disk = disks[d]!;
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

function outOfResources(): S3Error {
  return slowDown('The server is short of file descriptors or memory; please retry.');
}

// Raw descriptors and callback fs calls: a FileHandle costs a promise, a handle object and
// its bookkeeping per call, and the write path makes (k + m) calls per stripe.

function openFd(file: string): Promise<number> {
  return new Promise((resolve, reject) => fs.open(file, 'w', PRIVATE_FILE_MODE, (e, fd) => (e ? reject(e) : resolve(fd))));
}

function closeFd(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fs.close(fd, (e) => (e ? reject(e) : resolve())));
}

function fdatasyncFd(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fs.fdatasync(fd, (e) => (e ? reject(e) : resolve())));
}

function fsyncFd(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fs.fsync(fd, (e) => (e ? reject(e) : resolve())));
}

/** Writes all of `bufs` at `position`, continuing after short writes. */
function writevAll(fd: number, bufs: Buffer[], position: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const step = (list: Buffer[], pos: number) => {
      fs.writev(fd, list, pos, (e, written) => {
        if (e) return reject(e);
        let total = 0;
        for (const b of list) total += b.length;
        if (written >= total) return resolve();
        if (written <= 0) return reject(new Error('writev wrote nothing'));
        // Short write: skip what went down and go on with the rest.
        let skip = written;
        const rest: Buffer[] = [];
        for (const b of list) {
          if (skip >= b.length) skip -= b.length;
          else {
            rest.push(skip > 0 ? b.subarray(skip) : b);
            skip = 0;
          }
        }
        step(rest, pos + written);
      });
    };
    step(bufs, position);
  });
}
