// Turns a version's data layout (inline, erasure-coded, or multipart parts) into a stream of
// the requested byte range, reading only what the range covers.
//
// ObjectDataStream is a plain Readable over ShardRangeReader, not Readable.from over an async
// generator: that cost a few promises per chunk and read the next stripe only once the last
// one was taken. Here the reader keeps the next two stripes read (and verified) ahead, so when
// the socket drains the next stripe is ready; destroying the stream (a client that went away)
// stops the reads and closes the shard files.

import { ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { Readable } from 'node:stream';
import { AsyncLocalStorage } from 'node:async_hooks';
import { S3Error } from '../errors.js';
import { crc32c } from '../erasure/bitrot.js';
import type { Slab } from '../erasure/buffer-pool.js';
import { BudgetAbortedError, type Lease } from '../erasure/memory-budget.js';
import { ReaderClosedError, ShardRangeReader, runBytes, type RangeChunks } from '../erasure/reader.js';
import type { InlineLayout, ObjectVersion, ShardLayout } from '../meta/types.js';
import type { ObjectStore } from './store.js';

interface Segment {
  layout: InlineLayout | ShardLayout;
  start: number;
  end: number;
}

/** Bytes of one run of stripes of the largest erasure-coded layout, and its stripe size (0 when all are inline). */
function largestRun(layouts: Array<InlineLayout | ShardLayout>): { run: number; stripe: number } {
  let run = 0;
  let stripe = 0;
  for (const l of layouts) {
    if (l.kind !== 'shards') continue;
    run = Math.max(run, runBytes(l));
    stripe = Math.max(stripe, l.k * l.blockSize);
  }
  return { run, stripe };
}

/**
 * What a read of `v` leases before its first disk read: two runs of stripes (one being sent,
 * one being read). A copy leases this together with its write side (see copyReadLease).
 */
export function readLeaseBytes(v: ObjectVersion): number {
  const d = v.data;
  if (!d) return 0;
  return 2 * largestRun(d.kind === 'parts' ? d.parts.map((p) => p.data) : [d]).run;
}

/**
 * The read side of a copy: reads that run inside this context (the copy's ingest pulls them)
 * use the lease it holds instead of waiting for one of their own. A copy that held its write
 * lease while its read waited for memory could wait forever on other copies doing the same.
 */
export const copyReadLease = new AsyncLocalStorage<Lease>();

/** Set by ObjectStore.openData on the streams it returns: the bytes their reads lease. */
export const READ_LEASE_BYTES = Symbol('tessera.readLeaseBytes');

export function openDataStream(store: ObjectStore, v: ObjectVersion, start: number, end: number): Readable {
  return new ObjectDataStream(store, v, segmentsOf(v, start, end));
}

/**
 * The same stream, once its first chunks have been read and verified. A GET waits for this
 * before it commits to a 200: data that cannot be read at all (fewer healthy shards than the
 * read quorum) then becomes an error reply (503) instead of a status line followed by a cut
 * connection. A failure after the first stripe can still only abort the response.
 */
export async function openDataStreamReady(store: ObjectStore, v: ObjectVersion, start: number, end: number): Promise<Readable> {
  const s = new ObjectDataStream(store, v, segmentsOf(v, start, end));
  await s.prime();
  return s;
}

/** The layouts covering [start, end] and the range within each. */
function segmentsOf(v: ObjectVersion, start: number, end: number): Segment[] {
  const data = v.data;
  if (!data || end < start) return [];
  if (data.kind !== 'parts') return [{ layout: data, start, end }];
  const out: Segment[] = [];
  let base = 0;
  for (const p of data.parts) {
    const pEnd = base + p.size - 1;
    if (pEnd >= start && base <= end && p.size > 0) {
      out.push({ layout: p.data, start: Math.max(start, base) - base, end: Math.min(end, pEnd) - base });
    }
    base += p.size;
    if (base > end) break;
  }
  return out;
}

class ObjectDataStream extends Readable {
  private index = 0;
  private current: ShardRangeReader | undefined;
  /** The next segment's reader, opened early (its read-ahead running) when the current one has started its last run. */
  private upcoming: ShardRangeReader | undefined;
  /** Chunks fetched and not yet pushed, from pending.chunks[at]. */
  private pending: RangeChunks = { chunks: [], slabs: [] };
  private at = 0;
  /**
   * While piped into a socket by pipe() below: the slab of each chunk pushed and not yet
   * written, so the write callback can release it. Undefined otherwise (chunks are never
   * released, their slabs left to the garbage collector).
   */
  private owned: Map<Buffer, Slab> | undefined;
  private fetching = false;
  private leaseChecked = false;
  /** A consumer asked for data while the first fetch (prime) ran: deliver once it is done. */
  private readWaiting = false;
  private scheduled = false;
  private unpipeOwn: ((dest?: unknown) => boolean) | undefined;
  /**
   * The stream's share of the memory budget (erasure/memory-budget.ts): two runs of stripes
   * (one being sent, one being read), taken before the first disk read, plus one more run of
   * read-ahead when the budget has it to spare. Given back at the end or on destroy.
   */
  private lease: Lease | undefined;
  private borrowed = false;
  /** What ensureLease added to the lease for read-ahead. */
  private grown = 0;
  private readonly leaseStop = new AbortController();
  /** Object bytes the readers may read ahead: what the lease allows. */
  private aheadBytes = 0;

  constructor(
    private readonly store: ObjectStore,
    private readonly v: ObjectVersion,
    private readonly segments: Segment[],
  ) {
    // Nothing is buffered in the stream itself: the read-ahead lives in ShardRangeReader, and
    // chunks are pushed one at a time. A larger buffer would not make more data ready, and
    // read() without a size (the async iterator) concatenates, i.e. copies, all it holds.
    super({ highWaterMark: 1 });
  }

  override _read(): void {
    // Never push from inside _read: Readable.read() calls _read before it takes from the
    // buffer, and would then hand out (concatenate, i.e. copy) what was there plus what we pushed.
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(this.deliver);
  }

  /** Pushes fetched chunks while the consumer takes them; fetches more once they are out. */
  private readonly deliver = (): void => {
    this.scheduled = false;
    this.readWaiting = false;
    if (this.destroyed) return;
    const { chunks, slabs } = this.pending;
    while (this.at < chunks.length) {
      const i = this.at++;
      const slab = slabs[i];
      if (slab && this.owned) this.owned.set(chunks[i], slab);
      if (!this.push(chunks[i])) return;
    }
    if (!this.fetching) void this.fetch();
    else this.readWaiting = true;
  };

  /** Fetches the first chunks without pushing them; throws what the read threw (the stream is then destroyed). */
  async prime(): Promise<void> {
    this.fetching = true;
    let chunks: RangeChunks | null;
    try {
      chunks = await this.nextChunks();
    } catch (e) {
      this.fetching = false;
      this.destroy();
      throw e;
    }
    this.fetching = false;
    if (chunks !== null) {
      this.pending = chunks;
      this.at = 0;
    }
    if (this.readWaiting) {
      this.readWaiting = false;
      this.deliver();
    }
  }

  private async fetch(): Promise<void> {
    this.fetching = true;
    let chunks: RangeChunks | null;
    try {
      chunks = await this.nextChunks();
    } catch (e) {
      this.fetching = false;
      if (!this.destroyed && !(e instanceof ReaderClosedError)) this.destroy(e as Error);
      return;
    }
    this.fetching = false;
    if (this.destroyed) return;
    if (chunks === null) {
      // Every disk read is done; what is still being sent lives in the socket's buffers.
      this.releaseLease();
      this.push(null);
      return;
    }
    this.pending = chunks;
    this.at = 0;
    // Node called _read and waits for a push: hand these out.
    this.deliver();
  }

  /** Bytes of one run of stripes of the largest erasure-coded segment (0 when all are inline). */
  private runBytes(): { run: number; stripe: number } {
    return largestRun(this.segments.map((s) => s.layout));
  }

  private async ensureLease(): Promise<void> {
    const { run, stripe } = this.runBytes();
    if (run === 0) return;
    let lease = this.lease;
    if (!lease) {
      // The read side of a copy: its lease was taken together with the write side's.
      const borrowed = copyReadLease.getStore();
      if (borrowed) {
        lease = this.lease = borrowed;
        this.borrowed = true;
      } else {
        try {
          lease = this.lease = await this.store.memory.acquire(2 * run, this.leaseStop.signal);
        } catch (e) {
          if (e instanceof BudgetAbortedError) throw new ReaderClosedError();
          throw e;
        }
        // Destroyed while it waited: _destroy found no lease to give back.
        if (this.destroyed) {
          this.releaseLease();
          throw new ReaderClosedError();
        }
      }
    }
    // The readers' default read-ahead (two stripes queued) when one more run is to be had.
    this.grown = lease.tryGrow(run) ? run : 0;
    this.aheadBytes = this.grown > 0 ? 2 * stripe : 0;
  }

  private releaseLease(): void {
    const l = this.lease;
    this.lease = undefined;
    // A borrowed lease is the copy's, released when the copy ends; only this stream's
    // read-ahead goes back now (an encrypted multipart source opens a stream per part, and
    // each would otherwise add a run to the copy's lease).
    if (!this.borrowed) l?.release();
    else if (this.grown > 0) l?.split(this.grown).release();
  }

  /** The next chunks of the range, crossing into the next segment as needed; null at the end or once destroyed. */
  private async nextChunks(): Promise<RangeChunks | null> {
    if (!this.leaseChecked) {
      this.leaseChecked = true;
      await this.ensureLease();
    }
    for (;;) {
      // Nothing may be opened once destroyed: _destroy has already closed what there was.
      if (this.destroyed) return null;
      const cur = this.current;
      if (cur) {
        const chunks = await cur.read();
        if (this.destroyed) return null;
        if (chunks !== null) {
          if (cur.allStarted && !this.upcoming) this.upcoming = this.openUpcoming();
          return chunks;
        }
        this.current = undefined;
        this.index++;
        await cur.close();
        if (this.destroyed) return null;
      }
      if (this.index >= this.segments.length) return null;
      const seg = this.segments[this.index];
      if (seg.layout.kind === 'inline') {
        const buf = await this.readInline(seg.layout);
        if (this.destroyed) return null;
        this.index++;
        return { chunks: [buf.subarray(seg.start, seg.end + 1)], slabs: [undefined] };
      }
      this.current = this.upcoming ?? this.openReader(seg);
      this.upcoming = undefined;
    }
  }

  private openUpcoming(): ShardRangeReader | undefined {
    const seg = this.segments[this.index + 1];
    // No read-ahead beyond its first run while the current part finishes: both live on one lease.
    return seg && seg.layout.kind === 'shards' ? this.openReader(seg, 0) : undefined;
  }

  private openReader(seg: Segment, aheadBytes = this.aheadBytes): ShardRangeReader {
    const v = this.v;
    const heals = this.store.heals;
    return new ShardRangeReader(this.store.disks, seg.layout as ShardLayout, seg.start, seg.end, (dataId, shard, reason) => heals.report(v, dataId, shard, reason), { aheadBytes });
  }

  private async readInline(l: InlineLayout): Promise<Buffer> {
    const buf = await this.store.meta.getInline(l.dataId);
    if (!buf || crc32c(buf) !== l.crc32c) {
      throw new S3Error('InternalError', `The data of ${this.v.key} failed its integrity check.`);
    }
    return buf;
  }

  /**
   * Into a socket or an HTTP response, the stream pipes itself: like Readable.pipe (same
   * backpressure), but each chunk is written with a callback, and once that callback says the
   * chunk was written (copied into the kernel), the chunk's slab is released so its read buffer
   * can be reused (buffer-pool.ts). Any other destination gets the ordinary pipe, and its
   * chunks are never released: it might keep them.
   */
  override pipe<T extends NodeJS.WritableStream>(dest: T, options?: { end?: boolean }): T {
    if (this.unpipeOwn || !(dest instanceof ServerResponse || dest instanceof Socket)) return super.pipe(dest, options);
    const out = dest as unknown as ServerResponse | Socket;
    const owned = (this.owned = new Map());
    let waiting = false;
    const onDrain = () => {
      waiting = false;
      this.resume();
    };
    const onData = (chunk: Buffer) => {
      const slab = owned.get(chunk);
      let ok: boolean;
      if (slab) {
        owned.delete(chunk);
        ok = out.write(chunk, (err?: Error | null) => {
          if (!err) slab.release();
        });
      } else {
        ok = out.write(chunk);
      }
      if (!ok && !waiting) {
        waiting = true;
        this.pause();
        out.once('drain', onDrain);
      }
    };
    const cleanup = () => {
      this.off('data', onData);
      this.off('end', onEnd);
      out.off('drain', onDrain);
      out.off('close', cleanup);
      out.off('finish', cleanup);
      this.unpipeOwn = undefined;
      // Chunks pushed but never written are left to the garbage collector with their slabs.
      this.owned = undefined;
      if (!this.destroyed) this.pause();
    };
    const onEnd = () => {
      cleanup();
      if (options?.end !== false) out.end();
    };
    this.unpipeOwn = (d?: unknown) => {
      if (d !== undefined && d !== dest) return false;
      cleanup();
      out.emit('unpipe', this);
      return true;
    };
    out.once('close', cleanup);
    out.once('finish', cleanup);
    this.once('end', onEnd);
    out.emit('pipe', this);
    this.on('data', onData);
    return dest;
  }

  override unpipe(dest?: NodeJS.WritableStream): this {
    if (!this.unpipeOwn?.(dest)) super.unpipe(dest);
    return this;
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    const readers = [this.current, this.upcoming];
    this.current = this.upcoming = undefined;
    this.leaseStop.abort();
    // The lease goes back once no read is in flight any more (close() waits for them).
    Promise.all(readers.map((r) => r?.close())).finally(() => this.releaseLease()).then(
      () => cb(err),
      () => cb(err),
    );
  }
}
