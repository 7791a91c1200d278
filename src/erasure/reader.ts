// Reads an erasure-coded object or a byte range of it. The code is systematic: while the data
// shards are healthy they are read directly, and parity is only read to reconstruct a missing
// or corrupt block.
//
// The read path is built for throughput with bounded memory:
// - Stripes are read in runs: one positional read per shard covers the CRC + block of several
//   consecutive stripes (each shard file holds them back to back), so small blocks do not cost
//   a system call and a promise each. With the default 1 MiB blocks a run is one stripe.
// - ShardRangeReader keeps a couple of runs in flight ahead of the one being consumed
//   (read-ahead), so the disk reads of the next stripes overlap the sending of this one.
// - Every block's CRC32C is checked before any of its bytes is handed out; the blocks are
//   handed out as views into the run's read buffers (no copy). Those come from a pool and go
//   back to it only when the consumer says it no longer holds the views (buffer-pool.ts).
// - Files are opened with raw descriptors (fs.read on an fd costs much less per call than
//   FileHandle.read); close() waits for every read in flight before closing them, so a
//   descriptor number is never reused under a pending read.

import fs from 'node:fs';
import { Disk } from '../disk/disk.js';
import { S3Error, slowDown } from '../errors.js';
import { isResourceError } from '../util/process-errors.js';
import type { ShardLayout } from '../meta/types.js';
import { crc32c } from './bitrot.js';
import { readPool, type BufferPool, type Slab } from './buffer-pool.js';
import { createCodec } from './index-codec.js';
import { CRC_BYTES, shardBlockLength, shardBlockOffset, stripeCount, stripeDataBytes } from './layout.js';

export type DamageReport = (dataId: string, shardIndex: number, reason: 'missing' | 'corrupt') => void;

/** Thrown by reads started or finished after close(): the reader was abandoned, nothing is damaged. */
export class ReaderClosedError extends Error {
  constructor() {
    super('shard reader closed');
  }
}

/** The bytes of one shard file covering stripes s0..s1 (CRC + block each), as read. */
export interface ShardSpan {
  shard: number;
  s0: number;
  buf: Buffer;
  /** Bytes actually read: less than buf.length when the file is short. */
  got: number;
  /** The pooled buffer `buf` views, when it came from a pool. */
  slab?: Slab;
}

type Callback<T> = (err: NodeJS.ErrnoException | null, value: T) => void;

/** Lazily opened read descriptors on the shard files of one object. */
export class ShardFiles {
  private readonly fds = new Map<number, Promise<number | undefined>>();
  readonly bad = new Set<number>();
  private busy = 0;
  private idleWaiters: (() => void)[] = [];
  private closing = false;
  private closed: Promise<void> | undefined;

  constructor(private readonly disks: Disk[], private readonly layout: ShardLayout, private readonly onDamage?: DamageReport) {}

  /** Runs one fs call, counted so close() can wait for it. */
  private op<T>(start: (cb: Callback<T>) => void): Promise<T> {
    if (this.closing) return Promise.reject(new ReaderClosedError());
    this.busy++;
    return new Promise<T>((resolve, reject) => {
      start((err, value) => {
        if (--this.busy === 0 && this.idleWaiters.length > 0) {
          const w = this.idleWaiters;
          this.idleWaiters = [];
          for (const f of w) f();
        }
        if (err) reject(err);
        else resolve(value);
      });
    });
  }

  private open(i: number): Promise<number | undefined> {
    let p = this.fds.get(i);
    if (!p) {
      const disk = this.disks[this.layout.distribution[i]];
      p = (async () => {
        if (!disk.online) return undefined;
        // A shard lives in shards/ once published; between the metadata commit and the
        // rename (or after a crash there) it is still in tmp/.
        for (const file of [disk.shardPath(this.layout.dataId), disk.tmpPath(this.layout.dataId)]) {
          try {
            return await this.op<number>((cb) => fs.open(file, 'r', cb));
          } catch (e) {
            if (e instanceof ReaderClosedError) throw e;
            // Out of descriptors is the process's trouble, not the shard's: no damage report
            // (which would queue a repair of a healthy shard), the request is refused instead.
            if (isResourceError(e)) throw outOfResources();
            /* try the next place */
          }
        }
        return undefined;
      })();
      // Marked handled here; whoever awaits it still sees the rejection.
      p.catch(() => undefined);
      this.fds.set(i, p);
    }
    return p;
  }

  /**
   * Reads the CRCs and blocks of stripes s0..s1 of shard i in one positional read (more only
   * if the OS returns less). Undefined when the shard is known bad or missing. With a pool,
   * the buffer is a view into a slab of `slabSize` bytes taken from it.
   */
  async readSpan(i: number, s0: number, s1: number, pool?: BufferPool, slabSize = 0): Promise<ShardSpan | undefined> {
    if (this.bad.has(i)) return undefined;
    const fd = await this.open(i);
    if (fd === undefined) return this.markBad(i, 'missing');
    const pos = shardBlockOffset(this.layout, s0);
    const len = shardBlockOffset(this.layout, s1) + CRC_BYTES + shardBlockLength(this.layout, s1) - pos;
    const slab = pool && len <= slabSize ? pool.take(slabSize) : undefined;
    const buf = slab ? slab.buf.subarray(0, len) : Buffer.allocUnsafe(len);
    let got = 0;
    try {
      while (got < len) {
        const at = got;
        const n = await this.op<number>((cb) => fs.read(fd, buf, at, len - at, pos + at, cb));
        if (n === 0) break;
        got += n;
      }
    } catch (e) {
      if (e instanceof ReaderClosedError) throw e;
      if (isResourceError(e)) {
        slab?.releaseIfUnused();
        throw outOfResources();
      }
      return this.markBad(i, 'missing');
    }
    return { shard: i, s0, buf, got, slab };
  }

  /** Block of stripe s in a span, once its CRC32C checked out; undefined (and reported) if not. */
  blockOf(span: ShardSpan, s: number): Buffer | undefined {
    const off = shardBlockOffset(this.layout, s) - shardBlockOffset(this.layout, span.s0);
    const len = shardBlockLength(this.layout, s);
    if (off + CRC_BYTES + len > span.got) return this.markBad(span.shard, 'corrupt');
    const block = span.buf.subarray(off + CRC_BYTES, off + CRC_BYTES + len);
    if (crc32c(block) !== span.buf.readUInt32BE(off)) return this.markBad(span.shard, 'corrupt');
    return block;
  }

  /** Reads and verifies block i of stripe s; undefined when missing or corrupt. */
  async readBlock(i: number, s: number): Promise<Buffer | undefined> {
    const span = await this.readSpan(i, s, s);
    return span && this.blockOf(span, s);
  }

  private markBad(i: number, reason: 'missing' | 'corrupt'): undefined {
    if (!this.bad.has(i)) {
      this.bad.add(i);
      this.onDamage?.(this.layout.dataId, i, reason);
    }
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
    return this.completeStripe(s, blocks, want);
  }

  /**
   * Given the verified blocks of stripe s read so far, returns them as they are when every
   * block of `want` is there; otherwise reads further shards (parity included) until k blocks
   * are healthy and reconstructs the rest. Throws InsufficientReadQuorum when fewer than k are.
   */
  async completeStripe(s: number, blocks: (Buffer | undefined)[], want: readonly number[]): Promise<Buffer[]> {
    if (want.every((i) => blocks[i] !== undefined)) return blocks as Buffer[];
    const { k, m } = this.layout;
    const n = k + m;
    const count = () => blocks.reduce((a, b) => a + (b === undefined ? 0 : 1), 0);
    // Gather k healthy blocks, reading as many more shards at once as are still missing.
    for (;;) {
      const need = k - count();
      if (need <= 0) break;
      const next: number[] = [];
      for (let i = 0; i < n && next.length < need; i++) if (blocks[i] === undefined && !this.bad.has(i)) next.push(i);
      if (next.length === 0) break;
      await Promise.all(next.map(async (i) => {
        blocks[i] = await this.readBlock(i, s);
        // A block that failed marked its shard bad, so the loop will not try it again.
        if (blocks[i] === undefined) this.bad.add(i);
      }));
    }
    const present = blocks.map((b) => b !== undefined);
    const have = count();
    if (have < k) {
      throw new S3Error('InsufficientReadQuorum', `Only ${have} of ${n} shards are readable; ${k} are needed.`);
    }
    const len = shardBlockLength(this.layout, s);
    const shards = blocks.map((b) => b ?? Buffer.allocUnsafe(len));
    createCodec(k, m).reconstruct(shards, present);
    return shards;
  }

  /**
   * Waits for every read in flight, then closes every descriptor (once, however often it is
   * called: a descriptor number closed twice could by then belong to another file). Later
   * reads fail with ReaderClosedError.
   */
  close(): Promise<void> {
    this.closed ??= (async () => {
      this.closing = true;
      if (this.busy > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
      for (const p of this.fds.values()) {
        const fd = await p.catch(() => undefined);
        if (fd !== undefined) await new Promise<void>((resolve) => fs.close(fd, () => resolve()));
      }
      this.fds.clear();
    })();
    return this.closed;
  }
}

function outOfResources(): S3Error {
  return slowDown('The server is short of file descriptors or memory; please retry.');
}

export interface ReadAheadOptions {
  /** Target bytes per shard read; consecutive stripes are read together up to it. Default 1 MiB. */
  shardReadBytes?: number;
  /** Object bytes read ahead of the run being consumed. Default two stripes. */
  aheadBytes?: number;
  /** Where run buffers come from (see buffer-pool.ts); null: fresh buffers. Default readPool. */
  pool?: BufferPool | null;
}

const DEFAULT_SHARD_READ = 1024 * 1024;

/**
 * Bytes the read buffers of one run take (a slab for each of the k + m shards: a degraded read
 * reads parity too), with the default shard read size: what a memory budget counts per run.
 */
export function runBytes(layout: Pick<ShardLayout, 'k' | 'm' | 'blockSize'>, shardReadBytes = DEFAULT_SHARD_READ): number {
  const stripesPerRun = Math.max(1, Math.floor(shardReadBytes / (CRC_BYTES + layout.blockSize)));
  return (layout.k + layout.m) * stripesPerRun * (CRC_BYTES + layout.blockSize);
}

/** Slices of the range in order, each with the pooled slab it views (counted on it), if any. */
export interface RangeChunks {
  chunks: Buffer[];
  slabs: (Slab | undefined)[];
}

/** One run of consecutive stripes being read. */
interface Run {
  chunks: Promise<RangeChunks>;
  bytes: number;
}

/**
 * Yields the bytes [start, end] (inclusive) of an erasure-coded object as block slices, one run
 * of stripes at a time, keeping up to `aheadBytes` of the next runs in flight. Only stripes
 * (and, when healthy, only data blocks) covering the range are read. close() must be called
 * when done or abandoned: it waits for the reads in flight and closes the files.
 */
export class ShardRangeReader {
  private readonly files: ShardFiles;
  private readonly queue: Run[] = [];
  private queuedBytes = 0;
  private next: number;
  private readonly last: number;
  private readonly stripesPerRun: number;
  private readonly aheadBytes: number;
  private readonly pool: BufferPool | undefined;
  /** Bytes of one shard's part of a full run: the size of the pooled slabs. */
  private readonly slabSize: number;
  private closed = false;

  constructor(
    disks: Disk[],
    private readonly layout: ShardLayout,
    private readonly start: number,
    private readonly end: number,
    onDamage?: DamageReport,
    o: ReadAheadOptions = {},
  ) {
    this.files = new ShardFiles(disks, layout, onDamage);
    const { k, blockSize } = layout;
    const stripeBytes = k * blockSize;
    if (end < start || layout.size === 0) {
      this.next = 1;
      this.last = 0;
    } else {
      this.next = Math.floor(start / stripeBytes);
      this.last = Math.min(Math.floor(end / stripeBytes), stripeCount(layout) - 1);
    }
    this.stripesPerRun = Math.max(1, Math.floor((o.shardReadBytes ?? DEFAULT_SHARD_READ) / (CRC_BYTES + blockSize)));
    this.aheadBytes = o.aheadBytes ?? 2 * stripeBytes;
    this.pool = o.pool === null ? undefined : (o.pool ?? readPool);
    this.slabSize = this.stripesPerRun * (CRC_BYTES + blockSize);
    this.fill();
  }

  /** True once every run has been started: a caller may then open what comes next. */
  get allStarted(): boolean {
    return this.next > this.last;
  }

  /**
   * The next slices of the range, in order, or null after the last. A consumer that learns
   * when it no longer references a slice may release() its slab (see buffer-pool.ts); one
   * that does not simply drops them.
   */
  read(): Promise<RangeChunks | null> {
    const head = this.queue.shift();
    if (!head) return Promise.resolve(null);
    this.queuedBytes -= head.bytes;
    this.fill();
    return head.chunks;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.files.close();
  }

  private fill(): void {
    while (!this.closed && this.next <= this.last && (this.queue.length === 0 || this.queuedBytes < this.aheadBytes)) {
      const s0 = this.next;
      const s1 = Math.min(this.last, s0 + this.stripesPerRun - 1);
      this.next = s1 + 1;
      const stripeBytes = this.layout.k * this.layout.blockSize;
      const bytes = Math.min(this.end + 1, s1 * stripeBytes + stripeDataBytes(this.layout, s1)) - Math.max(this.start, s0 * stripeBytes);
      const chunks = this.readRun(s0, s1);
      // Marked handled: a run that fails while queued must not count as an unhandled
      // rejection; read() hands the same promise out, which still rejects.
      chunks.catch(() => undefined);
      this.queue.push({ chunks, bytes });
      this.queuedBytes += bytes;
    }
  }

  /** Which blocks of stripe s hold bytes of the range: [first, last] and the offsets within. */
  private span(s: number): { from: number; to: number; len: number; first: number; last: number } {
    const base = s * this.layout.k * this.layout.blockSize;
    const len = shardBlockLength(this.layout, s);
    const from = Math.max(this.start, base) - base;
    const to = Math.min(this.end + 1, base + stripeDataBytes(this.layout, s)) - base; // exclusive
    return { from, to, len, first: Math.floor(from / len), last: Math.floor((to - 1) / len) };
  }

  private async readRun(s0: number, s1: number): Promise<RangeChunks> {
    const { k, m } = this.layout;
    const n = k + m;
    const files = this.files;
    const a = this.span(s0);
    const b = s1 === s0 ? a : this.span(s1);

    // Per shard, the stripes of the run it is read for: data shard i is wanted from s0 (or
    // s0 + 1 when the range starts past block i of s0) to s1 (or s1 - 1 when it ends before).
    const lo: number[] = new Array(n).fill(-1);
    const hi: number[] = new Array(n).fill(-2);
    let degraded = 0;
    for (let i = 0; i < k; i++) {
      const from = i >= a.first ? s0 : s0 + 1;
      const to = i <= b.last ? s1 : s1 - 1;
      if (from > to || (s0 === s1 && (i < a.first || i > a.last))) continue;
      lo[i] = from;
      hi[i] = to;
      if (files.bad.has(i)) degraded++;
    }
    // A wanted shard already known bad: read as many other shards along, for the whole run,
    // so its blocks can be reconstructed without a read per stripe.
    for (let i = 0; i < n && degraded > 0; i++) {
      if (lo[i] >= 0 || files.bad.has(i)) continue;
      lo[i] = s0;
      hi[i] = s1;
      degraded--;
    }

    const spans: (ShardSpan | undefined)[] = new Array(n).fill(undefined);
    const reads: Promise<void>[] = [];
    for (let i = 0; i < n; i++) {
      if (lo[i] < 0) continue;
      reads.push(files.readSpan(i, lo[i], hi[i], this.pool, this.slabSize).then((sp) => { spans[i] = sp; }));
    }
    await Promise.all(reads);
    if (this.closed) throw new ReaderClosedError();

    const out: Buffer[] = [];
    const slabs: (Slab | undefined)[] = [];
    const read: (Buffer | undefined)[] = new Array(n);
    for (let s = s0; s <= s1; s++) {
      const r = s === s0 ? a : s === s1 ? b : this.span(s);
      const blocks: (Buffer | undefined)[] = new Array(n).fill(undefined);
      const want: number[] = [];
      for (let i = r.first; i <= r.last; i++) want.push(i);
      for (let i = 0; i < n; i++) {
        const sp = spans[i];
        if (sp !== undefined && s >= lo[i] && s <= hi[i]) blocks[i] = files.blockOf(sp, s);
        read[i] = blocks[i];
      }
      const full = await files.completeStripe(s, blocks, want);
      // Block slices as they are: concatenating would copy every stripe once more.
      for (let i = r.first; i <= r.last; i++) {
        const b0 = i * r.len;
        const chunk = full[i].subarray(Math.max(r.from, b0) - b0, Math.min(r.to, b0 + r.len) - b0);
        // A block straight from a pooled read buffer is counted on its slab; a reconstructed one is not pooled.
        const slab = full[i] === read[i] ? spans[i]?.slab : undefined;
        slab?.retain();
        out.push(chunk);
        slabs.push(slab);
      }
    }
    // Buffers no chunk views (parity read only to reconstruct) go back now.
    for (const sp of spans) sp?.slab?.releaseIfUnused();
    return { chunks: out, slabs };
  }
}

/**
 * Yields the bytes [start, end] (inclusive) of the object, one run of stripes at a time, with
 * read-ahead. Only stripes (and, when healthy, only data blocks) covering the range are read.
 */
export async function* readShardRange(
  disks: Disk[],
  layout: ShardLayout,
  start: number,
  end: number,
  onDamage?: DamageReport,
): AsyncGenerator<Buffer> {
  const reader = new ShardRangeReader(disks, layout, start, end, onDamage, { pool: null });
  try {
    for (let r = await reader.read(); r !== null; r = await reader.read()) yield* r.chunks;
  } finally {
    await reader.close();
  }
}
