// The one listing walk shared by ListObjects, ListObjectVersions and ListMultipartUploads.
//
// Records live under a namespace `ns` (e.g. `C \0 bucket \0`), followed by the object key
// and, for versions and uploads, `\0 suffix`. The walk reads them in key order and folds
// keys that contain the delimiter after the prefix into common prefixes. When it meets a
// common prefix it seeks straight past every key that starts with it, so listing a bucket
// with a million keys under "logs/" costs one step for "logs/", not a million.

import type { Level } from 'level';
import { end } from './keys.js';

export type Db = Level<Buffer, Buffer>;

export interface WalkOptions {
  ns: Buffer;
  /** Object-key prefix, UTF-8. */
  prefix: Buffer;
  delimiter?: Buffer;
  /** First record key to consider (inclusive); the caller folds markers into it. */
  from: Buffer;
  /** Common prefixes ≤ marker were returned already (or lie before the marker): skip them. */
  marker?: Buffer;
  /** Entries + common prefixes to return. */
  max: number;
  /** Records carry `\0 suffix` after the object key (versions, uploads). */
  suffixed: boolean;
}

/** Keys and values as strings (a listing needs them as text, and LevelDB hands strings out faster than Buffers). */
export type WalkItem =
  | { kind: 'entry'; key: string; value: string }
  | { kind: 'prefix'; prefix: string };

export interface WalkResult {
  items: WalkItem[];
  truncated: boolean;
}

export interface Stats {
  /** Entries read from LevelDB iterators; lets tests prove that listing does not scan. */
  iteratorSteps: number;
}

/** Bytes one iterator read may hold: a 1000-key page of current records in one read. */
const WALK_BYTES = 4 * 1024 * 1024;
/** Entries read right after a seek when a delimiter may fold many of them into one prefix. */
const SMALL_READ = 16;
/**
 * Most entries one iterator read asks for. classic-level sizes an iterator's native batch array
 * for the largest read it was asked (64 bytes an entry), and that array outlives close() until
 * the garbage collector finalizes the iterator, which may be thousands of listings later:
 * 1000-entry reads left 64 KiB each behind (hundreds of MiB in a burst), 128-entry reads 8 KiB.
 * The extra trips to the thread pool cost little next to building the reply.
 */
export const ITERATOR_BATCH = 128;

/**
 * Keys out as strings, range bounds in as raw bytes. The bounds must stay bytes (`end()`
 * appends 0xFF, which no string encodes), and the binding takes either; entries come back as
 * strings, which is what the walk works on. Keys are well-formed UTF-8 (keys.ts asserts it),
 * so decoding them loses nothing.
 */
const TEXT_OUT_BYTES_IN = {
  name: 'tessera-text-keys',
  format: 'utf8' as const,
  encode: (b: Buffer | string) => b,
  decode: (s: string) => s,
};

/**
 * Closes a LevelDB iterator over [first, end) and frees its last batch now rather than at some
 * garbage collection. classic-level keeps copies of the keys and values of the last nextv() in
 * native memory until the iterator's JS object is collected, and V8 does not count that memory,
 * so nothing makes it collect: a burst of listings (a 1000-entry batch each) took the server from
 * 70 MiB to over a GiB, and it stayed there. A seek back to the first key and a read of one entry
 * replace that batch with a single entry.
 *
 * The seek goes to a key inside the range on purpose: classic-level answers a seek outside it by
 * stepping past the last key of the database, which trips an assertion (and kills the process)
 * when the database is empty. Iterators closed here must not use the `limit` option: once it is
 * reached, abstract-level answers reads itself and the batch would stay.
 *
 * `largestRead` is the most entries one nextv() of this iterator asked for: up to
 * SMALL_READ, what is left behind is a few KiB at most and not worth another trip to the
 * thread pool (point-like scans run on every PUT).
 */
export async function closeIterator(
  it: { seek(target: never): void; nextv(n: number): Promise<unknown>; close(): Promise<void> },
  first: Buffer,
  end: Buffer | undefined,
  largestRead: number,
): Promise<void> {
  try {
    if (largestRead > SMALL_READ && (end === undefined || Buffer.compare(first, end) < 0)) {
      it.seek(first as never);
      await it.nextv(1);
    }
  } catch {
    // A failed or aborted iterator: closing it is all that is left to do.
  } finally {
    await it.close();
  }
}

export async function walk(db: Db, stats: Stats, o: WalkOptions): Promise<WalkResult> {
  const items: WalkItem[] = [];
  // S3 answers max-keys=0 with an empty, untruncated list.
  if (o.max <= 0) return { items, truncated: false };

  const lower = Buffer.concat([o.ns, o.prefix]);
  const gte = Buffer.compare(o.from, lower) > 0 ? o.from : lower;
  const lt = end(lower);
  const it = db.iterator<string, string>({
    gte: gte as unknown as string,
    lt: lt as unknown as string,
    keyEncoding: TEXT_OUT_BYTES_IN as unknown as 'utf8',
    valueEncoding: 'utf8',
    highWaterMarkBytes: WALK_BYTES,
  });
  const ns = o.ns.toString('utf8');
  const prefixLength = o.prefix.toString('utf8').length;
  const delimiter = o.delimiter?.length ? o.delimiter.toString('utf8') : undefined;
  const marker = o.marker?.toString('utf8');
  // Entries are read in batches (one trip to LevelDB each). Without a delimiter every entry
  // read is returned, plus one that tells a truncated page: read no more than that. With one,
  // a common prefix may swallow any number of entries, so read a few after each seek and
  // more while no group is skipped.
  let batch = SMALL_READ;
  let largestRead = 0;
  /** Record keys that start with this belong to the common prefix just met: skip them. */
  let group: string | undefined;
  try {
    for (;;) {
      const need = o.max + 1 - items.length;
      const ask = Math.min(delimiter ? batch : ITERATOR_BATCH, need);
      largestRead = Math.max(largestRead, ask);
      const chunk = await it.nextv(ask);
      if (chunk.length === 0) return { items, truncated: false };
      stats.iteratorSteps += chunk.length;
      for (const [recordKey, value] of chunk) {
        if (group !== undefined) {
          if (recordKey.startsWith(group)) continue;
          group = undefined;
        }
        const keyEnd = o.suffixed ? recordKey.indexOf('\0', ns.length) : -1;
        const objectKey = keyEnd < 0 ? recordKey.slice(ns.length) : recordKey.slice(ns.length, keyEnd);

        const cut = delimiter ? objectKey.indexOf(delimiter, prefixLength) : -1;
        if (cut >= 0) {
          const prefix = objectKey.slice(0, cut + delimiter!.length);
          group = ns + prefix;
          if (marker !== undefined && compareUtf8(prefix, marker) <= 0) continue;
          if (items.length === o.max) return { items, truncated: true };
          items.push({ kind: 'prefix', prefix });
          continue;
        }
        if (items.length === o.max) return { items, truncated: true };
        items.push({ kind: 'entry', key: objectKey, value });
      }
      if (group !== undefined) {
        // The rest of the group is still ahead: jump over it instead of reading it. Every key
        // under the group continues with bytes < 0xFF, so this lands right after it.
        it.seek(end(Buffer.from(group, 'utf8')) as unknown as string);
        group = undefined;
        batch = SMALL_READ;
      } else {
        batch = Math.min(batch * 4, ITERATOR_BATCH);
      }
    }
  } finally {
    await closeIterator(it, gte, lt, largestRead);
  }
}

/** Byte order of the UTF-8 encodings (code point order), which is the order LevelDB keeps. */
export function compareUtf8(a: string, b: string): number {
  // UTF-16 order agrees unless a surrogate meets a code unit above it (U+E000..U+FFFF).
  if (!/[\uD800-\uFFFF]/.test(a) && !/[\uD800-\uFFFF]/.test(b)) return a < b ? -1 : a > b ? 1 : 0;
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}
