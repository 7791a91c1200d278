// One pass over an incoming body: hash it (MD5 for the ETag, plus the requested checksum),
// and either keep it inline (small) or stream it, stripe by stripe, into shard files.
//
// The work on a stripe overlaps with the next one: when a stripe buffer is full, the writer
// encodes it and queues its disk writes, and (for a large body) a worker thread hashes it,
// while the main thread goes on filling another buffer. A buffer is refilled only once its
// writes are done and the worker has read it. At most ShardWriter.DEPTH + 1 stripe buffers
// are alive per upload, whatever the object size.
//
// Space is claimed against the free-space reserve (disk/space.ts) before data is written: the
// whole declared size up front, or, for a body of unknown size, stripe by stripe as it comes.

import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Disk } from '../disk/disk.js';
import type { SpaceClaim, SpaceGuard } from '../disk/space.js';
import { S3Error } from '../errors.js';
import { crc32c } from '../erasure/bitrot.js';
import { distribute, shardDataLength, type ShardTrailer } from '../erasure/layout.js';
import { BudgetAbortedError, UNLIMITED, type Lease, type MemoryBudget } from '../erasure/memory-budget.js';
import { ShardWriter } from '../erasure/writer.js';
import type { ChecksumAlgorithm, InlineLayout, ShardLayout } from '../meta/types.js';
import { createChecksummer } from '../util/checksums.js';
import { allocShared, HASH_OFFLOAD_USEFUL, HashSession, type Digests } from './hash-offload.js';

/**
 * Bodies declared at least this large are hashed on a worker thread (see hash-offload.ts), on
 * a machine with more than one core. Below it the hand-over costs more than it saves; a body
 * of unknown size is hashed here.
 */
export const HASH_OFFLOAD_MIN_SIZE = 4 * 1024 * 1024;

/**
 * Full stripe buffers kept between uploads, up to this many bytes in all: fresh memory costs a
 * page fault per 4 KiB on first touch (and zeroing, for shared memory), a few percent of the
 * CPU time of a large PUT. A buffer comes back only once nothing can touch it any more.
 */
const POOL_MAX_BYTES = 32 * 1024 * 1024;
const pools = { plain: [] as Buffer[], shared: [] as Buffer[] };
let pooledBytes = 0;

function takeStripeBuffer(size: number, shared: boolean): Buffer {
  const pool = shared ? pools.shared : pools.plain;
  for (let i = pool.length - 1; i >= 0; i--) {
    const b = pool[i]!;
    if (b.length === size) {
      pool.splice(i, 1);
      pooledBytes -= size;
      return b;
    }
  }
  return shared ? allocShared(size) : Buffer.allocUnsafe(size);
}

function returnStripeBuffers(bufs: Buffer[], shared: boolean): void {
  const pool = shared ? pools.shared : pools.plain;
  for (const b of bufs) {
    if (pooledBytes + b.length > POOL_MAX_BYTES) break;
    pool.push(b);
    pooledBytes += b.length;
  }
}

export interface IngestOptions {
  disks: Disk[];
  k: number;
  m: number;
  blockSize: number;
  inlineThreshold: number;
  dataId: string;
  describe: Omit<ShardTrailer, 'size' | 'shardIndex' | 'dataId' | 'k' | 'm' | 'blockSize'>;
  /** Content length when the client declared it; lets a large body skip inline buffering. */
  expectedSize?: number;
  /** Largest body accepted (5 GiB for a PutObject / UploadPart). */
  maxSize: number;
  checksumAlgorithms: ChecksumAlgorithm[];
  /** Declared sizes from which hashing moves to a worker thread; default HASH_OFFLOAD_MIN_SIZE. */
  hashOffloadMinSize?: number;
  /** The memory budget stripe buffers are leased from; default: none (no limit). */
  budget?: MemoryBudget;
  /**
   * A lease taken beforehand (a copy leases its read and write sides at once); it covers at
   * least uploadLeaseBytes() and is released here, like one taken here.
   */
  lease?: Lease;
  /** The free-space reserve; its locations are the disks in order, then the metadata directory. */
  space?: SpaceGuard;
}

/**
 * Room a shard file needs beyond its blocks: the trailer (JSON naming bucket and key, which
 * escaping can make several KiB) and the filesystem's rounding up to whole blocks.
 */
const SHARD_OVERHEAD_BYTES = 16 * 1024;
/** Room for the write's journal record and index entries (besides any inline data). */
const META_OVERHEAD_BYTES = 4 * 1024;

/**
 * Bytes a write of `size` needs on each location (disks, then the metadata directory): a
 * shard file and a journal record on every disk of the layout, or, kept inline, the data in
 * the journal (on some of the disks; counted on all) and in the index.
 */
export function spaceNeeds(o: Pick<IngestOptions, 'disks' | 'k' | 'blockSize'>, distribution: number[], size: number, inline: boolean): number[] {
  const perDisk = inline
    ? size + META_OVERHEAD_BYTES
    : shardDataLength({ size, k: o.k, blockSize: o.blockSize }) + SHARD_OVERHEAD_BYTES + META_OVERHEAD_BYTES;
  const needs = new Array<number>(o.disks.length + 1).fill(0);
  for (const d of distribution) if (o.disks[d]!.online) needs[d] = perDisk;
  needs[o.disks.length] = (inline ? size : 0) + META_OVERHEAD_BYTES;
  return needs;
}

/**
 * Bytes an upload leases before it reads its body: its first stripe buffer, plus one parity
 * buffer set unless the body will be stored inline. Each further stripe in flight (up to
 * ShardWriter.DEPTH) costs stageBytes() more, taken only when the budget has it to spare.
 */
export function uploadLeaseBytes(o: Pick<IngestOptions, 'k' | 'm' | 'blockSize' | 'inlineThreshold' | 'expectedSize'>): number {
  const stripeSize = o.k * o.blockSize;
  const first = o.expectedSize !== undefined ? Math.min(stripeSize, Math.max(o.expectedSize, 1)) : stripeSize;
  const inline = o.expectedSize !== undefined && o.expectedSize <= o.inlineThreshold;
  return first + (inline ? 0 : ShardWriter.slotBytes(o.k, o.m, o.blockSize));
}

function stageBytes(o: Pick<IngestOptions, 'k' | 'm' | 'blockSize'>): number {
  return o.k * o.blockSize + ShardWriter.slotBytes(o.k, o.m, o.blockSize);
}

/**
 * Waits for a lease of `bytes` without reading the body meanwhile (TCP back-pressure holds the
 * client), and stops waiting if the body goes away (the client hung up, or an idle timeout).
 */
async function leaseForBody(budget: MemoryBudget, bytes: number, body: Readable): Promise<Lease> {
  const gone = () => new S3Error('IncompleteBody', 'The request body ended before it could be read.');
  if (body.destroyed) throw gone();
  const stop = new AbortController();
  const onGone = () => stop.abort();
  body.once('close', onGone);
  body.once('error', onGone);
  try {
    return await budget.acquire(bytes, stop.signal);
  } catch (e) {
    if (e instanceof BudgetAbortedError) throw gone();
    throw e;
  } finally {
    body.off('close', onGone);
    body.off('error', onGone);
  }
}

export interface Ingested {
  size: number;
  md5: Buffer;
  checksums: Partial<Record<ChecksumAlgorithm, Buffer>>;
  layout: InlineLayout | ShardLayout;
  /** For inline layouts: the bytes to store with the metadata. */
  inline?: Buffer;
  /** For shard layouts: the writer whose files await publish (or abort on failure). */
  writer?: ShardWriter;
}

export async function ingest(body: Readable, o: IngestOptions): Promise<Ingested> {
  const lease = o.lease ?? (await leaseForBody(o.budget ?? UNLIMITED(), uploadLeaseBytes(o), body));
  try {
    return await ingestLeased(body, o, lease);
  } finally {
    // Every stripe buffer is out of use by now (written, abandoned or pooled): success,
    // refusal, client hang-up or disk failure alike.
    lease.release();
  }
}

async function ingestLeased(body: Readable, o: IngestOptions, lease: Lease): Promise<Ingested> {
  const stripeSize = o.k * o.blockSize;
  const slotBytes = ShardWriter.slotBytes(o.k, o.m, o.blockSize);
  // The lease covers `stages` stripe buffers and as many parity sets (see uploadLeaseBytes),
  // and must cover at least what the first buffer costs, whoever took it.
  const leased = uploadLeaseBytes(o);
  if (lease.bytes < leased) lease.force(leased - lease.bytes);
  let slotCovered = leased > Math.min(stripeSize, Math.max(o.expectedSize ?? stripeSize, 1));
  let stages = 1;
  /** One more stripe in flight, if the budget has a stripe and a parity set to spare now. */
  const tryAddStage = (): boolean => {
    if (stages >= ShardWriter.DEPTH || !lease.tryGrow(stageBytes(o))) return false;
    stages++;
    writer?.addSlot();
    return true;
  };
  const offload = o.expectedSize !== undefined && o.expectedSize >= (o.hashOffloadMinSize ?? (HASH_OFFLOAD_USEFUL ? HASH_OFFLOAD_MIN_SIZE : Infinity));
  // Either a worker hashes whole stripes (`remote`, opened just before the try below, which
  // closes it on failure), or this thread hashes each chunk as it arrives.
  const md5 = offload ? undefined : createHash('md5');
  const sums = offload ? [] : o.checksumAlgorithms.map((a) => [a, createChecksummer(a)] as const);
  const shared = offload;
  const alloc = (n: number) => (n === stripeSize ? takeStripeBuffer(n, shared) : shared ? allocShared(n) : Buffer.allocUnsafe(n));

  let buf: Buffer = alloc(o.expectedSize !== undefined ? Math.min(stripeSize, Math.max(o.expectedSize, 1)) : stripeSize);
  /** Stripe buffers whose writes (and hashing) are done, ready to be filled again. */
  const spare: Buffer[] = [];
  /** Stripes handed over, oldest first, with the promise of their writes and hashing. */
  const inflight: { buf: Buffer; done: Promise<unknown> }[] = [];
  let fill = 0;
  let size = 0;
  let writer: ShardWriter | undefined;
  const distribution = distribute(o.dataId, o.disks.length).slice(0, o.k + o.m);

  // What this write holds against the reserve, per location.
  let claim: SpaceClaim | undefined;
  let claimed: number[] = [];
  /** Grows the claim to what `bytes` need; refuses (XTesseraStorageFull) before they are written. */
  const reserveFor = async (bytes: number, inline: boolean) => {
    if (!o.space) return;
    const want = spaceNeeds(o, distribution, bytes, inline);
    const more = want.map((n, i) => Math.max(0, n - (claimed[i] ?? 0)));
    if (!more.some((n) => n > 0)) return;
    if (claim) await claim.grow(more);
    else claim = await o.space.claim(more);
    claimed = want.map((n, i) => Math.max(n, claimed[i] ?? 0));
  };
  /** Bytes handed to the writer so far. */
  let flushed = 0;

  const openWriter = async () => {
    // A body announced as small that turned out larger has no parity set leased yet: it needs
    // one to finish what it started (bounded: one set).
    if (!slotCovered) {
      lease.force(slotBytes);
      slotCovered = true;
    }
    writer = await ShardWriter.open({ disks: o.disks, dataId: o.dataId, k: o.k, m: o.m, blockSize: o.blockSize, distribution, describe: o.describe, slots: stages });
  };
  /** Waits for the oldest stripe's writes (and hashing) and recycles its buffer. */
  const retireOldest = async () => {
    const oldest = inflight.shift()!;
    await oldest.done;
    if (oldest.buf.length === stripeSize) spare.push(oldest.buf);
  };
  /**
   * Hands the filled buffer over: the writer encodes it at once and queues its writes, the
   * worker (if any) hashes it, and this thread goes on filling another buffer meanwhile.
   */
  const flush = async (final: boolean) => {
    if (!writer) await openWriter();
    if (fill > 0) {
      await reserveFor(flushed + fill, false);
      flushed += fill;
      const stripe = buf.subarray(0, fill);
      // Hashing first: the worker starts on it while this thread encodes.
      const hashed = remote?.update(buf, fill);
      const written = writer!.writeStripe(stripe);
      const done = hashed ? Promise.all([written, hashed]) : written;
      // Marked handled now; a rejection surfaces when this stripe is retired.
      done.catch(() => undefined);
      inflight.push({ buf, done });
      fill = 0;
      // Leave fewer stripes in flight than the writer has parity sets, so it has room to encode
      // the next stripe as soon as it is full, while this one is still being written. Within
      // the budget that is up to DEPTH; when it is spent, one stripe at a time.
      while (inflight.length >= stages && !tryAddStage()) await retireOldest();
      buf = final ? Buffer.alloc(0) : (spare.pop() ?? alloc(stripeSize));
    }
    if (final) while (inflight.length > 0) await retireOldest();
  };

  const remote = offload ? new HashSession(o.checksumAlgorithms) : undefined;
  try {
    // A declared size is claimed whole before anything is read; otherwise just the minimum, so
    // a disk already at its reserve refuses at once.
    await reserveFor(o.expectedSize ?? 0, o.expectedSize === undefined || o.expectedSize <= o.inlineThreshold);
    if (o.expectedSize !== undefined && o.expectedSize > o.inlineThreshold) await openWriter();
    for await (const chunk of body as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > o.maxSize) throw new S3Error('EntityTooLarge', undefined, { ProposedSize: String(size), MaxSizeAllowed: String(o.maxSize) });
      if (md5) {
        md5.update(chunk);
        for (const [, s] of sums) s.update(chunk);
      }
      let off = 0;
      while (off < chunk.length) {
        if (buf.length < stripeSize && fill + (chunk.length - off) > buf.length) {
          // The declared size was wrong (or absent): grow to a full stripe buffer.
          lease.force(stripeSize - buf.length);
          const bigger = alloc(stripeSize);
          buf.copy(bigger, 0, 0, fill);
          buf = bigger;
        }
        const n = Math.min(chunk.length - off, buf.length - fill);
        chunk.copy(buf, fill, off, off + n);
        fill += n;
        off += n;
        if (fill === stripeSize) await flush(false);
      }
    }

    if (!writer && size <= o.inlineThreshold) {
      await reserveFor(size, true);
      const data = Buffer.from(buf.subarray(0, fill));
      if (remote) await remote.update(buf, fill);
      const { md5: etag, checksums } = await digests(md5, sums, remote);
      // Counted as landed: the commit puts these bytes into the journal in a moment.
      claim?.release(true);
      return { size, md5: etag, checksums, inline: data, layout: { kind: 'inline', dataId: o.dataId, size, crc32c: crc32c(data) } };
    }
    await flush(true);
    // Every stripe is written and hashed: the buffers can serve the next upload.
    if (buf.length === stripeSize) spare.push(buf);
    returnStripeBuffers(spare.splice(0), shared);
    // Both settle before going on: abort() must not race finish() for the files.
    const [dig, fin] = await Promise.allSettled([digests(md5, sums, remote), writer!.finish()]);
    if (fin.status === 'rejected') throw fin.reason;
    if (dig.status === 'rejected') throw dig.reason;
    const { md5: etag, checksums } = dig.value;
    // The shard files are written and synced: a fresh statfs sees them from now on.
    claim?.release(true);
    return {
      size,
      md5: etag,
      checksums,
      writer,
      layout: { kind: 'shards', dataId: o.dataId, size, k: o.k, m: o.m, blockSize: o.blockSize, distribution },
    };
  } catch (e) {
    remote?.close();
    // abort() lets every queued write settle before it closes and removes the files.
    if (writer) await writer.abort();
    claim?.release(false);
    throw e;
  }
}

async function digests(
  md5: ReturnType<typeof createHash> | undefined,
  sums: readonly (readonly [ChecksumAlgorithm, ReturnType<typeof createChecksummer>])[],
  remote: HashSession | undefined,
): Promise<Digests> {
  if (remote) return remote.digest();
  const checksums: Partial<Record<ChecksumAlgorithm, Buffer>> = {};
  for (const [a, s] of sums) checksums[a] = s.digest();
  return { md5: md5!.digest(), checksums };
}
