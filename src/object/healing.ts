// Healing at object level: rewrite missing or corrupt shards of one object, of a whole
// bucket, or of everything (after a disk was replaced). Progress is reported through a
// callback so a CLI can draw a progress bar.

import { healShards } from '../erasure/heal.js';
import { CRC_BYTES, shardBlockLength } from '../erasure/layout.js';
import type { ObjectVersion, ShardLayout } from '../meta/types.js';
import { layoutsOf } from './garbage.js';
import type { ObjectStore } from './store.js';

export interface HealProgress {
  objectsScanned: number;
  objectsHealed: number;
  shardsRebuilt: number;
  bytesScanned: number;
  errors: number;
}

export type ProgressCallback = (p: HealProgress, current?: { bucket: string; key: string }) => void;

/**
 * Bytes a heal of this layout holds at once: a stripe of every shard read back (pass 1 reads
 * one block at a time, pass 2 a whole stripe) plus the parity it recomputes. Leased from the
 * memory budget so repairs queue behind requests instead of pushing the process over it.
 */
export function healLeaseBytes(l: ShardLayout): number {
  const block = l.size === 0 ? 0 : shardBlockLength(l, 0);
  return 2 * (l.k + l.m) * (CRC_BYTES + block);
}

/** Heals every shard set of one version. Returns how many shards were rewritten, and onto which disks. */
export async function healVersion(
  store: ObjectStore,
  v: ObjectVersion,
  /** Per data id, shards to rewrite even when their blocks check out (see erasure/verify.ts). */
  force?: Map<string, number[]>,
): Promise<{ rebuilt: number; bytes: number; disks: number[] }> {
  let rebuilt = 0;
  let bytes = 0;
  const disks: number[] = [];
  for (const l of layoutsOf(v.data)) {
    if (l.kind !== 'shards') continue;
    const lease = await store.memory.acquire(healLeaseBytes(l));
    try {
      const r = await healShards(store.disks, l, { bucket: v.bucket, key: v.key }, force?.get(l.dataId));
      store.healStats.add(r);
      rebuilt += r.rebuilt.length;
      bytes += r.bytesRead;
      for (const i of r.rebuilt) disks.push(l.distribution[i]!);
    } finally {
      lease.release();
    }
  }
  return { rebuilt, bytes, disks };
}

export interface HealScope {
  bucket?: string;
  key?: string;
  /** Called between objects; resolves when the next object may be read (rate limiting). */
  pace?: (bytesJustRead: number) => Promise<void>;
  shouldStop?: () => boolean;
}

/** Heals one key (all versions), one bucket, or everything. */
export async function heal(store: ObjectStore, scope: HealScope = {}, onProgress?: ProgressCallback): Promise<HealProgress> {
  const p: HealProgress = { objectsScanned: 0, objectsHealed: 0, shardsRebuilt: 0, bytesScanned: 0, errors: 0 };
  const buckets = scope.bucket ? [scope.bucket] : (await store.meta.listBuckets()).map((b) => b.name);
  for (const bucket of buckets) {
    let keyMarker: string | undefined;
    let versionIdMarker: string | undefined;
    for (;;) {
      if (scope.shouldStop?.()) return p;
      const page = await store.meta.listVersions(bucket, {
        prefix: scope.key,
        keyMarker,
        versionIdMarker,
        maxKeys: 1000,
      });
      for (const v of page.versions) {
        if (scope.key !== undefined && v.key !== scope.key) continue;
        if (scope.shouldStop?.()) return p;
        p.objectsScanned++;
        try {
          const r = await healVersion(store, v);
          p.bytesScanned += r.bytes;
          if (r.rebuilt > 0) {
            p.objectsHealed++;
            p.shardsRebuilt += r.rebuilt;
          }
          await scope.pace?.(r.bytes);
        } catch {
          p.errors++;
        }
        onProgress?.(p, { bucket, key: v.key });
      }
      if (!page.isTruncated) break;
      keyMarker = page.nextKeyMarker;
      versionIdMarker = page.nextVersionIdMarker;
    }
  }
  return p;
}
