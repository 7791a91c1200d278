// Turns a version's data layout (inline, erasure-coded, or multipart parts) into a stream of
// the requested byte range, reading only what the range covers.

import { Readable } from 'node:stream';
import { S3Error } from '../errors.js';
import { crc32c } from '../erasure/bitrot.js';
import { readShardRange } from '../erasure/reader.js';
import type { InlineLayout, ObjectVersion, ShardLayout } from '../meta/types.js';
import type { ObjectStore } from './store.js';

export function openDataStream(store: ObjectStore, v: ObjectVersion, start: number, end: number): Readable {
  // Two stripes in flight at most: one being sent while the next is read.
  return Readable.from(generate(store, v, start, end), { objectMode: false, highWaterMark: 1 });
}

async function* generate(store: ObjectStore, v: ObjectVersion, start: number, end: number): AsyncGenerator<Buffer> {
  const data = v.data;
  if (!data || end < start) return;
  if (data.kind !== 'parts') {
    yield* readLayout(store, v, data, start, end);
    return;
  }
  let base = 0;
  for (const p of data.parts) {
    const pEnd = base + p.size - 1;
    if (pEnd >= start && base <= end && p.size > 0) {
      yield* readLayout(store, v, p.data, Math.max(start, base) - base, Math.min(end, pEnd) - base);
    }
    base += p.size;
    if (base > end) break;
  }
}

async function* readLayout(store: ObjectStore, v: ObjectVersion, l: InlineLayout | ShardLayout, start: number, end: number): AsyncGenerator<Buffer> {
  if (l.kind === 'inline') {
    const buf = await store.meta.getInline(l.dataId);
    if (!buf || crc32c(buf) !== l.crc32c) {
      throw new S3Error('InternalError', `The data of ${v.key} failed its integrity check.`);
    }
    yield buf.subarray(start, end + 1);
    return;
  }
  yield* readShardRange(store.disks, l, start, end, (dataId, shard, reason) => store.heals.report(v, dataId, shard, reason));
}
