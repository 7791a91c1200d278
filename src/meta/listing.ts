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

export type WalkItem =
  | { kind: 'entry'; key: Buffer; value: Buffer }
  | { kind: 'prefix'; prefix: Buffer };

export interface WalkResult {
  items: WalkItem[];
  truncated: boolean;
}

export interface Stats {
  /** Entries read from LevelDB iterators; lets tests prove that listing does not scan. */
  iteratorSteps: number;
}

export async function walk(db: Db, stats: Stats, o: WalkOptions): Promise<WalkResult> {
  const items: WalkItem[] = [];
  // S3 answers max-keys=0 with an empty, untruncated list.
  if (o.max <= 0) return { items, truncated: false };

  const lower = Buffer.concat([o.ns, o.prefix]);
  const it = db.iterator({
    gte: Buffer.compare(o.from, lower) > 0 ? o.from : lower,
    lt: end(lower),
  });
  try {
    for (;;) {
      const next = await it.next();
      if (next === undefined) return { items, truncated: false };
      stats.iteratorSteps++;
      const [recordKey, value] = next;
      const keyEnd = o.suffixed ? recordKey.indexOf(0, o.ns.length) : recordKey.length;
      const objectKey = recordKey.subarray(o.ns.length, keyEnd < 0 ? recordKey.length : keyEnd);

      const cut = o.delimiter?.length ? objectKey.indexOf(o.delimiter, o.prefix.length) : -1;
      if (cut >= 0) {
        const prefix = objectKey.subarray(0, cut + o.delimiter!.length);
        // Every key under `prefix` continues with bytes < 0xFF, so this skips the group.
        it.seek(end(Buffer.concat([o.ns, prefix])));
        if (o.marker && Buffer.compare(prefix, o.marker) <= 0) continue;
        if (items.length === o.max) return { items, truncated: true };
        items.push({ kind: 'prefix', prefix: Buffer.from(prefix) });
        continue;
      }
      if (items.length === o.max) return { items, truncated: true };
      items.push({ kind: 'entry', key: Buffer.from(objectKey), value });
    }
  } finally {
    await it.close();
  }
}
