// A digest of the whole metadata index: how many records, how many bytes, and the sum of one
// CRC32C per record (key and value). A sum does not depend on order, so it is kept up to date
// one write at a time (add the new record's hash, subtract the one it replaces) and can be
// recomputed by any full scan, in any order. The journal carries it in every record, so a
// scan of the index, a rebuild from the disks and the live index can all be checked against
// each other: one flipped byte in any record changes that record's CRC and so the sum.

import { crc32c } from '../erasure/bitrot.js';

export interface Digest {
  count: number;
  bytes: number;
  /** Sum of entryHash over every record, mod 2^32. */
  sum: number;
}

export const emptyDigest = (): Digest => ({ count: 0, bytes: 0, sum: 0 });

export function entryHash(key: Buffer, value: Buffer): number {
  return crc32c(value, crc32c(key));
}

export function addEntry(d: Digest, key: Buffer, value: Buffer): void {
  d.count++;
  d.bytes += key.length + value.length;
  d.sum = (d.sum + entryHash(key, value)) >>> 0;
}

export function removeEntry(d: Digest, key: Buffer, value: Buffer): void {
  d.count--;
  d.bytes -= key.length + value.length;
  d.sum = (d.sum - entryHash(key, value)) >>> 0;
}

export function sameDigest(a: Digest, b: Digest): boolean {
  return a.count === b.count && a.bytes === b.bytes && a.sum === b.sum;
}

export function formatDigest(d: Digest): string {
  return `${d.count} records, ${d.bytes} bytes, sum ${d.sum.toString(16).padStart(8, '0')}`;
}

/**
 * Passes entries through, counting each into `d`; with `every`, pauses after about each
 * `every.bytes` read (a paced background check).
 */
export async function* countInto(
  d: Digest,
  entries: AsyncIterable<[Buffer, Buffer]>,
  every?: { bytes: number; pause: () => Promise<void> },
): AsyncGenerator<[Buffer, Buffer]> {
  let since = 0;
  for await (const e of entries) {
    addEntry(d, e[0], e[1]);
    yield e;
    if (every && (since += e[0].length + e[1].length) >= every.bytes) {
      await every.pause();
      since = 0;
    }
  }
}
