// One pass over an incoming body: hash it (MD5 for the ETag, plus the requested checksum),
// and either keep it inline (small) or stream it, stripe by stripe, into shard files.
// At most two stripe buffers are alive per upload, whatever the object size.

import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Disk } from '../disk/disk.js';
import { S3Error } from '../errors.js';
import { crc32c } from '../erasure/bitrot.js';
import { distribute, type ShardTrailer } from '../erasure/layout.js';
import { ShardWriter } from '../erasure/writer.js';
import type { ChecksumAlgorithm, InlineLayout, ShardLayout } from '../meta/types.js';
import { createChecksummer } from '../util/checksums.js';

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
  const md5 = createHash('md5');
  const sums = o.checksumAlgorithms.map((a) => [a, createChecksummer(a)] as const);
  const stripeSize = o.k * o.blockSize;
  let buf: Buffer = Buffer.allocUnsafe(o.expectedSize !== undefined ? Math.min(stripeSize, Math.max(o.expectedSize, 1)) : stripeSize);
  let spare: Buffer | undefined;
  let fill = 0;
  let size = 0;
  let writer: ShardWriter | undefined;
  let pending: Promise<void> | undefined;
  const distribution = distribute(o.dataId, o.disks.length).slice(0, o.k + o.m);

  const openWriter = async () => {
    writer = await ShardWriter.open({ disks: o.disks, dataId: o.dataId, k: o.k, m: o.m, blockSize: o.blockSize, distribution, describe: o.describe });
  };
  const flush = async (final: boolean) => {
    if (!writer) await openWriter();
    if (pending) await pending;
    pending = undefined;
    if (fill === 0) return;
    const stripe = buf.subarray(0, fill);
    // Double buffering: the next stripe fills while this one is encoded and written.
    const other = spare ?? Buffer.allocUnsafe(stripeSize);
    spare = buf;
    buf = other;
    fill = 0;
    const p = writer!.writeStripe(stripe);
    if (final) {
      await p;
    } else {
      // Mark handled now; the rejection surfaces when `pending` is awaited before the next stripe.
      p.catch(() => undefined);
      pending = p;
    }
  };

  try {
    if (o.expectedSize !== undefined && o.expectedSize > o.inlineThreshold) await openWriter();
    for await (const chunk of body as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > o.maxSize) throw new S3Error('EntityTooLarge', undefined, { ProposedSize: String(size), MaxSizeAllowed: String(o.maxSize) });
      md5.update(chunk);
      for (const [, s] of sums) s.update(chunk);
      let off = 0;
      while (off < chunk.length) {
        if (buf.length < stripeSize && fill + (chunk.length - off) > buf.length) {
          // The declared size was wrong (or absent): grow to a full stripe buffer.
          const bigger = Buffer.allocUnsafe(stripeSize);
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
    if (pending) await pending;
    const checksums: Partial<Record<ChecksumAlgorithm, Buffer>> = {};
    for (const [a, s] of sums) checksums[a] = s.digest();

    if (!writer && size <= o.inlineThreshold) {
      const data = Buffer.from(buf.subarray(0, fill));
      return { size, md5: md5.digest(), checksums, inline: data, layout: { kind: 'inline', dataId: o.dataId, size, crc32c: crc32c(data) } };
    }
    await flush(true);
    await writer!.finish();
    return {
      size,
      md5: md5.digest(),
      checksums,
      writer,
      layout: { kind: 'shards', dataId: o.dataId, size, k: o.k, m: o.m, blockSize: o.blockSize, distribution },
    };
  } catch (e) {
    if (pending) await pending.catch(() => undefined);
    if (writer) await writer.abort();
    throw e;
  }
}
