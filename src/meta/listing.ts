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

export async function walk(db: Db, stats: Stats, o: WalkOptions): Promise<WalkResult> {
  const items: WalkItem[] = [];
  // S3 answers max-keys=0 with an empty, untruncated list.
  if (o.max <= 0) return { items, truncated: false };

  const lower = Buffer.concat([o.ns, o.prefix]);
  const it = db.iterator<string, string>({
    gte: (Buffer.compare(o.from, lower) > 0 ? o.from : lower) as unknown as string,
    lt: end(lower) as unknown as string,
    keyEncoding: TEXT_OUT_BYTES_IN as unknown as 'utf8',
    valueEncoding: 'utf8',
    highWaterMarkBytes: WALK_BYTES,
  });
  const ns = o.ns.toString('utf8');
  const prefixLength = o.prefix.toString('utf8').length;
  const delimiter = o.delimiter?.length ? o.delimiter.toString('utf8') : undefined;
  const marker = o.marker?.toString('utf8');
  // Entries are read in batches (one trip to LevelDB each). Without a delimiter every entry
  // read is returned, plus one that tells a truncated page: read exactly that many. With one,
  // a common prefix may swallow any number of entries, so read a few after each seek and
  // more while no group is skipped.
  let batch = SMALL_READ;
  /** Record keys that start with this belong to the common prefix just met: skip them. */
  let group: string | undefined;
  try {
    for (;;) {
      const need = o.max + 1 - items.length;
      const chunk = await it.nextv(delimiter ? Math.min(batch, need) : need);
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
        batch = Math.min(batch * 4, 1000);
      }
    }
  } finally {
    await it.close();
  }
}

/** Byte order of the UTF-8 encodings (code point order), which is the order LevelDB keeps. */
export function compareUtf8(a: string, b: string): number {
  // UTF-16 order agrees unless a surrogate meets a code unit above it (U+E000..U+FFFF).
  if (!/[\uD800-\uFFFF]/.test(a) && !/[\uD800-\uFFFF]/.test(b)) return a < b ? -1 : a > b ? 1 : 0;
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}
